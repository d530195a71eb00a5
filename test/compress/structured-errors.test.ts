// Structured pruning refuses, with an ArgumentError naming the layer, every graph it cannot shrink without
// changing what the model computes (residual Add, Reshape, Softmax, normalisation across channels, the output
// layer, grouped or channels-first layers), and bad options.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

const { layers: L } = c;
const { pruneStructured } = c.compress;

/** Asserts that pruning throws an ArgumentError whose message matches every pattern. */
function refuses(model: c.Model, options: c.compress.PruneStructuredOptions, ...patterns: RegExp[]): void {
  assert.throws(
    () => pruneStructured(model, options),
    (e: Error) => {
      assert.ok(e instanceof c.ArgumentError, `${e.name}: ${e.message}`);
      for (const p of patterns) assert.match(e.message, p);
      return true;
    },
  );
}

/** input [6, 6, 2] -> conv 'a' -> conv 'inner' -> conv 'b' -> Add(a, b) 'res' -> pooling -> Dense 'out'. */
function residual(): c.Model {
  const inp = c.input({ shape: [6, 6, 2] });
  const a = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'a' }).apply(inp) as c.SymbolicTensor;
  const inner = L.conv2d({ filters: 6, kernelSize: 3, padding: 'same', name: 'inner' }).apply(a);
  const b = L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'b' }).apply(inner) as c.SymbolicTensor;
  const sum = L.add({ name: 'res' }).apply([a, b]) as c.SymbolicTensor;
  const out = L.dense({ units: 2, name: 'out' }).apply(L.globalAveragePooling2d({ name: 'gap' }).apply(sum));
  return new c.Model({ inputs: inp, outputs: out as c.SymbolicTensor });
}

/** Dense 'd' (12 units) -> `middle` -> Flatten -> Dense 'out'. */
const denseThrough = (middle: c.Layer) =>
  new c.Sequential([
    L.dense({ units: 12, inputShape: [5], name: 'd' }),
    middle,
    L.flatten({ name: 'flat' }),
    L.dense({ units: 2, name: 'out' }),
  ]);

test('pruneStructured refuses a residual Add whose inputs would keep different channels, naming it', () => {
  c.setSeed(1);
  const model = residual();
  refuses(model, { perLayer: { a: 2 } }, /Add 'res'/, /'a'/, /exclude/);
  // Pruning only b's ... is refused too: b's channels meet a's whole ones in the Add.
  refuses(model, { perLayer: { b: 3 } }, /Add 'res'/, /'b'/);
  // ratio leaves them whole, says why, and prunes the convolution inside the residual branch.
  const { model: smaller, report } = pruneStructured(model, { ratio: 0.5 });
  assert.deepEqual(
    report.layers.map((r) => [r.name, r.channelsBefore, r.channelsAfter]),
    [
      ['inner', 6, 3],
      ['b', 4, 4],
    ],
  );
  assert.deepEqual(
    report.skipped.map((s) => s.name),
    ['a', 'b', 'out'],
  );
  assert.match(report.skipped[0].reason, /^Add 'res' adds or multiplies its inputs channel by channel/);
  assert.equal(smaller.countParams(), model.countParams() - (9 * 4 * 3 + 3) - 9 * 3 * 4);
});

test('pruneStructured refuses layers that mix or reshape channels, naming them', () => {
  c.setSeed(2);
  refuses(denseThrough(L.reshape({ targetShape: [3, 4], name: 'rs' })), { perLayer: { d: 6 } }, /Reshape 'rs'/);
  refuses(denseThrough(L.softmax({ name: 'sm' })), { perLayer: { d: 6 } }, /Softmax 'sm'/);
  refuses(denseThrough(L.layerNormalization({ name: 'ln' })), { perLayer: { d: 6 } }, /LayerNormalization 'ln'/);
  refuses(denseThrough(L.activation({ activation: 'softmax', name: 'act' })), { perLayer: { d: 6 } }, /'act'/);
  refuses(denseThrough(L.prelu({ name: 'pr' })), { perLayer: { d: 6 } }, /PReLU 'pr'/);
  const hidden = new c.Sequential([
    L.dense({ units: 6, activation: 'softmax', inputShape: [3], name: 'h' }),
    L.dense({ units: 2, name: 'out' }),
  ]);
  refuses(hidden, { perLayer: { h: 3 } }, /Dense 'h' ends in a softmax/);
});

