// Attention maps and rollout: the probabilities equal softmax(q k^T / sqrt(d)) worked out from a layer's weights,
// rows sum to 1, a GPT's maps are causal, capture leaves outputs and the ordinary path alone, and rollout equals
// a hand-written product of head-fused, residual-renormalised matrices.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { MultiHeadAttention, withAttentionScoresHook } from '../../src/nn/layers/attention.js';
import { onKernel } from '../../src/ops/dispatch.js';
import { GPT } from '../../src/models/gpt.js';
import { assertClose, flat, rand } from '../helpers.js';

const { attentionMaps, attentionRollout } = c.explainability;

/** Row sums of probabilities [..., S]. */
function rowSums(t: c.Tensor): number[] {
  const d = flat(t);
  const s = t.shape[t.rank - 1];
  return Array.from({ length: d.length / s }, (_, r) => d.slice(r * s, (r + 1) * s).reduce((a, b) => a + b, 0));
}

test('the maps of a MultiHeadAttention layer equal softmax(q k^T / sqrt(keyDim)) from its weights', () => {
  const [B, T, S, F, Hd, D] = [2, 3, 5, 4, 2, 3];
  const layer = new MultiHeadAttention({ numHeads: Hd, keyDim: D, dtype: 'float64' });
  const query = rand([B, T, F], 1);
  const value = rand([B, S, F], 2);
  layer.apply([query, value]);
  const w = [rand([F, Hd, D], 3), rand([Hd, D], 4), rand([F, Hd, D], 5), rand([Hd, D], 6)];
  layer.queryKernel!.assign(w[0]);
  layer.queryBias!.assign(w[1]);
  layer.keyKernel!.assign(w[2]);
  layer.keyBias!.assign(w[3]);
  const [x, v, wq, bq, wk, bk] = [query, value, ...w].map(flat);
  // project(x)[b, t, h, d] = sum_f x[b, t, f] W[f, h, d] + bias[h, d]; the key is the value.
  const project = (src: number[], len: number, kernel: number[], bias: number[], b: number, t: number, h: number) =>
    Array.from({ length: D }, (_, d) =>
      Array.from({ length: F }, (_, f) => src[(b * len + t) * F + f] * kernel[(f * Hd + h) * D + d]).reduce(
        (s, u) => s + u,
        bias[h * D + d],
      ),
    );
  const want: number[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hd; h++)
      for (let t = 0; t < T; t++) {
        const q = project(x, T, wq, bq, b, t, h);
        const logits = Array.from({ length: S }, (_, s) => {
          const k = project(v, S, wk, bk, b, s, h);
          return q.reduce((acc, qd, d) => acc + qd * k[d], 0) / Math.sqrt(D);
        });
        const e = logits.map((l) => Math.exp(l - Math.max(...logits)));
        want.push(...e.map((u) => u / e.reduce((s, y) => s + y, 0)));
      }
  const maps = attentionMaps(layer, [query, value]);
  assert.equal(maps.length, 1);
  assert.equal(maps[0].layer, layer.name);
  assert.deepEqual(maps[0].scores.shape, [B, Hd, T, S]);
  assertClose(maps[0].scores, want, { atol: 1e-12, rtol: 1e-10 });
  assertClose(rowSums(maps[0].scores), new Array(B * Hd * T).fill(1), { atol: 1e-12 });
  // One sample per forward pass gives the same maps.
  assertClose(attentionMaps(layer, [query, value], { batchSize: 1 })[0].scores, want, { atol: 1e-12, rtol: 1e-10 });
});

/** A small float32 GPT (float32: the fused attention kernel runs on the native backend). */
function smallGpt(): GPT {
  c.setSeed(3);
  return new GPT({ vocabSize: 11, contextLength: 8, hiddenDim: 8, numHeads: 2, numLayers: 2, seed: 7 });
}
const ids = c.tensor(Int32Array.from([1, 4, 2, 7, 3, 9, 5, 5, 2, 10, 6, 1]), [2, 6], 'int32');

