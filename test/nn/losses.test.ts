// Losses: values against hand-computed numbers (Keras' documented examples), logits vs probabilities,
// float64 gradient checks of every loss, stability on extreme logits, shape errors and the registry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  meanSquaredError,
  meanAbsoluteError,
  huber,
  binaryCrossentropy,
  categoricalCrossentropy,
  sparseCategoricalCrossentropy,
  kullbackLeiblerDivergence,
  getLoss,
  type LossFn,
} from '../../src/nn/losses.js';
import { assertClose, rand } from '../helpers.js';

const t = (v: number[] | number[][], dtype: c.DType = 'float64') => c.tensor(v, undefined, dtype);
/** The loss value as a number, with every tensor it touched freed. */
const value = (loss: LossFn, yTrue: number[] | number[][], yPred: number[] | number[][], w?: number[]) =>
  c.tidy(() => loss(t(yTrue), t(yPred), w && t(w)).item());

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
/** Binary cross-entropy of one probability, the plain formula. */
const bce1 = (y: number, p: number) => -(y * Math.log(p) + (1 - y) * Math.log(1 - p));

/** The labels and predictions of Keras' docstring examples (huber, binary crossentropies). */
const KERAS_EXAMPLE = {
  yTrue: [
    [0, 1],
    [0, 0],
  ],
  yPred: [
    [0.6, 0.4],
    [0.4, 0.6],
  ],
};

test('meanSquaredError and meanAbsoluteError: per-sample means over the last axis, weighted by sample', () => {
  const yTrue = [
      [0, 1],
      [0, 0],
    ],
    yPred = [
      [1, 1],
      [1, 0],
    ];
  assert.equal(value(meanSquaredError, yTrue, yPred), 0.5);
  assert.equal(value(meanSquaredError, yTrue, yPred, [0.7, 0.3]), 0.25); // (0.5 * 0.7 + 0.5 * 0.3) / 2
  assert.equal(value(meanAbsoluteError, yTrue, yPred), 0.5);
  assertClose([value(meanAbsoluteError, [[1, 2, 3]], [[2, 0, 3.5]])], [(1 + 2 + 0.5) / 3], { rtol: 1e-15 });
  // [N] labels against [N, 1] predictions are N samples, not an [N, N] broadcast.
  assertClose([value(meanSquaredError, [1, 2, 3], [[1], [2], [5]])], [4 / 3], { rtol: 1e-15 });
  assertClose([value(meanSquaredError, [1, 2, 3], [1, 2, 5], [1, 1, 0.5])], [2 / 3], { rtol: 1e-15 });
});

test('huber: quadratic inside delta, linear outside (Keras example and delta = 2)', () => {
  const { yTrue, yPred } = KERAS_EXAMPLE;
  assertClose([value(huber, yTrue, yPred)], [0.155], { rtol: 1e-12 });
  assertClose([value(huber, yTrue, yPred, [1, 0])], [0.09], { rtol: 1e-12 });
  // errors 3 (linear: 2 * 3 - 2) and 1 (quadratic: 0.5)
  assertClose([value(huber({ delta: 2 }), [[0, 0]], [[3, -1]])], [(4 + 0.5) / 2], { rtol: 1e-15 });
});

test('binaryCrossentropy: probabilities (clipped at 1e-7), logits, label smoothing', () => {
  const { yTrue, yPred } = KERAS_EXAMPLE;
  const expected = (bce1(0, 0.6) + bce1(1, 0.4) + bce1(0, 0.4) + bce1(0, 0.6)) / 4;
  assertClose([value(binaryCrossentropy, yTrue, yPred)], [expected], { rtol: 1e-12 });
  assertClose([value(binaryCrossentropy, yTrue, yPred)], [0.815], { rtol: 0, atol: 1e-3 }); // Keras' docstring
  assertClose([value(binaryCrossentropy, yTrue, yPred, [1, 0])], [(bce1(0, 0.6) + bce1(1, 0.4)) / 2 / 2], {
    rtol: 1e-12,
  });
  // A certain, wrong prediction costs -log(1e-7), not Infinity.
  assertClose([value(binaryCrossentropy, [[1]], [[0]])], [-Math.log(1e-7)], { rtol: 1e-9 });

  const logits = [-18.6, 0.51, 2.94, -12.8],
    labels = [0, 1, 0, 0];
  const fromLogits = labels.reduce((s, y, i) => s + bce1(y, sigmoid(logits[i])), 0) / 4;
  assertClose([value(binaryCrossentropy({ fromLogits: true }), [labels], [logits])], [fromLogits], { rtol: 1e-12 });
  // Keras' docstring:
  assertClose([value(binaryCrossentropy({ fromLogits: true }), [labels], [logits])], [0.865], { rtol: 0, atol: 1e-3 });

  // Smoothing 0.2 moves labels to 0.1 / 0.9.
  const smoothed = (bce1(0.1, 0.6) + bce1(0.9, 0.4) + bce1(0.1, 0.4) + bce1(0.1, 0.6)) / 4;
  assertClose([value(binaryCrossentropy({ labelSmoothing: 0.2 }), yTrue, yPred)], [smoothed], { rtol: 1e-12 });
});

