// Training converges on small seeded problems: XOR, linear regression (SGD and Adam), a 256-image MNIST subset, a
// two-input two-output functional model, a subclass model, and frozen layers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat } from '../helpers.js';

/** The weights of a layer as flat number arrays (copies). */
const values = (layer: c.Layer) => layer.weights.map((v) => flat(v.value));

test('XOR: a 2-8-1 Dense net reaches 100% accuracy', async () => {
  c.setSeed(1);
  const x = c.tensor([
    [0, 0],
    [0, 1],
    [1, 0],
    [1, 1],
  ]);
  const y = c.tensor([[0], [1], [1], [0]]);
  const model = new c.Sequential([
    new c.Dense({ units: 8, activation: 'tanh', inputShape: [2] }),
    new c.Dense({ units: 1, activation: 'sigmoid' }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.05 }),
    loss: 'binaryCrossentropy',
    metrics: ['accuracy'],
  });
  const history = await model.fit(x, y, { epochs: 200, batchSize: 4, verbose: 0, seed: 1 });
  assert.equal(history.history.accuracy.at(-1), 1);
  assert.ok(history.history.loss.at(-1)! < 0.05, `final loss ${history.history.loss.at(-1)}`);
  assert.ok(history.history.loss.at(-1)! < history.history.loss[0] / 10);
  const pred = model.predict(x) as c.Tensor;
  assert.deepEqual(
    flat(pred).map((p) => (p > 0.5 ? 1 : 0)),
    [0, 1, 1, 0],
  );
  const { loss, accuracy } = await model.evaluate(x, y, { verbose: 0 });
  assert.equal(accuracy, 1);
  assert.ok(loss < 0.05);
  c.dispose([x, y, pred]);
  model.dispose();
});

/** y = x @ [2, -3, 0.5] + 1 on 64 seeded points, no noise. */
function linearData(): { x: c.Tensor; y: c.Tensor } {
  const x = new c.RandomStream(3).normal([64, 3], 0, 1);
  const y = c.tidy(() => c.add(c.matmul(x, c.tensor([[2], [-3], [0.5]])), 1));
  return { x, y };
}

for (const [name, optimizer, epochs] of [
  ['SGD', () => c.optimizers.sgd({ learningRate: 0.1 }), 60],
  ['Adam', () => c.optimizers.adam({ learningRate: 0.05 }), 150],
] as const) {
  test(`linear regression with ${name} recovers the coefficients within 1e-2`, async () => {
    c.setSeed(2);
    const { x, y } = linearData();
    const dense = new c.Dense({ units: 1, inputShape: [3] });
    const model = new c.Sequential([dense]);
    model.compile({ optimizer: optimizer(), loss: 'mse' });
    const history = await model.fit(x, y, { epochs, batchSize: 16, verbose: 0, seed: 2 });
    const kernel = flat(dense.kernel!.value),
      bias = flat(dense.bias!.value);
    [2, -3, 0.5].forEach((w, i) =>
      assert.ok(Math.abs(kernel[i] - w) < 1e-2, `kernel[${i}] = ${kernel[i]}, expected ${w}`),
    );
    assert.ok(Math.abs(bias[0] - 1) < 1e-2, `bias ${bias[0]}`);
    assert.ok(history.history.loss.at(-1)! < 1e-3, `final loss ${history.history.loss.at(-1)}`);
    c.dispose([x, y]);
    model.dispose();
  });
}

