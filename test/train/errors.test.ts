// Errors a user meets when training, each typed and worded to say what to do: label shapes for the loss, input shapes,
// unknown names with suggestions, fit before compile, changed trainable weights, NaN losses; and no tensor leaks when a
// step fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { rejects } from '../helpers.js';

/** A 784-8-10 softmax MLP named 'mlp' with layers 'dense' and 'out'. */
function mlp(): c.Sequential {
  return new c.Sequential({
    name: 'mlp',
    layers: [
      new c.Dense({ units: 8, activation: 'relu', inputShape: [784], name: 'dense' }),
      new c.Dense({ units: 10, activation: 'softmax', name: 'out' }),
    ],
  });
}

test('labels of the wrong shape for the loss name the fix', async () => {
  const model = mlp();
  const x = c.zeros([32, 784]),
    sparse = c.zeros([32], 'int32'),
    oneHot = c.zeros([32, 10]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  await rejects(
    () => model.fit(x, oneHot, { verbose: 0 }),
    c.ShapeError,
    new RegExp(
      /^sparseCategoricalCrossentropy: yTrue has shape \[32, 10\] but yPred has shape \[32, 10\]; /.source +
        /expected integer labels of shape \[32\] or \[32, 1\]; /.source +
        /for one-hot labels use the categorical \(not sparse\) version$/.source,
    ),
  );
  model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  await rejects(
    () => model.fit(x, sparse, { verbose: 0 }),
    c.ShapeError,
    new RegExp(
      /^categoricalCrossentropy: yTrue has shape \[32\] but yPred has shape \[32, 10\]; /.source +
        /for integer labels use sparseCategoricalCrossentropy$/.source,
    ),
  );
  await rejects(() => model.evaluate(x, sparse), c.ShapeError, /for integer labels use sparseCategoricalCrossentropy/);
  // Labels out of range for the output.
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const bad = c.full([32], 10, 'int32');
  await rejects(
    () => model.fit(x, bad, { verbose: 0 }),
    c.ArgumentError,
    /label 10 at index 0 is not a class index in \[0, 10\)/,
  );
  // Labels and inputs with different sample counts.
  const fewer = c.zeros([30], 'int32');
  await rejects(
    () => model.fit(x, fewer, { verbose: 0 }),
    c.ShapeError,
    /^fit: all inputs and labels need the same number of samples; got \[32, 784\], \[30\]$/,
  );
  c.dispose([x, sparse, oneHot, bad, fewer]);
});

test("an input that does not match the first layer is a ShapeError in Keras' wording", async () => {
  const model = mlp();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const images = c.zeros([32, 28, 28]),
    y = c.zeros([32], 'int32');
  await rejects(
    () => model.fit(images, y, { verbose: 0 }),
    c.ShapeError,
    /^Dense 'dense' expects input \(None, 784\), got \(32, 28, 28\)$/,
  );
  await rejects(
    () => model.evaluate(images, y),
    c.ShapeError,
    /^Dense 'dense' expects input \(None, 784\), got \(32, 28, 28\)$/,
  );
  await rejects(
    () => model.predict(images),
    c.ShapeError,
    /^Dense 'dense' expects input \(None, 784\), got \(32, 28, 28\)$/,
  );
  // Functional models check their inputs by name.
  const a = c.input({ shape: [4], name: 'features' });
  const fm = new c.Model({ inputs: a, outputs: new c.Dense({ units: 2 }).apply(a) as c.SymbolicTensor });
  fm.compile({ optimizer: 'sgd', loss: 'mse' });
  const x3 = c.zeros([8, 3]),
    x4 = c.zeros([8, 4]),
    y2 = c.zeros([8, 2]);
  await rejects(
    () => fm.fit(x3, y2, { verbose: 0 }),
    c.ShapeError,
    /^Model input 'features' expects input \(None, 4\), got \(8, 3\)$/,
  );
  await rejects(
    () => fm.fit([x4, x4], y2, { verbose: 0 }),
    c.ArgumentError,
    /^Model: expects 1 input \('features' \(None, 4\)\), got 2 tensors$/,
  );
  c.dispose([images, y, x3, x4, y2]);
});

test('unknown optimizer, loss and metric names fail at compile() with a suggestion', () => {
  const model = mlp();
  assert.throws(
    () => model.compile({ optimizer: 'adma', loss: 'mse' }),
    (e: Error) => e instanceof c.ArgumentError && /unknown optimizer 'adma'; did you mean 'adam'\?/.test(e.message),
  );
  assert.throws(() => model.compile({ optimizer: 'rmsprp', loss: 'mse' }), /did you mean 'rmsprop'\?/);
  assert.throws(
    () => model.compile({ optimizer: 'adam', loss: 'categorical_crossentropyy' }),
    (e: Error) =>
      e instanceof c.ArgumentError &&
      /unknown loss 'categorical_crossentropyy'; did you mean 'categoricalCrossentropy'\?/.test(e.message),
  );
  assert.throws(
    () => model.compile({ optimizer: 'adam', loss: 'mse', metrics: ['acuracy'] }),
    (e: Error) => e instanceof c.ArgumentError && /unknown metric 'acuracy'; did you mean 'accuracy'\?/.test(e.message),
  );
  assert.throws(
    () => model.compile({ optimizer: 'adam', loss: 'mse', weightedMetrics: ['maee'] }),
    /unknown metric 'maee'/,
  );
  // Any Keras spelling of a valid name is accepted.
  model.compile({
    optimizer: 'Adam',
    loss: 'sparse_categorical_crossentropy',
    metrics: ['accuracy', 'SparseTopKCategoricalAccuracy'],
  });
  // An empty list means no metrics, as in Keras (not "a list of lists for zero outputs").
  model.compile({ optimizer: 'adam', loss: 'mse', metrics: [], weightedMetrics: [] });
});

test('compile() maps keyed by output name reject names that are not outputs', () => {
  const a = c.input({ shape: [4] });
  const h = new c.Dense({ units: 3, name: 'h' }).apply(a) as c.SymbolicTensor;
  const model = new c.Model({
    inputs: a,
    outputs: [
      new c.Dense({ units: 1, name: 'reg' }).apply(h) as c.SymbolicTensor,
      new c.Dense({ units: 2, name: 'cls' }).apply(h) as c.SymbolicTensor,
    ],
  });
  assert.throws(
    () => model.compile({ optimizer: 'sgd', loss: { reg: 'mse', clss: 'mse' } }),
    (e: Error) =>
      e instanceof c.ArgumentError && /'clss' is not an output of model '.*'; outputs: reg, cls/.test(e.message),
  );
  assert.throws(() => model.compile({ optimizer: 'sgd', loss: { reg: 'mse' } }), /no loss for output 'cls'/);
  assert.throws(
    () => model.compile({ optimizer: 'sgd', loss: 'mse', metrics: { regg: ['mae'] } }),
    /'regg' is not an output/,
  );
  assert.throws(
    () => model.compile({ optimizer: 'sgd', loss: ['mse'] }),
    /loss has 1 entries for 2 outputs \(reg, cls\)/,
  );
});

test('fit, evaluate and trainOnBatch before compile say how to compile; predict needs no compile', async () => {
  const model = mlp();
  const x = c.zeros([4, 784]),
    y = c.zeros([4], 'int32');
  await rejects(
    () => model.fit(x, y),
    c.ArgumentError,
    /^fit: model 'mlp' must be compiled first: model\.compile\(\{ optimizer, loss, metrics \}\)$/,
  );
  await rejects(() => model.evaluate(x, y), c.ArgumentError, /^evaluate: model 'mlp' must be compiled first/);
  assert.throws(() => model.trainOnBatch(x, y), /^ArgumentError: trainOnBatch: model 'mlp' must be compiled first/);
  // fit returns a rejected promise rather than throwing synchronously.
  const pending = model.fit(x, y);
  assert.ok(pending instanceof Promise);
  await pending.catch(() => {});
  const p = model.predict(x) as c.Tensor;
  assert.deepEqual(p.shape, [4, 10]);
  c.dispose([x, y, p]);
});

test('changing trainable after training without compiling again is a clear error', async () => {
  const model = mlp();
  const x = c.zeros([8, 784]),
    y = c.zeros([8], 'int32');
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { verbose: 0 });
  model.getLayer('dense').trainable = false;
  await rejects(
    () => model.fit(x, y, { verbose: 0 }),
    c.ArgumentError,
    new RegExp(
      /^fit: the trainable weights of model 'mlp' changed since it was compiled and trained /.source +
        /\(no longer trainable: dense\/kernel, dense\/bias\); call model\.compile\(\) again/.source,
    ),
  );
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  await model.fit(x, y, { verbose: 0 });
  c.dispose([x, y]);
});