test('categorical and sparse categorical crossentropy: Keras examples, smoothing, weights', () => {
  const yTrue = [
      [0, 1, 0],
      [0, 0, 1],
    ],
    yPred = [
      [0.05, 0.95, 0],
      [0.1, 0.8, 0.1],
    ];
  const expected = (-Math.log(0.95) - Math.log(0.1)) / 2;
  assertClose([value(categoricalCrossentropy, yTrue, yPred)], [expected], { rtol: 1e-12 });
  assertClose([value(categoricalCrossentropy, yTrue, yPred)], [1.177], { rtol: 0, atol: 1e-3 });
  assertClose([value(categoricalCrossentropy, yTrue, yPred, [0.3, 0.7])], [0.814], { rtol: 0, atol: 1e-3 });
  assertClose([value(sparseCategoricalCrossentropy, [1, 2], yPred)], [expected], { rtol: 1e-12 });
  assertClose([value(sparseCategoricalCrossentropy, [[1], [2]], yPred)], [expected], { rtol: 1e-12 }, '[N, 1] labels');
  assertClose(
    [c.tidy(() => sparseCategoricalCrossentropy(c.tensor([1, 2], undefined, 'int32'), t(yPred)).item())],
    [expected],
    { rtol: 1e-12 },
    'int32 labels',
  );
  // Probabilities are renormalised over the last axis, as Keras does.
  assertClose([value(categoricalCrossentropy, [[0, 1]], [[1, 3]])], [-Math.log(0.75)], { rtol: 1e-12 });
  // Smoothing 0.3 over 3 classes: y * 0.7 + 0.1.
  const p = [0.2, 0.5, 0.3];
  const smooth = -(0.1 * Math.log(0.2) + 0.8 * Math.log(0.5) + 0.1 * Math.log(0.3));
  assertClose([value(categoricalCrossentropy({ labelSmoothing: 0.3 }), [[0, 1, 0]], [p])], [smooth], { rtol: 1e-12 });
});

test('kullbackLeiblerDivergence: sum(y log(y / p)) with both clipped to [1e-7, 1]', () => {
  const { yTrue, yPred } = KERAS_EXAMPLE;
  const e = 1e-7;
  const kl = (y: number[], q: number[]) =>
    y.reduce((s, v, i) => s + Math.max(v, e) * Math.log(Math.max(v, e) / q[i]), 0);
  assertClose(
    [value(kullbackLeiblerDivergence, yTrue, yPred)],
    [(kl(yTrue[0], yPred[0]) + kl(yTrue[1], yPred[1])) / 2],
    { rtol: 1e-12 },
  );
  assertClose([value(kullbackLeiblerDivergence, yTrue, yPred)], [0.458], { rtol: 0, atol: 1e-3 });
  assertClose([value(kullbackLeiblerDivergence, yTrue, yPred, [0.8, 0.2])], [0.366], { rtol: 0, atol: 1e-3 });
});

test('fromLogits equals the probability version on moderate logits', () => {
  const logits = rand([6, 4], 1, { lo: -4, hi: 4 });
  const binaryLabels = c.tidy(() => c.cast(c.greater(rand([6, 4], 2), 0), 'float64'));
  const classes = c.tensor(Int32Array.from([0, 3, 1, 2, 2, 0]));
  const oneHot = c.oneHot(classes, 4, 'float64');
  const pairs: [number, number][] = c.tidy(() => [
    [
      binaryCrossentropy({ fromLogits: true })(binaryLabels, logits).item(),
      binaryCrossentropy(binaryLabels, c.sigmoid(logits)).item(),
    ],
    [
      categoricalCrossentropy({ fromLogits: true })(oneHot, logits).item(),
      categoricalCrossentropy(oneHot, c.softmax(logits)).item(),
    ],
    [
      sparseCategoricalCrossentropy({ fromLogits: true })(classes, logits).item(),
      sparseCategoricalCrossentropy(classes, c.softmax(logits)).item(),
    ],
  ]);
  for (const [a, b] of pairs) assertClose([a], [b], { rtol: 1e-12 });
  c.dispose([logits, binaryLabels, classes, oneHot]);
});

