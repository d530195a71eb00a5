// fit / evaluate / predict / trainOnBatch details against manual computations: History and val_ keys, validationSplit
// and validationData, seeded shuffling, classWeight and sampleWeight, initialEpoch, verbose output, Datasets, and flat
// memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat } from '../helpers.js';
import { fmtStepTime } from '../../src/train/progress.js';

/** A seeded 4-feature, 3-class problem: x [n, 4] float32, integer labels y [n]. */
function classification(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const x = new c.RandomStream(seed).normal([n, 4], 0, 1);
  const y = c.tidy(() =>
    c.argmax(
      c.matmul(
        x,
        c.tensor([
          [1, 0, -1],
          [0, 1, 1],
          [-1, 1, 0],
          [0.5, -0.5, 1],
        ]),
      ),
      -1,
    ),
  );
  return { x, y };
}

/** A small seeded classifier 4-8-3 (softmax), compiled with SGD. */
function classifier(
  seed: number,
  { metrics = ['accuracy'] as string[], weightedMetrics = undefined as string[] | undefined, lr = 0.1 } = {},
): c.Sequential {
  c.setSeed(seed);
  const model = new c.Sequential([
    new c.Dense({ units: 8, activation: 'relu', inputShape: [4] }),
    new c.Dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: c.optimizers.sgd({ learningRate: lr }),
    loss: 'sparseCategoricalCrossentropy',
    metrics,
    weightedMetrics,
  });
  return model;
}

const weightsOf = (m: c.Model) => m.weights.map((v) => flat(v.value));

