// The model-randomisation sanity check: a briefly trained model's saliency maps differ from those of its
// randomised copies (low rank correlation), and the user's model is left as it was.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError } from '../../src/errors.js';

const { sanityCheck } = c.explainability;

/** 12 features; the class is whether x0 + x1 - x2 > 0: a trained model's gradients single out features 0..2. */
function problem(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const x = c.randomNormal([n, 12], { seed });
  const v = x.dataSync();
  const y = Int32Array.from({ length: n }, (_, i) => (v[i * 12] + v[i * 12 + 1] - v[i * 12 + 2] > 0 ? 1 : 0));
  return { x, y: c.tensor(y, [n], 'int32') };
}

test('the sanity check separates a trained model from its randomised copies; the model is unchanged', async () => {
  c.setSeed(11);
  const model = new c.Sequential([
    c.layers.dense({ units: 16, activation: 'tanh', inputShape: [12], name: 'hidden' }),
    c.layers.dense({ units: 2, activation: 'softmax', name: 'out' }),
  ]);
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.03 }), loss: 'sparseCategoricalCrossentropy' });
  const { x, y } = problem(256, 1);
  await model.fit(x, y, { epochs: 15, batchSize: 32, verbose: 0, record: false, seed: 2 });
  const before = model.getWeights().map((w) => Array.from(w.dataSync()));
  const probe = problem(8, 3).x;
  const predicted = Array.from((model.predict(probe) as c.Tensor).dataSync());
  const check = sanityCheck(model, probe, { method: 'saliency', target: 1 }, { independent: true });
  assert.equal(check.method, 'saliency');
  assert.deepEqual(
    check.cascading.map((s) => [s.layer, s.randomized]),
    [
      ['out', ['out']],
      ['hidden', ['out', 'hidden']],
    ],
  );
  assert.deepEqual(
    check.independent!.map((s) => [s.layer, s.randomized]),
    [
      ['out', ['out']],
      ['hidden', ['hidden']],
    ],
  );
  // Fully randomised: the maps no longer rank features as the trained model's do.
  const last = check.cascading[1];
  assert.equal(last.perSample.spearmanAbsolute.length, 8);
  assert.ok(Math.abs(last.spearmanAbsolute) < 0.5, `|attributions| rank correlation ${last.spearmanAbsolute}`);
  assert.ok(Math.abs(last.spearman) < 0.5, `attributions rank correlation ${last.spearman}`);
  // The trained model's own maps do single out the three features that decide the class.
  const map = c.explain(model, probe, { method: 'saliency', target: 1 }).attributions.dataSync();
  const meanAbs = (j: number) => Array.from({ length: 8 }, (_, i) => map[i * 12 + j]).reduce((s, v) => s + v, 0);
  for (const j of [0, 1, 2]) for (let k = 3; k < 12; k++) assert.ok(meanAbs(j) > meanAbs(k), `feature ${j} vs ${k}`);
  // The user's model: the same weights, bit for bit, and the same predictions.
  assert.deepEqual(
    model.getWeights().map((w) => Array.from(w.dataSync())),
    before,
  );
  assert.deepEqual(Array.from((model.predict(probe) as c.Tensor).dataSync()), predicted);
});

test('the sanity check needs a layer with weights', () => {
  const model = new c.Sequential([c.layers.activation({ activation: 'softmax', inputShape: [3] })]);
  assert.throws(() => sanityCheck(model, c.ones([1, 3]), { method: 'saliency' }), ArgumentError);
});