test('gradients of every loss match central differences (float64)', () => {
  const probs = (shape: number[], seed: number) => rand(shape, seed, { lo: 0.05, hi: 0.95 });
  const y01 = c.tidy(() => c.cast(c.greater(rand([4, 3], 3), 0), 'float64'));
  const soft = c.tidy(() => c.softmax(rand([4, 3], 4)));
  const labels = c.tensor(Int32Array.from([2, 0, 1, 1]));
  const w = rand([4], 5, { lo: 0.1, hi: 2 });
  const checks: [string, (p: c.Tensor) => c.Tensor, c.Tensor][] = [
    ['mse', (p) => meanSquaredError(soft, p, w), rand([4, 3], 6)],
    ['mae', (p) => meanAbsoluteError(soft, p), rand([4, 3], 7)],
    ['huber', (p) => huber({ delta: 0.7 })(soft, p, w), rand([4, 3], 8)],
    ['bce', (p) => binaryCrossentropy(y01, p), probs([4, 3], 9)],
    ['bce smoothed', (p) => binaryCrossentropy({ labelSmoothing: 0.1 })(y01, p, w), probs([4, 3], 10)],
    ['bce logits', (p) => binaryCrossentropy({ fromLogits: true })(soft, p), rand([4, 3], 11, { lo: -5, hi: 5 })],
    ['cce', (p) => categoricalCrossentropy(soft, p), probs([4, 3], 12)],
    [
      'cce logits smoothed',
      (p) => categoricalCrossentropy({ fromLogits: true, labelSmoothing: 0.2 })(soft, p, w),
      rand([4, 3], 13),
    ],
    ['scce', (p) => sparseCategoricalCrossentropy(labels, p), probs([4, 3], 14)],
    ['scce logits', (p) => sparseCategoricalCrossentropy({ fromLogits: true })(labels, p, w), rand([4, 3], 15)],
    ['kld', (p) => kullbackLeiblerDivergence(soft, p), probs([4, 3], 16)],
  ];
  for (const [name, f, x] of checks) {
    assert.doesNotThrow(() => c.assertGradients(f, [x]), name);
    x.dispose();
  }
  // The label side too, where it is differentiable.
  const p = rand([4, 3], 17);
  c.assertGradients((yTrue) => meanSquaredError(yTrue, p), [rand([4, 3], 18)]);
  c.assertGradients((yTrue) => categoricalCrossentropy({ fromLogits: true })(yTrue, p), [soft]);
  c.dispose([y01, soft, labels, w, p]);
});

test('the logits gradient is sigmoid(x) - y exactly, also at x = 0', () => {
  const logits = t([[0, 0, 2, -3]]),
    labels = t([[0, 1, 1, 0]]);
  const g = c.grad((x: c.Tensor) => binaryCrossentropy({ fromLogits: true })(labels, x))(logits);
  assertClose(g, [[0.5 / 4, -0.5 / 4, (sigmoid(2) - 1) / 4, sigmoid(-3) / 4]], { rtol: 1e-12 });
  c.dispose([logits, labels, g]);
});

test('extreme logits give finite, correct losses and gradients (float32)', () => {
  const x = c.tensor([
    [1e4, -1e4, 0],
    [-1e4, 1e4, 50],
  ]);
  const oneHot = c.tensor([
    [0, 1, 0],
    [0, 1, 0],
  ]);
  const bin = c.tensor([
    [0, 1, 1],
    [1, 1, 0],
  ]);
  const cases: [string, (p: c.Tensor) => c.Tensor, number][] = [
    [
      'bce logits',
      (p) => binaryCrossentropy({ fromLogits: true })(bin, p),
      (1e4 + 1e4 + Math.log(2) + 1e4 + 0 + 50) / 6 / 1,
    ],
    ['cce logits', (p) => categoricalCrossentropy({ fromLogits: true })(oneHot, p), (2e4 + 0) / 2],
    [
      'scce logits',
      (p) => sparseCategoricalCrossentropy({ fromLogits: true })(c.tensor(Int32Array.from([1, 1])), p),
      1e4,
    ],
  ];
  for (const [name, f, expected] of cases) {
    const { value: v, grads } = c.valueAndGrad(f)(x);
    assert.ok(Number.isFinite(v.item()), `${name}: ${v.item()}`);
    assertClose([v.item()], [expected], { rtol: 1e-5 }, name);
    assert.ok(Array.from(grads.dataSync()).every(Number.isFinite), `${name}: gradient ${grads.toString()}`);
    c.dispose([v, grads]);
  }
  // Probabilities of exactly 0 and 1 are clipped, not log(0).
  const loss = c.tidy(() => binaryCrossentropy(c.tensor([[0, 1]]), c.tensor([[1, 0]])).item());
  assert.ok(Number.isFinite(loss) && loss > 15);
  c.dispose([x, oneHot, bin]);
});