/** Runs fn with process.stdout.write captured; returns what was written. */
async function captureStdout(fn: () => Promise<unknown>): Promise<string> {
  const original = process.stdout.write;
  let out = '';
  process.stdout.write = ((chunk: string | Uint8Array) => {
    out += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    await fn();
  } finally {
    process.stdout.write = original;
  }
  return out;
}

/** Sparse categorical cross-entropy and accuracy of the model's predictions, computed by hand in float64. */
function manualScores(
  model: c.Model,
  x: c.Tensor,
  y: c.Tensor,
  classWeight?: Record<number, number>,
  sampleWeight?: number[],
): { loss: number; accuracy: number } {
  const p = model.predict(x, { batchSize: x.shape[0] }) as c.Tensor;
  const probs = p.toArray() as number[][];
  const labels = flat(y);
  p.dispose();
  let loss = 0,
    correct = 0,
    weightSum = 0;
  probs.forEach((row, i) => {
    const w = (classWeight?.[labels[i]] ?? 1) * (sampleWeight?.[i] ?? 1);
    const s = row.reduce((a, b) => a + b, 0);
    loss += -Math.log(Math.min(Math.max(row[labels[i]] / s, 1e-7), 1 - 1e-7)) * w;
    correct += (row.indexOf(Math.max(...row)) === labels[i] ? 1 : 0) * w;
    weightSum += w;
  });
  // Keras 'sum_over_batch_size' divides the weighted loss by the number of samples; weighted metrics by the weight sum.
  return { loss: loss / probs.length, accuracy: correct / weightSum };
}

const close = (a: number, b: number, tol = 1e-5, what = '') =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test('History: per-epoch loss and metrics; validationSplit takes the last fraction (Keras)', async () => {
  const { x, y } = classification(40, 1);
  const model = classifier(1);
  let batches = 0;
  const history = await model.fit(x, y, {
    epochs: 3,
    batchSize: 8,
    validationSplit: 0.25,
    verbose: 0,
    seed: 1,
    callbacks: [{ onBatchEnd: () => void batches++ }],
  });
  assert.deepEqual(history.epoch, [0, 1, 2]);
  assert.deepEqual(Object.keys(history.history).sort(), ['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  for (const v of Object.values(history.history)) assert.equal(v.length, 3);
  assert.equal(batches, 3 * Math.ceil(30 / 8), 'training sees the first 30 samples only');
  // val_ values of the last epoch are the model's scores on the last 10 samples after training.
  const xv = c.sliceAxis(x, 0, 30),
    yv = c.sliceAxis(y, 0, 30);
  const manual = manualScores(model, xv, yv);
  close(history.history.val_loss[2], manual.loss, 1e-5, 'val_loss');
  close(history.history.val_accuracy[2], manual.accuracy, 1e-9, 'val_accuracy');
  // The training loss falls.
  assert.ok(history.history.loss[2] < history.history.loss[0]);
  c.dispose([x, y, xv, yv]);
});

test("validationData gives val_ keys equal to evaluate on that data; the caller's tensors survive", async () => {
  const { x, y } = classification(32, 2);
  const val = classification(12, 3);
  const model = classifier(2);
  const history = await model.fit(x, y, {
    epochs: 2,
    batchSize: 16,
    validationData: [val.x, val.y],
    verbose: 0,
    seed: 2,
  });
  const evaluated = await model.evaluate(val.x, val.y, { batchSize: 5 });
  close(history.history.val_loss[1], evaluated.loss, 1e-6, 'val_loss');
  close(history.history.val_accuracy[1], evaluated.accuracy, 1e-9, 'val_accuracy');
  // Validation and evaluation never dispose the data they were given (a batch may be the whole tensor).
  for (const t of [x, y, val.x, val.y]) assert.equal(t.isDisposed, false);
  c.dispose([x, y, val.x, val.y]);
});

test('validationSplit that leaves no validation (or training) samples is an error', async () => {
  const { x, y } = classification(10, 4);
  const model = classifier(4);
  await assert.rejects(
    model.fit(x, y, { validationSplit: 0.05, verbose: 0 }),
    (e: Error) => e instanceof c.ArgumentError && /leaves 10 for training and 0 for validation/.test(e.message),
  );
  await assert.rejects(model.fit(x, y, { validationSplit: 1, verbose: 0 }), c.ArgumentError);
  assert.equal(x.isDisposed, false);
  c.dispose([x, y]);
});

test('shuffle is reproducible with a seed; another seed or shuffle: false gives another result', async () => {
  const { x, y } = classification(48, 5);
  const run = async (args: c.FitArgs) => {
    const model = classifier(5);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, ...args });
    const w = weightsOf(model);
    model.dispose();
    return w;
  };
  const a = await run({ seed: 7 }),
    b = await run({ seed: 7 }),
    other = await run({ seed: 8 }),
    ordered = await run({ shuffle: false }),
    ordered2 = await run({ shuffle: false, seed: 99 });
  assert.deepEqual(a, b, 'same seed, same weights');
  assert.notDeepEqual(a, other, 'another seed shuffles differently');
  assert.notDeepEqual(a, ordered);
  assert.deepEqual(ordered, ordered2, 'without shuffling the seed does not matter');
  c.dispose([x, y]);
});

test('classWeight and sampleWeight weight the loss and weightedMetrics (not metrics) as computed by hand', async () => {
  const { x, y } = classification(24, 6);
  const classWeight = { 0: 2, 1: 0.5, 2: 1 };
  const sw = Array.from({ length: 24 }, (_, i) => (i % 3) + 0.5);
  // One batch holding every sample: the epoch's loss is the loss at the initial weights.
  for (const [what, args, cw, s] of [
    ['plain', {}, undefined, undefined],
    ['classWeight', { classWeight }, classWeight, undefined],
    ['sampleWeight', { sampleWeight: c.tensor(sw) }, undefined, sw],
    ['both', { classWeight, sampleWeight: c.tensor(sw) }, classWeight, sw],
  ] as const) {
    const model = classifier(6, { weightedMetrics: ['accuracy'] });
    const expected = manualScores(model, x, y, cw, s as number[] | undefined);
    const unweighted = manualScores(model, x, y);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 24, verbose: 0, seed: 1, ...args });
    assert.deepEqual(Object.keys(history.history).sort(), ['accuracy', 'loss', 'weighted_accuracy']);
    close(history.history.loss[0], expected.loss, 1e-5, `${what} loss`);
    close(history.history.weighted_accuracy[0], expected.accuracy, 1e-6, `${what} weighted accuracy`);
    close(
      history.history.accuracy[0],
      unweighted.accuracy,
      1e-9,
      `${what} plain accuracy (Keras: metrics ignore weights)`,
    );
    if (cw || s) assert.notEqual(expected.loss, unweighted.loss, 'the weights matter for this data');
    if ('sampleWeight' in args) (args.sampleWeight as c.Tensor).dispose();
    model.dispose();
  }
  c.dispose([x, y]);
});

