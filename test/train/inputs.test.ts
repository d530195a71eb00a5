// Bad training inputs and arguments to fit / evaluate / predict / trainOnBatch: each a typed error naming
// the call, the argument, the value and what was expected (never a TypeError, a silent epoch count, a
// NaN loss or a hang), with no tensor leaked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { rejects } from '../helpers.js';

function model(): c.Sequential {
  c.setSeed(1);
  const m = new c.Sequential([new c.Dense({ units: 2, activation: 'softmax', inputShape: [3] })]);
  m.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  return m;
}

test('epochs, batchSize, initialEpoch are integers (NaN, 1.5, -3 are errors); epochs 0 trains nothing', async () => {
  const m = model();
  const x = c.zeros([4, 3]),
    y = c.zeros([4], 'int32');
  for (const [args, message] of [
    [{ epochs: 1.5 }, /^fit: epochs must be a non-negative integer, got 1\.5$/],
    [{ epochs: -3 }, /^fit: epochs must be a non-negative integer, got -3$/],
    [{ epochs: NaN }, /^fit: epochs must be a non-negative integer, got NaN$/],
    [{ epochs: Infinity }, /^fit: epochs must be a non-negative integer, got Infinity$/],
    [{ epochs: '2' }, /^fit: epochs must be a non-negative integer, got '2'$/],
    [{ batchSize: 2.5 }, /^fit: batchSize must be a positive integer, got 2\.5$/],
    [{ batchSize: NaN }, /^fit: batchSize must be a positive integer, got NaN$/],
    [{ initialEpoch: -1 }, /^fit: initialEpoch must be a non-negative integer, got -1$/],
    [{ initialEpoch: 0.5 }, /^fit: initialEpoch must be a non-negative integer, got 0\.5$/],
    [{ validationSplit: NaN }, /^fit: validationSplit must be in \[0, 1\), got NaN$/],
    [{ validationSplit: -0.2 }, /^fit: validationSplit must be in \[0, 1\), got -0\.2$/],
    [{ verbose: 3 }, /^fit: verbose must be 0, 1, 2 or 'auto', got 3$/],
  ] as [Record<string, unknown>, RegExp][]) {
    await rejects(() => m.fit(x, y, { verbose: 0, ...args } as c.FitArgs), c.ArgumentError, message);
  }
  assert.equal(m.optimizer!.iterations, 0, 'no bad call trained');
  // Keras accepts epochs 0 (and initialEpoch >= epochs): no training, an empty History.
  const history = await m.fit(x, y, { epochs: 0, verbose: 0 });
  assert.deepEqual(history.epoch, []);
  assert.equal(m.optimizer!.iterations, 0);
  // Two whole epochs of 2 batches run exactly 4 steps.
  await m.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
  assert.equal(m.optimizer!.iterations, 4);
  c.dispose([x, y]);
});

test('fit([], []) and other non-tensor data are ArgumentErrors, not TypeErrors', async () => {
  const m = model();
  const x = c.zeros([4, 3]),
    y = c.zeros([4], 'int32');
  await rejects(
    () => m.fit([], [], { verbose: 0 }),
    c.ArgumentError,
    /^fit: x is an empty list; expected a Tensor or a list of Tensors$/,
  );
  await rejects(
    () => m.fit(x, [], { verbose: 0 }),
    c.ArgumentError,
    /^fit: y is an empty list; expected a Tensor or a list of Tensors \(the labels\)$/,
  );
  await rejects(
    () => m.fit([[1, 2, 3]] as never, y, { verbose: 0 }),
    c.ArgumentError,
    /^fit: x is a plain array of numbers; expected a Tensor or a list of Tensors \(make one with tensor\(values\)\)$/,
  );
  await rejects(() => m.fit(x, { epochs: 2 }), c.ArgumentError, /^fit: labels y are required when x is a tensor$/);
  await rejects(() => m.evaluate([], []), c.ArgumentError, /^evaluate: x is an empty list/);
  await rejects(() => m.predict([]), c.ArgumentError, /^predict: x is an empty list/);
  assert.throws(() => m.trainOnBatch([], []), /^ArgumentError: trainOnBatch: x is an empty list/);
  await rejects(
    () => m.fit(x, y, { verbose: 0, validationData: [x] as never }),
    c.ArgumentError,
    /^fit: validationData must be \[x, y\], \[x, y, sampleWeight\] or a dataset of \{x, y\} batches, got an array of 1/,
  );
  c.dispose([x, y]);
});