test('shape errors are typed and say what to do', () => {
  const labels = c.zeros([32]),
    probs = c.zeros([32, 10]);
  assert.throws(
    () => categoricalCrossentropy(labels, probs),
    (e: Error) =>
      e instanceof c.ShapeError &&
      e.message ===
        'categoricalCrossentropy: yTrue has shape [32] but yPred has shape [32, 10]; ' +
          'for integer labels use sparseCategoricalCrossentropy',
  );
  assert.throws(
    () => sparseCategoricalCrossentropy(probs, probs),
    /expected integer labels of shape \[32\] or \[32, 1\]; for one-hot labels use the categorical/,
  );
  assert.throws(
    () => meanSquaredError(c.zeros([4, 2]), c.zeros([4, 3])),
    (e: Error) =>
      e instanceof c.ShapeError &&
      /meanSquaredError: yTrue has shape \[4, 2\] but yPred has shape \[4, 3\]/.test(e.message),
  );
  assert.throws(
    () => meanSquaredError(c.zeros([4, 2]), c.zeros([4, 2]), c.ones([3])),
    (e: Error) => e instanceof c.ShapeError && /sampleWeight has shape \[3\]/.test(e.message),
  );
  assert.throws(
    () => sparseCategoricalCrossentropy(c.tensor([0, 10]), c.zeros([2, 10])),
    (e: Error) =>
      e instanceof c.ArgumentError && /label 10 at index 1 is not a class index in \[0, 10\)/.test(e.message),
  );
  assert.throws(() => sparseCategoricalCrossentropy(c.tensor([0.5, 1]), c.zeros([2, 10])), /label 0.5/);
  assert.throws(() => meanSquaredError(c.zeros([2]), c.zeros([2], 'int32')), c.DTypeError);
  assert.throws(() => binaryCrossentropy({ labelSmoothing: 2 }), /labelSmoothing must be in \[0, 1\]/);
  assert.throws(
    () => binaryCrossentropy({ from_logits: true } as never),
    /unknown option 'from_logits'; did you mean 'fromLogits'/,
  );
  c.dispose([labels, probs]);
});

test('getLoss: Keras names in camelCase or snake_case, configs, custom functions, suggestions', () => {
  assert.equal(getLoss('categorical_crossentropy'), categoricalCrossentropy);
  assert.equal(getLoss('mse'), meanSquaredError);
  assert.equal(getLoss('MAE'), meanAbsoluteError);
  assert.equal(getLoss('kl_divergence').lossName, 'kullbackLeiblerDivergence');
  assert.equal(getLoss({ className: 'BinaryCrossentropy' }).lossName, 'binaryCrossentropy');
  const configured = binaryCrossentropy({ fromLogits: true, labelSmoothing: 0.1 });
  const rebuilt = getLoss(JSON.parse(JSON.stringify(configured.getConfig())));
  assert.deepEqual(rebuilt.options, { fromLogits: true, labelSmoothing: 0.1 });
  assert.deepEqual(configured.getConfig(), {
    className: 'BinaryCrossentropy',
    config: { fromLogits: true, labelSmoothing: 0.1 },
  });
  assert.equal(getLoss(configured), configured);
  // A custom per-sample function is reduced like the built-ins.
  const custom = getLoss(function cubed(yTrue: c.Tensor, yPred: c.Tensor) {
    return c.mean(c.pow(c.abs(c.sub(yPred, yTrue)), 3), -1);
  });
  assert.equal(custom.lossName, 'cubed');
  assert.equal(
    c.tidy(() =>
      custom(
        t([
          [0, 0],
          [0, 0],
        ]),
        t([
          [1, 1],
          [2, 0],
        ]),
        t([1, 0.5]),
      ).item(),
    ),
    (1 + 0.5 * 4) / 2,
  );
  assert.throws(
    () => getLoss('categorical_crossentropyy'),
    (e: Error) => e instanceof c.ArgumentError && /did you mean 'categoricalCrossentropy'/.test(e.message),
  );
  assert.throws(() => getLoss('binary_crosentropy'), /did you mean 'binaryCrossentropy'/);
});