test('initialEpoch: epochs counts the final epoch, not the number run', async () => {
  const { x, y } = classification(16, 7);
  const model = classifier(7);
  const seen: number[] = [];
  const history = await model.fit(x, y, {
    epochs: 5,
    initialEpoch: 3,
    batchSize: 8,
    verbose: 0,
    seed: 1,
    callbacks: [{ onEpochBegin: (e) => void seen.push(e) }],
  });
  assert.deepEqual(history.epoch, [3, 4]);
  assert.deepEqual(seen, [3, 4]);
  assert.equal(history.history.loss.length, 2);
  assert.equal(model.optimizer!.iterations, 4);
  c.dispose([x, y]);
});

test('verbose 0 prints nothing; verbose 2 prints one line per epoch', async () => {
  const { x, y } = classification(16, 8);
  const model = classifier(8);
  const silent = await captureStdout(() => model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 }));
  assert.equal(silent, '');
  const text = await captureStdout(() =>
    model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 2, validationSplit: 0.25 }),
  );
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 2, text);
  assert.match(
    lines[0],
    /^Epoch 1\/2 - .*accuracy: \d\.\d{4} - loss: \d\.\d{4} - val_accuracy: \d\.\d{4} - val_loss: \d\.\d{4}$/,
  );
  assert.match(lines[1], /^Epoch 2\/2 /);
  assert.doesNotMatch(text, /\r|\x1b/, 'no progress-bar control characters in line mode');
  c.dispose([x, y]);
});

test('verbose 1 on a terminal draws a Keras-style progress bar per epoch', async () => {
  const { x, y } = classification(16, 8);
  const model = classifier(8);
  const wasTTY = process.stdout.isTTY;
  process.stdout.isTTY = true;
  let text: string;
  try {
    text = await captureStdout(() => model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 1 }));
  } finally {
    process.stdout.isTTY = wasTTY;
  }
  assert.match(text, /^Epoch 1\/2\n/);
  assert.match(text, /\nEpoch 2\/2\n/);
  // The final redraw of each epoch: steps, a full bar, time, per-step time and the epoch's logs.
  const finals = text.split('\n').filter((l) => /\d+(s|ms|us)\/step/.test(l));
  assert.equal(finals.length, 2);
  assert.match(finals[0], /\r\x1b\[K2\/2 ━{20} \d+s \d+(s|ms|us)\/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}$/);
  assert.doesNotMatch(text, /batchLoss/);
  c.dispose([x, y]);
});

test('trainOnBatch returns the batch logs (before the update) and updates the weights', () => {
  const { x, y } = classification(12, 9);
  const model = classifier(9);
  const expected = manualScores(model, x, y);
  const before = weightsOf(model);
  const logs = model.trainOnBatch(x, y);
  assert.deepEqual(Object.keys(logs).sort(), ['accuracy', 'loss']);
  close(logs.loss, expected.loss, 1e-5, 'loss');
  close(logs.accuracy, expected.accuracy, 1e-9, 'accuracy');
  assert.notDeepEqual(weightsOf(model), before);
  assert.equal(model.optimizer!.iterations, 1);
  // Logs cover one batch: a second call does not average with the first.
  const expected2 = manualScores(model, x, y);
  close(model.trainOnBatch(x, y).loss, expected2.loss, 1e-5, 'second loss');
  c.dispose([x, y]);
});

