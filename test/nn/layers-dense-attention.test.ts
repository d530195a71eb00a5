// Tests Attention (Luong: 'dot' and 'concat' scores) and AdditiveAttention (Bahdanau): the harness, a slow
// per-query reference with value/query padding masks and causal masking, attention scores, masks carried
// from an Embedding through a functional call, and errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, Model, ShapeError, Tensor, input, tensor, tidy } from '../../src/index.js';
import { SymbolicTensor, layerFromConfig } from '../../src/nn/layer.js';
import { AdditiveAttention, Attention, layers } from '../../src/nn/layers/index.js';
import { getMask, setMask } from '../../src/nn/masking.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-10, atol: 1e-12 };

describe('dense attention layers through the harness', () => {
  const qv = {
    inputShapes: [
      [2, 3, 4],
      [2, 5, 4],
    ],
    expectedOutputShape: [2, 3, 4],
  };
  const qvk = {
    inputShapes: [
      [2, 3, 4],
      [2, 5, 6],
      [2, 5, 4],
    ],
    expectedOutputShape: [2, 3, 6],
  };
  test('Attention, dot scores with a learned scale', () =>
    runLayerTest({
      make: () => new Attention({ useScale: true }),
      ...qv,
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('Attention, concat scores, [query, value, key]', () =>
    runLayerTest({
      make: () => new Attention({ scoreMode: 'concat', useScale: true }),
      ...qvk,
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('AdditiveAttention, [query, value, key]', () =>
    runLayerTest({ make: () => new AdditiveAttention(), ...qvk, expectedWeights: { trainable: 1, nonTrainable: 0 } }));
  test('AdditiveAttention without a scale', () =>
    runLayerTest({
      make: () => new AdditiveAttention({ useScale: false }),
      ...qv,
      expectedWeights: { trainable: 0, nonTrainable: 0 },
    }));
});

interface Ref {
  q: number[];
  v: number[];
  k: number[];
  b: number;
  tq: number;
  tv: number;
  d: number;
  dv: number;
  valueMask?: number[];
  queryMask?: number[];
  causal?: boolean;
}

/** Keras' BaseDenseAttention, one query at a time: returns [output, weights] flat. */
function reference(r: Ref, score: (qi: number[], kj: number[]) => number): [number[], number[]] {
  const out: number[] = [],
    weights: number[] = [];
  for (let b = 0; b < r.b; b++)
    for (let i = 0; i < r.tq; i++) {
      const qi = r.q.slice((b * r.tq + i) * r.d, (b * r.tq + i + 1) * r.d);
      const s = Array.from({ length: r.tv }, (_, j) => {
        const kj = r.k.slice((b * r.tv + j) * r.d, (b * r.tv + j + 1) * r.d);
        const masked = (r.valueMask && !r.valueMask[b * r.tv + j]) || (r.causal && j > i);
        return score(qi, kj) - (masked ? 1e9 : 0);
      });
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, c) => a + c, 0);
      const w = e.map((x) => x / z);
      weights.push(...w);
      const keep = r.queryMask ? r.queryMask[b * r.tq + i] : 1;
      for (let c = 0; c < r.dv; c++)
        out.push(keep * w.reduce((acc, wj, j) => acc + wj * r.v[(b * r.tv + j) * r.dv + c], 0));
    }
  return [out, weights];
}

const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i], 0);

describe('dense attention matches a slow reference', () => {
  const [B, TQ, TV, D, DV] = [2, 3, 4, 5, 2];
  const inputs = () => ({ q: rand([B, TQ, D], 1), v: rand([B, TV, DV], 2), k: rand([B, TV, D], 3) });
  const ref = (x: { q: Tensor; v: Tensor; k: Tensor }, more: Partial<Ref> = {}): Ref => ({
    q: flat(x.q),
    v: flat(x.v),
    k: flat(x.k),
    b: B,
    tq: TQ,
    tv: TV,
    d: D,
    dv: DV,
    ...more,
  });
  const valueMask = [1, 1, 0, 1, 1, 0, 0, 1];
  const queryMask = [1, 0, 1, 1, 1, 0];

  test('Attention dot with scale, masks and causality; weights returned', () =>
    tidy(() => {
      const x = inputs();
      const layer = new Attention({ useScale: true, dtype: 'float64' });
      layer.attend(x.q, x.v, { key: x.k });
      layer.setWeights([tensor([0.7], [], 'float64')]);
      for (const causal of [false, true]) {
        const [out, w] = layer.attend(x.q, x.v, {
          key: x.k,
          valueMask: tensor(valueMask, [B, TV], 'bool'),
          queryMask: tensor(queryMask, [B, TQ], 'bool'),
          useCausalMask: causal,
          returnAttentionScores: true,
        });
        const [eo, ew] = reference(ref(x, { valueMask, queryMask, causal }), (a, b) => 0.7 * dot(a, b));
        assertClose(out, eo, TIGHT, `output (causal ${causal})`);
        assertClose(w, ew, TIGHT, `weights (causal ${causal})`);
        assert.deepEqual(w.shape, [B, TQ, TV]);
      }
    }));

  test('Attention concat: w * sum(tanh(scale * (q + k)))', () =>
    tidy(() => {
      const x = inputs();
      const layer = new Attention({ scoreMode: 'concat', useScale: true, dtype: 'float64' });
      layer.attend(x.q, x.v, { key: x.k });
      layer.setWeights([tensor([0.5], [], 'float64'), tensor([1.3], [], 'float64')]);
      const [eo] = reference(ref(x), (a, b) => 1.3 * a.reduce((s, ai, i) => s + Math.tanh(0.5 * (ai + b[i])), 0));
      assertClose(layer.attend(x.q, x.v, { key: x.k }), eo, TIGHT);
    }));

  test('AdditiveAttention: sum(scale * tanh(q + k)), the key defaulting to the value', () =>
    tidy(() => {
      const q = rand([B, TQ, D], 4),
        v = rand([B, TV, D], 5);
      const layer = new AdditiveAttention({ dtype: 'float64' });
      layer.attend(q, v);
      const scale = [0.3, -0.2, 0.9, 0.1, 0.5];
      layer.setWeights([tensor(scale, [D], 'float64')]);
      const r = { ...ref({ q, v, k: v }), dv: D, valueMask };
      const [eo] = reference(r, (a, b) => a.reduce((s, ai, i) => s + scale[i] * Math.tanh(ai + b[i]), 0));
      assertClose(layer.attend(q, v, { valueMask: tensor(valueMask, [B, TV], 'bool') }), eo, TIGHT);
    }));

  test('the graph form reads padding masks from the inputs and keeps the query mask', () =>
    tidy(() => {
      const x = inputs();
      const layer = new Attention({ dtype: 'float64' });
      setMask(x.q, tensor(queryMask, [B, TQ], 'bool'));
      setMask(x.v, tensor(valueMask, [B, TV], 'bool'));
      const y = layer.apply([x.q, x.v, x.k]) as Tensor;
      const [eo] = reference(ref(x, { valueMask, queryMask }), dot);
      assertClose(y, eo, TIGHT);
      assert.deepEqual(flat(getMask(y)!), queryMask);
    }));

  test("apply() takes Keras' call options on tensors and in a functional graph, which saves and replays them", () =>
    tidy(() => {
      const x = inputs();
      const layer = new Attention({ dtype: 'float64' });
      setMask(x.v, tensor(valueMask, [B, TV], 'bool'));
      const [out, w] = layer.apply([x.q, x.v, x.k], {
        useCausalMask: true,
        returnAttentionScores: true,
      }) as unknown as Tensor[];
      const [eo, ew] = reference(ref(x, { valueMask, causal: true }), dot);
      assertClose(out, eo, TIGHT);
      assertClose(w, ew, TIGHT);
      assertClose(layer.apply([x.q, x.v, x.k], { useCausalMask: true }), eo, TIGHT);
      // The same call in a graph: recorded on the node, replayed by predict, kept through a config round trip.
      const [q, v, k] = [
        [TQ, D],
        [TV, DV],
        [TV, D],
      ].map((shape) => input({ shape, dtype: 'float64' }));
      const outs = new Attention({ dtype: 'float64' }).apply([q, v, k], {
        useCausalMask: true,
        returnAttentionScores: true,
      }) as unknown as SymbolicTensor[];
      assert.deepEqual(
        outs.map((o) => o.shape),
        [
          [null, TQ, DV],
          [null, TQ, TV],
        ],
      );
      const model = new Model({ inputs: [q, v, k], outputs: outs });
      const reloaded = layerFromConfig({ className: 'Functional', config: model.getConfig() }) as Model;
      for (const m of [model, reloaded]) {
        const [po, pw] = m.predict([x.q, x.v, x.k]) as Tensor[];
        assertClose(po, eo, TIGHT);
        assertClose(pw, ew, TIGHT);
      }
      assert.throws(
        () => layer.apply([q, v, k], { useCausalMask: 'yes' as never }),
        (e: Error) => e instanceof ArgumentError && /useCausalMask must be true or false/.test(e.message),
      );
    }));

  test('dropout on the weights only in training, seeded by the call', () =>
    tidy(() => {
      const x = inputs();
      const layer = new Attention({ dropout: 0.5, seed: 3, dtype: 'float64' });
      const plain = layer.attend(x.q, x.v, { key: x.k });
      const a = layer.attend(x.q, x.v, { key: x.k, training: true, seed: 7 });
      const b = layer.attend(x.q, x.v, { key: x.k, training: true, seed: 7 });
      assert.deepEqual(flat(a), flat(b));
      assert.notDeepEqual(flat(a), flat(plain));
      assertClose(layer.attend(x.q, x.v, { key: x.k, training: false }), plain, TIGHT);
    }));
});

describe('dense attention errors', () => {
  const s = (shape: number[]) => new SymbolicTensor([null, ...shape], 'float32', 'x');
  test('inputs other than [query, value(, key)] of rank 3, or mismatched sizes, are typed errors', () => {
    assert.throws(() => new Attention().apply(s([3, 4])), ArgumentError);
    assert.throws(() => new Attention().apply([s([3, 4])]), /Attention '.*' must be called on \[query, value\]/);
    assert.throws(() => new Attention().apply([s([3, 4]), s([4])]), ShapeError);
    assert.throws(
      () => new Attention().apply([s([3, 4]), s([5, 2]), s([6, 4])]),
      /key and value of one length.*key \(None, 6, 4\)/,
    );
    assert.throws(() => new AdditiveAttention().apply([s([3, 4]), s([5, 3])]), /query and key of one dim/);
    assert.throws(() => new Attention({ scoreMode: 'general' as never }), /scoreMode must be 'dot' or 'concat'/);
    assert.throws(() => new Attention({ dropout: 1 }), ArgumentError);
    assert.throws(
      () => new Attention().attend(rand([2, 3, 4], 1), rand([2, 5, 4], 2), { valueMask: tensor([1, 0], [2], 'bool') }),
      /Attention '.*': valueMask must have shape \[2, 5\], got \[2\]/,
    );
  });

  test('symbolic output shapes and the factory', () => {
    const out = layers.attention().apply([s([3, 4]), s([5, 6]), s([5, 4])]) as SymbolicTensor;
    assert.deepEqual(out.shape, [null, 3, 6]);
    assert.ok(layers.additiveAttention() instanceof AdditiveAttention);
  });
});
