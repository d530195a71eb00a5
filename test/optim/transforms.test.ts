// Gradient transformations on their own: clipping (Keras clipnorm / clipvalue / global_clipnorm),
// momentum, decoupled weight decay, chaining, and the clipping options of the Keras optimizers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  chain,
  clip,
  clipByNorm,
  clipByGlobalNorm,
  trace,
  addDecayedWeights,
  scale,
  scaleByLearningRate,
  sgd,
  type GradientTransformation,
} from '../../src/optim/index.js';
import { assertClose } from '../helpers.js';
import { namedState, scaleByAdam, type AdamState } from '../../src/optim/transforms.js';

const t64 = (v: number[]) => c.tensor(Float64Array.from(v));

/** One update of a transformation from a fresh state; returns plain arrays. */
function once(
  tx: GradientTransformation,
  grads: number[][],
  params: number[][] = grads.map((g) => g.map(() => 0)),
): number[][] {
  return c.tidy(() => {
    const ps = params.map(t64),
      gs = grads.map(t64);
    const { updates } = tx.update(gs, tx.init(ps), ps);
    return updates.map((u) => Array.from(u.dataSync()));
  });
}

const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('clipByNorm rescales each tensor to at most maxNorm on its own (Keras clipnorm)', () => {
  const [a, b] = once(clipByNorm(1), [
    [3, 4],
    [0.3, 0.4],
  ]);
  assertClose(a, [0.6, 0.8], { rtol: 1e-12 });
  assertClose(b, [0.3, 0.4], { rtol: 1e-12 }, 'a tensor under the limit is unchanged');
  assert.deepEqual(once(clipByNorm(1), [[0, 0]])[0], [0, 0], 'a zero gradient stays zero (no 0/0)');
});

test('clipByGlobalNorm rescales all tensors together (Keras global_clipnorm)', () => {
  const [a, b] = once(clipByGlobalNorm(5), [
    [3, 4],
    [6, 8],
  ]); // joint norm sqrt(25 + 100)
  const f = 5 / Math.sqrt(125);
  assertClose(a, [3 * f, 4 * f], { rtol: 1e-12 });
  assertClose(b, [6 * f, 8 * f], { rtol: 1e-12 });
  assertClose(
    once(clipByGlobalNorm(100), [
      [3, 4],
      [6, 8],
    ]).flat(),
    [3, 4, 6, 8],
    { rtol: 0, atol: 0 },
  );
  // An infinite gradient gives NaN updates (as Keras / TF), not a silent zero step.
  assert.ok(
    once(clipByGlobalNorm(1), [
      [Infinity, 1],
      [1, 1],
    ])
      .flat()
      .every(Number.isNaN),
  );
});

test('clip bounds each element (Keras clipvalue)', () => {
  assert.deepEqual(once(clip(0.5), [[-2, -0.1, 0.3, 7]])[0], [-0.5, -0.1, 0.3, 0.5]);
});

test('the Keras optimizers clip before the update: sgd with lr 1 shows the clipped gradient', () => {
  const step = (opts: Parameters<typeof sgd>[0], grads: number[][]) =>
    c.tidy(() => {
      const ps = grads.map((g) => c.zeros([g.length], 'float64'));
      return sgd({ learningRate: 1, ...opts })
        .apply(ps, grads.map(t64))
        .map((p) => Array.from(p.dataSync()).map((v) => -v));
    });
  const grads = [
    [3, 4],
    [6, 8],
  ];
  assertClose(step({ clipnorm: 1 }, grads).flat(), [0.6, 0.8, 0.6, 0.8], { rtol: 1e-12 });
  const scaled = step({ globalClipnorm: 1 }, grads);
  assertClose([norm(scaled.flat())], [1], { rtol: 1e-12 });
  assertClose(scaled[1], [6 / Math.sqrt(125), 8 / Math.sqrt(125)], { rtol: 1e-12 });
  assert.deepEqual(step({ clipvalue: 5 }, grads).flat(), [3, 4, 5, 5]);
});

