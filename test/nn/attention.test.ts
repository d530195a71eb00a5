// MultiHeadAttention and the Transformer blocks: masks, causality, the key/value cache, structure.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  Model,
  ShapeError,
  Tensor,
  add,
  concat,
  input,
  sliceAxis,
  sum,
  tensor,
  tidy,
} from '../../src/index.js';
import {
  Dense,
  LayerNormalization,
  MultiHeadAttention,
  TransformerDecoder,
  TransformerEncoder,
  type AttentionCache,
} from '../../src/nn/layers/index.js';
import { layerFromConfig, type Layer } from '../../src/nn/layer.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

// MultiHeadAttention and the Transformer blocks: the harness, Keras weight shapes, attention scores (rows
// sum to 1, masked positions get 0), causal masking (outputs at t do not depend on inputs after t), the
// key/value cache (cached decoding equals the full causal pass), dropout, the blocks' structure (post- and
// pre-norm residuals, cross-attention), and errors.

const TIGHT = { rtol: 1e-10, atol: 1e-12 };
const mha = (args: Partial<ConstructorParameters<typeof MultiHeadAttention>[0]> = {}) =>
  new MultiHeadAttention({ numHeads: 2, keyDim: 2, dtype: 'float64', ...args });

describe('attention layers through the harness', () => {
  test('MultiHeadAttention, [query, value]', () =>
    runLayerTest({
      make: () => new MultiHeadAttention({ numHeads: 2, keyDim: 2, biasInitializer: 'randomNormal' }),
      inputShapes: [
        [2, 3, 4],
        [2, 2, 4],
      ],
      expectedOutputShape: [2, 3, 4],
      expectedWeights: { trainable: 8, nonTrainable: 0 },
    }));
  test('MultiHeadAttention, [query, value, key], valueDim, outputShape, no bias', () =>
    runLayerTest({
      make: () => new MultiHeadAttention({ numHeads: 2, keyDim: 2, valueDim: 3, outputShape: 5, useBias: false }),
      inputShapes: [
        [2, 2, 3],
        [2, 3, 2],
        [2, 3, 4],
      ],
      expectedOutputShape: [2, 2, 5],
      expectedWeights: { trainable: 4, nonTrainable: 0 },
    }));
  test('TransformerEncoder, post-norm', () =>
    runLayerTest({
      make: () => new TransformerEncoder({ numHeads: 2, intermediateDim: 3 }),
      inputShape: [2, 2, 4],
      expectedOutputShape: [2, 2, 4],
      expectedWeights: { trainable: 16, nonTrainable: 0 },
    }));
  test('TransformerEncoder, pre-norm, gelu', () =>
    runLayerTest({
      make: () =>
        new TransformerEncoder({
          numHeads: 1,
          intermediateDim: 3,
          normalizeFirst: true,
          activation: 'gelu',
          dropout: 0.1,
        }),
      inputShape: [2, 2, 3],
      expectedOutputShape: [2, 2, 3],
    }));
  test('TransformerDecoder, decoder only', () =>
    runLayerTest({
      make: () => new TransformerDecoder({ numHeads: 2, intermediateDim: 3 }),
      inputShape: [2, 2, 4],
      expectedOutputShape: [2, 2, 4],
      expectedWeights: { trainable: 16, nonTrainable: 0 },
    }));
  test('TransformerDecoder with cross-attention, pre-norm', () =>
    runLayerTest({
      make: () => new TransformerDecoder({ numHeads: 2, intermediateDim: 2, normalizeFirst: true }),
      inputShapes: [
        [2, 2, 4],
        [2, 3, 4],
      ],
      expectedOutputShape: [2, 2, 4],
      expectedWeights: { trainable: 26, nonTrainable: 0 },
    }));
});

