// DP-SGD's batch sampling: Poisson batches (each sample independently with probability q) have Binomial(N, q)
// sizes, include each sample at rate q, may be empty (and such steps still count); 'fixed' drops the remainder.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { EpochIterator, type StepBatch } from '../../src/train/epoch-iterator.js';

/** x = the sample indices [n, 1], so a batch tells which samples it holds. */
function indices(n: number): c.Tensor {
  return c.tensor(
    Float32Array.from({ length: n }, (_, i) => i),
    [n, 1],
  );
}

function batches(it: EpochIterator, epoch: number): number[][] {
  const out: number[][] = [];
  for (const b of it.epoch(epoch) as Iterable<StepBatch>) out.push(Array.from((b.x[0] as c.Tensor).dataSync()));
  return out;
}

test('Poisson batch sizes follow Binomial(N, q) and each sample is taken at rate q', () => {
  const n = 200,
    batchSize = 20,
    q = batchSize / n;
  const x = indices(n);
  const it = new EpochIterator({ x: [x] }, { op: 'fit', batchSize, seed: 9, labels: false, sampling: 'poisson' });
  assert.equal(it.steps, 10); // round(N / batchSize)
  const sizes: number[] = [];
  const taken = new Float64Array(n);
  for (let epoch = 0; epoch < 300; epoch++)
    for (const rows of batches(it, epoch)) {
      sizes.push(rows.length);
      assert.equal(new Set(rows).size, rows.length, 'no sample twice in a batch');
      for (const r of rows) taken[r]++;
    }
  const m = sizes.length; // 3,000 batches
  const mean = sizes.reduce((s, v) => s + v, 0) / m;
  const variance = sizes.reduce((s, v) => s + (v - mean) ** 2, 0) / (m - 1);
  // Binomial(200, 0.1): mean 20, variance 18; standard errors about 0.08 and 0.5.
  assert.ok(Math.abs(mean - n * q) < 0.4, `mean ${mean}`);
  assert.ok(Math.abs(variance - n * q * (1 - q)) < 2.5, `variance ${variance}`);
  // Each sample: Binomial(3000, 0.1) inclusions, mean 300, sd 16.4; all within 5 sd.
  for (let i = 0; i < n; i++) assert.ok(Math.abs(taken[i] - 300) < 82, `sample ${i} taken ${taken[i]} times`);
  // The same seed and epoch give the same batches; another epoch others.
  assert.deepEqual(batches(it, 3), batches(it, 3));
  assert.notDeepEqual(batches(it, 3), batches(it, 4));
  x.dispose();
});

test('empty Poisson batches happen, and a private fit still steps, adds noise and counts them', async () => {
  const n = 20;
  const x = indices(n);
  const it = new EpochIterator({ x: [x] }, { op: 'fit', batchSize: 1, seed: 1, labels: false, sampling: 'poisson' });
  // q = 0.05: P(empty) = 0.95^20 = 0.36.
  const sizes = [0, 1, 2, 3, 4].flatMap((e) => batches(it, e).map((b) => b.length));
  const empty = sizes.filter((s) => s === 0).length;
  assert.ok(empty > 15 && empty < 60, `${empty} empty batches of ${sizes.length}`);

  c.setSeed(2);
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [1], activation: 'softmax' })]);
  model.compile({
    optimizer: 'sgd',
    loss: 'sparseCategoricalCrossentropy',
    privacy: { l2NormClip: 1, noiseMultiplier: 1, noiseSeed: 3 },
  });
  const y = c.tensor(
    Int32Array.from({ length: n }, (_, i) => i % 2),
    [n],
    'int32',
  );
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const history = await model.fit(x, y, { epochs: 5, batchSize: 1, seed: 1, verbose: 0 });
  assert.equal(model.optimizer!.iterations, 100);
  const record = model.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(record.steps, 100);
  assert.equal(record.sampling, 'poisson');
  assert.equal(record.sampleRate, 0.05);
  assert.equal(record.expectedBatchSize, 1);
  assert.equal(history.history.epsilon.length, 5);
  const after = model.getWeights().map((w) => Array.from(w.dataSync()));
  assert.notDeepEqual(after, before);
  c.dispose([x, y]);
});

test("fixed sampling shuffles into full batches and drops the remainder; the record says 'fixed'", async () => {
  const x = indices(10);
  const it = new EpochIterator({ x: [x] }, { op: 'fit', batchSize: 4, seed: 2, labels: false, sampling: 'fixed' });
  assert.equal(it.steps, 2);
  const bs = batches(it, 0);
  assert.deepEqual(
    bs.map((b) => b.length),
    [4, 4],
  );
  assert.equal(new Set(bs.flat()).size, 8);
  c.setSeed(2);
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [1], activation: 'softmax' })]);
  model.compile({
    optimizer: 'sgd',
    loss: 'sparseCategoricalCrossentropy',
    privacy: { l2NormClip: 1, noiseMultiplier: 1, sampling: 'fixed' },
  });
  const y = c.tensor(
    Int32Array.from({ length: 10 }, (_, i) => i % 2),
    [10],
    'int32',
  );
  await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0 });
  const record = model.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(record.sampling, 'fixed');
  assert.equal(record.steps, 6);
  assert.equal(record.expectedBatchSize, 4);
  assert.equal(record.sampleRate, 0.4);
  assert.ok(model.runRecorder!.record!.notes.some((n) => /fixed-size shuffled batches .* approximation/.test(n)));
  c.dispose([x, y]);
});
