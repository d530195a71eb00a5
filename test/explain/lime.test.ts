// LIME against closed forms: on f = w . x + b with baseline 0, switching feature i off changes f by w_i x_i, so
// a surrogate fitted without a penalty recovers those coefficients exactly; the ridge fit against a naive
// solve of the augmented normal equations; sampling, kernel and feature selection as lime's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError } from '../../src/errors.js';
import { RandomStream } from '../../src/ops/random.js';
import { WeightedDesign } from '../../src/explain/ridge.js';
import { limeCoalitions, limeWeight } from '../../src/explain/lime.js';
import { assertClose, flat, rand } from '../helpers.js';
import { linearModel, tokenModel, tokenScore } from './linear-models.js';

const W = [0.5, -1.5, 2, 0.25, -0.75, 1.25];
// |w_i x_i| well apart (no ties), so the k largest are well defined for every k and every seed tried (0..29).
const X = [
  [1, 2, -0.7, 0.5, 3, -0.6],
  [-2, 0.3, 1.5, -1, 0.8, 2],
];

test('LIME recovers w_i x_i of a linear model, and its intercept f(baseline)', () => {
  const model = linearModel([6], W, 0.3);
  const e = c.explain(model, c.tensor(X), { method: 'lime', ridge: 0, samples: 200, seed: 7, batchSize: 50 });
  assertClose(
    flat(e.attributions),
    X.flatMap((row) => row.map((v, i) => W[i] * v)),
    { atol: 1e-4 },
  );
  const details = e.details as { intercept: number[]; r2: number[]; features: number[]; localPrediction: number[] };
  assertClose(details.intercept, [0.3, 0.3], { atol: 1e-4 });
  assertClose(details.r2, [1, 1], { atol: 1e-6 });
  assert.deepEqual(details.features, [6, 6]);
  assertClose(details.localPrediction, e.scores, { atol: 1e-4 });
  assert.equal(e.parameters.features, 'elements');
  assert.equal(e.parameters.ridge, 0);
  // Baseline 1: switching off moves x_i to 1.
  const b1 = c.explain(model, c.tensor(X), { method: 'lime', ridge: 0, samples: 200, baseline: 1, seed: 7 });
  assertClose(
    flat(b1.attributions),
    X.flatMap((row) => row.map((v, i) => W[i] * (v - 1))),
    { atol: 1e-4 },
  );
});

test('LIME with numFeatures keeps the k largest effects, by forward selection or highest weights', () => {
  const model = linearModel([6], W, 0.3);
  for (const [k, featureSelection] of [
    [2, 'auto'],
    [3, 'forwardSelection'],
    [4, 'highestWeights'],
  ] as const) {
    const e = c.explain(model, c.tensor(X), {
      method: 'lime',
      numFeatures: k,
      featureSelection,
      samples: 400,
      seed: 3,
    });
    const a = flat(e.attributions);
    X.forEach((row, s) => {
      const effects = row.map((v, i) => Math.abs(W[i] * v));
      const top = [...effects.keys()].sort((p, q) => effects[q] - effects[p]).slice(0, k);
      const kept = (e.details!.selected as number[][])[s];
      assert.deepEqual([...kept].sort(), [...top].sort(), `sample ${s} ${featureSelection}`);
      for (let i = 0; i < 6; i++) if (!top.includes(i)) assert.equal(a[s * 6 + i], 0);
    });
  }
});

test('LIME on tokens: each word gets its effect, padding (id 0) gets nothing', () => {
  const emb = [0.2, 0.5, -1, 2, 0.25, 1.5];
  const v = [1, -0.5, 2, 0.75, 0.6];
  const tokens = [
    [3, 1, 5, 2, 0],
    [4, 0, 0, 1, 2],
    [0, 0, 0, 0, 0],
  ];
  const model = tokenModel(emb, v, 0.1);
  const e = c.explain(model, c.tensor(tokens, undefined, 'int32'), { method: 'lime', ridge: 0, samples: 300 });
  assert.equal(e.parameters.features, 'tokens');
  const want = tokens.flatMap((row) =>
    row.map((t, i) => {
      if (t === 0) return 0;
      const off = row.map((u, j) => (j === i ? 0 : u));
      return tokenScore(row, emb, v, 0.1) - tokenScore(off, emb, v, 0.1);
    }),
  );
  assertClose(flat(e.attributions), want, { atol: 1e-4 });
  const details = e.details as { features: number[]; intercept: number[] };
  // A text of padding only has no words to switch: its fit is the constant f(x).
  assert.deepEqual(details.features, [4, 3, 0]);
  assertClose([details.intercept[2]], [tokenScore(tokens[2], emb, v, 0.1)], { atol: 1e-6 });
});

