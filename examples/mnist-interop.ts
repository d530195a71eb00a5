// MNIST interop: a CNN trained by someone else in Keras 3 (a real .keras file) loads into Candor, fine-tunes with a
// TensorBoard callback, and leaves as ONNX (run in onnxruntime-node) and as a TF.js model; each copy must predict
// the 10,000 test digits as the Candor model does. `--epochs N` (default 1, on 12,000 training images), `--json`,
// `--out DIR` (default runs/mnist-interop: model.onnx, model.tfjs/, logs/ for `tensorboard --logdir`, and the
// fine-tuned Candor model with its run.json, card and ledger; `--no-record` leaves these four out).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import * as c from '../src/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const { epochs, json, verbose, out, seed, limit } = parseExampleArgs({ epochs: 1, name: 'mnist-interop' });
const dir = out ?? join('runs', 'mnist-interop');
const KERAS_FILE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures', 'interop', 'keras');
const { train, test } = await c.datasets.mnist({ flatten: false });
// The file's author trained on raw pixels, 0-255 (test/fixtures/interop/keras/README.md).
const pixels = (x: c.Tensor) => c.mul(x, 255);
const testX = pixels(test.x);
const labels = test.y.dataSync();

function accuracy(predictions: ArrayLike<number>): number {
  let right = 0;
  for (let i = 0; i < labels.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (predictions[i * 10 + k] > predictions[i * 10 + best]) best = k;
    if (best === labels[i]) right++;
  }
  return right / labels.length;
}
function largestDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
/** The median of `runs` timings of fn, in milliseconds. */
async function medianMs(fn: () => unknown, runs = 15): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    await fn();
    times.push(performance.now() - start);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)];
}

const model = await c.interop.loadKerasModel(join(KERAS_FILE, 'mnist-cnn-keras-3.12.keras'));
const kerasAccuracy = accuracy((model.predict(testX, { batchSize: 256 }) as c.Tensor).dataSync());

// Fine-tune in Candor with a low learning rate, logging to TensorBoard.
model.compile({
  optimizer: c.optimizers.adam({ learningRate: 1e-4 }),
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
});
const subset = Math.min(12000, limit ?? Infinity);
const tensorBoard = new c.TensorBoard({ logDir: join(dir, 'logs'), histogramFreq: 1 });
await model.fit(pixels(c.slice(train.x, [0], [subset])), c.slice(train.y, [0], [subset]), {
  epochs,
  batchSize: 64,
  validationData: [testX, test.y],
  verbose,
  seed,
  callbacks: [tensorBoard],
  record: { name: 'mnist-interop' },
});
const candor = (model.predict(testX, { batchSize: 256 }) as c.Tensor).dataSync();
// Recording: the test evaluation, the fine-tuned model saved in `out`, its record, ledger entry and card.
const run = out ? await recordRun(model.runRecorder!, out, { model, test: { x: testX, y: test.y } }) : undefined;

// ONNX, run by onnxruntime-node on the whole test set in batches of 256.
const onnxFile = join(dir, 'model.onnx');
await c.interop.saveOnnx(model, onnxFile);
const session = await ort.InferenceSession.create(onnxFile);
const testData = testX.dataSync() as Float32Array;
const runOrt = async (from: number, n: number) => {
  const feed = new ort.Tensor('float32', testData.subarray(from * 784, (from + n) * 784), [n, 28, 28, 1]);
  const result = await session.run({ [session.inputNames[0]]: feed });
  return result[session.outputNames[0]].data as Float32Array;
};
const onnx = new Float32Array(candor.length);
for (let i = 0; i < labels.length; i += 256) onnx.set(await runOrt(i, Math.min(256, labels.length - i)), i * 10);

// TF.js, written and read back.
const tfjsDir = join(dir, 'model.tfjs');
await c.interop.saveTfjsModel(model, tfjsDir);
const tfjs = ((await c.interop.loadTfjsModel(tfjsDir)).predict(testX, { batchSize: 256 }) as c.Tensor).dataSync();

const batch = c.slice(testX, [0], [256]);
report(json, {
  example: 'mnist-interop',
  kerasFileAccuracy: kerasAccuracy,
  fineTunedAccuracy: accuracy(candor),
  onnxAccuracy: accuracy(onnx),
  onnxLargestDifference: largestDifference(onnx, candor),
  tfjsLargestDifference: largestDifference(tfjs, candor),
  candorMsBatch256: await medianMs(() => c.tidy(() => model.predict(batch))),
  onnxruntimeMsBatch256: await medianMs(() => runOrt(0, 256)),
  onnxFile,
  tfjsDir,
  tensorBoardLogs: join(dir, 'logs'),
  ...publishedFiles(run),
});