test('MNIST: an MLP overfits 256 real training images to 100% train accuracy', async () => {
  c.setSeed(3);
  const { train, test: testSplit } = await c.datasets.mnist();
  const x = c.copy(c.sliceAxis(train.x, 0, 0, 256)),
    y = c.copy(c.sliceAxis(train.y, 0, 0, 256));
  c.dispose([train, testSplit]);
  assert.deepEqual(x.shape, [256, 784]);
  // All ten digits are present, so this is a real 10-class problem.
  assert.equal(new Set(flat(y)).size, 10);
  const model = new c.Sequential([
    new c.Dense({ units: 64, activation: 'relu', inputShape: [784] }),
    new c.Dense({ units: 10, activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  const history = await model.fit(x, y, { epochs: 10, batchSize: 32, verbose: 0, seed: 3 });
  assert.ok(history.history.accuracy[0] < 0.9, 'the first epoch is not already perfect');
  const { loss, accuracy } = await model.evaluate(x, y, { verbose: 0 });
  assert.equal(accuracy, 1, `train accuracy ${accuracy}`);
  assert.ok(loss < 0.05, `train loss ${loss}`);
  c.dispose([x, y]);
  model.dispose();
});

test('functional model with two inputs, two outputs: losses and lossWeights by name, per-output metrics', async () => {
  c.setSeed(4);
  const a = c.input({ shape: [4], name: 'a' }),
    b = c.input({ shape: [3], name: 'b' });
  const hidden = new c.Dense({ units: 16, activation: 'relu', name: 'hidden' }).apply(
    new c.Concatenate({ name: 'concat' }).apply([a, b]),
  ) as c.SymbolicTensor;
  const reg = new c.Dense({ units: 1, name: 'reg' }).apply(hidden) as c.SymbolicTensor;
  const cls = new c.Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(hidden) as c.SymbolicTensor;
  const model = new c.Model({ inputs: [a, b], outputs: [reg, cls] });

  // reg = sum(a) - sum(b); cls = which of b's three entries is largest.
  const g = new c.RandomStream(4);
  const xa = g.normal([96, 4], 0, 1),
    xb = g.normal([96, 3], 0, 1);
  const yReg = c.tidy(() => c.sub(c.sum(xa, -1, true), c.sum(xb, -1, true)));
  const yCls = c.argmax(xb, -1);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.02 }),
    loss: { reg: 'mse', cls: 'sparseCategoricalCrossentropy' },
    lossWeights: { reg: 0.5, cls: 1 },
    metrics: { reg: ['mae'], cls: ['accuracy'] },
  });
  const history = await model.fit([xa, xb], [yReg, yCls], {
    epochs: 40,
    batchSize: 32,
    verbose: 0,
    seed: 4,
    validationSplit: 0.25,
  });
  const keys = Object.keys(history.history).sort();
  assert.deepEqual(
    keys,
    [
      'cls_accuracy',
      'cls_loss',
      'loss',
      'reg_loss',
      'reg_mae',
      'val_cls_accuracy',
      'val_cls_loss',
      'val_loss',
      'val_reg_loss',
      'val_reg_mae',
    ].sort(),
  );
  const last = (k: string) => history.history[k].at(-1)!;
  assert.ok(last('cls_accuracy') > 0.9, `cls_accuracy ${last('cls_accuracy')}`);
  assert.ok(last('reg_mae') < 0.3, `reg_mae ${last('reg_mae')}`);
  assert.ok(last('loss') < history.history.loss[0] / 5);

  // The total is the lossWeights-weighted sum of the per-output losses, as a manual computation gives.
  const logs = await model.evaluate([xa, xb], [yReg, yCls], { batchSize: 96 });
  const [pReg, pCls] = model.predict([xa, xb], { batchSize: 96 }) as c.Tensor[];
  const mse = c.tidy(() => c.mean(c.square(c.sub(pReg, yReg))).item());
  const scce = c.tidy(() => c.losses.sparseCategoricalCrossentropy(yCls, pCls).item());
  assert.ok(Math.abs(logs.reg_loss - mse) < 1e-6, `reg_loss ${logs.reg_loss} vs ${mse}`);
  assert.ok(Math.abs(logs.cls_loss - scce) < 1e-6, `cls_loss ${logs.cls_loss} vs ${scce}`);
  assert.ok(Math.abs(logs.loss - (0.5 * mse + scce)) < 1e-5, `loss ${logs.loss} vs ${0.5 * mse + scce}`);
  c.dispose([xa, xb, yReg, yCls, pReg, pCls]);
  model.dispose();
});

