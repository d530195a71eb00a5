// KernelSHAP and exact Shapley values, checked against a slow Shapley formula over a hand-written copy of a small
// MLP, the closed form w_i (x_i - E x_i) of linear models, the axioms, and a 3-player game worked by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/errors.js';
import { assertClose, flat } from '../helpers.js';
import { linearModel, tokenModel } from './linear-models.js';
import { kernelCoalitions, type KernelCoalitions } from '../../src/explain/kernel-shap.js';

type Details = { baseValue: number[]; values: number[][]; samples: number[]; exhaustive: boolean[] };
const details = (e: c.explainability.Explanation): Details => e.details as unknown as Details;

/** A fixed pseudo-random number in [-1, 1) for weight i of a model (no generator state). */
const fixed = (i: number, salt: number): number => Math.sin(12.9898 * i + 78.233 * salt) * 0.9;

/** 10 inputs -> Dense(6, tanh) -> Dense(1), weights from `fixed`: tanh mixes the features (interactions). */
const D = 10,
  H = 6;
const W1 = Array.from({ length: D * H }, (_, i) => fixed(i, 1));
const B1 = Array.from({ length: H }, (_, i) => fixed(i, 2) * 0.3);
const W2 = Array.from({ length: H }, (_, i) => fixed(i, 3) * 1.5);
const B2 = 0.2;

function mlp(w1 = W1): c.Sequential {
  const model = new c.Sequential([
    c.layers.dense({ units: H, activation: 'tanh', inputShape: [D] }),
    c.layers.dense({ units: 1 }),
  ]);
  model.build([null, D]);
  const [k1, b1, k2, b2] = model.weights;
  k1.assign(c.tensor(w1, [D, H]));
  b1.assign(c.tensor(B1, [H]));
  k2.assign(c.tensor(W2, [H, 1]));
  b2.assign(c.tensor([B2], [1]));
  return model;
}

/** The MLP by hand, in float64. */
const mlpScore = (x: number[], w1 = W1): number =>
  B2 + W2.reduce((s, w, j) => s + w * Math.tanh(B1[j] + x.reduce((t, xi, i) => t + xi * w1[i * H + j], 0)), 0);

/** Slow exact Shapley values: phi_i = sum over S without i of |S|!(d-|S|-1)!/d! (v(S + i) - v(S)). */
function slowShapley(f: (x: number[]) => number, x: number[], background: number[][]): number[] {
  const d = x.length;
  const v = (inS: (i: number) => boolean): number =>
    background.reduce((s, b) => s + f(x.map((xi, i) => (inS(i) ? xi : b[i]))), 0) / background.length;
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  return x.map((_, i) => {
    let phi = 0;
    for (let mask = 0; mask < 2 ** d; mask++) {
      if (mask & (1 << i)) continue;
      const size = mask.toString(2).replace(/0/g, '').length;
      const w = (fact(size) * fact(d - size - 1)) / fact(d);
      phi += w * (v((j) => j === i || (mask & (1 << j)) !== 0) - v((j) => (mask & (1 << j)) !== 0));
    }
    return phi;
  });
}

const X = [
  [0.5, -1.2, 0.3, 0.9, -0.4, 1.1, -0.7, 0.2, 0.8, -1.5],
  [-0.3, 0.6, -1.1, 0.4, 1.3, -0.2, 0.5, -0.9, 0.1, 0.7],
];
const BG = [
  [0.1, 0.2, -0.3, 0.0, 0.4, -0.1, 0.2, 0.3, -0.2, 0.1],
  [-0.5, 0.3, 0.6, -0.4, 0.0, 0.2, -0.3, 0.1, 0.5, -0.2],
  [0.2, -0.6, 0.1, 0.3, -0.2, 0.4, 0.0, -0.5, 0.3, 0.6],
];