test('trace is momentum: t = decay t + u; Nesterov returns u + decay t', () => {
  for (const nesterov of [false, true]) {
    const tx = trace({ decay: 0.5, nesterov });
    const got = c.tidy(() => {
      const p = [t64([0])];
      let state = tx.init(p);
      const out: number[] = [];
      for (const g of [1, 2, -1]) {
        const r = tx.update([t64([g])], state, p);
        state = r.state;
        out.push(r.updates[0].item());
      }
      return out;
    });
    // t: 1, 2.5, 0.25
    assert.deepEqual(got, nesterov ? [1.5, 3.25, -0.875] : [1, 2.5, 0.25]);
  }
});

test('addDecayedWeights adds wd * p (optax) or -lr * wd * p (Keras), and respects a mask', () => {
  const params = [
    [1, -2],
    [10, 20],
  ];
  const grads = [
    [0.5, 0.5],
    [0, 0],
  ];
  assertClose(once(addDecayedWeights(0.1), grads, params).flat(), [0.6, 0.3, 1, 2], { rtol: 1e-12 });
  assertClose(once(addDecayedWeights(0.1, { learningRate: 0.5 }), grads, params).flat(), [0.45, 0.6, -0.5, -1], {
    rtol: 1e-12,
  });
  assertClose(once(addDecayedWeights(0.1, { mask: [true, false] }), grads, params).flat(), [0.6, 0.3, 0, 0], {
    rtol: 1e-12,
  });
  assertClose(
    once(addDecayedWeights(0.1, { mask: (p) => p.shape[0] === 2 && p.dataSync()[0] > 5 }), grads, params).flat(),
    [0.5, 0.5, 1, 2],
    { rtol: 1e-12 },
  );
});

test('chain threads updates and keeps one state per transformation; scaleByLearningRate counts steps', () => {
  const tx = chain(
    scale(2),
    scaleByLearningRate((step) => 1 / (step + 1)),
    trace({ decay: 0.5 }),
  );
  const p = [t64([0])];
  let state = tx.init(p);
  const seen: number[] = [];
  c.tidy(() => {
    for (let t = 0; t < 3; t++) {
      const r = tx.update([t64([1])], state, p);
      state = r.state;
      seen.push(r.updates[0].item());
    }
  });
  // u = -2 / (t + 1): -2, -1, -2/3; traced: -2, -2, -5/3
  assertClose(seen, [-2, -2, -5 / 3], { rtol: 1e-12 });
  assert.deepEqual((state as unknown[])[1], { count: 3 });
  assert.deepEqual(once(chain(), [[1, 2]]), [[1, 2]], 'an empty chain is the identity');
});

test('transformations reject hyperparameters out of range', () => {
  assert.throws(() => clipByNorm(-1), /clipByNorm: maxNorm must be a number in \(0, inf\)/);
  assert.throws(() => clip(0), c.ArgumentError);
  assert.throws(() => trace({ decay: 2 }), /decay must be a number in \[0, 1\]/);
  assert.throws(() => addDecayedWeights(NaN), c.ArgumentError);
  assert.throws(() => scaleByLearningRate(-0.1), /finite non-negative/);
  const tx = scaleByLearningRate(() => NaN);
  assert.throws(() => once(tx, [[1]]), /from the schedule at step 0/);
});

test('namedState finds a transformation state by its factory wherever it sits in a chain', () => {
  const params = [c.tensor([1, 2], [2]), c.tensor([3], [1])];
  for (const t of [
    chain(scaleByAdam(), scaleByLearningRate(0.1)),
    chain(clipByGlobalNorm(1), scaleByLearningRate(0.1), scaleByAdam()),
    scaleByAdam(),
  ]) {
    const state = t.init(params);
    const adam = namedState<AdamState>(t, scaleByAdam)!;
    assert.equal(adam.get(state).count, 0);
    assert.deepEqual(
      adam.get(state).mu.map((m) => m.shape),
      [[2], [1]],
    );
    const next = adam.set(state, { count: 7, mu: [], nu: [] });
    assert.equal(adam.get(next).count, 7);
    assert.equal(adam.get(state).count, 0, 'the old state is unchanged');
    assert.equal(namedState(t, trace), undefined);
  }
});
