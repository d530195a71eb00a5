// Integrated Gradients on a trained ReLU / max-pool CNN (the MNIST example's architecture, trained briefly on
// real digits): fixed rules leave a completeness gap that shrinks only as 1/steps (the gradient jumps where a
// unit switches), the adaptive rule halves segments until the gap is below tolerance: 1e-4 in float32 and
// 1e-8 in float64 (the same trained weights in a float64 copy).
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

/** The MNIST example's CNN, smaller (4 and 8 filters) to keep the test fast; dtype for the float64 copy. */
function cnn(dtype: 'float32' | 'float64'): c.Sequential {
  return new c.Sequential([
    c.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1], dtype }),
    c.layers.maxPooling2d({ poolSize: 2, dtype }),
    c.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', dtype }),
    c.layers.maxPooling2d({ poolSize: 2, dtype }),
    c.layers.flatten({ dtype }),
    c.layers.dense({ units: 10, activation: 'softmax', dtype }),
  ]);
}

test('IG on a trained MNIST CNN: the adaptive rule reaches gaps of 1e-4 (float32) and 1e-8 (float64)', async () => {
  c.setSeed(11);
  const { train, test: testSplit } = await c.datasets.mnist();
  const x = c.copy(c.sliceAxis(train.x, 0, 0, 1024)),
    y = c.copy(c.sliceAxis(train.y, 0, 0, 1024));
  const digits = c.reshape(c.copy(c.sliceAxis(testSplit.x, 0, 0, 3)), [3, 28, 28, 1]);
  c.dispose([train, testSplit]);
  const model = cnn('float32');
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.003 }), loss: 'sparseCategoricalCrossentropy' });
  await model.fit(c.reshape(x, [1024, 28, 28, 1]), y, { epochs: 1, batchSize: 32, verbose: 0, record: false });

  const fixed = c.explain(model, digits, { method: 'integratedGradients', steps: 32 });
  const adaptive = c.explain(model, digits, { method: 'integratedGradients', rule: 'adaptive' });
  const worst = (e: c.explainability.Explanation) => Math.max(...e.completenessGap!);
  assert.ok(worst(fixed) > 1e-4, `a fixed rule of 32 points already reaches ${worst(fixed)}: the test proves nothing`);
  assert.ok(worst(adaptive) < 1e-4, `float32 gap ${worst(adaptive)}`);
  // Same attributions as a fine fixed rule, up to that rule's own error.
  const fine = c.explain(model, digits, { method: 'integratedGradients', steps: 256 });
  const diff = c.max(c.abs(c.sub(fine.attributions, adaptive.attributions))).dataSync()[0];
  const scale = c.max(c.abs(fine.attributions)).dataSync()[0];
  assert.ok(diff < 0.05 * scale, `adaptive differs from 256 points by ${diff} (max ${scale})`);

  const copy = cnn('float64');
  copy.build([null, 28, 28, 1]);
  copy.weights.forEach((w, i) => w.assign(c.cast(model.weights[i].value, 'float64')));
  const digits64 = c.cast(c.sliceAxis(digits, 0, 0, 1), 'float64');
  const exact = c.explain(copy, digits64, { method: 'integratedGradients', rule: 'adaptive', steps: 4 });
  assert.equal(exact.attributions.dtype, 'float64');
  console.log(
    JSON.stringify({
      a: adaptive.completenessGap,
      s: adaptive.details,
      e: exact.completenessGap,
      es: exact.details,
      f: fixed.completenessGap,
    }),
  );
  assert.ok(worst(exact) < 1e-8, `float64 gap ${worst(exact)}`);
  c.dispose([x, y, digits, digits64, fixed.attributions, adaptive.attributions, fine.attributions, exact.attributions]);
  model.dispose();
  copy.dispose();
});