test('exact Shapley values of a 10-feature MLP equal the slow formula; KernelSHAP equals them within 1e-3', () => {
  const model = mlp();
  const x = c.tensor(X);
  const background = c.tensor(BG);
  const exact = c.explain(model, x, { method: 'shapley', background, target: 0, batchSize: 50 });
  const want = X.map((row) => slowShapley((v) => mlpScore(v), row, BG));
  assertClose(exact.attributions, want.flat(), { atol: 1e-5 }, 'shapley');
  // Efficiency: each sample's values add up to f(x) - E f.
  X.forEach((row, s) =>
    assert.ok(Math.abs(details(exact).baseValue[s] - BG.reduce((a, b) => a + mlpScore(b), 0) / BG.length) < 1e-5),
  );
  assert.ok(exact.completenessGap!.every((g) => g < 1e-5));

  // Default budget (2 x 10 + 2048) covers all 1022 coalitions: the fit is exact.
  const kernel = c.explain(model, x, { method: 'kernelShap', background, target: 0, seed: 3 });
  assert.deepEqual(details(kernel).exhaustive, [true, true]);
  assert.deepEqual(details(kernel).samples, [1022, 1022]);
  assertClose(kernel.attributions, exact.attributions, { atol: 1e-3, rtol: 0 }, 'kernelShap, all coalitions');
  assertClose(kernel.attributions, want.flat(), { atol: 1e-5 }, 'kernelShap vs formula');

  // 800 coalitions: sizes 1 to 3 and 7 to 9 enumerated (350), the rest sampled in pairs, as shap does; values
  // within 0.05 (errors over seeds: 0.02 to 0.04), and efficiency stays exact.
  const sampled = c.explain(model, x, { method: 'kernelShap', background, target: 0, seed: 3, samples: 800 });
  assert.deepEqual(details(sampled).exhaustive, [false, false]);
  assert.deepEqual(details(sampled).samples, [800, 800]);
  assert.ok(sampled.completenessGap!.every((g) => g < 1e-5));
  assertClose(sampled.attributions, want.flat(), { atol: 0.05, rtol: 0 }, 'kernelShap, 800 coalitions');
  // The same seed gives the same coalitions; the batch size changes nothing.
  const again = c.explain(model, x, {
    method: 'kernelShap',
    background,
    target: 0,
    seed: 3,
    samples: 800,
    batchSize: 32,
  });
  assertClose(again.attributions, sampled.attributions, { atol: 1e-6 });
});

