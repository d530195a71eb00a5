// Per-example gradients layer by layer (the layers with fast rules: Dense, Conv1D, Conv2D, Embedding,
// LayerNormalization, GroupNormalization) and a mixed model, against the loop of batch-size-1 gradients.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { checkAgainstLoop, compiled, f32 } from './per-example-reference.js';

/** A Sequential of `layers` with an mse loss, checked on a random batch of `n` examples. */
function check(layers: c.Layer[], xShape: number[], yShape: number[], seed: number) {
  c.setSeed(seed);
  const model = new c.Sequential(layers);
  const batch = { x: [f32(xShape, seed + 1)], y: [f32(yShape, seed + 2)] };
  return checkAgainstLoop(model, batch, compiled(model, 'mse'));
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
  assert.deepEqual([...r.fast, ...r.fallback].sort(), ['Dense']);
});

test('Dense on a rank-3 input (a sequence): the per-example kernel gradient sums over time', () => {
  check(
    [c.layers.dense({ units: 3, activation: 'relu', inputShape: [4, 5] }), c.layers.dense({ units: 2 })],
    [3, 4, 5],
    [3, 4, 2],
    21,
  );
});

test('Conv2D with strides, explicit padding and dilation', () => {
  check(
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
      c.layers.flatten(),
      c.layers.dense({ units: 2 }),
    ],
    [3, 7, 6, 2],
    [3, 2],
    22,
  );
});

test('Conv1D with stride and causal padding', () => {
  check(
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
});

test('Embedding with ids repeated within an example', () => {
  c.setSeed(24);
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: 7, outputDim: 3, inputShape: [5] }),
    c.layers.flatten(),
    c.layers.dense({ units: 2 }),
  ]);
  const ids = c.tensor([1, 1, 4, 6, 1, 0, 2, 2, 2, 5, 3, 6, 3, 0, 6], [3, 5], 'float32');
  checkAgainstLoop(model, { x: [ids], y: [f32([3, 2], 25)] }, compiled(model, 'mse'));
});

test('LayerNormalization (fused last axis, and over two axes) and GroupNormalization', () => {
  check(
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
});

test('a mixed model (Conv2D + Dense + LSTM) is exact', () => {
  check(
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
});
