// Structured pruning: removing units and filters that are inert (zero kernel and bias under relu, or zero outgoing
// weights) leaves predictions unchanged, on odd sizes through Flatten, BatchNormalization, Concatenate and
// functional graphs; the shapes, parameter counts and the report are the expected ones; the norm ranking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat, rand } from '../helpers.js';
import { mnistCnn } from '../../examples/common.js';

const { layers: L } = c;

/** Sets layer weights from edited copies: `edit(name, values, shape)` changes the flat values in place. */
function editWeights(layer: c.Layer, edit: (name: string, v: Float32Array, shape: readonly number[]) => void): void {
  const values = layer.weights.map((w) => {
    const v = Float32Array.from(w.value.dataSync());
    edit(w.name.slice(layer.name.length + 1), v, w.shape);
    return c.tensor(v, [...w.shape]);
  });
  layer.setWeights(values);
  c.dispose(values);
}

/** Zeroes the given entries of axis `axis` of a flat row-major tensor. */
function zeroAlong(v: Float32Array, shape: readonly number[], axis: number, which: readonly number[]): void {
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < v.length; i++) if (which.includes(Math.floor(i / inner) % shape[axis])) v[i] = 0;
}

/** Zeroes the kernel columns and biases of `units`: under relu those outputs are 0 whatever the input. */
const zeroUnits = (layer: c.Layer, units: number[]) =>
  editWeights(layer, (name, v, shape) => zeroAlong(v, shape, shape.length - 1, units));

/** Zeroes the kernel rows that read input channels `rows` (axis rank - 2 of the kernel). */
const zeroInputs = (layer: c.Layer, rows: number[]) =>
  editWeights(layer, (name, v, shape) => name === 'kernel' && zeroAlong(v, shape, shape.length - 2, rows));

/** Random weights everywhere (BatchNormalization's variance kept positive), so that slices out of line show. */
function randomize(model: c.Model, seed: number): void {
  model.layers.forEach((layer, i) =>
    editWeights(layer, (name, v) => {
      const r = flat(rand([v.length], seed * 100 + i, { lo: 0.2, hi: 1.5 }));
      const signed = name === 'moving_variance' || name === 'gamma' ? r : r.map((x, j) => (j % 3 === 1 ? -x : x));
      v.set(signed);
    }),
  );
}

/** Prunes, and checks that the pruned model predicts what the original does. */
function prunesSame(model: c.Model, x: c.Tensor, options: c.compress.PruneStructuredOptions) {
  const { model: pruned, report } = c.compress.pruneStructured(model, options);
  const [a, b] = [model.predict(x) as c.Tensor, pruned.predict(x) as c.Tensor];
  assertClose(b, a, { rtol: 1e-5, atol: 1e-5 }, 'pruned vs original predictions');
  c.dispose([a, b]);
  return { pruned, report };
}

const shapes = (m: c.Model) => Object.fromEntries(m.weights.map((w) => [w.name, [...w.shape]]));

test('pruneStructured: Dense units with zero kernel and bias under relu, and units with zero outgoing weights', () => {
  c.setSeed(1);
  const model = new c.Sequential([
    L.dense({ units: 13, activation: 'relu', inputShape: [7], name: 'd1' }),
    L.dense({ units: 11, activation: 'tanh', name: 'd2' }),
    L.dense({ units: 3, name: 'd3' }),
  ]);
  randomize(model, 1);
  zeroUnits(model.getLayer('d1'), [2, 5, 9, 12]);
  // d2's units 0, 4 and 10 compute something (small incoming weights) that nothing reads.
  editWeights(model.getLayer('d2'), (name, v, shape) => {
    const cols = shape.length === 2 ? shape[1] : shape[0];
    for (let i = 0; i < v.length; i++) if ([0, 4, 10].includes(i % cols)) v[i] *= 1e-3;
  });
  zeroInputs(model.getLayer('d3'), [0, 4, 10]);
  const x = rand([6, 7], 2, { dtype: 'float32' });
  const { pruned, report } = prunesSame(model, x, { perLayer: { d1: 9, d2: 3 / 11 } });
  assert.deepEqual(shapes(pruned), {
    'd1/kernel': [7, 9],
    'd1/bias': [9],
    'd2/kernel': [9, 8],
    'd2/bias': [8],
    'd3/kernel': [8, 3],
    'd3/bias': [3],
  });
  const row = (name: string, before: number, after: number, removed: number[], params: [number, number]) => ({
    name,
    className: 'Dense',
    channelsBefore: before,
    channelsAfter: after,
    removed,
    paramsBefore: params[0],
    paramsAfter: params[1],
  });
  assert.deepEqual(report.layers, [
    row('d1', 13, 9, [2, 5, 9, 12], [7 * 13 + 13, 7 * 9 + 9]),
    row('d2', 11, 8, [0, 4, 10], [13 * 11 + 11, 9 * 8 + 8]),
    row('d3', 3, 3, [], [11 * 3 + 3, 8 * 3 + 3]),
  ]);
  assert.equal(report.paramsBefore, 104 + 154 + 36);
  assert.equal(report.paramsAfter, 72 + 80 + 27);
  assert.equal(report.bytesAfter, 4 * report.paramsAfter);
  assert.deepEqual(report.skipped, []);
  assert.equal(model.getLayer('d1').weights[0].shape[1], 13, 'the original is left as it was');
  x.dispose();
});