/** A model written as a class: layer fields and a custom call with a residual connection. */
class ResidualMlp extends c.Model {
  readonly inner = new c.Dense({ units: 16, activation: 'tanh' });
  readonly back = new c.Dense({ units: 2 });
  readonly head = new c.Dense({ units: 1, activation: 'sigmoid' });
  override call(x: c.Tensor | c.Tensor[]): c.Tensor {
    const input = x as c.Tensor;
    const h = c.add(input, this.back.apply(this.inner.apply(input) as c.Tensor) as c.Tensor);
    return this.head.apply(h) as c.Tensor;
  }
}

test('a subclass model (layer fields, custom call) trains', async () => {
  c.setSeed(5);
  // Two concentric rings: not linearly separable, so the hidden layer must learn.
  const n = 128;
  const g = new c.RandomStream(5);
  const angle = flat(g.uniform([n], 0, 2 * Math.PI, 'float64'));
  const xs = angle.map((t, i) => {
    const r = i % 2 === 0 ? 0.5 : 1.5;
    return [r * Math.cos(t), r * Math.sin(t)];
  });
  const x = c.tensor(xs),
    y = c.tensor(angle.map((_, i) => [i % 2]));
  const model = new ResidualMlp();
  assert.equal(model.isFunctional, false);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.03 }),
    loss: 'binaryCrossentropy',
    metrics: ['accuracy'],
  });
  const history = await model.fit(x, y, { epochs: 40, batchSize: 32, verbose: 0, seed: 5 });
  assert.ok(history.history.accuracy.at(-1)! >= 0.98, `accuracy ${history.history.accuracy.at(-1)}`);
  // Every layer field took part: 3 Dense layers, 6 weights, all trained.
  assert.deepEqual(model.layers.map((l) => l.name).length, 3);
  assert.equal(model.trainableWeights.length, 6);
  c.dispose([x, y]);
  model.dispose();
});

test('trainable = false freezes a layer during fit; the others change (transfer learning)', async () => {
  c.setSeed(6);
  const base = new c.Dense({ units: 8, activation: 'relu', inputShape: [4], name: 'base' });
  const bn = new c.BatchNormalization({ name: 'bn' });
  const head = new c.Dense({ units: 1, name: 'head' });
  const model = new c.Sequential([base, bn, head]);
  const g = new c.RandomStream(6);
  const x = g.normal([64, 4], 0, 1),
    y = g.normal([64, 1], 0, 1);
  model.compile({ optimizer: 'adam', loss: 'mse' });
  await model.fit(x, y, { epochs: 1, verbose: 0, seed: 6 }); // "pretraining"

  base.trainable = false;
  bn.trainable = false;
  assert.equal(model.trainableWeights.length, 2);
  assert.equal(model.nonTrainableWeights.length, 6);
  // Keras: recompile after changing trainable
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'mse' });
  const baseBefore = values(base),
    bnBefore = values(bn),
    headBefore = values(head);
  await model.fit(x, y, { epochs: 3, batchSize: 16, verbose: 0, seed: 6 });
  assert.deepEqual(values(base), baseBefore, 'frozen Dense unchanged');
  assert.deepEqual(values(bn), bnBefore, 'frozen BatchNormalization unchanged, moving statistics included');
  const headAfter = values(head);
  assert.ok(
    headAfter.some((w, i) => w.some((v, j) => v !== headBefore[i][j])),
    'the trainable head changed',
  );

  // Unfreezing brings the weights back into training.
  base.trainable = true;
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'mse' });
  await model.fit(x, y, { epochs: 1, batchSize: 16, verbose: 0, seed: 6 });
  assert.notDeepEqual(values(base), baseBefore);
  c.dispose([x, y]);
  model.dispose();
});
