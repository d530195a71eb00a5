// The grad samplers' norms without materialising (ghost clipping: the Gram trick for sequences, the
// product of norms for single rows, token-pair sums for embeddings) equal the norms of the materialised
// per-example gradients, which in turn equal a host computation of a_i^T g_i / the scatter of G by id.
import { test } from 'node:test';
import * as c from '../../src/index.js';
import { conv2d, embedding, linear } from '../../src/privacy/per-example/samplers.js';
import { assertClose, naiveMatmul } from '../helpers.js';
import { f32 } from './per-example-reference.js';

/** Squared norms of each example's materialised gradient [n, ...], on the host. */
function materialisedNorms2(per: c.Tensor): number[] {
  const n = per.shape[0],
    size = per.size / n,
    d = Array.from(per.dataSync());
  return Array.from({ length: n }, (_, i) => d.slice(i * size, (i + 1) * size).reduce((s, v) => s + v * v, 0));
}

for (const [t, d, u, way] of [
  [1, 4, 3, 'a product of row norms (T = 1)'],
  [2, 5, 4, 'the Gram trick (2 T^2 = 8 < d u = 20)'],
  [4, 2, 3, 'the materialised gradient (2 T^2 = 32 >= d u = 6)'],
] as const)
  test(`linear: norms by ${way} equal the materialised ones; g_i = A_i^T G_i`, () => {
    const n = 3;
    const a = f32([n, t, d], 40 + t),
      g = f32([n, t, u], 50 + t);
    const w = linear(a, g, [d, u]);
    const per = w.perExample();
    const ad = a.dataSync(),
      gd = g.dataSync();
    for (let i = 0; i < n; i++) {
      // A_i^T as a [d, T] matrix, on the host.
      const at = new Float64Array(d * t);
      for (let r = 0; r < t; r++) for (let k = 0; k < d; k++) at[k * t + r] = ad[(i * t + r) * d + k];
      const expected = naiveMatmul(at, gd.slice(i * t * u, (i + 1) * t * u), d, t, u);
      assertClose(per.dataSync().slice(i * d * u, (i + 1) * d * u), expected, { rtol: 1e-5, atol: 1e-5 });
    }
    assertClose(w.norms2(), materialisedNorms2(per), { rtol: 1e-5, atol: 1e-5 });
    c.dispose([a, g, per]);
  });

test('embedding: token-pair norms with repeated ids equal the materialised ones; g_i scatters G by id', () => {
  const n = 2,
    t = 5,
    v = 6,
    dim = 3;
  const idList = [2, 2, 5, 0, 2, 1, 4, 4, 1, 3];
  const ids = c.tensor(idList, [n, t], 'int32');
  const g = f32([n, t, dim], 60);
  const w = embedding(ids, g, [v, dim]);
  const per = w.perExample();
  const expected = new Float64Array(n * v * dim);
  const gd = g.dataSync();
  idList.forEach((id, j) => {
    const i = Math.floor(j / t);
    for (let k = 0; k < dim; k++) expected[(i * v + id) * dim + k] += gd[j * dim + k];
  });
  assertClose(per, expected, { rtol: 1e-5, atol: 1e-6 });
  assertClose(w.norms2(), materialisedNorms2(per), { rtol: 1e-5, atol: 1e-5 });
  c.dispose([ids, g, per]);
});

test('conv2d: norms by the Gram trick, from kept per-example gradients, or reduced one by one, all agree', () => {
  const window = {
    strides: [2, 1] as const,
    dilations: [1, 2] as const,
    pads: [
      [1, 0],
      [2, 1],
    ] as const,
  };
  // 6 x 7 input, 3 x 2 kernel: 3 x 8 output positions (T = 24): 2 T^2 > d u = 3 * 2 * 2 * 5 = 60.
  const x = f32([3, 6, 7, 2], 70),
    g = f32([3, 3, 8, 5], 71);
  const filter = [3, 2, 2, 5];
  const kept = conv2d(x, g, filter, window, filter);
  const oneByOne = conv2d(x, g, filter, window, filter, 0);
  const per = kept.perExample();
  const c3 = c.tensor([0.5, 1, 0.25], [3], 'float32');
  assertClose(kept.norms2(), materialisedNorms2(per), { rtol: 1e-5, atol: 1e-5 });
  assertClose(oneByOne.norms2(), materialisedNorms2(per), { rtol: 1e-5, atol: 1e-5 });
  assertClose(kept.clipped(c3), oneByOne.clipped(c3), { rtol: 1e-5, atol: 1e-5 });
  // Few positions: 2 x 2 input, 2 x 2 kernel, one position (T = 1): the Gram trick on the unfolded input.
  const xs = f32([3, 2, 2, 4], 72),
    gs = f32([3, 1, 1, 5], 73);
  const small = [2, 2, 4, 5];
  const none = {
    strides: [1, 1] as const,
    dilations: [1, 1] as const,
    pads: [
      [0, 0],
      [0, 0],
    ] as const,
  };
  const ghost = conv2d(xs, gs, small, none, small);
  const perSmall = ghost.perExample();
  assertClose(ghost.norms2(), materialisedNorms2(perSmall), { rtol: 1e-5, atol: 1e-5 });
  c.dispose([x, g, per, c3, xs, gs, perSmall]);
});