test('on a linear model both equal w_i (x_i - E x_i), also when KernelSHAP samples; image patches, superpixels', () => {
  const d = 12;
  const w = Array.from({ length: d }, (_, i) => fixed(i, 4));
  const model = linearModel([d], w, 0.3);
  const xs = [Array.from({ length: d }, (_, i) => fixed(i, 5) * 2)];
  const bg = [0, 1, 2, 3].map((r) => Array.from({ length: d }, (_, i) => fixed(i + 20 * r, 6)));
  const mean = w.map((_, i) => bg.reduce((s, b) => s + b[i], 0) / bg.length);
  const want = xs.map((x) => x.map((xi, i) => w[i] * (xi - mean[i])));
  const background = c.tensor(bg);
  // 12 features: 4094 coalitions; 300 of them sampled fit a linear game exactly.
  const kernel = c.explain(model, c.tensor(xs), { method: 'kernelShap', background, target: 0, samples: 300, seed: 1 });
  assert.equal(details(kernel).exhaustive[0], false);
  assertClose(kernel.attributions, want.flat(), { atol: 1e-5 }, 'kernelShap');
  const exact = c.explain(model, c.tensor(xs), { method: 'shapley', background, target: 0, batchSize: 256 });
  assertClose(exact.attributions, want.flat(), { atol: 1e-5 }, 'shapley');

  // A 4 x 4 image in 2 x 2 patches: 4 features, each the sum of w_i (x_i - E x_i) over its pixels, spread evenly.
  const img = Array.from({ length: 16 }, (_, i) => fixed(i, 7));
  const imgBg = [Array.from({ length: 16 }, (_, i) => fixed(i, 8) * 0.5)];
  const wi = Array.from({ length: 16 }, (_, i) => fixed(i, 9));
  const imgModel = linearModel([4, 4, 1], wi, -0.1);
  const patchOf = (i: number): number => Math.floor(Math.floor(i / 4) / 2) * 2 + Math.floor((i % 4) / 2);
  const patch = [0, 1, 2, 3].map((p) =>
    img.reduce((s, xi, i) => (patchOf(i) === p ? s + wi[i] * (xi - imgBg[0][i]) : s), 0),
  );
  for (const method of ['kernelShap', 'shapley'] as const) {
    const e = c.explain(imgModel, c.tensor(img, [1, 4, 4, 1]), {
      method,
      background: c.tensor(imgBg[0], [1, 4, 4, 1]),
      features: { patches: 2 },
      target: 0,
    });
    assert.deepEqual(e.attributions.shape, [1, 4, 4, 1]);
    assertClose(details(e).values[0], patch, { atol: 1e-5 }, method);
    assertClose(
      e.attributions,
      img.map((_, i) => patch[patchOf(i)] / 4),
      { atol: 1e-5 },
      method,
    );
  }

  // Images default to SLIC superpixels: each pixel gets its superpixel's w . (x - b) over the superpixel's size.
  const rgb = Array.from({ length: 12 * 12 * 3 }, (_, i) => (fixed(Math.floor(i / 36), 10) + 1) / 2);
  const rgbBg = rgb.map((_, i) => fixed(i, 11) * 0.2);
  const wRgb = rgb.map((_, i) => fixed(i, 12));
  const segment = c.explainability.slic(rgb, [12, 12, 3], 50);
  const superpixel = new Map<number, { sum: number; size: number }>();
  segment.forEach((id, i) => {
    const at = superpixel.get(id) ?? { sum: 0, size: 0 };
    superpixel.set(id, { sum: at.sum + wRgb[i] * (rgb[i] - rgbBg[i]), size: at.size + 1 });
  });
  const rgbModel = linearModel([12, 12, 3], wRgb, 0);
  const e = c.explain(rgbModel, c.tensor(rgb, [1, 12, 12, 3]), {
    method: 'kernelShap',
    background: c.tensor(rgbBg, [1, 12, 12, 3]),
    target: 0,
    seed: 2,
    samples: 400,
  });
  assert.equal(e.parameters.features, 'superpixels 50');
  assert.equal((e.details as { features: number[] }).features[0], superpixel.size);
  const bySegment = Array.from(segment, (id) => superpixel.get(id)!.sum / superpixel.get(id)!.size);
  assertClose(e.attributions, bySegment, { atol: 1e-5 }, 'superpixels');
});

test('token inputs: each word gets v_t (e[token] - e[0]) against the default background of padding', () => {
  // f = b + sum_t v_t e[tokens_t]: Embedding(6, 1), Flatten, Dense(1); padding (id 0) is no feature.
  const e = [0.3, 0.5, -1, 2, 0.25, -0.75],
    v = [1, -2, 0.5, 1.5, -1];
  const model = tokenModel(e, v, 0.1);
  const tokens = [
    [3, 1, 4, 0, 0],
    [5, 2, 2, 1, 3],
  ];
  const want = tokens.flatMap((row) => row.map((t, i) => (t === 0 ? 0 : v[i] * (e[t] - e[0]))));
  for (const method of ['kernelShap', 'shapley'] as const) {
    const ex = c.explain(model, c.tensor(tokens, [2, 5], 'int32'), { method, target: 0 });
    assert.equal(ex.attributions.dtype, 'float32');
    assertClose(ex.attributions, want, { atol: 1e-5 }, method);
    assert.deepEqual((ex.details as { features: number[] }).features, [3, 5]);
  }
});

/** Dense(3) with the identity kernel: the target function below is then any game of the three inputs. */
function identityModel(): c.Sequential {
  const model = new c.Sequential([c.layers.dense({ units: 3, inputShape: [3], useBias: false })]);
  model.build([null, 3]);
  model.weights[0].assign(c.tensor([1, 0, 0, 0, 1, 0, 0, 0, 1], [3, 3]));
  return model;
}