describe('MultiHeadAttention', () => {
  test('weights have Keras EinsumDense shapes and names', () =>
    tidy(() => {
      const layer = new MultiHeadAttention({ numHeads: 3, keyDim: 2, valueDim: 4, outputShape: 7 });
      layer.apply([rand([1, 2, 5], 1, { dtype: 'float32' }), rand([1, 4, 6], 2, { dtype: 'float32' })]);
      assert.deepEqual(
        layer.weights.map((w) => [w.name.slice(layer.name.length + 1), [...w.shape]]),
        [
          ['query/kernel', [5, 3, 2]],
          ['query/bias', [3, 2]],
          ['key/kernel', [6, 3, 2]],
          ['key/bias', [3, 2]],
          ['value/kernel', [6, 3, 4]],
          ['value/bias', [3, 4]],
          ['attention_output/kernel', [3, 4, 7]],
          ['attention_output/bias', [7]],
        ],
      );
    }));

  test('scores: rows sum to 1, masked positions get exactly 0, a fully masked row is all zeros', () =>
    tidy(() => {
      const layer = mha();
      const q = rand([2, 3, 4], 3),
        v = rand([2, 4, 4], 4);
      const mask = tensor(
        [
          [
            [1, 1, 0, 1],
            [1, 0, 0, 0],
            [1, 1, 1, 1],
          ],
          [
            [0, 0, 0, 0],
            [0, 1, 1, 0],
            [1, 1, 1, 0],
          ],
        ],
        [2, 3, 4],
        'bool',
      );
      const [, scores] = layer.attend(q, v, { attentionMask: mask, returnAttentionScores: true });
      assert.deepEqual([...scores.shape], [2, 2, 3, 4]);
      const m = flat(mask),
        s = flat(scores),
        rowSums = flat(sum(scores, -1));
      s.forEach((p, i) => {
        const allowed = m[Math.floor(i / 24) * 12 + (i % 12)];
        if (!allowed) assert.equal(p, 0, `masked score ${i}`);
        else assert.ok(p > 0);
      });
      rowSums.forEach((r, i) => {
        const row = i % 3,
          b = Math.floor(i / 6);
        const empty = b === 1 && row === 0;
        assertClose([r], [empty ? 0 : 1], TIGHT, `row ${i}`);
      });
    }));

  test('useCausalMask: the output at t does not depend on inputs after t', () =>
    tidy(() => {
      const layer = mha();
      const x = rand([1, 4, 4], 5);
      const [y, scores] = layer.attend(x, x, { useCausalMask: true, returnAttentionScores: true });
      for (let t = 0; t < 3; t++) {
        const changed = concat([sliceAxis(x, 1, 0, t + 1), rand([1, 3 - t, 4], 10 + t)], 1);
        const y2 = layer.attend(changed, changed, { useCausalMask: true });
        assertClose(sliceAxis(y2, 1, 0, t + 1), sliceAxis(y, 1, 0, t + 1), TIGHT, `t ${t}`);
        assert.notDeepEqual(flat(sliceAxis(y2, 1, t + 1)), flat(sliceAxis(y, 1, t + 1)));
      }
      // Upper triangle of every head's scores is zero.
      const s = flat(scores);
      for (let h = 0; h < 2; h++)
        for (let i = 0; i < 4; i++) for (let j = i + 1; j < 4; j++) assert.equal(s[h * 16 + i * 4 + j], 0);
    }));

  test('apply({ useCausalMask }) in a functional graph is recorded, replayed and saved (it was dropped)', () =>
    tidy(() => {
      const layer = mha();
      const x = rand([2, 4, 4], 6);
      const causal = layer.attend(x, x, { useCausalMask: true });
      assertClose(layer.apply([x, x], { useCausalMask: true }), causal, TIGHT);
      const seq = input({ shape: [4, 4], dtype: 'float64' });
      const model = new Model({ inputs: seq, outputs: layer.apply([seq, seq], { useCausalMask: true }) });
      const reloaded = layerFromConfig({ className: 'Functional', config: model.getConfig() }) as Model;
      reloaded.setWeights(model.getWeights());
      for (const m of [model, reloaded]) assertClose(m.predict(x) as Tensor, causal, TIGHT);
      // A call option MultiHeadAttention does not take (or misspelt) is an error, not ignored.
      assert.throws(
        () => layer.apply([seq, seq], { useCasualMask: true } as never),
        (e: Error) =>
          e instanceof ArgumentError && /unknown option 'useCasualMask'; did you mean 'useCausalMask'/.test(e.message),
      );
      assert.throws(() => layer.apply([x, x], { returnAttentionScores: true } as never), /unknown option/);
    }));

  test('attendCached step by step equals the full causal pass; the cache grows by one position a step', () =>
    tidy(() => {
      const layer = mha();
      const x = rand([2, 4, 4], 6);
      const full = layer.attend(x, x, { useCausalMask: true });
      let cache: AttentionCache | null = null;
      const steps: Tensor[] = [];
      for (let t = 0; t < 4; t++) {
        const xt = sliceAxis(x, 1, t, t + 1);
        const r: { output: Tensor; cache: AttentionCache } = layer.attendCached(xt, xt, cache, { useCausalMask: true });
        cache = r.cache;
        assert.deepEqual([...cache.key.shape], [2, t + 1, 2, 2]);
        steps.push(r.output);
      }
      assertClose(concat(steps, 1), full, TIGHT);
      // Two new positions at once against a cache of two.
      const first = layer.attendCached(sliceAxis(x, 1, 0, 2), sliceAxis(x, 1, 0, 2), null, { useCausalMask: true });
      const rest = layer.attendCached(sliceAxis(x, 1, 2), sliceAxis(x, 1, 2), first.cache, { useCausalMask: true });
      assertClose(concat([first.output, rest.output], 1), full, TIGHT);
    }));

  test('attention dropout: only in training, reproducible from the call seed', () =>
    tidy(() => {
      const layer = mha({ dropout: 0.5 });
      const q = rand([2, 3, 4], 7);
      const a = flat(layer.attend(q, q, { training: true, seed: 1 }));
      assert.deepEqual(flat(layer.attend(q, q, { training: true, seed: 1 })), a);
      assert.notDeepEqual(flat(layer.attend(q, q, { training: true, seed: 2 })), a);
      assert.notDeepEqual(flat(layer.attend(q, q)), a);
      assert.deepEqual(flat(layer.attend(q, q)), flat(layer.apply([q, q]) as Tensor));
    }));

  test('errors name the layer and the shapes', () =>
    tidy(() => {
      const layer = new MultiHeadAttention({ numHeads: 2, keyDim: 2, name: 'att' });
      const q = rand([1, 3, 4], 1, { dtype: 'float32' });
      assert.throws(
        () => layer.apply(q),
        (e: Error) =>
          e instanceof ArgumentError &&
          e.message ===
            "MultiHeadAttention 'att' must be called on [query, value] or [query, value, key], got one input (1, 3, 4)",
      );
      assert.throws(
        () => layer.apply([q, rand([1, 2, 4], 2), rand([1, 3, 4], 3)]),
        (e: Error) =>
          e instanceof ShapeError &&
          /key and value must have the same length, got key \(1, 3, 4\) and value \(1, 2, 4\)/.test(e.message),
      );
      layer.apply([q, q]);
      assert.throws(
        () => layer.apply([rand([1, 3, 5], 1), q]),
        (e: Error) =>
          e instanceof ShapeError && /was built for query features 4, got query \(1, 3, 5\)/.test(e.message),
      );
      assert.throws(
        () => layer.attend(q, q, { attentionMask: tensor([[true, false]]) }),
        (e: Error) => e instanceof ShapeError && /attentionMask must have shape \[1, 3, 3\]/.test(e.message),
      );
      assert.throws(
        () => new MultiHeadAttention({ numHeads: 0, keyDim: 2 }),
        /numHeads must be a positive integer, got 0/,
      );
    }));
});

