// Mask propagation the Keras way, plus LayerNormalization, position and 1D pooling values.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  Model,
  Sequential,
  Tensor,
  optimizers,
  add,
  concat,
  div,
  getMask,
  input,
  mean,
  setMask,
  sqrt,
  sub,
  tensor,
  tidy,
  variance,
  sliceAxis,
} from '../../src/index.js';
import { Layer, type CallContext, type LayerArgs } from '../../src/nn/layer.js';
import {
  Embedding,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  LSTM,
  LayerNormalization,
  MultiHeadAttention,
  PositionEmbedding,
  PositionalEncoding,
  TransformerEncoder,
  layers,
} from '../../src/nn/layers/index.js';
import { assertClose, flat, rand } from '../helpers.js';

// Mask propagation the Keras way: Embedding(maskZero) attaches a mask to its output, layers that support
// masking pass it on, and consumers (LSTM, pooling, attention, Transformer blocks) honour it, eagerly, in
// Sequential and functional models and in fit(). Also LayerNormalization, positions and 1D pooling values.

const TIGHT = { rtol: 1e-10, atol: 1e-12 };
const ids = (rows: number[][]) => tensor(rows, [rows.length, rows[0].length], 'int32');

/** A layer that does not declare supportsMasking: it must drop the mask, as Keras layers do. */
class Scale extends Layer {
  static override readonly className: string = 'MaskTestScale';
  constructor(args: LayerArgs = {}) {
    super(args);
  }
  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return (inputs as Tensor).mul(2);
  }
}

describe('Embedding(maskZero) and the mask machinery', () => {
  test('the output carries id != 0; maskZero false carries none', () =>
    tidy(() => {
      const x = ids([
        [3, 1, 0],
        [2, 0, 0],
      ]);
      const e = new Embedding({ inputDim: 4, outputDim: 2, maskZero: true }).apply(x) as Tensor;
      assert.deepEqual(getMask(e)!.toArray(), [
        [true, true, false],
        [true, false, false],
      ]);
      assert.equal(getMask(new Embedding({ inputDim: 4, outputDim: 2 }).apply(x) as Tensor), null);
    }));

  test('layers with supportsMasking pass the mask on; others drop it; apply({ mask }) overrides', () =>
    tidy(() => {
      const x = rand([1, 3, 2], 1, { dtype: 'float32' });
      const mask = tensor([[true, false, true]]);
      setMask(x, mask);
      const normed = new LayerNormalization().apply(x) as Tensor;
      assert.deepEqual(getMask(normed)!.toArray(), [[true, false, true]]);
      assert.equal(getMask(new Scale().apply(normed) as Tensor), null);
      // The LSTM sees the attached mask unless told otherwise.
      const lstm = new LSTM({ units: 2, returnSequences: true });
      const viaAttached = flat(lstm.apply(normed) as Tensor);
      assert.deepEqual(flat(lstm.apply(normed, { mask }) as Tensor), viaAttached);
      assert.notDeepEqual(flat(lstm.apply(normed, { mask: null }) as Tensor), viaAttached);
      // An LSTM returning only its last output ends the mask.
      assert.equal(getMask(new LSTM({ units: 2 }).apply(normed) as Tensor), null);
    }));

  test('the mask survives the tidy its tensor was made in', () => {
    const e = tidy(() => new Embedding({ inputDim: 4, outputDim: 2, maskZero: true }).apply(ids([[1, 0]])) as Tensor);
    assert.deepEqual(getMask(e)!.toArray(), [[true, false]]);
  });
});