test('LIME on images: each pixel carries its superpixel or patch effect, the sum of w_e x_e over it', () => {
  const shape = [8, 8, 3];
  const w = flat(rand([192], 5));
  const model = linearModel(shape, w, 0);
  // A smooth image (on noise, SLIC's pieces merge into few segments).
  const values = Array.from({ length: 192 }, (_, i) => {
    const [y, x, ch] = [Math.floor(i / 24), Math.floor(i / 3) % 8, i % 3];
    return (2 + Math.sin(x / 2 + ch) + Math.cos(y / 2)) / 4;
  });
  const x = c.tensor(values, [1, ...shape]);
  for (const features of [{ superpixels: 6 }, { patches: 4 }] as const) {
    const e = c.explain(model, x, { method: 'lime', features, samples: 100, seed: 1, ridge: 0 });
    assert.deepEqual(e.attributions.shape, [1, ...shape]);
    const map = c.explainability.resolveFeatures('t', features, values, shape, false).map;
    const effect = new Map<number, number>();
    map.forEach((f, i) => effect.set(f, (effect.get(f) ?? 0) + w[i] * values[i]));
    assert.ok(effect.size >= 4, `${effect.size} features`);
    assertClose(
      flat(e.attributions),
      Array.from(map, (f) => effect.get(f)!),
      { atol: 1e-4 },
    );
  }
  // Images default to superpixels (SLIC is installed with explain).
  const e = c.explain(model, x, { method: 'lime', samples: 50, seed: 1 });
  assert.equal(e.parameters.features, 'superpixels 50');
});

test('the same seed gives the same explanation; another seed other samples', () => {
  const model = new c.Sequential([
    c.layers.dense({ units: 3, activation: 'tanh', inputShape: [6] }),
    c.layers.dense({ units: 1 }),
  ]);
  model.weights.forEach((v, i) => v.assign(rand(v.shape, 30 + i, { dtype: 'float32' })));
  const x = c.tensor(X);
  const a = flat(c.explain(model, x, { method: 'lime', samples: 60, seed: 11 }).attributions);
  assert.deepEqual(flat(c.explain(model, x, { method: 'lime', samples: 60, seed: 11 }).attributions), a);
  assert.notDeepEqual(flat(c.explain(model, x, { method: 'lime', samples: 60, seed: 12 }).attributions), a);
});

test("lime's sampling: the first coalition is all on, the others switch 1..d features off", () => {
  const d = 5,
    samples = 4000;
  const z = limeCoalitions(d, samples, new RandomStream(9));
  assert.deepEqual(Array.from(z.subarray(0, d)), [1, 1, 1, 1, 1]);
  const offCounts = new Array<number>(d + 1).fill(0);
  const perFeature = new Array<number>(d).fill(0);
  for (let r = 1; r < samples; r++) {
    let off = 0;
    for (let f = 0; f < d; f++) if (z[r * d + f] === 0) (off++, perFeature[f]++);
    offCounts[off]++;
  }
  assert.equal(offCounts[0], 0);
  // Each count 1..5 about a fifth of the rows; each feature off in about (1 + 5) / 2 / 5 = 60% of them.
  for (let k = 1; k <= d; k++) assert.ok(Math.abs(offCounts[k] / (samples - 1) - 0.2) < 0.03, `count ${k}`);
  for (const f of perFeature) assert.ok(Math.abs(f / (samples - 1) - 0.6) < 0.03);
  // Kernel: cosine distance 1 - sqrt(on / d); all on weighs 1, all off sqrt(exp(-1 / w^2)).
  assert.equal(limeWeight(d, d, 0.25), 1);
  assertClose([limeWeight(0, d, 0.25)], [Math.sqrt(Math.exp(-16))], { atol: 1e-15 });
  const dist = 1 - Math.sqrt(2 / 5);
  assertClose([limeWeight(2, d, 0.5)], [Math.sqrt(Math.exp(-(dist * dist) / 0.25))], { atol: 1e-15 });
});

