// Per-example gradients layer by layer (the layers with fast rules: Dense, Conv1D, Conv2D, Embedding,
// LayerNormalization, GroupNormalization) and a mixed model, against the loop of batch-size-1 gradients.
// Shapes are picked so that both ways of taking norms run: the Gram trick (ghost, 2 T^2 < d u) and the
// materialised per-example gradient.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { checkAgainstLoop, compiled, f32 } from './per-example-reference.js';

/** A Sequential of `layers` with an mse loss, checked on a random batch. */
function check(layers: c.Layer[], xShape: number[], yShape: number[], seed: number) {
  c.setSeed(seed);
  const model = new c.Sequential(layers);
  const batch = { x: [f32(xShape, seed + 1)], y: [f32(yShape, seed + 2)] };
  return checkAgainstLoop(model, batch, compiled(model, 'mse'));
}

/** Asserts that every trainable layer was served by a fast rule, and which classes. */
function assertFast(r: { fast: string[]; fallback: string[] }, classes: string[]) {
  assert.deepEqual(r.fallback, []);
  assert.deepEqual([...r.fast].sort(), [...classes].sort());
}

test('Dense on a rank-2 input, with and without bias', () => {
  const r = check(
    [
      c.layers.dense({ units: 4, activation: 'tanh', inputShape: [3] }),
      c.layers.dense({ units: 2, useBias: false, activation: 'sigmoid' }),
    ],
    [5, 3],
    [5, 2],
    20,
  );
  assertFast(r, ['Dense']);
});

test('Dense on rank-3 inputs (sequences): ghost norms (T = 2) and materialised ones (T = 5)', () => {
  // T = 2, d = 5, u = 4: 2 T^2 = 8 < 20 (ghost); then d = 4, u = 2: 8 is not < 8 (materialised).
  assertFast(
    check(
      [c.layers.dense({ units: 4, activation: 'relu', inputShape: [2, 5] }), c.layers.dense({ units: 2 })],
      [3, 2, 5],
      [3, 2, 2],
      21,
    ),
    ['Dense'],
  );
  assertFast(check([c.layers.dense({ units: 3, inputShape: [5, 4] })], [4, 5, 4], [4, 5, 3], 28), ['Dense']);
});

test('Conv2D with strides, explicit padding and dilation, and one small enough for ghost norms', () => {
  const r = check(
    [
      c.layers.conv2d({
        filters: 3,
        kernelSize: [3, 2],
        strides: [2, 1],
        padding: [1, 2],
        dilationRate: [1, 2],
        inputShape: [7, 6, 2],
      }),
      c.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', activation: 'relu' }),
      // 4 x 8 -> 2 x 2 output positions (T = 4), d = 3 * 5 * 2 = 30, u = 4: ghost.
      c.layers.conv2d({ filters: 4, kernelSize: [3, 5], strides: [1, 3], activation: 'tanh' }),
      c.layers.flatten(),
      c.layers.dense({ units: 2 }),
    ],
    [3, 7, 6, 2],
    [3, 2],
    22,
  );
  assertFast(r, ['Conv2D', 'Dense']);
});

test('Conv1D with stride and causal padding, and with dilation', () => {
  const r = check(
    [
      c.layers.conv1d({ filters: 3, kernelSize: 3, strides: 2, padding: 'causal', inputShape: [9, 2] }),
      c.layers.conv1d({ filters: 2, kernelSize: 2, dilationRate: 2, activation: 'tanh' }),
      c.layers.flatten(),
      c.layers.dense({ units: 1 }),
    ],
    [4, 9, 2],
    [4, 1],
    23,
  );
  assertFast(r, ['Conv1D', 'Dense']);
});

test('Embedding with ids repeated within an example, and sample weights', () => {
  c.setSeed(24);
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: 7, outputDim: 3, inputShape: [5] }),
    c.layers.flatten(),
    c.layers.dense({ units: 2 }),
  ]);
  const ids = c.tensor([1, 1, 4, 6, 1, 0, 2, 2, 2, 5, 3, 6, 3, 0, 6], [3, 5], 'float32');
  const sampleWeight = c.tensor([0.5, 2, 1.25], [3], 'float32');
  const r = checkAgainstLoop(model, { x: [ids], y: [f32([3, 2], 25)], sampleWeight }, compiled(model, 'mse'));
  assertFast(r, ['Embedding', 'Dense']);
});