/** Copies the sublayer weights of a block into stand-alone layers, in the block's order. */
function adopt(block: Layer, parts: Layer[], x: Tensor[]): void {
  const values = block.getWeights();
  let i = 0;
  parts.forEach((p, k) => {
    if (!p.built) p.apply(x[k] ?? x[0]);
    const n = p.weights.length;
    p.setWeights(values.slice(i, i + n));
    i += n;
  });
}

describe('Transformer blocks', () => {
  for (const normalizeFirst of [false, true]) {
    const norm = normalizeFirst ? 'pre' : 'post';
    test(`TransformerEncoder (${norm}-norm) is the KerasNLP composition of its sublayers`, () =>
      tidy(() => {
        const block = new TransformerEncoder({
          numHeads: 2,
          intermediateDim: 5,
          normalizeFirst,
          dtype: 'float64',
          layerNormEpsilon: 1e-5,
        });
        const x = rand([2, 3, 4], 8);
        const y = block.apply(x) as Tensor;
        const att = mha(),
          ln1 = new LayerNormalization({ epsilon: 1e-5, dtype: 'float64' }),
          ln2 = new LayerNormalization({ epsilon: 1e-5, dtype: 'float64' });
        const d1 = new Dense({ units: 5, activation: 'relu', dtype: 'float64' }),
          d2 = new Dense({ units: 4, dtype: 'float64' });
        att.apply([x, x]);
        adopt(block, [att, ln1, ln2, d1, d2], [x, x, x, x, rand([2, 3, 5], 1)]);
        const ln = (l: LayerNormalization, t: Tensor) => l.apply(t) as Tensor;
        const ff = (t: Tensor) => d2.apply(d1.apply(t) as Tensor) as Tensor;
        let h: Tensor, ref: Tensor;
        if (normalizeFirst) {
          const n1 = ln(ln1, x);
          h = add(x, att.attend(n1, n1));
          ref = add(h, ff(ln(ln2, h)));
        } else {
          h = ln(ln1, add(x, att.attend(x, x)));
          ref = ln(ln2, add(h, ff(h)));
        }
        assertClose(y, ref, TIGHT);
      }));
  }

  test('TransformerDecoder is causal, and decode() with a cache equals the full pass', () =>
    tidy(() => {
      const block = new TransformerDecoder({ numHeads: 2, intermediateDim: 6, normalizeFirst: true, dtype: 'float64' });
      const x = rand([1, 4, 4], 9);
      const y = block.apply(x) as Tensor;
      const changed = concat([sliceAxis(x, 1, 0, 2), rand([1, 2, 4], 20)], 1);
      assertClose(sliceAxis(block.apply(changed) as Tensor, 1, 0, 2), sliceAxis(y, 1, 0, 2), TIGHT);
      let cache: AttentionCache | null = null;
      const outs: Tensor[] = [];
      for (let t = 0; t < 4; t++) {
        const r: { output: Tensor; cache: AttentionCache } = block.decode(sliceAxis(x, 1, t, t + 1), {}, cache);
        cache = r.cache;
        outs.push(r.output);
      }
      assertClose(concat(outs, 1), y, TIGHT);
    }));

  test('TransformerDecoder cross-attends to the encoder outputs, ignoring padded encoder positions', () =>
    tidy(() => {
      const block = new TransformerDecoder({ numHeads: 2, intermediateDim: 6, dtype: 'float64' });
      const x = rand([1, 2, 4], 10),
        enc = rand([1, 3, 4], 11);
      const y = block.apply([x, enc]) as Tensor;
      assert.notDeepEqual(flat(block.apply([x, rand([1, 3, 4], 12)]) as Tensor), flat(y));
      const encMask = tensor([[true, true, false]]);
      const masked = block.decode(x, { encoderOutputs: enc, encoderPaddingMask: encMask });
      const other = block.decode(x, {
        encoderOutputs: concat([sliceAxis(enc, 1, 0, 2), rand([1, 1, 4], 13)], 1),
        encoderPaddingMask: encMask,
      });
      assertClose(other, masked, TIGHT);
      assertClose(block.apply([x, enc], { mask: [null, encMask] }) as Tensor, masked, TIGHT);
      assert.throws(
        () => block.apply(x),
        (e: Error) =>
          e instanceof ArgumentError &&
          /was built with cross-attention, so it must be called on \[decoderSequence, encoderOutputs\]/.test(e.message),
      );
    }));

  test('sublayer names follow the block name (weights save and load by name)', () => {
    const block = new TransformerDecoder({ numHeads: 1, intermediateDim: 2, name: 'dec' });
    block.apply([rand([1, 2, 2], 1, { dtype: 'float32' }), rand([1, 2, 2], 2, { dtype: 'float32' })]);
    const prefixes = [...new Set(block.weights.map((w) => w.name.split('/').slice(0, 2).join('/')))];
    assert.deepEqual(prefixes, [
      'dec/self_attention',
      'dec/self_attention_layer_norm',
      'dec/cross_attention',
      'dec/cross_attention_layer_norm',
      'dec/feedforward_layer_norm',
      'dec/feedforward_intermediate_dense',
      'dec/feedforward_output_dense',
    ]);
    block.dispose();
  });

  test('errors: numHeads larger than the features, wrong feature size', () =>
    tidy(() => {
      assert.throws(
        () => new TransformerEncoder({ numHeads: 5, intermediateDim: 2, name: 'enc5' }).apply(rand([1, 2, 4], 1)),
        (e: Error) =>
          e instanceof ArgumentError &&
          e.message === "TransformerEncoder 'enc5': numHeads 5 exceeds the 4 features of the input",
      );
      const enc = new TransformerEncoder({ numHeads: 1, intermediateDim: 2, name: 'enc1' });
      enc.apply(rand([1, 2, 4], 1));
      assert.throws(
        () => enc.apply(rand([1, 2, 3], 1)),
        (e: Error) =>
          e instanceof ShapeError &&
          e.message ===
            "TransformerEncoder 'enc1' expects input (None, time, 4), got (1, 2, 3): the last dimension must be 4",
      );
    }));
});
