// MNIST with data augmentation inside the model (the Keras image-augmentation pattern): RandomRotation,
// RandomZoom and RandomTranslation layers in front of a small CNN. They transform the images only while
// training; the model is saved, reloaded and evaluated, where they are the identity, so the reloaded
// model's test accuracy and predictions equal the trained one's.
// Default: 6,000 training images, 2 epochs (well under a minute); `--full` trains on all 60,000 for
// `--epochs` (default 5). `--json` prints a final JSON line. `--out DIR` (default runs/mnist-augment: the model,
// run.json, card, ledger; reloaded from there) / `--no-record` (saved in a temporary folder to be reloaded).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../src/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const full = process.argv.includes('--full');
const { epochs, json, verbose, seed, out, limit } = parseExampleArgs({ epochs: full ? 5 : 2, name: 'mnist-augment' });
const { train, test } = await c.datasets.mnist({ flatten: false });
const trainCount = Math.min(full ? train.x.shape[0] : 6000, limit ?? Infinity);
const x = c.sliceAxis(train.x, 0, 0, trainCount);
const y = c.sliceAxis(train.y, 0, 0, trainCount);

const model = new c.Sequential([
  c.layers.randomRotation({ factor: 0.05, fillMode: 'constant', inputShape: [28, 28, 1] }),
  c.layers.randomZoom({ heightFactor: 0.1, fillMode: 'constant' }),
  c.layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1, fillMode: 'constant' }),
  c.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu' }),
  c.layers.maxPooling2d({ poolSize: 2 }),
  c.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu' }),
  c.layers.maxPooling2d({ poolSize: 2 }),
  c.layers.flatten(),
  c.layers.dropout({ rate: 0.3 }),
  c.layers.dense({ units: 10, activation: 'softmax' }),
]);
if (!json) model.summary();
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

const start = performance.now();
await model.fit(x, y, { epochs, batchSize: 64, seed, verbose, record: { name: 'mnist-augment' } });
const seconds = (performance.now() - start) / 1000;
// Recording: the test evaluation, the model saved in `out`, the record, ledger entry and card.
const run = out ? await recordRun(model.runRecorder!, out, { model, test }) : undefined;
const evaluated = run
  ? { accuracy: run.test!.metrics.accuracy!, loss: run.test!.metrics.loss! }
  : await model.evaluate(test.x, test.y, { batchSize: 256 });

// Save and reload: the augmentation layers come back with their configuration (and seeds), and are the
// identity in inference, so the reloaded model predicts exactly as the trained one.
const dir = mkdtempSync(join(tmpdir(), 'candor-mnist-augment-'));
try {
  const saved = out ?? join(dir, 'model');
  if (!out) await model.save(saved);
  const reloaded = await c.loadModel(saved);
  const again = await reloaded.evaluate(test.x, test.y, { batchSize: 256 });
  const probe = c.sliceAxis(test.x, 0, 0, 256);
  const p1 = model.predict(probe) as c.Tensor;
  const p2 = reloaded.predict(probe) as c.Tensor;
  const a = p1.dataSync(),
    b = p2.dataSync();
  const identical = a.length === b.length && a.every((v, i) => v === b[i]);
  c.dispose([p1, p2]);
  report(json, {
    example: 'mnist-augment',
    trainSamples: trainCount,
    epochs,
    seconds,
    samplesPerSec: (trainCount * epochs) / seconds,
    testAccuracy: evaluated.accuracy,
    testLoss: evaluated.loss,
    reloadedTestAccuracy: again.accuracy,
    reloadedPredictionsIdentical: identical,
    augmentationLayers: reloaded.layers.filter((l) => l.className.startsWith('Random')).length,
    ...publishedFiles(run),
  });
  if (!identical || again.accuracy !== evaluated.accuracy) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
