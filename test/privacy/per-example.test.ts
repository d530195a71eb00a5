// Per-example gradients and their clipping (src/privacy/per-example/): for every kind of layer, each example's
// gradient equals its own batch-of-one gradient (valueAndGrads), the clipped sum equals the host's
// sum_i min(1, C / ||g_i||) g_i with C below and above the norms, and nothing leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose } from '../helpers.js';
import { TOL, checkAgainstLoop, clippedSum, compiled, f32, norm, split } from './per-example-reference.js';

const { clippedGradientSum, perExampleGradients, ExampleMixingError } = c.privacy;

test('fallback: an LSTM model, each example alone, equals the loop of batch-size-1 gradients', () => {
  c.setSeed(11);
  const model = new c.Sequential([c.layers.lstm({ units: 3, inputShape: [4, 2] }), c.layers.dense({ units: 2 })]);
  const batch = { x: [f32([5, 4, 2], 1)], y: [f32([5, 2], 2)] };
  const r = checkAgainstLoop(model, batch, compiled(model, 'mse'));
  assert.deepEqual(r.fallback, ['LSTM', 'Dense']);
});

test('fallback: a MultiHeadAttention block with sample weights', () => {
  c.setSeed(12);
  const inp = c.input({ shape: [3, 4] });
  const att = c.layers.multiHeadAttention({ numHeads: 2, keyDim: 3 }).apply([inp, inp]) as c.SymbolicTensor;
  const pooled = c.layers.globalAveragePooling1d().apply(att) as c.SymbolicTensor;
  const out = c.layers.dense({ units: 3, activation: 'softmax' }).apply(pooled) as c.SymbolicTensor;
  const model = new c.Model({ inputs: inp, outputs: out });
  const batch = {
    x: [f32([5, 3, 4], 3)],
    y: [c.tensor([0, 2, 1, 1, 0], [5, 1], 'float32')],
    sampleWeight: c.tensor([0.5, 2, 1.5, 1, 0.25], [5], 'float32'),
  };
  const r = checkAgainstLoop(model, batch, compiled(model, 'sparseCategoricalCrossentropy'));
  assert.ok(r.fallback.includes('MultiHeadAttention'));
});

test('a model with dropout gives the loop result with the same seed', () => {
  c.setSeed(13);
  const model = new c.Sequential([
    c.layers.lstm({ units: 4, inputShape: [3, 2] }),
    c.layers.dropout({ rate: 0.5 }),
    c.layers.dense({ units: 2 }),
  ]);
  const batch = { x: [f32([4, 3, 2], 4)], y: [f32([4, 2], 5)] };
  checkAgainstLoop(model, batch, compiled(model, 'mse'), { seed: 1234 });
});

test('BatchNormalization in training is refused with a typed error naming it; frozen, it is accepted', () => {
  c.setSeed(14);
  const bn = c.layers.batchNormalization({ name: 'bn_private' });
  const model = new c.Sequential([c.layers.dense({ units: 3, inputShape: [2] }), bn, c.layers.dense({ units: 1 })]);
  const loss = compiled(model, 'mse');
  const batch = { x: [f32([4, 2], 6)], y: [f32([4, 1], 7)] };
  const before = c.memory().tensors;
  assert.throws(
    () => clippedGradientSum(model, batch, loss, { l2NormClip: 1 }),
    (e: Error) =>
      e instanceof ExampleMixingError &&
      e instanceof c.ArgumentError &&
      /BatchNormalization 'bn_private'/.test(e.message) &&
      /LayerNormalization or GroupNormalization/.test(e.message),
  );
  assert.throws(() => perExampleGradients(model, batch, loss), ExampleMixingError);
  assert.equal(c.memory().tensors, before);
  bn.trainable = false;
  checkAgainstLoop(model, batch, loss);
});

test('bad arguments are typed errors', () => {
  c.setSeed(15);
  const model = new c.Sequential([c.layers.dense({ units: 1, inputShape: [2] })]);
  const loss = compiled(model, 'mse');
  const batch = { x: [f32([3, 2], 8)], y: [f32([3, 1], 9)] };
  assert.throws(() => clippedGradientSum(model, batch, loss, { l2NormClip: 0 }), /l2NormClip must be a positive/);
  assert.throws(() => clippedGradientSum(model, batch, loss, { l2NormClip: 1, seed: -1 }), /seed must be/);
  assert.throws(
    () => clippedGradientSum(model, { x: batch.x, y: [f32([2, 1], 1)] }, loss, { l2NormClip: 1 }),
    c.ShapeError,
  );
});

test('fast rules with dropout: the masks of the batch forward with the step seed (one-hot weighted loop)', () => {
  c.setSeed(16);
  const model = new c.Sequential([
    c.layers.dense({ units: 6, activation: 'relu', inputShape: [3] }),
    c.layers.dropout({ rate: 0.5 }),
    c.layers.dense({ units: 2 }),
  ]);
  const loss = compiled(model, 'mse');
  const n = 5,
    seed = 4321;
  const batch = { x: [f32([n, 3], 17)], y: [f32([n, 2], 18)] };
  // Example i's gradient: n * the batch loss with sample weights e_i, through the same (seeded) batch forward.
  const expected = Array.from({ length: n }, (_, i) => {
    const onlyI = c.tensor(
      Array.from({ length: n }, (_, j) => (j === i ? n : 0)),
      [n],
      'float32',
    );
    const { value, grads } = c.valueAndGrads(() => {
      const p = model.apply(batch.x[0], { training: true, seed }) as c.Tensor;
      return loss([p], batch.y, onlyI);
    }, model.trainableWeights);
    const out = grads.map((g) => Float64Array.from(g.dataSync()));
    c.dispose([value, grads, onlyI]);
    return out;
  });
  const per = perExampleGradients(model, batch, loss, { seed });
  const got = split(per, n);
  got.forEach((gs, i) => gs.forEach((g, k) => assertClose(g, expected[i][k], TOL, `example ${i} weight ${k}`)));
  const clip = norm(expected[0]) * 0.7;
  const r = clippedGradientSum(model, batch, loss, { l2NormClip: clip, seed });
  assert.deepEqual(r.fast, ['Dense']);
  clippedSum(expected, clip).forEach((s, k) => assertClose(r.grads[k], s, TOL, `clipped sum of weight ${k}`));
  // The masks matter: another seed gives other gradients.
  const other = perExampleGradients(model, batch, loss, { seed: seed + 1 });
  assert.notDeepEqual(Array.from(other[0].dataSync()), Array.from(per[0].dataSync()));
  c.dispose([per, other, r.grads, r.preds]);
});