test("pruneStructured never prunes the output layer's units", () => {
  c.setSeed(3);
  const model = new c.Sequential([
    L.dense({ units: 6, activation: 'relu', inputShape: [3], name: 'h' }),
    L.dense({ units: 4, name: 'out' }),
    L.activation({ activation: 'relu', name: 'act' }),
  ]);
  refuses(model, { perLayer: { out: 2 } }, /'out' would reach the model's output/);
  const { report } = pruneStructured(model, { ratio: 0.5 });
  assert.deepEqual(report.skipped, [{ name: 'out', reason: 'output layer' }]);
  assert.deepEqual(
    report.layers.map((r) => [r.name, r.channelsAfter]),
    [
      ['h', 3],
      ['out', 4],
    ],
  );
});

test('pruneStructured refuses grouped and channels-first layers in the path of pruned channels', () => {
  c.setSeed(4);
  const grouped = new c.Sequential([
    L.conv2d({ filters: 4, kernelSize: 1, inputShape: [5, 5, 2], name: 'c' }),
    L.conv2d({ filters: 4, kernelSize: 1, groups: 2, name: 'g' }),
    L.flatten({ name: 'flat' }),
    L.dense({ units: 2, name: 'out' }),
  ]);
  refuses(grouped, { perLayer: { g: 2 } }, /Conv2D 'g' has groups 2/);
  refuses(grouped, { perLayer: { c: 2 } }, /Conv2D 'g' has groups 2/);
  const { report } = pruneStructured(grouped, { ratio: 0.5 });
  assert.deepEqual(report.skipped, [
    { name: 'c', reason: "Conv2D 'g' has groups 2; grouped convolutions are not pruned" },
    { name: 'g', reason: "Conv2D 'g' has groups 2; grouped convolutions are not pruned" },
    { name: 'out', reason: 'output layer' },
  ]);
  const channelsFirst = new c.Sequential([
    L.conv2d({ filters: 4, kernelSize: 1, inputShape: [5, 5, 2], name: 'c' }),
    L.spatialDropout2d({ rate: 0.1, dataFormat: 'channelsFirst', name: 'sd' }),
    L.flatten({ name: 'flat' }),
    L.dense({ units: 2, name: 'out' }),
  ]);
  refuses(channelsFirst, { perLayer: { c: 2 } }, /SpatialDropout2D 'sd' is channels-first/);
});

test('pruneStructured: bad options and models get typed errors', () => {
  c.setSeed(5);
  const model = new c.Sequential([
    L.dense({ units: 12, inputShape: [5], name: 'd' }),
    L.batchNormalization({ name: 'bn' }),
    L.dense({ units: 2, name: 'out' }),
  ]);
  refuses(model, { perLayer: { nope: 2 } }, /no layer named 'nope'; layers: d, bn, out/);
  refuses(model, { perLayer: { bn: 2 } }, /BatchNormalization 'bn' is not prunable/);
  refuses(model, { perLayer: { d: 20 } }, /keep 20 of its 12/);
  refuses(model, { perLayer: { d: 2.5 } }, /fraction in \[0, 1\) to remove or an integer >= 1 to keep, got 2.5/);
  refuses(model, { ratio: 1.5 }, /ratio for Dense 'd'/);
  refuses(model, { ratio: -0.1 }, /got -0.1/);
  refuses(model, {}, /give ratio/);
  refuses(model, { ratio: 0.5, criterion: 'l3' as 'l1' }, /criterion must be 'l1' or 'l2'/);
  refuses(model, { ratio: 0.5, amount: 0.5 } as c.compress.PruneStructuredOptions, /unknown option 'amount'/);
  refuses(model, { perLayer: { d: 2 }, exclude: ['d'] }, /both in perLayer and in exclude/);
  refuses(new c.Sequential([L.dense({ units: 3 }), L.dense({ units: 1 })]), { ratio: 0.5 }, /input shape/);
  class Own extends c.Model {
    readonly dense = L.dense({ units: 1 });
    override call(x: c.Tensor | c.Tensor[]) {
      return this.dense.apply(x);
    }
  }
  refuses(new Own(), { ratio: 0.5 }, /subclass model/);
});
