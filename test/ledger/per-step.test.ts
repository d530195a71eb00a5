// Per-step work of the accountability code: the regularizer's owner map is built once, not every step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { Layer } from '../../src/nn/layer.js';

test("regularizationLoss finds the weights' owners without rebuilding a map over all layers every step", () => {
  const model = new c.Sequential([
    c.layers.dense({ units: 4, inputShape: [3], kernelRegularizer: c.regularizers.l2(0.01) }),
    c.layers.dense({ units: 2, kernelRegularizer: c.regularizers.l1(0.01) }),
  ]);
  const flatten = Layer.prototype.flattenLayers;
  let calls = 0;
  Layer.prototype.flattenLayers = function (this: Layer) {
    calls++;
    return flatten.call(this);
  };
  try {
    const first = model.regularizationLoss()!;
    const once = calls;
    calls = 0;
    const second = model.regularizationLoss()!;
    // The first call builds the owner map (one walk over the layers); the second reuses it.
    assert.ok(calls < once, `${calls} walks on the second call vs ${once} on the first`);
    // Same penalty: sum over the kernels by hand.
    const [k1, , k2] = model.trainableWeights.map((w) => w.value.dataSync() as Float32Array);
    const byHand = 0.01 * k1.reduce((s, x) => s + x * x, 0) + 0.01 * k2.reduce((s, x) => s + Math.abs(x), 0);
    assert.ok(Math.abs(second.dataSync()[0] - byHand) < 1e-6 * Math.max(1, byHand));
    assert.equal(first.dataSync()[0], second.dataSync()[0]);
    c.dispose([first, second]);
  } finally {
    Layer.prototype.flattenLayers = flatten;
    model.dispose();
  }
});