test('pruneStructured: Conv2D -> MaxPooling -> Conv2D -> Flatten -> Dropout -> Dense, channels last', () => {
  c.setSeed(2);
  const model = new c.Sequential([
    L.conv2d({ filters: 5, kernelSize: 3, activation: 'relu', inputShape: [9, 9, 2], name: 'c1' }),
    L.maxPooling2d({ poolSize: 2, name: 'p1' }),
    L.conv2d({ filters: 7, kernelSize: 2, padding: 'same', activation: 'relu', name: 'c2' }),
    L.flatten({ name: 'f' }),
    L.dropout({ rate: 0.5, name: 'drop' }),
    L.dense({ units: 4, name: 'out' }),
  ]);
  randomize(model, 2);
  zeroUnits(model.getLayer('c1'), [1, 3]);
  zeroUnits(model.getLayer('c2'), [0, 4, 6]);
  const x = rand([3, 9, 9, 2], 3, { dtype: 'float32', lo: 0, hi: 1 });
  const { pruned, report } = prunesSame(model, x, { perLayer: { c1: 3, c2: 4 } });
  // Flatten of [3, 3, 4]: the Dense keeps the rows of the 4 kept channels at each of the 9 positions.
  assert.deepEqual(shapes(pruned), {
    'c1/kernel': [3, 3, 2, 3],
    'c1/bias': [3],
    'c2/kernel': [2, 2, 3, 4],
    'c2/bias': [4],
    'out/kernel': [36, 4],
    'out/bias': [4],
  });
  assert.deepEqual(
    report.layers.map((r) => [r.name, r.removed, r.paramsAfter]),
    [
      ['c1', [1, 3], 3 * 3 * 2 * 3 + 3],
      ['c2', [0, 4, 6], 2 * 2 * 3 * 4 + 4],
      ['out', [], 36 * 4 + 4],
    ],
  );
  assert.equal(pruned.countParams(), report.paramsAfter);
  x.dispose();
});

test('pruneStructured: Conv2D -> BatchNormalization -> Conv2D slices gamma, beta and the moving statistics', () => {
  c.setSeed(3);
  const model = new c.Sequential([
    L.conv2d({ filters: 6, kernelSize: 3, inputShape: [7, 7, 3], name: 'c1' }),
    L.batchNormalization({ name: 'bn' }),
    L.activation({ activation: 'relu', name: 'act' }),
    L.conv2d({ filters: 5, kernelSize: 3, name: 'c2' }),
    L.globalAveragePooling2d({ name: 'gap' }),
    L.dense({ units: 3, name: 'out' }),
  ]);
  randomize(model, 3);
  // BatchNormalization shifts a zero channel, so c2's rows for channels 0 and 5 are zero too: they are inert.
  zeroUnits(model.getLayer('c1'), [0, 5]);
  zeroInputs(model.getLayer('c2'), [0, 5]);
  const bnBefore = model.getLayer('bn').weights.map((w) => flat(w.value));
  const x = rand([2, 7, 7, 3], 4, { dtype: 'float32' });
  const { pruned, report } = prunesSame(model, x, { perLayer: { c1: 4 } });
  const bnAfter = pruned.getLayer('bn').weights.map((w) => flat(w.value));
  assert.deepEqual(
    bnAfter,
    bnBefore.map((v) => [v[1], v[2], v[3], v[4]]),
    'gamma, beta, moving mean and variance of the kept channels',
  );
  assert.deepEqual(
    report.layers.map((r) => [r.name, r.channelsBefore, r.channelsAfter, r.removed]),
    [
      ['c1', 6, 4, [0, 5]],
      ['bn', 6, 4, [0, 5]],
      ['c2', 5, 5, []],
    ],
  );
  assert.deepEqual(shapes(pruned)['c2/kernel'], [3, 3, 4, 5]);
  x.dispose();
});

