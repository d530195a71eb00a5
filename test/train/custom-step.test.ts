// Custom training logic (Keras train_step / test_step / predict_step): overrides are what fit / evaluate /
// predict call, a hand-written trainStep reproduces the default step exactly, its logs reach History and the
// callbacks, compile() without a loss, compiledLoss against fit's loss, and no tensor left behind per step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat, rejects } from '../helpers.js';

/** A seeded regression problem: x [n, 3], y [n, 2]. */
function data(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const g = new c.RandomStream(seed);
  return { x: g.normal([n, 3], 0, 1), y: g.normal([n, 2], 0, 1) };
}

/** A functional 3-4-2 model of class `cls`, seeded so two calls give the same weights. */
function functional<M extends c.Model>(
  cls: new (args: ConstructorParameters<typeof c.Model>[0]) => M,
  seed: number,
): M {
  c.setSeed(seed);
  const x = c.input({ shape: [3] });
  const h = new c.Dense({ units: 4, activation: 'tanh' }).apply(x) as c.SymbolicTensor;
  return new cls({ inputs: x, outputs: new c.Dense({ units: 2 }).apply(h) as c.SymbolicTensor });
}

/** The default step written by hand, as the Keras guide's train_step: gradients, update, metrics. */
class HandStep extends c.Model {
  calls = 0;
  override trainStep([x, y]: c.StepData): c.StepLogs {
    this.calls++;
    const weights = this.trainableWeights;
    let yPred!: c.Tensor;
    const { value: loss, grads } = c.valueAndGrads(() => {
      yPred = this.apply(x, { training: true }) as c.Tensor;
      return this.computeLoss({ y, yPred });
    }, weights);
    this.optimizer!.applyGradients(grads, weights);
    // The loss tracker is model.metrics' Mean named 'loss' (Keras), the compiled metrics come after it.
    for (const m of this.metrics) if (m instanceof c.metrics.Mean && m.name === 'loss') m.updateState(loss, 8);
    this.compiledMetrics.updateState(y!, yPred);
    return { ...this.getMetricsResult(), calls: this.calls, batchLoss: loss };
  }
}

test('a hand-written trainStep called by fit trains exactly as the default step; its logs reach History', async () => {
  const { x, y } = data(32, 1);
  const compile = (m: c.Model) =>
    m.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'mse', metrics: ['mae'] });
  const plain = functional(c.Model, 7),
    hand = functional(HandStep, 7);
  compile(plain);
  compile(hand);
  const fitArgs = { epochs: 2, batchSize: 8, shuffle: false, verbose: 0 as const, record: false as const };
  const batches: c.Logs[] = [];
  const h1 = await plain.fit(x, y, fitArgs);
  const h2 = await hand.fit(x, y, { ...fitArgs, callbacks: [{ onBatchEnd: (_b, logs) => void batches.push(logs) }] });
  assert.equal(hand.calls, 8, 'fit called the override once per batch');
  plain.weights.forEach((w, i) => assertClose(hand.weights[i].value, w.value, { rtol: 1e-6, atol: 1e-7 }));
  // Epoch logs are the override's last logs: the running loss and mae since the epoch began (fit reset them).
  assertClose(h2.history.loss, h1.history.loss, { rtol: 1e-6 });
  assertClose(h2.history.mae, h1.history.mae, { rtol: 1e-6 });
  assert.deepEqual(h2.history.calls, [4, 8]);
  assert.equal(batches.length, 8);
  assert.deepEqual(
    batches.map((b) => b.calls),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.equal(typeof batches[0].batchLoss, 'number', 'a scalar tensor in the logs is read as a number');
  c.dispose([x, y]);
});

test('testStep and predictStep overrides are what evaluate, fit validation and predict call', async () => {
  class Doubled extends c.Model {
    override testStep([x, y]: c.StepData): c.StepLogs {
      const yPred = this.apply(x) as c.Tensor;
      return { twiceLoss: c.mul(this.compiledLoss(y!, yPred), 2), rows: (x as c.Tensor).shape[0] };
    }
    override predictStep([x]: c.StepData): c.Tensor {
      return c.mul(this.apply(x) as c.Tensor, 2);
    }
  }
  const { x, y } = data(10, 2);
  const model = functional(Doubled, 3);
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const expected = c.tidy(() => c.losses.meanSquaredError(y, c.mul(model.predict(x) as c.Tensor, 0.5)).item());
  const logs = await model.evaluate(x, y, { batchSize: 10 });
  assert.deepEqual(Object.keys(logs).sort(), ['rows', 'twiceLoss']);
  assert.ok(Math.abs(logs.twiceLoss - 2 * expected) < 1e-6 * expected, `${logs.twiceLoss} vs 2 * ${expected}`);
  const p = model.predict(x, { batchSize: 4 }) as c.Tensor;
  const direct = model.apply(x) as c.Tensor;
  assertClose(p, c.mul(direct, 2), { rtol: 1e-6 });
  const history = await model.fit(x, y, {
    epochs: 1,
    batchSize: 5,
    validationData: [x, y],
    verbose: 0,
    record: false,
  });
  assert.deepEqual(history.history.val_rows, [5], 'the last validation batch');
  c.dispose([x, y, p, direct]);
});