/** Solves M b = r by Gaussian elimination with partial pivoting (the naive reference). */
function gauss(m: number[][], r: number[]): number[] {
  const n = r.length;
  const a = m.map((row, i) => [...row, r[i]]);
  for (let i = 0; i < n; i++) {
    let p = i;
    for (let k = i + 1; k < n; k++) if (Math.abs(a[k][i]) > Math.abs(a[p][i])) p = k;
    [a[i], a[p]] = [a[p], a[i]];
    for (let k = i + 1; k < n; k++) {
      const f = a[k][i] / a[i][i];
      for (let j = i; j <= n; j++) a[k][j] -= f * a[i][j];
    }
  }
  const b = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let s = a[i][n];
    for (let j = i + 1; j < n; j++) s -= a[i][j] * b[j];
    b[i] = s / a[i][i];
  }
  return b;
}

test('the weighted ridge fit equals a naive solve of [X 1] with an unpenalised intercept, and its R^2', () => {
  const rows = 40,
    d = 4;
  const x = flat(rand([rows, d], 21));
  const y = flat(rand([rows], 22));
  const w = flat(rand([rows], 23, { lo: 0.1, hi: 2 }));
  for (const ridge of [0, 0.7, 5]) {
    const fit = new WeightedDesign(x, d, y, w).fit(ridge);
    // Minimise sum w (y - [x 1] beta)^2 + ridge |beta_x|^2: ([X 1]' W [X 1] + diag(ridge, .., 0)) beta = [X 1]' W y.
    const m = Array.from({ length: d + 1 }, () => new Array<number>(d + 1).fill(0));
    const r = new Array<number>(d + 1).fill(0);
    for (let i = 0; i < rows; i++) {
      const xi = [...x.slice(i * d, (i + 1) * d), 1];
      for (let j = 0; j <= d; j++) {
        r[j] += w[i] * xi[j] * y[i];
        for (let k = 0; k <= d; k++) m[j][k] += w[i] * xi[j] * xi[k];
      }
    }
    for (let j = 0; j < d; j++) m[j][j] += ridge;
    const beta = gauss(m, r);
    assertClose(fit.coefficients, beta.slice(0, d), { atol: 1e-10 });
    assertClose([fit.intercept], [beta[d]], { atol: 1e-10 });
    const sw = w.reduce((a, b) => a + b, 0);
    const my = w.reduce((a, wi, i) => a + wi * y[i], 0) / sw;
    let sse = 0,
      sst = 0;
    for (let i = 0; i < rows; i++) {
      const pred = beta[d] + beta.slice(0, d).reduce((a, b, j) => a + b * x[i * d + j], 0);
      sse += w[i] * (y[i] - pred) ** 2;
      sst += w[i] * (y[i] - my) ** 2;
    }
    assertClose([fit.r2], [1 - sse / sst], { atol: 1e-10 });
  }
  // A constant column without a penalty is dropped (coefficient 0), not a division by zero.
  const constant = Array.from({ length: rows * 2 }, (_, i) => (i % 2 ? 1 : x[i]));
  const fit = new WeightedDesign(constant, 2, y, w).fit(0);
  assert.equal(fit.coefficients[1], 0);
  assert.ok(Number.isFinite(fit.coefficients[0]) && Number.isFinite(fit.intercept));
});

test('LIME names bad options', () => {
  const model = linearModel([6], W, 0);
  const x = c.tensor(X);
  assert.throws(() => c.explain(model, x, { method: 'lime', samples: 0 }), ArgumentError);
  assert.throws(() => c.explain(model, x, { method: 'lime', kernelWidth: -1 }), /kernelWidth must be a positive/);
  assert.throws(() => c.explain(model, x, { method: 'lime', ridge: -1 }), /ridge must be a non-negative/);
  assert.throws(() => c.explain(model, x, { method: 'lime', numFeatures: 0 }), /numFeatures/);
  assert.throws(() => c.explain(model, x, { method: 'lime', featureSelection: 'best' as never }), /featureSelection/);
  assert.throws(() => c.explain(model, x, { method: 'lime', features: 'tokens' }), /need int32 token-id inputs/);
  assert.throws(() => c.explain(model, x, { method: 'lime', features: { patches: 2 } }), /need images/);
});
