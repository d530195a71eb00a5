// addLoss and model.losses (Keras add_loss / losses): a term added in call() is part of the loss fit minimises
// and reports, its gradient flows (against a hand-written total loss), the terms are those of the last call,
// function losses are evaluated on reading, weight regularization is included, and nothing leaks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose } from '../helpers.js';

/** An identity layer that adds rate * sum(x^2) of its input as a loss (an activity penalty). */
class ActivityPenalty extends c.Layer {
  constructor(readonly rate: number) {
    super();
  }
  override call(x: c.Tensor | c.Tensor[]): c.Tensor | c.Tensor[] {
    this.addLoss(c.mul(c.sum(c.square(x as c.Tensor)), this.rate));
    return x;
  }
}

/** x -> Dense(3, tanh) -> ActivityPenalty -> Dense(1), with the layers for hand computations. */
function penalised(seed: number, rate = 0.05) {
  c.setSeed(seed);
  const first = new c.Dense({ units: 3, activation: 'tanh' }),
    penalty = new ActivityPenalty(rate),
    last = new c.Dense({ units: 1 });
  const x = c.input({ shape: [2] });
  const out = last.apply(penalty.apply(first.apply(x) as c.SymbolicTensor) as c.SymbolicTensor) as c.SymbolicTensor;
  const model = new c.Model({ inputs: x, outputs: out });
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'mse' });
  return { model, first, last, rate };
}

function batch(seed: number) {
  const g = new c.RandomStream(seed);
  return { x: g.normal([6, 2], 0, 1), y: g.normal([6, 1], 0, 1) };
}

test('an addLoss term is in the loss fit reports and its gradient flows (against the hand-written total loss)', () => {
  const { model, first, last, rate } = penalised(1);
  const { x, y } = batch(2);
  const handLoss = () => {
    const h = first.apply(x) as c.Tensor;
    const mse = c.losses.meanSquaredError(y, last.apply(h) as c.Tensor);
    return c.add(mse, c.mul(c.sum(c.square(h)), rate));
  };
  const weights = model.trainableWeights;
  const [expectedLoss, expected] = c.tidy(() => {
    const { value, grads } = c.valueAndGrads(handLoss, weights);
    return [value.item(), weights.map((w, i) => c.sub(w.value, c.mul(grads[i], 0.1)))];
  });
  assert.ok(model.losses.length === 0, "the shape probe's term (freed) is not a loss of any call");
  const logs = model.trainOnBatch(x, y);
  assert.ok(Math.abs(logs.loss - expectedLoss) < 1e-6 * expectedLoss, `${logs.loss} vs ${expectedLoss}`);
  weights.forEach((w, i) => assertClose(w.value, expected[i], { rtol: 1e-5, atol: 1e-6 }, w.name));
  c.dispose([x, y, expected]);
});

test('model.losses holds the terms of the last call only; evaluate counts them too', async () => {
  const { model, first, rate } = penalised(3);
  const { x, y } = batch(4);
  const term = (input: c.Tensor) => c.tidy(() => c.sum(c.square(first.apply(input) as c.Tensor)).item() * rate);
  c.tidy(() => {
    model.apply(x);
    model.apply(x);
    const losses = model.losses;
    assert.equal(losses.length, 1, 'a new outermost call clears the terms of the previous one');
    assert.ok(Math.abs(losses[0].item() - term(x)) < 1e-6);
  });
  const expected = c.tidy(() => c.losses.meanSquaredError(y, model.apply(x) as c.Tensor).item() + term(x));
  const logs = await model.evaluate(x, y, { batchSize: 6 });
  assert.ok(Math.abs(logs.loss - expected) < 1e-6 * expected, `${logs.loss} vs ${expected}`);
  c.dispose([x, y]);
});

test('function losses are evaluated on reading; weight regularization is in model.losses', () => {
  c.setSeed(5);
  const dense = new c.Dense({ units: 2, inputShape: [3], kernelRegularizer: c.regularizers.l2(0.5) });
  const model = new c.Sequential([dense]);
  const kernel = dense.weights[0];
  dense.addLoss(() => c.mul(c.sum(kernel.value), 2));
  const read = () => c.tidy(() => model.losses.map((t) => t.item()));
  const sumOf = (t: c.Tensor) => c.tidy(() => c.sum(t).item());
  const l2 = () => c.tidy(() => 0.5 * c.sum(c.square(kernel.value)).item());
  let [fn, reg] = read();
  assert.ok(Math.abs(fn - 2 * sumOf(kernel.value)) < 1e-5);
  assert.ok(Math.abs(reg - l2()) < 1e-5);
  kernel.assign(c.mul(kernel.value, 3));
  [fn, reg] = read();
  assert.ok(Math.abs(fn - 2 * sumOf(kernel.value)) < 1e-5, 'read anew after the weight changed');
  assert.ok(Math.abs(reg - l2()) < 1e-5);
  assert.throws(() => dense.addLoss(3 as unknown as c.Tensor), /addLoss expects a Tensor or a function/);
});

test('fit with addLoss leaves no tensor behind', async () => {
  const { model } = penalised(6);
  const { x, y } = batch(7);
  const args = { epochs: 1, batchSize: 3, verbose: 0 as const, record: false as const };
  await model.fit(x, y, args);
  const live = c.memory().tensors;
  await model.fit(x, y, { ...args, epochs: 3, validationData: [x, y] });
  assert.equal(c.memory().tensors, live);
  c.dispose([x, y]);
});