test('pruneStructured: Conv1D -> BatchNormalization -> ReLU -> Conv1D -> GlobalMaxPooling1D -> Dense', () => {
  c.setSeed(4);
  const model = new c.Sequential([
    L.conv1d({ filters: 7, kernelSize: 3, inputShape: [11, 3], name: 'k1' }),
    L.batchNormalization({ name: 'bn1' }),
    L.reLU({ name: 'relu' }),
    L.conv1d({ filters: 5, kernelSize: 2, activation: 'relu', name: 'k2' }),
    L.globalMaxPooling1d({ name: 'gmp' }),
    L.dense({ units: 2, name: 'out' }),
  ]);
  randomize(model, 4);
  zeroUnits(model.getLayer('k1'), [2, 3, 6]);
  zeroInputs(model.getLayer('k2'), [2, 3, 6]);
  zeroUnits(model.getLayer('k2'), [1]);
  const x = rand([4, 11, 3], 5, { dtype: 'float32' });
  const { pruned } = prunesSame(model, x, { perLayer: { k1: 4, k2: 0.2 } });
  assert.deepEqual(shapes(pruned)['k1/kernel'], [3, 3, 4]);
  assert.deepEqual(shapes(pruned)['bn1/moving_variance'], [4]);
  assert.deepEqual(shapes(pruned)['k2/kernel'], [2, 4, 4]);
  assert.deepEqual(shapes(pruned)['out/kernel'], [4, 2]);
  x.dispose();
});

test('pruneStructured: a functional graph with Concatenate and a pruned tensor read by two branches', () => {
  c.setSeed(5);
  const inp = c.input({ shape: [8, 8, 3] });
  const a = L.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', name: 'a' }).apply(inp) as c.SymbolicTensor;
  const b = L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'b' }).apply(inp) as c.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([a, b]) as c.SymbolicTensor;
  const mixed = L.conv2d({ filters: 5, kernelSize: 1, name: 'mix' }).apply(cat) as c.SymbolicTensor;
  const pooled = L.globalAveragePooling2d({ name: 'gap' }).apply(mixed) as c.SymbolicTensor;
  const side = L.flatten({ name: 'flat' }).apply(L.maxPooling2d({ poolSize: 3, name: 'mp' }).apply(a));
  const sideDense = L.dense({ units: 4, activation: 'relu', name: 'side' }).apply(side) as c.SymbolicTensor;
  const joined = L.concatenate({ name: 'join' }).apply([pooled, sideDense]) as c.SymbolicTensor;
  const out = L.dense({ units: 2, name: 'out' }).apply(joined) as c.SymbolicTensor;
  const model = new c.Model({ inputs: inp, outputs: out });
  randomize(model, 5);
  zeroUnits(model.getLayer('a'), [1, 4]);
  zeroUnits(model.getLayer('b'), [3]);
  zeroUnits(model.getLayer('side'), [0]);
  const x = rand([3, 8, 8, 3], 6, { dtype: 'float32' });
  const { pruned, report } = prunesSame(model, x, { perLayer: { a: 4, b: 3, side: 3 } });
  assert.ok(pruned.isFunctional);
  const s = shapes(pruned);
  assert.deepEqual(s['mix/kernel'], [1, 1, 7, 5], 'the 4 kept of a, then the 3 kept of b');
  assert.deepEqual(s['side/kernel'], [2 * 2 * 4, 3]);
  assert.deepEqual(s['out/kernel'], [5 + 3, 2]);
  assert.deepEqual(
    report.layers.map((r) => r.name),
    ['a', 'b', 'mix', 'side', 'out'],
  );
  x.dispose();
});