test('0 samples are an error in fit, evaluate, predict and validation (not a NaN loss)', async () => {
  const m = model();
  const x0 = c.zeros([0, 3]),
    y0 = c.zeros([0], 'int32'),
    x = c.zeros([4, 3]),
    y = c.zeros([4], 'int32');
  const none = /x has no samples \(shapes \[0, 3\], \[0\]\); expected at least one$/;
  await rejects(() => m.fit(x0, y0, { verbose: 0 }), c.ArgumentError, new RegExp(`^fit: ${none.source}`));
  await rejects(() => m.evaluate(x0, y0), c.ArgumentError, new RegExp(`^evaluate: ${none.source}`));
  await rejects(
    () => m.fit(x, y, { verbose: 0, validationData: [x0, y0] }),
    c.ArgumentError,
    new RegExp(`^fit \\(validationData\\): ${none.source}`),
  );
  await rejects(() => m.predict(x0), c.ArgumentError, /^predict: x has no samples \(shapes \[0, 3\]\)/);
  // A dataset with no batches, and a one-shot generator that runs out after its first epoch.
  const empty = c.Dataset.fromArrays(x0, y0).batch(2);
  await rejects(
    () => m.fit(empty, { verbose: 0 }),
    c.ArgumentError,
    /^fit: the data gave no batches; expected at least one batch of samples$/,
  );
  await rejects(() => m.evaluate(empty), c.ArgumentError, /^evaluate: the data gave no batches/);
  function* once(): Generator<{ x: c.Tensor; y: c.Tensor }> {
    yield { x: c.zeros([2, 3]), y: c.zeros([2], 'int32') };
  }
  await rejects(
    () => m.fit(once(), { epochs: 2, verbose: 0, record: false }),
    c.ArgumentError,
    /^fit: the data gave no batches in epoch 2; a one-shot iterator .* give a Dataset/,
  );
  c.dispose([x0, y0, x, y]);
});

test('evaluate and predict check batchSize (0 looped forever)', async () => {
  const m = model();
  const x = c.zeros([4, 3]),
    y = c.zeros([4], 'int32');
  await rejects(
    () => m.evaluate(x, y, { batchSize: 0 }),
    c.ArgumentError,
    /^evaluate: batchSize must be a positive integer, got 0$/,
  );
  await rejects(() => m.evaluate(x, y, { batchSize: NaN }), c.ArgumentError, /got NaN$/);
  await rejects(
    () => m.predict(x, { batchSize: 0 }),
    c.ArgumentError,
    /^predict: batchSize must be a positive integer, got 0$/,
  );
  await rejects(() => m.predict(x, { batchSize: 1.5 }), c.ArgumentError, /got 1\.5$/);
  c.dispose([x, y]);
});

test('a sampleWeight with another sample count is a ShapeError', async () => {
  const m = model();
  const x = c.zeros([4, 3]),
    y = c.zeros([4], 'int32'),
    w = c.ones([3]);
  await rejects(
    () => m.fit(x, y, { sampleWeight: w, verbose: 0 }),
    c.ShapeError,
    /^fit: all inputs and labels need the same number of samples; got \[4, 3\], \[4\], \[3\]$/,
  );
  c.dispose([x, y, w]);
});

test('validationData [x, y, sampleWeight] weights val_loss as evaluate with that sampleWeight (Keras)', async () => {
  const m = model();
  const x = new c.RandomStream(2).normal([6, 3], 0, 1),
    y = c.tensor([0, 1, 1, 0, 1, 0], [6], 'int32'),
    w = c.tensor([1, 0, 2, 0.5, 0, 3]);
  const history = await m.fit(x, y, { epochs: 1, batchSize: 6, verbose: 0, validationData: [x, y, w] });
  const weighted = await m.evaluate(x, y, { sampleWeight: w });
  const plain = await m.evaluate(x, y);
  assert.equal(history.history.val_loss[0], weighted.loss);
  assert.notEqual(weighted.loss, plain.loss, 'the weights matter for this data');
  c.dispose([x, y, w]);
});