test('compiledLoss equals the loss fit reports for the batch, and computeLoss adds model.losses', async () => {
  const { x, y } = data(16, 4);
  const model = functional(c.Model, 5);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'mse' });
  const before = c.tidy(() => model.compiledLoss(y, model.predict(x) as c.Tensor).item());
  const history = await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, record: false });
  assert.ok(Math.abs(history.history.loss[0] - before) <= 1e-6 * before, `${history.history.loss[0]} vs ${before}`);
  const [total, compiled] = c.tidy(() => {
    const yPred = model.apply(x) as c.Tensor;
    return [model.computeLoss({ y, yPred }).item(), model.compiledLoss(y, yPred).item()];
  });
  assert.equal(total, compiled, 'no added or regularization losses: the two agree');
  c.dispose([x, y]);
});

test('compile() without a loss: fit with no loss and no trainStep is a typed error; an override trains', async () => {
  const { x, y } = data(8, 6);
  const model = functional(c.Model, 1);
  model.compile({ optimizer: 'sgd' });
  await rejects(() => model.fit(x, y, { verbose: 0, record: false }), c.ArgumentError, /has no loss/);
  assert.throws(() => model.compiledLoss(y, x), /compiled without a loss/);
  await rejects(
    () => model.fit(x, { verbose: 0, record: false }),
    c.ArgumentError,
    /no loss: compile\(\) was given none/,
  );

  class Unsupervised extends c.Model {
    readonly tracker = new c.metrics.Mean({ name: 'meanSquare' });
    override trainStep([x]: c.StepData): c.StepLogs {
      const w = this.trainableWeights;
      const { value, grads } = c.valueAndGrads(
        () => c.mean(c.square(this.apply(x, { training: true }) as c.Tensor)),
        w,
      );
      this.optimizer!.applyGradients(grads, w);
      this.tracker.updateState(value);
      return { meanSquare: this.tracker.result() };
    }
  }
  const own = functional(Unsupervised, 1);
  own.compile();
  assert.equal(own.optimizer!.className, 'RMSprop', "Keras' default optimizer");
  const history = await own.fit(x, { epochs: 3, batchSize: 4, verbose: 0, record: false });
  const [a, , b] = history.history.meanSquare;
  assert.ok(b < a, `minimising the output's square: ${a} -> ${b}`);
  assert.deepEqual(
    own.metrics.map((m) => m.name),
    ['compile_metrics', 'meanSquare'],
    'a metric in a field is in model.metrics',
  );
  c.dispose([x, y]);
});

test('trainOnBatch calls the override; what a trainStep makes is freed after each step', async () => {
  const { x, y } = data(24, 8);
  const model = functional(HandStep, 2);
  model.compile({ optimizer: 'adam', loss: 'mse', metrics: ['mae'] });
  const logs = model.trainOnBatch(x, y);
  assert.equal(logs.calls, 1);
  const args = { epochs: 1, batchSize: 8, verbose: 0 as const, record: false as const };
  await model.fit(x, y, args); // builds the optimizer state and the metrics
  const live = c.memory().tensors;
  await model.fit(x, y, { ...args, epochs: 3 });
  assert.equal(c.memory().tensors, live, 'no tensor left per step');
  await model.evaluate(x, y);
  assert.equal(c.memory().tensors, live);
  c.dispose([x, y]);
});

test('a trainStep returning something other than logs gets a typed error naming the entry', async () => {
  class Bad extends c.Model {
    override trainStep([x]: c.StepData): c.StepLogs {
      return { out: this.apply(x) as c.Tensor };
    }
  }
  const { x } = data(4, 9);
  const model = functional(Bad, 1);
  model.compile();
  const live = c.memory().tensors;
  await rejects(
    () => model.fit(x, { verbose: 0, record: false }),
    c.ArgumentError,
    /trainStep: logs\['out'\] is a tensor of shape \[4,2\]; expected a number or a scalar Tensor/,
  );
  assert.equal(c.memory().tensors, live);
  assert.ok(flat(x).length === 12);
  x.dispose();
});