test('pruneStructured: ratio 0.5 halves the convolutions of mnistCnn(), keeping the largest-norm filters', () => {
  c.setSeed(6);
  const model = mnistCnn();
  const [conv1, , conv2, , , , dense] = model.layers;
  for (const criterion of ['l1', 'l2'] as const) {
    const { model: pruned, report } = c.compress.pruneStructured(model, { ratio: 0.5, criterion });
    assert.deepEqual(
      pruned.weights.map((w) => [...w.shape]),
      [[3, 3, 1, 16], [16], [3, 3, 16, 32], [32], [5 * 5 * 32, 10], [10]],
    ); // prettier-ignore
    assert.equal(pruned.countParams(), 3 * 3 * 16 + 16 + (3 * 3 * 16 * 32 + 32) + (800 * 10 + 10));
    assert.deepEqual(report.skipped, [{ name: dense.name, reason: 'output layer' }]);
    // The removed filters are those of smallest norm, found here by the tensor ops.
    for (const [layer, n] of [
      [conv1, 32],
      [conv2, 64],
    ] as const) {
      const k = layer.weights[0].value;
      const norm = criterion === 'l1' ? c.sum(c.abs(k), [0, 1, 2]) : c.sqrt(c.sum(c.square(k), [0, 1, 2]));
      const values = flat(norm);
      const order = values.map((v, i) => [v, i]).sort((p, q) => p[0] - q[0]);
      const removed = order.slice(0, n / 2).map(([, i]) => i).sort((p, q) => p - q); // prettier-ignore
      assert.deepEqual(report.layers.find((r) => r.name === layer.name)!.removed, removed);
      norm.dispose();
    }
    pruned.dispose();
  }
  model.dispose();
});

test('largestUnits keeps the largest norms in index order, ties to the lower index; unitNorms', () => {
  assert.deepEqual(c.compress.largestUnits([1, 2, 2, 1, 0], 2), [1, 2]);
  assert.deepEqual(c.compress.largestUnits([1, 2, 2, 1, 0], 3), [0, 1, 2]);
  assert.deepEqual(c.compress.largestUnits([0, 0, 0, 0], 2), [0, 1]);
  const k = c.tensor([1, -2, 3, -4, 0, 2], [3, 2]);
  assert.deepEqual([...c.compress.unitNorms(k, 'l1')], [4, 8]);
  assert.deepEqual([...c.compress.unitNorms(k, 'l2')], [Math.sqrt(10), Math.sqrt(24)]);
  k.dispose();
});

test('pruneStructured: DepthwiseConv2D carries channels (times its multiplier); SeparableConv2D prunes filters', () => {
  c.setSeed(7);
  const model = new c.Sequential([
    L.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', inputShape: [9, 9, 2], name: 'c1' }),
    L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, activation: 'relu', name: 'dw' }),
    L.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, activation: 'relu', name: 'sep' }),
    L.flatten({ name: 'flat' }),
    L.dense({ units: 3, name: 'out' }),
  ]);
  randomize(model, 7);
  zeroUnits(model.getLayer('c1'), [1, 4]);
  // The depthwise outputs of channels 1 and 4 (2, 3, 8, 9) are relu(bias): zero biases make them inert.
  editWeights(model.getLayer('dw'), (name, v) => name === 'bias' && [2, 3, 8, 9].forEach((i) => (v[i] = 0)));
  zeroUnits(model.getLayer('sep'), [2]); // its pointwise kernel's column 2 and bias 2
  const x = rand([2, 9, 9, 2], 8, { dtype: 'float32' });
  const { pruned, report } = prunesSame(model, x, { perLayer: { c1: 4, sep: 4 } });
  assert.deepEqual(shapes(pruned), {
    'c1/kernel': [3, 3, 2, 4],
    'c1/bias': [4],
    'dw/depthwise_kernel': [3, 3, 4, 2],
    'dw/bias': [8],
    'sep/depthwise_kernel': [3, 3, 8, 2],
    'sep/pointwise_kernel': [1, 1, 16, 4],
    'sep/bias': [4],
    'out/kernel': [36, 3],
    'out/bias': [3],
  });
  assert.deepEqual(
    report.layers.map((r) => [r.name, r.channelsBefore, r.channelsAfter, r.removed]),
    [
      ['c1', 6, 4, [1, 4]],
      ['dw', 12, 8, [2, 3, 8, 9]],
      ['sep', 5, 4, [2]],
      ['out', 3, 3, []],
    ],
  );
  x.dispose();
});