test("a GPT's maps: one per block, causal (lower-triangular), rows summing to 1; rollout stays causal", () => {
  const model = smallGpt();
  const maps = attentionMaps(model, ids);
  assert.deepEqual(
    maps.map((m) => m.layer),
    [0, 1].map((i) => `${model.name}/transformer_layer_${i}/self_attention`),
  );
  for (const { scores } of maps) {
    assert.deepEqual(scores.shape, [2, 2, 6, 6]);
    const d = flat(scores);
    d.forEach((p, i) => {
      if (i % 6 > Math.floor(i / 6) % 6) assert.equal(p, 0, `future key ${i % 6} of query ${Math.floor(i / 6) % 6}`);
    });
    assertClose(rowSums(scores), new Array(24).fill(1), { atol: 1e-5 });
  }
  const only = attentionMaps(model, ids, { layer: `${model.name}/transformer_layer_1` });
  assert.deepEqual(
    only.map((m) => m.layer),
    [maps[1].layer],
  );
  assertClose(only[0].scores, maps[1].scores, { atol: 0 });

  const { rollout, relevance, query } = attentionRollout(maps);
  assert.equal(query, 5);
  assert.deepEqual(rollout.shape, [2, 6, 6]);
  flat(rollout).forEach((p, i) => (i % 6 > Math.floor(i / 6) % 6 ? assert.equal(p, 0) : assert.ok(p >= 0)));
  assertClose(rowSums(relevance), [1, 1], { atol: 1e-5 });
  // The first token sees only itself, whatever the weights.
  assertClose(attentionRollout(maps, { query: 0 }).relevance, [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], { atol: 1e-6 });
});

test('capturing attention changes no output bit, and without a capture the forward pass runs the same kernels', () => {
  const model = smallGpt();
  const encoder = c.layers.transformerEncoder({ intermediateDim: 8, numHeads: 2 });
  const x = rand([2, 5, 4], 9, { dtype: 'float32' });
  for (const [layer, input] of [
    [model, ids],
    [encoder, x],
  ] as const) {
    const plain = flat(layer.apply(input) as c.Tensor);
    const seen: c.Tensor[] = [];
    const captured = flat(
      withAttentionScoresHook(
        (_, s) => seen.push(s),
        () => layer.apply(input),
      ) as c.Tensor,
    );
    assert.ok(seen.length > 0);
    assert.deepEqual(captured, plain, `${layer.name}: outputs under capture`);
    const kernels = (fn: () => unknown) => {
      const ops: string[] = [];
      const off = onKernel((e) => ops.push(e.op));
      try {
        fn();
      } finally {
        off();
      }
      return ops;
    };
    const before = kernels(() => layer.apply(input));
    const during = kernels(() => attentionMaps(layer, input));
    const after = kernels(() => layer.apply(input));
    assert.deepEqual(after, before, 'the ordinary path is unchanged by an earlier capture');
    assert.ok(during.length > before.length, 'the probabilities are computed only while captured');
    // Where the backend fuses attention, the ordinary path computes no probabilities at all.
    if (before.includes('attention')) assert.ok(!before.includes('softmax'));
  }
});

test('attentionMaps names the layers it knows on bad input', () => {
  const model = smallGpt();
  assert.throws(
    () => attentionMaps(model, ids, { layer: 'nope' }),
    (e: Error) =>
      e instanceof ArgumentError && /no layer named 'nope'/.test(e.message) && /self_attention/.test(e.message),
  );
  assert.throws(() => attentionMaps(model, ids, { layer: `${model.name}/layer_norm` }), /holds no attention/);
  const dense = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  assert.throws(() => attentionMaps(dense, c.ones([1, 3])), /has no MultiHeadAttention layers/);
  assert.throws(() => attentionMaps(model, ids, { batchSize: 0 }), /batchSize/);
});

/** Random probabilities [N, heads, T, S] as nested arrays and a tensor. */
function randomMaps(shape: [number, number, number, number], seed: number): { t: c.Tensor; a: number[][][][] } {
  const t = c.softmax(rand(shape, seed), -1);
  const d = flat(t);
  const [n, h, q, s] = shape;
  const a = Array.from({ length: n }, (_, i) =>
    Array.from({ length: h }, (_, j) =>
      Array.from({ length: q }, (_, r) => d.slice(((i * h + j) * q + r) * s, ((i * h + j) * q + r + 1) * s)),
    ),
  );
  return { t, a };
}