describe('masks in models', () => {
  test("Sequential Embedding(maskZero) -> LSTM: padded rows give the unpadded rows' outputs", () =>
    tidy(() => {
      const model = new Sequential([
        layers.embedding({ inputDim: 9, outputDim: 3, maskZero: true }),
        layers.lstm({ units: 4 }),
        layers.dense({ units: 2 }),
      ]);
      const padded = model.apply(
        ids([
          [5, 2, 7, 0, 0],
          [0, 0, 3, 8, 1],
        ]),
      ) as Tensor;
      const a = model.apply(ids([[5, 2, 7]])) as Tensor;
      const b = model.apply(ids([[3, 8, 1]])) as Tensor;
      assertClose(padded, [...flat(a), ...flat(b)], { rtol: 1e-5, atol: 1e-6 });
    }));

  test('functional model: LSTM sequences -> GlobalAveragePooling1D averages the real steps only', () =>
    tidy(() => {
      const inp = input({ shape: [4] });
      const emb = new Embedding({ inputDim: 6, outputDim: 3, maskZero: true, dtype: 'float64' });
      const lstm = new LSTM({ units: 2, returnSequences: true, dtype: 'float64' });
      const pooled = new GlobalAveragePooling1D({ dtype: 'float64' }).apply(lstm.apply(emb.apply(inp))) as ReturnType<
        typeof input
      >;
      const model = new Model({ inputs: inp, outputs: pooled });
      const y = model.apply(ids([[4, 1, 0, 0]])) as Tensor;
      const seq = lstm.apply(emb.apply(ids([[4, 1]])) as Tensor) as Tensor;
      assertClose(y, mean(seq, 1), TIGHT);
    }));

  test('fit() trains a masked Embedding -> LSTM classifier (does the sequence contain token 3?)', async () => {
    const n = 48,
      len = 5;
    const rows: number[][] = [],
      labels: number[] = [];
    let s = 7;
    const next = () => (s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < n; i++) {
      const real = 1 + Math.floor(next() * len);
      const row = Array.from({ length: len }, (_, t) => (t < real ? 1 + Math.floor(next() * 4) : 0));
      rows.push(row);
      labels.push(row.includes(3) ? 1 : 0);
    }
    const model = new Sequential([
      layers.embedding({ inputDim: 5, outputDim: 4, maskZero: true, inputShape: [len] }),
      layers.lstm({ units: 6 }),
      layers.dense({ units: 1, activation: 'sigmoid' }),
    ]);
    model.compile({ optimizer: optimizers.adam({ learningRate: 0.03 }), loss: 'binaryCrossentropy' });
    const x = ids(rows),
      y = tensor(labels, [n, 1]);
    const history = await model.fit(x, y, { epochs: 12, batchSize: 16, verbose: 0, seed: 1 });
    const losses = history.history.loss as number[];
    assert.ok(
      losses[losses.length - 1] < losses[0] * 0.3,
      `loss fell from ${losses[0]} to ${losses[losses.length - 1]}`,
    );
  });
});

describe('attention layers read masks from their inputs', () => {
  test('MultiHeadAttention applied to masked inputs equals attend() with explicit padding masks', () =>
    tidy(() => {
      const x = rand([2, 3, 4], 2);
      const mask = tensor([
        [true, true, false],
        [true, false, false],
      ]);
      setMask(x, mask);
      const mha = new MultiHeadAttention({ numHeads: 2, keyDim: 2, dtype: 'float64' });
      const y = mha.apply([x, x]) as Tensor;
      assertClose(y, mha.attend(x, x, { queryMask: mask, valueMask: mask }), TIGHT);
      assert.deepEqual(getMask(y)!.toArray(), mask.toArray());
    }));

  test('TransformerEncoder: real positions of a padded sequence equal the unpadded sequence', () =>
    tidy(() => {
      const enc = new TransformerEncoder({ numHeads: 2, intermediateDim: 6, dtype: 'float64' });
      const real = rand([1, 3, 4], 3);
      const x = concat([real, rand([1, 2, 4], 4)], 1);
      const y = enc.apply(x, { mask: tensor([[true, true, true, false, false]]) }) as Tensor;
      assertClose(sliceAxis(y, 1, 0, 3), enc.apply(real) as Tensor, TIGHT);
    }));
});

