// Occlusion against closed forms: on f = w . x + b occluding a window with baseline beta drops the score by
// sum over the window of w_e (x_e - beta), and each element gets the mean drop of the windows covering it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { assertClose, flat, rand } from '../helpers.js';
import { linearModel, tokenModel, tokenScore } from './linear-models.js';

/** Captum's window starts on one axis: 0, s, ..., ceil((d - w) / s) * s, clipped to the axis. */
const startsOf = (d: number, w: number, s: number): number[] =>
  Array.from({ length: Math.ceil((d - w) / s) + 1 }, (_, i) => i * s).filter((a) => a < d);

/** Slow reference: every window of every sample as a list of covered element indices, and the mean drop. */
function reference(
  x: number[],
  shape: number[],
  window: number[],
  strides: number[],
  drop: (sample: number, cells: number[]) => number,
): number[] {
  const size = shape.reduce((a, b) => a * b, 1);
  const n = x.length / size;
  let corners: number[][] = [[]];
  shape.forEach((d, k) => (corners = corners.flatMap((p) => startsOf(d, window[k], strides[k]).map((s) => [...p, s]))));
  const out = new Array<number>(x.length).fill(0);
  const count = new Array<number>(size).fill(0);
  for (const at of corners) {
    const cells: number[] = [];
    for (let e = 0; e < size; e++) {
      let rest = e,
        inside = true;
      for (let k = shape.length - 1; k >= 0; k--) {
        const i = rest % shape[k];
        rest = Math.floor(rest / shape[k]);
        if (i < at[k] || i >= at[k] + window[k]) inside = false;
      }
      if (inside) cells.push(e);
    }
    for (const e of cells) count[e]++;
    for (let s = 0; s < n; s++) {
      const d = drop(s, cells);
      for (const e of cells) out[s * size + e] += d;
    }
  }
  return out.map((v, i) => (count[i % size] ? v / count[i % size] : 0));
}

const W = [0.5, -1.5, 2, 0.25, -0.75];
const X = [
  [1, 2, -1, 0.5, 3],
  [-2, 0.5, 1.5, -1, 1],
];

test('occlusion with window 1 and baseline 0 is w * x on a linear model', () => {
  const model = linearModel([5], W, 0.3);
  const e = c.explain(model, c.tensor(X), { method: 'occlusion', window: 1, batchSize: 3 });
  assertClose(
    flat(e.attributions),
    X.flatMap((row) => row.map((v, i) => W[i] * v)),
    { atol: 1e-5 },
  );
  assert.deepEqual(e.attributions.shape, [2, 5]);
  assert.deepEqual(e.parameters.window, [1]);
  assert.deepEqual(e.parameters.strides, [1]);
  assert.equal(e.parameters.baseline, 0);
});

test('overlapping, clipped and baseline windows average the drops of the windows covering each element', () => {
  const model = linearModel([5], W, 0.3);
  const x = X.flat();
  const linearDrop = (beta: number) => (s: number, cells: number[]) =>
    cells.reduce((a, e) => a + W[e] * (x[s * 5 + e] - beta), 0);
  for (const [window, strides, baseline] of [
    [2, 1, 0],
    [2, 2, 0],
    [3, 1, 0.5],
    [2, 3, -1],
    [5, 1, 0],
  ]) {
    const e = c.explain(model, c.tensor(X), { method: 'occlusion', window, strides, baseline });
    const want = reference(x, [5], [window], [strides], linearDrop(baseline));
    assertClose(flat(e.attributions), want, { atol: 1e-5 }, `window ${window} strides ${strides}`);
  }
});

test('occlusion on images windows H and W over every channel, or H, W and C when given three numbers', () => {
  const shape = [4, 5, 2];
  const size = 40;
  const w = flat(rand([size], 3));
  const x = flat(rand([2, ...shape], 4));
  const model = linearModel(shape, w, -0.2);
  const drop = (s: number, cells: number[]) => cells.reduce((a, e) => a + w[e] * x[s * size + e], 0);
  for (const [window, strides, full, fullStrides] of [
    [2, undefined, [2, 2, 2], [2, 2, 2]],
    [
      [2, 3],
      [1, 2],
      [2, 3, 2],
      [1, 2, 2],
    ],
    [
      [3, 2, 1],
      [1, 1, 1],
      [3, 2, 1],
      [1, 1, 1],
    ],
  ] as const) {
    const e = c.explain(model, c.tensor(x, [2, ...shape]), {
      method: 'occlusion',
      window: window as number | number[],
      strides: strides as number[] | undefined,
      batchSize: 7,
    });
    assert.deepEqual(e.attributions.shape, [2, ...shape]);
    assert.deepEqual(e.parameters.window, full);
    assert.deepEqual(e.parameters.strides, fullStrides);
    assertClose(flat(e.attributions), reference(x, shape, [...full], [...fullStrides], drop), { atol: 1e-5 });
  }
});

test('occlusion on token ids replaces windows of tokens by id 0 and gives float attributions [N, T]', () => {
  const emb = [0, 0.5, -1, 2, 0.25, 1.5];
  const v = [1, -0.5, 2, 0.75];
  const tokens = [
    [3, 1, 5, 2],
    [4, 4, 0, 1],
  ];
  const model = tokenModel(emb, v, 0.1);
  const e = c.explain(model, c.tensor(tokens, undefined, 'int32'), { method: 'occlusion', window: 2, strides: 1 });
  assert.equal(e.attributions.dtype, 'float32');
  assert.deepEqual(e.attributions.shape, [2, 4]);
  const drop = (s: number, cells: number[]) => {
    const occluded = tokens[s].map((t, i) => (cells.includes(i) ? 0 : t));
    return tokenScore(tokens[s], emb, v, 0.1) - tokenScore(occluded, emb, v, 0.1);
  };
  assertClose(flat(e.attributions), reference(tokens.flat(), [4], [2], [1], drop), { atol: 1e-5 });
});

test('occlusion names what is wrong with a window, strides or baseline', () => {
  const model = linearModel([5], W, 0);
  const x = c.tensor(X);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 6 }), ShapeError);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 6 }), /window \[6\] is larger than samples/);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 0 }), ArgumentError);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 1.5 }), /positive integers/);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: [1, 1] }), /has 2 numbers for samples/);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 1, strides: -1 }), ArgumentError);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 1, strides: [1, 2] }), ShapeError);
  assert.throws(() => c.explain(model, x, { method: 'occlusion', window: 1, baseline: NaN }), /baseline/);
  assert.throws(() => c.explain(model, x, { method: 'occlusion' } as never), /window is required/);
  const image = linearModel([3, 3, 1], new Array<number>(9).fill(1), 0);
  assert.throws(
    () => c.explain(image, c.zeros([1, 3, 3, 1]), { method: 'occlusion', window: [2, 2, 2] }),
    /larger than samples \[3, 3, 1\] on axis 3/,
  );
});