type Matrix = number[][];
const matmul = (a: Matrix, b: Matrix): Matrix =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));

/** Abnar & Zuidema written out: fuse heads, + I, renormalise rows, A_L ... A_1. */
function rolloutReference(layers: number[][][][][], n: number, fusion: 'mean' | 'max' | 'min', residual: boolean) {
  let out: Matrix | undefined;
  for (const maps of layers) {
    const heads = maps[n];
    let a: Matrix = heads[0].map((row, r) =>
      row.map((_, s) => {
        const vals = heads.map((h) => h[r][s]);
        return fusion === 'mean' ? vals.reduce((x, y) => x + y, 0) / vals.length : Math[fusion](...vals);
      }),
    );
    if (residual) a = a.map((row, r) => row.map((v, s) => v + (r === s ? 1 : 0)));
    a = a.map((row) => row.map((v) => v / row.reduce((x, y) => x + y, 0)));
    out = out ? matmul(a, out) : a;
  }
  return out!;
}

test('rollout equals the hand-written product for every head fusion, with and without the residual', () => {
  const layers = [randomMaps([2, 3, 4, 4], 11), randomMaps([2, 3, 4, 4], 12), randomMaps([2, 3, 4, 4], 13)];
  for (const headFusion of ['mean', 'max', 'min'] as const)
    for (const residual of [true, false]) {
      const r = attentionRollout(
        layers.map((l, i) => ({ layer: `l${i}`, scores: l.t })),
        { headFusion, residual },
      );
      const want = [0, 1].map((n) =>
        rolloutReference(
          layers.map((l) => l.a),
          n,
          headFusion,
          residual,
        ),
      );
      assertClose(r.rollout, want.flat(2), { atol: 1e-12, rtol: 1e-10 }, `${headFusion} ${residual}`);
      assertClose(
        r.relevance,
        want.flatMap((m) => m[3]),
        { atol: 1e-12, rtol: 1e-10 },
      );
      const mean = attentionRollout(
        layers.map((l) => l.t),
        { headFusion, residual, query: 'mean' },
      ).relevance;
      assertClose(
        mean,
        want.flatMap((m) => m[0].map((_, s) => m.reduce((acc, row) => acc + row[s], 0) / 4)),
        {
          atol: 1e-12,
        },
      );
    }
  // One layer without the residual is the head-mean map.
  const one = attentionRollout([layers[0].t], { residual: false });
  assertClose(one.rollout, c.mean(layers[0].t, 1), { atol: 1e-15 });
});

test('attentionRollout checks that the maps chain and that the residual fits', () => {
  const self = randomMaps([1, 2, 3, 3], 1).t;
  const cross = randomMaps([1, 2, 3, 5], 2).t;
  assert.throws(
    () => attentionRollout([cross]),
    (e: Error) => e instanceof ShapeError && /not self-attention/.test(e.message),
  );
  assert.deepEqual(attentionRollout([cross, self], { residual: false }).rollout.shape, [1, 3, 5]);
  assert.throws(() => attentionRollout([self, cross], { residual: false }), /attends over 5 positions/);
  assert.throws(() => attentionRollout([]), ArgumentError);
  assert.throws(() => attentionRollout([self], { query: 3 }), /query must be/);
  assert.throws(() => attentionRollout([self], { headFusion: 'median' as never }), /headFusion/);
  assert.throws(() => attentionRollout([c.ones([3, 3])]), /probabilities \[samples, heads, T, S\]/);
});

test('attention maps and rollout leave no tensor behind but their results', () => {
  const model = smallGpt();
  c.dispose(attentionMaps(model, ids).map((m) => m.scores));
  const live = c.memory().tensors;
  for (const batchSize of [1, 2]) {
    const maps = attentionMaps(model, ids, { batchSize });
    const r = attentionRollout(maps, { headFusion: 'max' });
    c.dispose([r.rollout, r.relevance, ...maps.map((m) => m.scores)]);
    assert.equal(c.memory().tensors, live, `batchSize ${batchSize}`);
  }
  assert.throws(() => attentionMaps(model, ids, { layer: 'nope' }));
  assert.equal(c.memory().tensors, live, 'after an error');
});