describe('LayerNormalization, positions and 1D pooling values', () => {
  test('LayerNormalization normalizes each sample over the last axis, then gamma and beta', () =>
    tidy(() => {
      const layer = new LayerNormalization({ epsilon: 1e-3, dtype: 'float64' });
      const x = rand([2, 3, 4], 5, { lo: -3, hi: 5 });
      layer.apply(x);
      const gamma = rand([4], 6),
        beta = rand([4], 7);
      layer.setWeights([gamma, beta]);
      const ref = add(div(sub(x, mean(x, -1, true)), sqrt(add(variance(x, -1, true), 1e-3))).mul(gamma), beta);
      assertClose(layer.apply(x) as Tensor, ref, TIGHT);
    }));

  test('PositionalEncoding adds sin/cos of position / 10000^(2i/d); encoding(length, start) slides', () =>
    tidy(() => {
      const layer = new PositionalEncoding({ dtype: 'float64' });
      const pe = layer.encoding(3, 4);
      const expected = [0, 1, 2].flatMap((p) => [Math.sin(p), Math.cos(p), Math.sin(p / 100), Math.cos(p / 100)]);
      assertClose(pe, expected, TIGHT);
      assertClose(layer.encoding(2, 4, 1), expected.slice(4), TIGHT);
      const x = rand([2, 3, 4], 8);
      assertClose(layer.apply(x) as Tensor, add(x, pe), TIGHT);
    }));

  test('PositionEmbedding adds the first T rows of its table; too-long inputs are errors', () =>
    tidy(() => {
      const layer = new PositionEmbedding({ sequenceLength: 4, dtype: 'float64' });
      const x = rand([2, 3, 2], 9);
      const y = layer.apply(x) as Tensor;
      assertClose(y, add(x, sliceAxis(layer.embeddings!.value, 0, 0, 3)), TIGHT);
      assertClose(layer.encoding(2, 2), sliceAxis(layer.embeddings!.value, 0, 2, 4), TIGHT);
      assert.throws(
        () => layer.apply(rand([1, 5, 2], 1)),
        new RegExp(
          String.raw`PositionEmbedding 'position_embedding(_\d+)?' expects input \(None, <= 4, 2\), got \(1, 5, 2\): ` +
            'sequences may be at most sequenceLength 4 long',
        ),
      );
      assert.throws(() => layer.encoding(2, 3), /positions 3\.\.4 exceed sequenceLength 4/);
    }));

  test('GlobalAveragePooling1D with a mask is the mean over real steps; GlobalMaxPooling1D is the max', () =>
    tidy(() => {
      const x = tensor(
        [
          [
            [1, 2],
            [3, 4],
            [100, 100],
          ],
        ],
        [1, 3, 2],
        'float64',
      );
      const avg = new GlobalAveragePooling1D({ dtype: 'float64' });
      assert.deepEqual(flat(avg.apply(x) as Tensor), [104 / 3, 106 / 3]);
      assert.deepEqual(flat(avg.apply(x, { mask: tensor([[true, true, false]]) }) as Tensor), [2, 3]);
      assert.deepEqual(flat(new GlobalMaxPooling1D({ dtype: 'float64' }).apply(x) as Tensor), [100, 100]);
    }));
});

test('Dense, Dropout (in training too), Activation and BatchNormalization pass an Embedding mask on', async () => {
  const { getMask } = await import('../../src/nn/masking.js');
  const ids = c.tensor(
    [
      [3, 1, 0, 0],
      [2, 0, 0, 0],
    ],
    undefined,
    'int32',
  );
  const embedded = new c.Embedding({ inputDim: 5, outputDim: 3, maskZero: true }).apply(ids) as c.Tensor;
  for (const layer of [
    new c.Dropout({ rate: 0.5, seed: 1 }),
    new c.Dense({ units: 2 }),
    new c.Activation({ activation: 'tanh' }),
    new c.BatchNormalization({}),
  ]) {
    const out = layer.apply(embedded, { training: true }) as c.Tensor;
    assert.deepEqual(
      getMask(out)?.toArray(),
      [
        [true, true, false, false],
        [true, false, false, false],
      ],
      layer.className,
    );
  }
});
