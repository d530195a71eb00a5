// A masked sequence output (padded steps) is scored on its unmasked steps only, by the loss and by every
// metric, as Keras does: changing what the padded steps predict or are labelled changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

test('evaluate: accuracy and loss of a masked sequence output count the unmasked steps only', async () => {
  c.setSeed(11);
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: 6, outputDim: 4, maskZero: true, inputShape: [5] }),
    c.layers.lstm({ units: 5, returnSequences: true }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const ids = c.tensor(
    [
      [1, 2, 3, 0, 0],
      [4, 5, 0, 0, 0],
      [1, 1, 1, 1, 2],
    ],
    [3, 5],
    'int32',
  );
  const labels = [
    [0, 1, 2, 2, 2],
    [1, 1, 0, 0, 0],
    [2, 0, 1, 1, 0],
  ];
  const keep = ids.dataSync();
  const probs = c.tidy(() => (model.predict(ids) as c.Tensor).dataSync());
  let hits = 0,
    valid = 0;
  labels.flat().forEach((label, k) => {
    if (!keep[k]) return;
    const row = Array.from(probs.slice(k * 3, k * 3 + 3));
    valid++;
    if (row.indexOf(Math.max(...row)) === label) hits++;
  });
  const logs = await model.evaluate(ids, c.tensor(labels, [3, 5], 'int32'));
  assert.equal(logs.accuracy, hits / valid);
  // Other labels on the padded steps: the same loss and accuracy.
  const repadded = labels.map((row, r) => row.map((v, t) => (keep[r * 5 + t] ? v : (v + 1) % 3)));
  const again = await model.evaluate(ids, c.tensor(repadded, [3, 5], 'int32'));
  assert.equal(again.accuracy, logs.accuracy);
  assert.equal(again.loss, logs.loss);
  c.dispose(ids);
  model.dispose();
});
