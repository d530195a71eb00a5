// explain(): the contract every method shares (targets, metadata, typed errors), checked with saliency and
// gradient x input against hand-computed gradients of a small softmax model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { assertClose, flat } from '../helpers.js';

/** softmax(x W + b) with fixed weights: 3 features, 4 classes, so gradients can be written out by hand. */
function softmaxModel(): c.Sequential {
  const model = new c.Sequential([c.layers.dense({ units: 4, activation: 'softmax', inputShape: [3] })]);
  model.build([null, 3]);
  const [kernel, bias] = model.weights;
  kernel.assign(c.tensor([0.5, -0.2, 0.1, 0.3, -0.4, 0.6, 0.2, -0.1, 0.3, 0.1, -0.5, 0.4], [3, 4]));
  bias.assign(c.tensor([0.1, 0, -0.1, 0.2], [4]));
  return model;
}

const W = [
  [0.5, -0.2, 0.1, 0.3],
  [-0.4, 0.6, 0.2, -0.1],
  [0.3, 0.1, -0.5, 0.4],
];
const B = [0.1, 0, -0.1, 0.2];

/** d p_k / d x = p_k (W[:, k] - sum_j p_j W[:, j]); and the logit's gradient W[:, k]. */
function handGradient(x: number[], k: number, logit: boolean): { p: number; g: number[] } {
  const z = B.map((b, j) => b + x.reduce((s, xi, i) => s + xi * W[i][j], 0));
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp(v - m));
  const p = e.map((v) => v / e.reduce((s, u) => s + u, 0));
  if (logit) return { p: z[k], g: W.map((row) => row[k]) };
  return { p: p[k], g: W.map((row) => p[k] * (row[k] - row.reduce((s, w, j) => s + p[j] * w, 0))) };
}

const X = [
  [0.3, -1.2, 0.8],
  [1.5, 0.2, -0.7],
];

test('saliency and gradient x input equal the hand-computed gradient for class, per-sample and logit targets', () => {
  const model = softmaxModel();
  const x = c.tensor(X);
  for (const [target, classes, logit] of [
    [2, [2, 2], false],
    [[0, 3], [0, 3], false],
    [{ logit: 1 }, [1, 1], true],
  ] as const) {
    const plain = c.explain(model, x, {
      method: 'saliency',
      target: target as c.explainability.Target,
      absolute: false,
    });
    const gxi = c.explain(model, x, { method: 'gradientXInput', target: target as c.explainability.Target });
    const abs = c.explain(model, x, { method: 'saliency', target: target as c.explainability.Target });
    assert.deepEqual(plain.target, classes);
    assert.equal(plain.logit, logit);
    const want = X.map((row, i) => handGradient(row, classes[i], logit));
    assertClose(
      flat(plain.attributions),
      want.flatMap((w) => w.g),
      { atol: 1e-6 },
    );
    assertClose(
      flat(abs.attributions),
      want.flatMap((w) => w.g.map(Math.abs)),
      { atol: 1e-6 },
    );
    assertClose(
      flat(gxi.attributions),
      want.flatMap((w, i) => w.g.map((g, j) => g * X[i][j])),
      { atol: 1e-6 },
    );
    assertClose(
      plain.scores,
      want.map((w) => w.p),
      { atol: 1e-6 },
    );
    assert.deepEqual(plain.attributions.shape, [2, 3]);
    assert.ok(plain.seconds >= 0);
  }
});

test('the default target is the predicted class; a function target scores any function of the outputs', () => {
  const model = softmaxModel();
  const x = c.tensor(X);
  const predicted = Array.from(c.argmax(model.predict(x) as c.Tensor, -1).dataSync());
  assert.deepEqual(c.explain(model, x, { method: 'saliency' }).target, predicted);
  // p_0 + p_1 has the gradient of p_0 plus that of p_1.
  const custom = c.explain(model, x, {
    method: 'saliency',
    absolute: false,
    target: (out) => c.sum(c.slice(out as c.Tensor, [0, 0], [2, 2]), [1]),
  });
  assert.equal(custom.target, 'custom');
  const want = X.flatMap((row) => {
    const [a, b] = [handGradient(row, 0, false), handGradient(row, 1, false)];
    return a.g.map((g, j) => g + b.g[j]);
  });
  assertClose(flat(custom.attributions), want, { atol: 1e-6 });
});

test('explain names the method and what was expected on bad input', () => {
  const model = softmaxModel();
  const x = c.tensor(X);
  assert.throws(() => c.explain(model, x, { method: 'nope' } as never), /method must be one of saliency/);
  assert.throws(() => c.explain(model, x, { method: 'saliency', target: 4 }), ArgumentError);
  assert.throws(() => c.explain(model, x, { method: 'saliency', target: [1] }), ShapeError);
  assert.throws(
    () => c.explain(model, x, { method: 'saliency', target: () => c.zeros([3]) }),
    /must return \[2\] scores/,
  );
  assert.throws(() => c.explain(model, x, { method: 'saliency', batchSize: 0 }), /batchSize/);
});

test('an option the method does not take is refused by name, not ignored', () => {
  const model = softmaxModel();
  const x = c.tensor(X);
  assert.throws(
    () => c.explain(model, x, { method: 'saliency', steps: 10 } as never),
    /explain\(saliency\): option 'steps' not taken; saliency takes method, target, .*, absolute/,
  );
  assert.throws(() => c.explain(model, x, { method: 'integratedGradients', step: 10 } as never), /'step' not taken/);
  assert.throws(
    () => c.explain(model, x, { method: 'smoothGrad', overOptions: { steps: 4 } }),
    /overOptions 'steps' not taken; saliency takes absolute/,
  );
  const ok = c.explain(model, x, { method: 'smoothGrad', over: 'integratedGradients', overOptions: { steps: 4 } });
  assert.deepEqual(ok.attributions.shape, [2, 3]);
});
