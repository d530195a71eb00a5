// Structured pruning on real data: a small MNIST CNN trained for an epoch, pruned to half its filters, and
// fine-tuned for an epoch on the same 2,000 images recovers an accuracy far above chance (10%).
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

const { layers: L } = c;

test('MNIST: a CNN pruned to half its filters and fine-tuned for an epoch is accurate again', async () => {
  c.setSeed(11);
  const { train, test: testSplit } = await c.datasets.mnist({ flatten: false });
  const x = c.copy(c.sliceAxis(train.x, 0, 0, 2000)),
    y = c.copy(c.sliceAxis(train.y, 0, 0, 2000));
  const xTest = c.copy(c.sliceAxis(testSplit.x, 0, 0, 500)),
    yTest = c.copy(c.sliceAxis(testSplit.y, 0, 0, 500));
  c.dispose([train, testSplit]);
  // mnistCnn's shape (examples/common.ts) with a quarter of its filters, to keep the test fast on every backend.
  const model = new c.Sequential([
    L.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
    L.maxPooling2d({ poolSize: 2 }),
    L.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
    L.maxPooling2d({ poolSize: 2 }),
    L.flatten(),
    L.dropout({ rate: 0.5 }),
    L.dense({ units: 10, activation: 'softmax' }),
  ]);
  const compile = (m: c.Model) =>
    m.compile({
      optimizer: c.optimizers.adam({ learningRate: 0.01 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
  const fitArgs = { epochs: 1, batchSize: 50, verbose: 0, seed: 11, record: false } as const;
  compile(model);
  await model.fit(x, y, fitArgs);
  const trained = (await model.evaluate(xTest, yTest, { verbose: 0 })).accuracy;

  const { model: pruned, report } = c.compress.pruneStructured(model, { ratio: 0.5 });
  assert.deepEqual(
    report.layers.map((r) => [r.channelsBefore, r.channelsAfter]),
    [
      [8, 4],
      [16, 8],
      [10, 10],
    ],
  );
  compile(pruned);
  const cut = (await pruned.evaluate(xTest, yTest, { verbose: 0 })).accuracy;
  await pruned.fit(x, y, fitArgs);
  const tuned = (await pruned.evaluate(xTest, yTest, { verbose: 0 })).accuracy;
  const figures = `trained ${trained}, pruned ${cut}, fine-tuned ${tuned}`;
  // Seed 11 on the native and JS backends: trained 0.856, pruned 0.75, fine-tuned 0.894.
  assert.ok(trained > 0.75, figures);
  assert.ok(tuned > 0.85, figures);
  assert.ok(tuned > cut, figures);
  c.dispose([x, y, xTest, yTest]);
  model.dispose();
  pruned.dispose();
});
