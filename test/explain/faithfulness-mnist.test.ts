// On real MNIST digits: deleting the pixels Integrated Gradients ranks first lowers the class probability faster
// than deleting them in a random order (the deletion-AUC check), for a small MLP trained in the test.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

const { deletionCurve } = c.explainability;

test('MNIST: the deletion AUC of Integrated Gradients beats a random attribution', async () => {
  c.setSeed(5);
  const { train, test: testSplit } = await c.datasets.mnist();
  const x = c.copy(c.sliceAxis(train.x, 0, 0, 256)),
    y = c.copy(c.sliceAxis(train.y, 0, 0, 256));
  const probe = c.copy(c.sliceAxis(testSplit.x, 0, 0, 6));
  c.dispose([train, testSplit]);
  const model = new c.Sequential([
    c.layers.dense({ units: 32, activation: 'relu', inputShape: [784] }),
    c.layers.dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { epochs: 4, batchSize: 32, verbose: 0, record: false, seed: 5 });
  const ig = c.explain(model, probe, { method: 'integratedGradients', steps: 16 });
  const random = { ...ig, attributions: c.randomUniform([6, 784], { seed: 6 }) };
  const options = { steps: 28 };
  const good = deletionCurve(model, probe, ig, options),
    bad = deletionCurve(model, probe, random, options);
  assert.ok(good.meanAuc < bad.meanAuc / 2, `IG ${good.meanAuc} vs random ${bad.meanAuc}`);
  c.dispose([x, y, probe, ig.attributions, random.attributions]);
  model.dispose();
});