test('exact Shapley values of a 3-feature game equal the formula worked by hand', () => {
  // f(x) = x0 x1 + 2 x2 at x = (1, 2, 3), background rows (0, 0, 0) and (1, 1, 1):
  // v(S) = mean over the rows of f with the features outside S from the row:
  //   v{} = (0 + 3) / 2 = 1.5     v{0} = (0 + 1 * 1 + 2) / 2 = 1.5     v{1} = (0 + 2 + 2) / 2 = 2
  //   v{2} = (6 + 1 + 6) / 2 = 6.5   v{0,1} = (2 + 2 + 2) / 2 = 3   v{0,2} = (6 + 7) / 2 = 6.5
  //   v{1,2} = (6 + 8) / 2 = 7     v{0,1,2} = 8
  // phi_0 = 1/3 (v{0} - v{}) + 1/6 (v{0,1} - v{1}) + 1/6 (v{0,2} - v{2}) + 1/3 (v{0,1,2} - v{1,2})
  //       = 1/3 * 0 + 1/6 * 1 + 1/6 * 0 + 1/3 * 1 = 1/2
  // phi_1 = 1/3 (2 - 1.5) + 1/6 (3 - 1.5) + 1/6 (7 - 6.5) + 1/3 (8 - 6.5) = 1/6 + 1/4 + 1/12 + 1/2 = 1
  // phi_2 = 1/3 (6.5 - 1.5) + 1/6 (6.5 - 1.5) + 1/6 (7 - 2) + 1/3 (8 - 3) = 5; sum 6.5 = v{0,1,2} - v{}.
  const game = (out: c.Tensor | c.Tensor[]): c.Tensor => {
    const col = (j: number): c.Tensor => c.reshape(c.slice(out as c.Tensor, [0, j], [-1, 1]), [-1]);
    return c.add(c.mul(col(0), col(1)), c.mul(col(2), c.scalar(2)));
  };
  const model = identityModel();
  const x = c.tensor([[1, 2, 3]]);
  const background = c.tensor([
    [0, 0, 0],
    [1, 1, 1],
  ]);
  for (const method of ['shapley', 'kernelShap'] as const) {
    const e = c.explain(model, x, { method, background, target: game });
    assertClose(e.attributions, [0.5, 1, 5], { atol: 1e-6 }, method);
    assertClose(details(e).baseValue, [1.5], { atol: 1e-6 });
    assertClose(e.completenessGap!, [0], { atol: 1e-6 });
  }
});

test('exact Shapley values are symmetric, efficient and give a dummy feature 0', () => {
  // Features 0 and 1 enter the MLP with the same weights and have equal values in x and every background row
  // (float32 sums them in another order, hence 1e-6); feature 9's weights are 0 (the model ignores it).
  const w1 = W1.slice();
  for (let j = 0; j < H; j++) {
    w1[H + j] = w1[j];
    w1[9 * H + j] = 0;
  }
  const model = mlp(w1);
  const xs = X.map((row) => [row[0], row[0], ...row.slice(2)]);
  const bg = BG.map((row) => [row[0], row[0], ...row.slice(2)]);
  const e = c.explain(model, c.tensor(xs), { method: 'shapley', background: c.tensor(bg), target: 0 });
  const phi = details(e).values;
  xs.forEach((x, s) => {
    assert.ok(Math.abs(phi[s][0] - phi[s][1]) < 1e-6, `symmetry: ${phi[s][0]} vs ${phi[s][1]}`);
    assert.equal(phi[s][9], 0);
    const fx = mlpScore(x, w1),
      ef = bg.reduce((a, b) => a + mlpScore(b, w1), 0) / bg.length;
    assert.ok(Math.abs(phi[s].reduce((a, b) => a + b, 0) - (fx - ef)) < 1e-5, 'efficiency');
  });
  assert.ok(Math.abs(flat(e.attributions)[0] - flat(e.attributions)[1]) < 1e-6);
});