test('evaluate returns loss and metrics equal to a manual computation, over uneven batches', async () => {
  const { x, y } = classification(23, 10);
  const model = classifier(10, { metrics: ['accuracy', 'sparse_top_k_categorical_accuracy'] });
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 1 });
  const expected = manualScores(model, x, y);
  for (const batchSize of [5, 23, 64]) {
    const logs = await model.evaluate(x, y, { batchSize });
    assert.deepEqual(Object.keys(logs).sort(), ['accuracy', 'loss', 'sparse_top_k_categorical_accuracy']);
    close(logs.loss, expected.loss, 1e-5, `loss, batch ${batchSize}`);
    close(logs.accuracy, expected.accuracy, 1e-9, `accuracy, batch ${batchSize}`);
    assert.equal(logs.sparse_top_k_categorical_accuracy, 1, '3 classes: top-5 always hits');
  }
  assert.equal(x.isDisposed, false);
  // Weighted evaluation.
  const sw = Array.from({ length: 23 }, (_, i) => (i % 4) / 2);
  const swT = c.tensor(sw);
  const weighted = await model.evaluate(x, y, { batchSize: 6, sampleWeight: swT });
  const ew = manualScores(model, x, y, undefined, sw);
  close(weighted.loss, ew.loss, 1e-5, 'weighted loss');
  close(weighted.accuracy, expected.accuracy, 1e-9, 'plain accuracy ignores sample weights');
  c.dispose([x, y, swT]);
});

test('predict runs in batches and concatenates: equal to one call on the whole input', () => {
  c.setSeed(11);
  const model = new c.Sequential([
    new c.Dense({ units: 6, activation: 'relu', inputShape: [4] }),
    new c.Dropout({ rate: 0.5 }),
    new c.Dense({ units: 2 }),
  ]);
  const x = new c.RandomStream(11).normal([10, 4], 0, 1);
  const whole = model.apply(x, { training: false }) as c.Tensor;
  for (const batchSize of [1, 3, 10, 32]) {
    const p = model.predict(x, { batchSize }) as c.Tensor;
    assert.deepEqual(p.shape, [10, 2]);
    assert.deepEqual(flat(p), flat(whole), `batchSize ${batchSize}`);
    p.dispose();
  }
  assert.equal(x.isDisposed, false);
  // Multi-input, multi-output functional models return a list.
  const a = c.input({ shape: [4] }),
    b = c.input({ shape: [2] });
  const h = new c.Dense({ units: 3 }).apply(new c.Concatenate().apply([a, b])) as c.SymbolicTensor;
  const out2 = new c.Dense({ units: 1 }).apply(h) as c.SymbolicTensor;
  const fm = new c.Model({ inputs: [a, b], outputs: [h, out2] });
  const xb = new c.RandomStream(12).normal([7, 2], 0, 1);
  const [o1, o2] = fm.predict([c.sliceAxis(x, 0, 0, 7), xb], { batchSize: 2 }) as c.Tensor[];
  const [w1, w2] = fm.apply([c.sliceAxis(x, 0, 0, 7), xb]) as c.Tensor[];
  assert.deepEqual(o1.shape, [7, 3]);
  assert.deepEqual(flat(o1), flat(w1));
  assert.deepEqual(flat(o2), flat(w2));
  c.dispose([x, whole, xb, o1, o2, w1, w2]);
});

