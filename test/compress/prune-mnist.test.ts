// On real MNIST digits: an MLP pruned to 80% sparsity during fit (prunedFineTune: PolynomialDecay, the wrapper,
// the callback, stripPruning) still learns, with every kernel exactly 80% zeros and a weights file ~4x smaller.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

test('MNIST: an MLP pruned to 80% while training on 3,000 digits is far above chance', async () => {
  c.setSeed(16);
  const { train, test: testSplit } = await c.datasets.mnist();
  const x = c.copy(c.sliceAxis(train.x, 0, 0, 3000)),
    y = c.copy(c.sliceAxis(train.y, 0, 0, 3000));
  const xTest = c.copy(c.sliceAxis(testSplit.x, 0, 0, 1000)),
    yTest = c.copy(c.sliceAxis(testSplit.y, 0, 0, 1000));
  c.dispose([train, testSplit]);
  const model = new c.Sequential([
    c.layers.dense({ units: 64, activation: 'relu', inputShape: [784] }),
    c.layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  const {
    model: pruned,
    report,
    bytes,
  } = await c.compress.prunedFineTune(model, x, y, {
    finalSparsity: 0.8,
    epochs: 2,
    seed: 16,
    compile: {
      optimizer: c.optimizers.adam({ learningRate: 0.005 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    },
  });
  assert.deepEqual(
    pruned.layers.map((l) => l.className),
    ['Dense', 'Dense'],
  );
  for (const w of report.weights)
    assert.equal(w.zeros, w.elements - c.compress.keptCount(w.elements, 0.8), `${w.weight} is exactly 80% zeros`);
  assert.ok(bytes.sparse / bytes.dense < 0.26, `sparse file is ${bytes.sparse} of ${bytes.dense} bytes`);
  const { accuracy } = await pruned.evaluate(xTest, yTest, { verbose: 0 });
  assert.ok(accuracy > 0.8, `test accuracy ${accuracy} (chance is 0.1)`);
  c.dispose([x, y, xTest, yTest]);
  pruned.dispose();
});