test('SHAP names what is missing or wrong: background, its shape and dtype, samples, too many features', () => {
  const model = mlp();
  const x = c.tensor(X);
  assert.throws(
    () => c.explain(model, x, { method: 'kernelShap' }),
    (err: Error) => {
      assert.ok(err instanceof ArgumentError);
      assert.match(err.message, /explain\(kernelShap\): needs options.background, samples \[M, 10\]/);
      return true;
    },
  );
  assert.throws(() => c.explain(model, x, { method: 'shapley' }), ArgumentError);
  assert.throws(
    () => c.explain(model, x, { method: 'kernelShap', background: c.zeros([4, 9]) }),
    (err: Error) =>
      err instanceof ShapeError && /background \[4, 9\] does not match the inputs \[2, 10\]/.test(err.message),
  );
  assert.throws(() => c.explain(model, x, { method: 'shapley', background: c.zeros([10]) }), ShapeError);
  assert.throws(() => c.explain(model, x, { method: 'shapley', background: c.zeros([0, 10]) }), /has no rows/);
  assert.throws(() => c.explain(model, x, { method: 'kernelShap', background: c.zeros([2, 10], 'int32') }), DTypeError);
  assert.throws(
    () => c.explain(model, x, { method: 'kernelShap', background: c.zeros([1, 10]), samples: 0 }),
    /samples must be a positive integer/,
  );
  const wide = linearModel(
    [21],
    Array.from({ length: 21 }, () => 1),
    0,
  );
  assert.throws(
    () => c.explain(wide, c.ones([1, 21]), { method: 'shapley', background: c.zeros([1, 21]) }),
    (err: Error) =>
      err instanceof ArgumentError && /21 features .* at most 20: use method 'kernelShap'/.test(err.message),
  );
});

test("KernelSHAP's coalitions: shap's size classes, the Shapley kernel's weights, complements in pairs", () => {
  const m = 10;
  const kernel = (s: number): number => (m - 1) / (s * (m - s));
  const choose = (n: number, k: number): number => (k === 0 ? 1 : (choose(n - 1, k - 1) * n) / k);
  const sizeOf = (p: KernelCoalitions, r: number): number =>
    p.masks.subarray(r * m, (r + 1) * m).reduce((a, b) => a + b, 0);
  // Every coalition but the empty and the full one: weight kernel(s) / C(m, s), normalised to sum 1.
  const all = kernelCoalitions(m, 5000, new c.RandomStream(1));
  assert.equal(all.count, 1022);
  assert.ok(all.exhaustive);
  let total = 0;
  for (let s = 1; s < m; s++) total += kernel(s);
  for (let r = 0; r < all.count; r++) {
    const s = sizeOf(all, r);
    assert.ok(Math.abs(all.weights[r] - kernel(s) / choose(m, s) / total) < 1e-12, `weight of size ${s}`);
  }
  // 1000: sizes 1 to 4 and 6 to 9 fit the budget whole (770 coalitions); 230 of size 5 are drawn, and they
  // share size 5's kernel weight in proportion to how often each was drawn.
  const plan = kernelCoalitions(m, 1000, new c.RandomStream(1));
  assert.equal(plan.count, 1000);
  assert.ok(!plan.exhaustive);
  const counts = new Array<number>(m + 1).fill(0);
  let sampled = 0;
  for (let r = 0; r < plan.count; r++) {
    counts[sizeOf(plan, r)]++;
    if (r >= 770) sampled += plan.weights[r];
  }
  assert.deepEqual(counts, [0, 10, 45, 120, 210, 230, 210, 120, 45, 10, 0]);
  assert.ok(Math.abs(sampled - kernel(5) / total) < 1e-12);
  assert.ok(Math.abs(plan.weights.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  // 200: only size 1 and 9 whole (20); drawn coalitions of paired sizes come with their complement next.
  const small = kernelCoalitions(m, 200, new c.RandomStream(2));
  assert.equal(small.count, 200);
  for (let r = 20; r < small.count - 1; r++) {
    const s = sizeOf(small, r);
    if (s >= 5) continue;
    for (let f = 0; f < m; f++) assert.equal(small.masks[(r + 1) * m + f], 1 - small.masks[r * m + f]);
    r++;
  }
});