test('fit and evaluate on a Dataset (and Dataset validation data)', async () => {
  const { x, y } = classification(40, 12);
  const model = classifier(12, { lr: 0.2 });
  const ds = c.Dataset.fromArrays(x, y).shuffle('all', { seed: 1 }).batch(8);
  const val = c.Dataset.fromArrays(x, y).batch(16);
  let batches = 0;
  const history = await model.fit(ds, {
    epochs: 6,
    validationData: val,
    verbose: 0,
    callbacks: [{ onBatchEnd: () => void batches++ }],
  });
  assert.equal(batches, 6 * 5);
  assert.deepEqual(Object.keys(history.history).sort(), ['accuracy', 'loss', 'val_accuracy', 'val_loss']);
  assert.ok(history.history.loss[5] < history.history.loss[0]);
  const fromDataset = await model.evaluate(val);
  const fromTensors = await model.evaluate(x, y);
  close(fromDataset.loss, fromTensors.loss, 1e-6, 'loss');
  close(fromDataset.accuracy, fromTensors.accuracy, 1e-9, 'accuracy');
  close(history.history.val_loss[5], fromTensors.loss, 1e-6, 'val_loss');
  await assert.rejects(model.fit(c.Dataset.fromArrays(x).batch(8), { verbose: 0 }), /must yield \{x, y\} batches/);
  // Arguments that need tensors are refused rather than ignored.
  await assert.rejects(
    model.fit(ds, { validationSplit: 0.2, verbose: 0 }),
    (e: Error) => e instanceof c.ArgumentError && /validationSplit needs tensors/.test(e.message),
  );
  await assert.rejects(model.fit(ds, { sampleWeight: y, verbose: 0 }), /sampleWeight needs tensors/);
  c.dispose([x, y]);
});

test('memory flat over epochs (validation, metrics, classWeight, Dropout, BatchNorm), evaluate, predict', async () => {
  const { x, y } = classification(30, 13);
  c.setSeed(13);
  const model = new c.Sequential([
    new c.Dense({ units: 8, activation: 'relu', inputShape: [4] }),
    new c.BatchNormalization(),
    new c.Dropout({ rate: 0.3 }),
    new c.Dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: 'adam',
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy', 'sparseTopKCategoricalAccuracy'],
  });
  const live: number[] = [];
  const track = { onEpochEnd: () => void live.push(c.memory().tensors) };
  await model.fit(x, y, {
    epochs: 5,
    batchSize: 8,
    validationSplit: 0.2,
    classWeight: { 0: 1, 1: 2, 2: 1 },
    verbose: 0,
    seed: 1,
    callbacks: [track],
  });
  assert.equal(live[1], live[4], `live tensors per epoch: ${live.join(', ')}`);
  const afterFit = c.memory().tensors;
  // Another fit (the optimizer state already exists), on a Dataset, leaks nothing either.
  await model.fit(c.Dataset.fromArrays(x, y).batch(8), { epochs: 2, validationData: [x, y], verbose: 0 });
  assert.equal(c.memory().tensors, afterFit);
  await model.evaluate(x, y, { batchSize: 7 });
  model.trainOnBatch(x, y);
  assert.equal(c.memory().tensors, afterFit);
  const p = model.predict(x, { batchSize: 7 }) as c.Tensor;
  assert.equal(c.memory().tensors, afterFit + 1, 'predict leaves only its result');
  c.dispose([x, y, p]);
});

test('fit records the run by default (compute, data fingerprint) and record: false opts out', async () => {
  const x = new c.RandomStream(3).normal([24, 4], 0, 1);
  const y = c.tidy(() => c.cast(c.greater(c.sum(x, 1), 0), 'int32'));
  const model = new c.Sequential([new c.Dense({ units: 2, activation: 'softmax', inputShape: [4] })]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 1 });
  const record = model.runRecorder!.record;
  // One epoch of 3 steps: forward 2*8*4*2 and weight gradient 2*4*8*2 FLOPs per step at least.
  assert.ok(record.compute.trainingFlops >= 3 * (2 * 8 * 4 * 2) * 2, `training FLOPs ${record.compute.trainingFlops}`);
  const train = record.data.find((d) => d.name === 'train')!;
  assert.equal(train.samples, 24);
  assert.match(train.x[0].hmacSha256, /^[0-9a-f]{64}$/, 'the training data is fingerprinted');
  assert.deepEqual(train.x[0].shape, [24, 4]);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, record: false });
  assert.equal(model.runRecorder, undefined);
  c.dispose([x, y]);
});

test("the progress line's time per step reads as Keras': seconds, milliseconds or microseconds", () => {
  assert.equal(fmtStepTime(2.4), '2s');
  assert.equal(fmtStepTime(0.0123), '12ms');
  assert.equal(fmtStepTime(0.000312), '312us');
  assert.equal(fmtStepTime(0), '0s');
});