test('LayerNormalization (fused last axis, and over two axes) and GroupNormalization', () => {
  const r = check(
    [
      c.layers.dense({ units: 6, inputShape: [3, 4] }),
      c.layers.layerNormalization({ gammaInitializer: 'glorotUniform', betaInitializer: 'glorotUniform' }),
      c.layers.layerNormalization({ axis: [1, 2], gammaInitializer: 'glorotUniform' }),
      c.layers.groupNormalization({ groups: 3, gammaInitializer: 'glorotUniform', betaInitializer: 'glorotUniform' }),
      c.layers.dense({ units: 2 }),
    ],
    [4, 3, 4],
    [4, 3, 2],
    26,
  );
  assertFast(r, ['Dense', 'LayerNormalization', 'GroupNormalization']);
});

test('a LayerNormalization first, on the raw input (its pre-activation depends on no weight)', () => {
  const r = check(
    [c.layers.layerNormalization({ inputShape: [5], gammaInitializer: 'glorotUniform' }), c.layers.dense({ units: 2 })],
    [4, 5],
    [4, 2],
    29,
  );
  assertFast(r, ['Dense', 'LayerNormalization']);
});

test('frozen layers are skipped: only the trainable weights have gradients', () => {
  c.setSeed(30);
  const frozen = c.layers.dense({ units: 3, inputShape: [4] });
  frozen.trainable = false;
  const model = new c.Sequential([frozen, c.layers.dense({ units: 2 })]);
  const batch = { x: [f32([3, 4], 31)], y: [f32([3, 2], 32)] };
  assertFast(checkAgainstLoop(model, batch, compiled(model, 'mse')), ['Dense']);
  assert.equal(model.trainableWeights.length, 2);
});

test('a mixed model (Conv2D + Dense + LSTM) is exact', () => {
  const r = check(
    [
      c.layers.conv2d({ filters: 2, kernelSize: 2, inputShape: [4, 5, 1] }),
      c.layers.reshape({ targetShape: [3, 8] }),
      c.layers.dense({ units: 3, activation: 'tanh' }),
      c.layers.lstm({ units: 2 }),
      c.layers.dense({ units: 1 }),
    ],
    [3, 4, 5, 1],
    [3, 1],
    27,
  );
  assert.deepEqual(r.fallback, ['Conv2D', 'Dense', 'LSTM']);
});

test('a layer called twice (a shared Dense) goes to the fallback and stays exact; a nested model is fast', () => {
  c.setSeed(33);
  const shared = c.layers.dense({ units: 3, activation: 'tanh' });
  const a = c.input({ shape: [4] }),
    b = c.input({ shape: [4] });
  const joined = c.layers
    .add()
    .apply([shared.apply(a) as c.SymbolicTensor, shared.apply(b) as c.SymbolicTensor]) as c.SymbolicTensor;
  const twice = new c.Model({
    inputs: [a, b],
    outputs: c.layers.dense({ units: 1 }).apply(joined) as c.SymbolicTensor,
  });
  const batch = { x: [f32([3, 4], 34), f32([3, 4], 35)], y: [f32([3, 1], 36)] };
  assert.deepEqual(checkAgainstLoop(twice, batch, compiled(twice, 'mse')).fallback, ['Dense']);

  const inner = new c.Sequential([c.layers.dense({ units: 5, activation: 'relu', inputShape: [4] })]);
  const x = c.input({ shape: [4] });
  const nested = new c.Model({
    inputs: x,
    outputs: c.layers.dense({ units: 2 }).apply(inner.apply(x) as c.SymbolicTensor) as c.SymbolicTensor,
  });
  const r = checkAgainstLoop(nested, { x: [f32([4, 4], 37)], y: [f32([4, 2], 38)] }, compiled(nested, 'mse'));
  assertFast(r, ['Dense']);
});

test('float64 layers, and an Embedding of one id per example', () => {
  c.setSeed(39);
  const model = new c.Sequential([
    c.layers.dense({ units: 3, activation: 'tanh', inputShape: [4], dtype: 'float64' }),
    c.layers.dense({ units: 2, dtype: 'float64' }),
  ]);
  const x = c.cast(f32([3, 4], 40), 'float64');
  assertFast(checkAgainstLoop(model, { x: [x], y: [f32([3, 2], 41)] }, compiled(model, 'mse')), ['Dense']);
  const embed = new c.Sequential([
    c.layers.embedding({ inputDim: 5, outputDim: 2, inputShape: [] }),
    c.layers.dense({ units: 1 }),
  ]);
  const ids = c.tensor([3, 1, 3, 4], [4], 'int32');
  const r = checkAgainstLoop(embed, { x: [ids], y: [f32([4, 1], 42)] }, compiled(embed, 'mse'));
  assertFast(r, ['Embedding', 'Dense']);
});
