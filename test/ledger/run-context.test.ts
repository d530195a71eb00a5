// Meters and runs: a meter started inside a run counts that run's kernels (and nested runs') only; one
// started outside every run counts every kernel; the dispatch hook reads the current run once per kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import * as c from '../../src/index.js';
import { Meter } from '../../src/ledger/meter.js';
import { apportionEnergy, type EnergyReport } from '../../src/ledger/energy.js';
import { inNewRun, currentRun, belongsTo } from '../../src/ledger/run-context.js';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** `n` adds of 1x`size` tensors (each `size` FLOPs), an await between each. */
async function work(n: number, size: number): Promise<void> {
  const a = c.ones([size]);
  for (let i = 0; i < n; i++) {
    c.add(a, a).dispose();
    await tick();
  }
  a.dispose();
}

test('a run-bound meter counts its own run and nested runs; an unbound one counts everything', async () => {
  const everything = new Meter().start();
  let a!: Meter, b!: Meter;
  await Promise.all([
    inNewRun(async () => {
      a = new Meter().start();
      assert.equal(a.run, currentRun());
      await work(5, 3);
      await inNewRun(() => work(2, 3)); // nested: part of run a
      a.stop();
    }),
    inNewRun(async () => {
      b = new Meter().start();
      await work(4, 7);
      b.stop();
    }),
    work(3, 11), // no run: counted by `everything` only
  ]);
  everything.stop();
  assert.equal(a.snapshot().total.flops, 7 * 3);
  assert.equal(b.snapshot().total.flops, 4 * 7);
  assert.equal(everything.snapshot().total.flops, 7 * 3 + 4 * 7 + 3 * 11);
  assert.equal(everything.run, undefined);
});

test('runs nest: belongsTo walks up to the owner, never sideways', () => {
  inNewRun(() => {
    const outer = currentRun()!;
    inNewRun(() => {
      const inner = currentRun()!;
      assert.equal(inner.parent, outer);
      assert.ok(belongsTo(inner, outer) && belongsTo(inner, inner) && !belongsTo(outer, inner));
    });
    inNewRun(() => assert.ok(!belongsTo(currentRun(), { id: -1 })));
  });
  assert.equal(currentRun(), undefined);
  assert.ok(!belongsTo(undefined, { id: 1 }));
});

test('the meters read the current run once per kernel call, however many listen', () => {
  const get = AsyncLocalStorage.prototype.getStore;
  let reads = 0;
  AsyncLocalStorage.prototype.getStore = function (this: AsyncLocalStorage<unknown>) {
    reads++;
    return get.call(this);
  };
  try {
    inNewRun(() => {
      const meters = [new Meter().start(), new Meter().start(), new Meter().start()];
      const x = c.ones([4]);
      reads = 0;
      for (let i = 0; i < 10; i++) c.mul(x, x).dispose();
      const seen = reads;
      x.dispose();
      for (const m of meters) m.stop();
      assert.equal(seen, 10);
      for (const m of meters) assert.equal(m.snapshot().total.calls, 10);
    });
  } finally {
    AsyncLocalStorage.prototype.getStore = get;
  }
});

test('apportionEnergy scales by the kernel-time share and leaves a lone run whole', () => {
  const report = {
    method: 'estimate',
    measured: false,
    description: 'Estimated.',
    joules: 100,
    kWh: 100 / 3.6e6,
    pue: 1,
    components: { cpu: 80, dram: 20 },
    uncertainty: { low: 50, high: 200, note: 'x2.' },
    wallSeconds: 1,
    cpuSeconds: 1,
    meanMemoryBytes: 1,
    cpu: { model: 'm', tdpWatts: 1, threadsPerPackage: 1, wattsPerThread: 1, tdpSource: 's', threadsSource: 's' },
    dramWattsPerGiB: 1,
    codecarbonJoules: 40,
  } as EnergyReport;
  const alone = apportionEnergy(report, 30, 30);
  assert.equal(alone.joules, 100);
  assert.deepEqual(alone.attribution && [alone.attribution.method, alone.attribution.share], ['process', 1]);
  const shared = apportionEnergy(report, 30, 120);
  assert.equal(shared.joules, 25);
  assert.deepEqual(shared.components, { cpu: 20, dram: 5 });
  assert.deepEqual([shared.uncertainty.low, shared.uncertainty.high, shared.codecarbonJoules], [12.5, 50, 10]);
  assert.equal(shared.kWh, 25 / 3.6e6);
  assert.equal(shared.attribution!.share, 0.25);
  assert.equal(shared.cpuSeconds, 1);
});
