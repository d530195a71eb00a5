// DP-SGD in fit(): with no noise and no clipping it is ordinary training; with clipping, the update is the
// hand-computed clipped mean; the noise has standard deviation sigma * C / expected batch; noiseSeed replays.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat } from '../helpers.js';

/** A seeded 4-feature, 3-class problem: x [n, 4] float32, integer labels y [n]. */
function data(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const x = new c.RandomStream(seed).normal([n, 4], 0, 1);
  const y = c.tidy(() => c.cast(c.greater(c.sum(x, -1), 0), 'int32'));
  return { x, y };
}

/** A 4-6-2 classifier with seeded weights (and optionally an L2 kernel regularizer on the first layer). */
function model(regularize = false): c.Sequential {
  c.setSeed(7);
  return new c.Sequential([
    c.layers.dense({
      units: 6,
      activation: 'tanh',
      inputShape: [4],
      ...(regularize ? { kernelRegularizer: c.regularizers.l2(0.01) } : {}),
    }),
    c.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
}

const weightsOf = (m: c.Model) => m.getWeights().map((w) => flat(w));

for (const optimizer of ['sgd', 'adam'] as const)
  test(`DP-SGD with sigma = 0 and a huge C equals ordinary training (${optimizer}, fixed sampling)`, async () => {
    const { x, y } = data(24, 1);
    const plain = model(true),
      priv = model(true);
    const loss = 'sparseCategoricalCrossentropy';
    plain.compile({ optimizer, loss });
    priv.compile({ optimizer, loss, privacy: { l2NormClip: 1e6, noiseMultiplier: 0, sampling: 'fixed' } });
    // The same seed shuffles both alike; 24 samples in batches of 6 leave no remainder to drop.
    await plain.fit(x, y, { epochs: 2, batchSize: 6, seed: 3, verbose: 0, record: false });
    await priv.fit(x, y, { epochs: 2, batchSize: 6, seed: 3, verbose: 0, record: false });
    const a = weightsOf(plain),
      b = weightsOf(priv);
    a.forEach((w, i) => assertClose(b[i], w, { rtol: 1e-4, atol: 1e-6 }, `weight ${i}`));
    assert.equal(priv.optimizer!.iterations, 8);
  });

test('with sigma = 0 and a small C the SGD update is the clipped mean of per-example gradients', async () => {
  const { x, y } = data(5, 2);
  const m = model();
  const ref = model();
  const C = 0.05,
    lr = 0.5;
  m.compile({
    optimizer: c.optimizers.sgd({ learningRate: lr }),
    loss: 'sparseCategoricalCrossentropy',
    privacy: { l2NormClip: C, noiseMultiplier: 0, sampling: 'fixed' },
  });
  // The reference: a loop of batch-1 gradients, each scaled to norm <= C, averaged over the batch.
  const w0 = ref.trainableWeights;
  const sum = w0.map((w) => new Float64Array(w.value.size));
  for (let i = 0; i < 5; i++) {
    const xi = c.sliceAxis(x, 0, i, i + 1),
      yi = c.sliceAxis(y, 0, i, i + 1);
    const { value, grads } = c.valueAndGrads(
      () => c.losses.sparseCategoricalCrossentropy(yi, ref.apply(xi) as c.Tensor),
      w0,
    );
    const g = grads.map((t) => flat(t));
    const norm = Math.sqrt(g.flat().reduce((s, v) => s + v * v, 0));
    assert.ok(norm > C, 'the example is clipped');
    g.forEach((gk, k) => gk.forEach((v, j) => (sum[k][j] += (v * C) / norm)));
    c.dispose([value, ...grads]);
  }
  const expected = w0.map((w, k) => flat(w.value).map((v, j) => v - (lr * sum[k][j]) / 5));
  await m.fit(x, y, { epochs: 1, batchSize: 5, verbose: 0, record: false });
  weightsOf(m).forEach((w, k) => assertClose(w, expected[k], { rtol: 1e-4, atol: 1e-6 }, `weight ${k}`));
});

test('the noise has standard deviation sigma * C / expected batch size', async () => {
  // A wide layer and a tiny C: the update is almost all noise (the clipped sum has norm <= batch * C).
  const n = 4,
    C = 1e-3,
    sigma = 1.5;
  const x = new c.RandomStream(3).normal([n, 50], 0, 1);
  const y = c.tensor(Int32Array.from([0, 1, 2, 3]), [n], 'int32');
  c.setSeed(1);
  const m = new c.Sequential([c.layers.dense({ units: 400, inputShape: [50], activation: 'softmax' })]);
  m.compile({
    optimizer: c.optimizers.sgd({ learningRate: 1 }),
    loss: 'sparseCategoricalCrossentropy',
    privacy: { l2NormClip: C, noiseMultiplier: sigma, sampling: 'fixed' },
  });
  const before = flat(m.trainableWeights[0].value);
  await m.fit(x, y, { epochs: 1, batchSize: n, verbose: 0, record: false });
  const after = flat(m.trainableWeights[0].value);
  const d = after.map((v, i) => v - before[i]);
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  const sd = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / (d.length - 1));
  const expected = (sigma * C) / n;
  // 20,000 draws: the sample standard deviation is within 2% (about 4 standard errors).
  assert.ok(Math.abs(sd / expected - 1) < 0.02, `sd ${sd} vs ${expected}`);
  assert.ok(Math.abs(mean) < (4 * expected) / Math.sqrt(d.length), `mean ${mean}`);
  // Fourth moment of a normal: kurtosis 3 (within sampling error).
  const kurt = d.reduce((s, v) => s + (v - mean) ** 4, 0) / d.length / sd ** 4;
  assert.ok(Math.abs(kurt - 3) < 0.2, `kurtosis ${kurt}`);
});

test('noiseSeed makes two runs identical and marks secureNoise false; without it runs differ', async () => {
  const { x, y } = data(32, 4);
  const run = async (privacy: c.privacy.DpSgdOptions) => {
    const m = model();
    m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', privacy });
    await m.fit(x, y, { epochs: 1, batchSize: 8, seed: 5, verbose: 0 });
    return { w: weightsOf(m).flat(), record: m.runRecorder!.record! };
  };
  const seeded = { l2NormClip: 1, noiseMultiplier: 1, noiseSeed: 11 };
  const a = await run(seeded),
    b = await run(seeded);
  assert.deepEqual(a.w, b.w);
  assert.equal(a.record.privacy?.mechanism, 'dp-sgd');
  assert.equal((a.record.privacy as c.privacy.DpSgdRecord).secureNoise, false);
  assert.ok(a.record.notes.some((n) => /fixed seed .* NOT private/.test(n)));
  const s1 = await run({ l2NormClip: 1, noiseMultiplier: 1 }),
    s2 = await run({ l2NormClip: 1, noiseMultiplier: 1 });
  assert.notDeepEqual(s1.w, s2.w);
  assert.equal((s1.record.privacy as c.privacy.DpSgdRecord).secureNoise, true);
  assert.ok(!s1.record.notes.some((n) => /NOT private/.test(n)));
});

test('gaussianNoise is a gradient transformation: noise then division, composable with chain()', () => {
  const g = c.tensor(
    Float32Array.from({ length: 40000 }, (_, i) => (i % 7) - 3),
    [200, 200],
  );
  // Without noise it divides; chained before a scale, the scale sees the divided gradient.
  const plain = c.optimizers.chain(
    c.privacy.gaussianNoise({ stddev: 0, divisor: 4, generator: new c.RandomStream(1) }),
    c.optimizers.scale(2),
  );
  const exact = c.tidy(() => plain.update([g], plain.init([g]), [g]).updates[0]);
  assertClose(
    exact,
    c.tidy(() => c.mul(g, 0.5)),
  );
  const noisy = c.privacy.gaussianNoise({ stddev: 3, divisor: 4, generator: new c.RandomStream(2) });
  const d = c.tidy(() => c.sub(noisy.update([g], [], [g]).updates[0], c.div(g, 4)));
  const v = flat(d);
  const sd = Math.sqrt(v.reduce((s, e) => s + e * e, 0) / v.length);
  assert.ok(Math.abs(sd / 0.75 - 1) < 0.02, `sd ${sd}`);
  assert.throws(
    () => c.privacy.gaussianNoise({ stddev: -1, divisor: 1, generator: new c.RandomStream(1) }),
    /gaussianNoise: stddev must be a finite number >= 0, got -1/,
  );
  c.dispose([g, exact, d]);
});