test('bad fit arguments', async () => {
  const model = mlp();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = c.zeros([8, 784]),
    y = c.zeros([8], 'int32');
  await rejects(
    () => model.fit(x, y, { batchSize: 0, verbose: 0 }),
    c.ArgumentError,
    /batchSize must be a positive integer, got 0/,
  );
  await rejects(
    () => model.fit(x, y, { validationSplit: 1.5, verbose: 0 }),
    c.ArgumentError,
    /validationSplit must be in \[0, 1\), got 1\.5/,
  );
  await rejects(() => model.fit(x, undefined, { verbose: 0 }), c.ArgumentError, /labels y are required/);
  assert.throws(() => model.getLayer('dens'), /no layer named 'dens'; layers: dense, out/);
  c.dispose([x, y]);
});

test('a NaN loss under TerminateOnNaN({ raise: true }) rejects: NaNLossError says where and what to try', async () => {
  // (No relu here: the JS backend's relu maps NaN to 0, which would hide the NaN input.)
  const model = new c.Sequential([new c.Dense({ units: 10, activation: 'softmax', inputShape: [784] })]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const x = c.full([8, 784], NaN),
    y = c.zeros([8], 'int32');
  const original = console.error;
  console.error = () => {};
  try {
    await rejects(
      () =>
        model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [new c.TerminateOnNaN({ raise: true })] }),
      c.NaNLossError,
      new RegExp(
        /^TerminateOnNaN: loss became NaN at epoch 1, batch 1; training stopped\. /.source +
          /Lower the learning rate, check inputs for NaN\/Inf, or clip gradients \(clipnorm\)\.$/.source,
      ),
    );
  } finally {
    console.error = original;
  }
  c.dispose([x, y]);
});
