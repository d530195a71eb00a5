// Defect 8 of issue 10: two fits running concurrently (Promise.all) must each record their own kernels
// only. FLOPs come from shapes, so each concurrent run's FLOPs must equal the same fit's FLOPs run alone,
// exactly; the energy of each is its share of the process's, by kernel time, and says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { blobs } from './fixtures.js';

/** A small MLP whose FLOPs depend on `hidden`, so the two runs' figures differ. */
function mlp(hidden: number, seed: number): c.Sequential {
  c.setSeed(seed);
  const model = new c.Sequential([
    c.layers.dense({ units: hidden, activation: 'relu', inputShape: [4] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return model;
}

async function fitRecorded(hidden: number, data: { x: c.Tensor; y: c.Tensor }): Promise<RunRecord> {
  const model = mlp(hidden, 3);
  const recorder = new RunRecorder({ energy: { method: 'estimate' } });
  // batch 5 of 30 samples: 6 steps an epoch, each ending in an await, so two fits interleave.
  await model.fit(data.x, data.y, { epochs: 2, batchSize: 5, verbose: 0, seed: 5, callbacks: [recorder] });
  model.dispose();
  return recorder.record;
}

/** FLOPs and calls by phase and op (layer scopes hold auto-generated layer names, which differ by run). */
function byPhaseOp(r: RunRecord): Map<string, { calls: number; flops: number }> {
  const out = new Map<string, { calls: number; flops: number }>();
  for (const row of r.compute.rows) {
    const key = `${row.phase} ${row.op}`;
    const t = out.get(key) ?? { calls: 0, flops: 0 };
    t.calls += row.calls;
    t.flops += row.flops;
    out.set(key, t);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

test('two fits under Promise.all each record exactly the FLOPs of the same fit run alone', async () => {
  const data = blobs(30, 7);
  try {
    const aloneSmall = await fitRecorded(4, data);
    const aloneLarge = await fitRecorded(64, data);
    assert.notEqual(aloneSmall.compute.total.flops, aloneLarge.compute.total.flops);
    const [small, large] = await Promise.all([fitRecorded(4, data), fitRecorded(64, data)]);
    for (const [together, alone] of [
      [small, aloneSmall],
      [large, aloneLarge],
    ]) {
      assert.equal(together.compute.total.flops, alone.compute.total.flops);
      assert.equal(together.compute.trainingFlops, alone.compute.trainingFlops);
      assert.equal(together.compute.total.calls, alone.compute.total.calls);
      assert.deepEqual(byPhaseOp(together), byPhaseOp(alone));
      assert.equal(together.compute.attribution.context, 'run');
      assert.equal(together.training.steps, 12);
    }
    // The fits did interleave: each saw kernels of the other in the process while it ran, so its energy
    // is the process's scaled by its share of the kernel time, and is not labelled measured.
    for (const r of [small, large]) {
      const a = r.energy!.attribution!;
      assert.equal(a.method, 'kernel-time share');
      assert.ok(a.processKernelMs > a.runKernelMs, `${a.processKernelMs} > ${a.runKernelMs}`);
      assert.ok(a.share > 0 && a.share < 1);
      assert.equal(r.energy!.measured, false);
      assert.match(r.energy!.description, /share of the kernel time/);
    }
    // Alone, nothing else ran: the whole process's figure.
    assert.equal(aloneSmall.energy!.attribution!.method, 'process');
    assert.equal(aloneSmall.energy!.attribution!.share, 1);
  } finally {
    c.dispose([data.x, data.y]);
  }
});