test('losses free their intermediates; perSample is unreduced; an empty batch gives 0', () => {
  const yTrue = t([
      [0, 1],
      [1, 0],
    ]),
    yPred = t([
      [0.2, 0.8],
      [0.6, 0.4],
    ]);
  const before = c.memory().tensors;
  const l = categoricalCrossentropy(yTrue, yPred);
  assert.equal(c.memory().tensors, before + 1);
  const per = categoricalCrossentropy.perSample(yTrue, yPred);
  assert.deepEqual(per.shape, [2]);
  assertClose(per, [-Math.log(0.8), -Math.log(0.6)], { rtol: 1e-12 });
  assertClose([l.item()], [(-Math.log(0.8) - Math.log(0.6)) / 2], { rtol: 1e-12 });
  assert.equal(
    c.tidy(() => meanSquaredError(c.zeros([0, 3]), c.zeros([0, 3])).item()),
    0,
  );
  c.dispose([yTrue, yPred, l, per]);
});

test('cross-entropy on softmax / sigmoid outputs uses logits: confident wrong outputs keep a gradient', async () => {
  const { getActivation } = await import('../../src/nn/activations.js');
  const logits = c.tensor([[30, -30, 0]], undefined, 'float64');
  const labels = c.tensor([1], undefined, 'int32');
  const scce = c.getLoss('sparseCategoricalCrossentropy');
  const { value, grads } = c.valueAndGrad((z: c.Tensor) => scce(labels, getActivation('softmax')(z)))(logits);
  // Exact -log softmax(z)[1] = 60 + log(1 + e^-30 + e^-60...), not the clipped -log(1e-7) = 16.1.
  const expected = -(-30 - Math.log(Math.exp(30 - 30) + Math.exp(-30 - 30) + Math.exp(0 - 30)) - 30);
  assert.ok(Math.abs(value.item() - expected) < 1e-9, `loss ${value.item()} vs ${expected}`);
  const g = Array.from(grads.dataSync());
  assert.ok(Math.abs(g[1] + 1) < 1e-9 && g[0] > 0.99, `gradient ${g}`);
  const bce = c.getLoss('binaryCrossentropy');
  const z = c.tensor([[-40]], undefined, 'float64');
  const b = c.valueAndGrad((t: c.Tensor) => bce(c.tensor([[1]], undefined, 'float64'), getActivation('sigmoid')(t)))(z);
  assert.ok(Math.abs(b.value.item() - 40) < 1e-9, `bce ${b.value.item()}`);
  assert.ok(Math.abs(b.grads.item() + 1) < 1e-9);
});

test('a masked prediction (padded time steps) is scored over its unmasked entries only, as Keras 3', async () => {
  // Embedding(maskZero) -> LSTM(returnSequences) -> Dense: the output's mask is ids != 0.
  c.setSeed(5);
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: 6, outputDim: 3, maskZero: true, inputShape: [4] }),
    c.layers.lstm({ units: 4, returnSequences: true }),
    c.layers.dense({ units: 3 }),
  ]);
  const ids = c.tensor(
    [
      [1, 2, 0, 0],
      [3, 4, 5, 0],
    ],
    [2, 4],
    'int32',
  );
  const labels = c.tensor(
    [
      [0, 1, 2, 2],
      [1, 2, 0, 1],
    ],
    [2, 4],
    'int32',
  );
  const loss = sparseCategoricalCrossentropy({ fromLogits: true });
  const pred = model.apply(ids) as c.Tensor;
  const perStep = Array.from(loss.perSample(labels, pred).dataSync());
  const keep = [1, 1, 0, 0, 1, 1, 1, 0];
  const expected = perStep.reduce((s, v, i) => s + v * keep[i], 0) / 5;
  assertClose([loss(labels, pred).item()], [expected], { rtol: 1e-6, atol: 0 });
  // Sample weights combine with the mask: weight 2 on the second sequence.
  const weighted = perStep.reduce((s, v, i) => s + v * keep[i] * (i >= 4 ? 2 : 1), 0) / 5;
  assertClose([loss(labels, pred, c.tensor([1, 2])).item()], [weighted], { rtol: 1e-6, atol: 0 });
  // Changing the labels of padded steps changes nothing.
  const otherLabels = c.tensor(
    [
      [0, 1, 0, 1],
      [1, 2, 0, 2],
    ],
    [2, 4],
    'int32',
  );
  assertClose([loss(otherLabels, pred).item()], [expected], { rtol: 1e-6, atol: 0 });
  c.dispose([ids, labels, otherLabels, pred]);
  model.dispose();
});
