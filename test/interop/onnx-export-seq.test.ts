// ONNX export of the sequence layers (SimpleRNN, LSTM, GRU, Bidirectional, masking, attention, Transformer
// blocks, positions) and the examples' text models: onnxruntime agrees with Candor's predict within 1e-5 at two
// batch sizes (and two sequence lengths where the input leaves time dynamic), and python3-onnx's checker passes.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Model,
  RandomStream,
  cast,
  Sequential,
  input,
  interop,
  layers,
  mul,
  tensor,
  tidy,
  type Layer,
  type Tensor,
} from '../../src/index.js';
import { GPT } from '../../src/models/gpt.js';
import { assertOnnxMatchesCandor, checkedAfterAll } from './onnx-helpers.js';

/** Every exported model, checked with python3-onnx's checker at the end in one process. */
const checked = checkedAfterAll();

/** Sets every weight to N(0, scale) draws: the initializers leave biases at zero, which would hide their layout. */
function randomizeWeights(model: Layer, seed = 3, scale = 0.5): void {
  const rng = new RandomStream(seed);
  model.setWeights(model.getWeights().map((w) => tidy(() => mul(rng.normal(w.shape), scale))));
}

/** Float inputs [batch, time, ...rest] from a seeded stream. */
const floats =
  (...rest: number[]) =>
  (rng: RandomStream, batch: number, time: number) =>
    rng.normal([batch, time, ...rest]);

/** Token ids in [0, vocab) as int32 [batch, time]; with `pad`, each row ends in a random run of zeros (padding). */
const tokenIds =
  (vocab: number, pad = false) =>
  (rng: RandomStream, batch: number, time: number) => {
    const u = rng.uniform([batch, time]).dataSync();
    const ids = Int32Array.from(u, (v) => 1 + Math.floor(v * (vocab - 1)));
    if (pad) for (let b = 0; b < batch; b++) for (let t = time - (b % (time + 1)); t < time; t++) ids[b * time + t] = 0;
    return tensor(ids, [batch, time], 'int32');
  };

type MakeInput = (rng: RandomStream, batch: number, time: number) => Tensor;

/**
 * Exports `model`, runs it in onnxruntime on inputs of each [batch, time] case, and compares every output with
 * Candor's predict within 1e-5 (onnx-helpers' assertOnnxMatchesCandor, once per case as the time varies).
 * Returns the bytes (also queued for the checker under `name`).
 */
async function assertSameAsCandor(
  name: string,
  model: Model,
  makeInputs: readonly MakeInput[],
  cases: readonly [number, number][] = [
    [1, 5],
    [3, 5],
  ],
): Promise<Uint8Array> {
  const rng = new RandomStream(17);
  let bytes: Uint8Array | undefined;
  for (const [batch, time] of cases)
    bytes = await assertOnnxMatchesCandor(model, (b) => makeInputs.map((make) => make(rng, b, time)), {
      batches: [batch],
    });
  checked[name] = bytes!;
  return bytes!;
}

/** A functional model of `layer` on a [time, features] input (time dynamic when null). */
function wrap(layer: Layer, shape: (number | null)[], seed = 3): Model {
  const x = input({ shape });
  const model = new Model({ inputs: x, outputs: layer.apply(x) as never });
  randomizeWeights(model, seed);
  return model;
}

describe('ONNX export of recurrent layers', () => {
  it('LSTM: last output, and sequences with states, forwards and backwards, dynamic time', async () => {
    await assertSameAsCandor(
      'lstm',
      wrap(layers.lstm({ units: 7 }), [null, 5]),
      [floats(5)],
      [
        [1, 4],
        [3, 6],
      ],
    );
    const all = layers.lstm({ units: 3, returnSequences: true, returnState: true, goBackwards: true });
    await assertSameAsCandor(
      'lstm_states',
      wrap(all, [null, 5], 4),
      [floats(5)],
      [
        [2, 1],
        [3, 6],
      ],
    );
  });

  it('LSTM with other activations (softsign cell, hard gates: relu)', async () => {
    const l = layers.lstm({ units: 4, activation: 'softsign', recurrentActivation: 'relu', returnSequences: true });
    await assertSameAsCandor(
      'lstm_acts',
      wrap(l, [6, 3], 5),
      [floats(3)],
      [
        [1, 6],
        [4, 6],
      ],
    );
  });

  it('GRU with resetAfter (two bias rows) and reset before (one)', async () => {
    for (const resetAfter of [true, false]) {
      const gru = layers.gru({ units: 5, resetAfter, returnSequences: true });
      await assertSameAsCandor(
        `gru_${resetAfter}`,
        wrap(gru, [null, 3], 6),
        [floats(3)],
        [
          [1, 2],
          [3, 7],
        ],
      );
    }
    const back = layers.gru({ units: 3, goBackwards: true, returnState: true, activation: 'linear' });
    await assertSameAsCandor(
      'gru_back',
      wrap(back, [4, 2], 7),
      [floats(2)],
      [
        [2, 4],
        [5, 4],
      ],
    );
  });

  it('SimpleRNN (relu) with initial states as inputs', async () => {
    const x = input({ shape: [null, 4] }),
      h0 = input({ shape: [6] });
    const rnn = layers.simpleRnn({ units: 6, activation: 'relu', returnSequences: true });
    const model = new Model({ inputs: [x, h0], outputs: rnn.apply([x, h0]) as never });
    randomizeWeights(model, 8);
    await assertSameAsCandor(
      'rnn_initial',
      model,
      [floats(4), (rng, b) => rng.normal([b, 6])],
      [
        [1, 3],
        [4, 5],
      ],
    );
  });

  it('Bidirectional LSTM in every merge mode', async () => {
    for (const mergeMode of ['concat', 'sum', 'mul', 'ave', null] as const) {
      const bi = layers.bidirectional({ layer: layers.lstm({ units: 3, returnSequences: true }), mergeMode });
      await assertSameAsCandor(`bidirectional_${mergeMode}`, wrap(bi, [null, 2], 9), [floats(2)]);
    }
  });

  it('Bidirectional GRU with initial states for both directions, returning sequences and states', async () => {
    const x = input({ shape: [null, 3] }),
      hf = input({ shape: [4] }),
      hb = input({ shape: [4] });
    const bi = layers.bidirectional({ layer: layers.gru({ units: 4, returnSequences: true, returnState: true }) });
    const model = new Model({ inputs: [x, hf, hb], outputs: bi.apply([x, hf, hb]) as never });
    randomizeWeights(model, 19);
    const state: MakeInput = (rng, b) => rng.normal([b, 4]);
    await assertSameAsCandor('bidirectional_states', model, [floats(3), state, state]);
  });

  it('masked steps anywhere in the sequence (Masking layer), as Keras skips them', async () => {
    /** Inputs whose steps are zeroed (masked) at random, leading, inner and trailing steps alike. */
    const holes: MakeInput = (rng, batch, time) => {
      const x = rng.normal([batch, time, 3]).dataSync() as Float32Array;
      const u = rng.uniform([batch, time]).dataSync();
      for (let i = 0; i < batch * time; i++) if (u[i] < 0.4 || i % (time + 2) === 0) x.fill(0, i * 3, i * 3 + 3);
      x.fill(0, 0, 3 * time); // one sequence entirely masked
      return tensor(x, [batch, time, 3]);
    };
    const cases: [number, number][] = [
      [3, 5],
      [6, 8],
    ];
    for (const [name, layer] of [
      ['lstm', layers.lstm({ units: 4, returnSequences: true, returnState: true })],
      ['lstm_last', layers.lstm({ units: 4, goBackwards: true })],
      ['gru_zero', layers.gru({ units: 3, returnSequences: true, zeroOutputForMask: true, goBackwards: true })],
      ['gru_zero_last', layers.gru({ units: 3, zeroOutputForMask: true })],
      ['bidirectional', layers.bidirectional({ layer: layers.simpleRnn({ units: 2, returnSequences: true }) })],
      ['bidirectional_last', layers.bidirectional({ layer: layers.lstm({ units: 2 }) })],
    ] as const) {
      const x = input({ shape: [null, 3] });
      const model = new Model({ inputs: x, outputs: layer.apply(layers.masking().apply(x)) as never });
      randomizeWeights(model, 10);
      await assertSameAsCandor(`masked_${name}`, model, [holes], cases);
    }
  });

  it('refuses what ONNX cannot express, by name', () => {
    const gelu = wrap(layers.lstm({ units: 2, activation: 'gelu', name: 'gelu_lstm' }), [3, 2]);
    assert.throws(() => interop.toOnnx(gelu), /'gelu_lstm' \(LSTM\): activation 'gelu' has no ONNX LSTM form/);
    const stateful = new Sequential([
      input({ shape: [3, 2], batchSize: 2 }),
      layers.gru({ units: 2, stateful: true, name: 'held' }),
    ]);
    assert.throws(() => interop.toOnnx(stateful), /'held' \(GRU\) is stateful/);
    const x = input({ shape: [3, 2] });
    const training = new Model({
      inputs: x,
      outputs: layers.lstm({ units: 2, name: 'train' }).apply(x, { training: true }) as never,
    });
    assert.throws(() => interop.toOnnx(training), /'train' \(LSTM\).*training.*inference mode/);
    const wide = wrap(layers.gru({ units: 2, dtype: 'float64', name: 'wide' }), [3, 2]);
    assert.throws(() => interop.toOnnx(wide), /'wide' \(GRU\) is float64; its export is float32 only/);
  });
});

describe('ONNX export of attention and positions', () => {
  it('MultiHeadAttention: self, causal, cross with its own key, masked (odd sizes, dynamic lengths)', async () => {
    const mha = (causal: boolean, withKey: boolean, masked: boolean) => {
      const q = input({ shape: [null, 6] }),
        v = input({ shape: [null, 3] }),
        k = input({ shape: [null, 5] });
      const attn = layers.multiHeadAttention({ numHeads: 3, keyDim: 5, valueDim: 4, outputShape: 7 });
      const mask = (t: typeof q) => (masked ? (layers.masking().apply(t) as typeof q) : t);
      const args = withKey ? [mask(q), mask(v), mask(k)] : [mask(q), mask(v)];
      const out = attn.apply(args, causal ? { useCausalMask: true } : {});
      const model = new Model({ inputs: withKey ? [q, v, k] : [q, v], outputs: out as never });
      randomizeWeights(model, 11);
      return model;
    };
    /** Inputs with some steps zeroed (masked by a Masking layer), whole rows included. */
    const holes =
      (f: number): MakeInput =>
      (rng, batch, time) => {
        const x = rng.normal([batch, time, f]).dataSync() as Float32Array;
        const u = rng.uniform([batch, time]).dataSync();
        for (let i = 0; i < batch * time; i++) if (u[i] < 0.3) x.fill(0, i * f, i * f + f);
        x.fill(0, 0, f * time);
        return tensor(x, [batch, time, f]);
      };
    const cases: [number, number][] = [
      [1, 4],
      [3, 6],
    ];
    await assertSameAsCandor('mha', mha(false, false, false), [floats(6), floats(3)], cases);
    await assertSameAsCandor('mha_causal', mha(true, false, false), [floats(6), floats(3)], cases);
    const crossLength: MakeInput = (rng, b, t) => rng.normal([b, t + 2, 3]);
    const crossKey: MakeInput = (rng, b, t) => rng.normal([b, t + 2, 5]);
    await assertSameAsCandor('mha_key', mha(false, true, false), [floats(6), crossLength, crossKey], cases);
    await assertSameAsCandor('mha_masked', mha(true, true, true), [holes(6), holes(3), holes(5)], cases);
  });

  it('PositionEmbedding and PositionalEncoding at any length up to the table', async () => {
    const learnt = wrap(layers.positionEmbedding({ sequenceLength: 9 }), [null, 5], 12);
    await assertSameAsCandor(
      'position_embedding',
      learnt,
      [floats(5)],
      [
        [1, 3],
        [4, 9],
      ],
    );
    const fixed = wrap(layers.positionalEncoding({ maxWavelength: 50 }), [null, 7], 13);
    await assertSameAsCandor(
      'positional_encoding',
      fixed,
      [floats(7)],
      [
        [2, 3],
        [3, 40],
      ],
    );
  });
});

/** Float token ids [batch, time] in [1, vocab), padded with zeros 'pre' (as padSequences) or 'post', by row. */
const paddedIds =
  (vocab: number): MakeInput =>
  (rng, batch, time) => {
    const ids = tokenIds(vocab)(rng, batch, time).dataSync();
    const data = Float32Array.from(ids);
    for (let b = 0; b < batch; b++) {
      const pad = b % (time + 1); // 0 .. time padding steps: a row of padding only, too
      const from = b % 2 === 0 ? 0 : time - pad;
      data.fill(0, b * time + from, b * time + from + pad);
    }
    return tensor(data, [batch, time]);
  };

describe("ONNX export of Transformer blocks and the examples' text models", () => {
  const cases: [number, number][] = [
    [2, 5],
    [5, 9],
  ];

  it('TransformerEncoder (post- and pre-norm) on a maskZero Embedding: the padding mask masks the keys', async () => {
    const ids = input({ shape: [null] });
    let x = layers.embedding({ inputDim: 13, outputDim: 6, maskZero: true }).apply(ids);
    x = layers.positionEmbedding({ sequenceLength: 9 }).apply(x);
    x = layers.transformerEncoder({ intermediateDim: 7, numHeads: 3 }).apply(x);
    x = layers
      .transformerEncoder({ intermediateDim: 5, numHeads: 2, normalizeFirst: true, activation: 'gelu' })
      .apply(x);
    const y = layers.dense({ units: 3 }).apply(layers.globalAveragePooling1d().apply(x));
    const model = new Model({ inputs: ids, outputs: y as never });
    randomizeWeights(model, 14);
    await assertSameAsCandor(
      'transformer_encoder',
      model,
      [paddedIds(13)],
      [
        [3, 5],
        [6, 9],
      ],
    );
  });

  it('TransformerDecoder with cross-attention on an encoder, both masked', async () => {
    const dec = input({ shape: [null] }),
      enc = input({ shape: [null] });
    const embed = (t: typeof dec) => layers.embedding({ inputDim: 11, outputDim: 4, maskZero: true }).apply(t);
    const encoded = layers.transformerEncoder({ intermediateDim: 6, numHeads: 2 }).apply(embed(enc));
    const decoded = layers.transformerDecoder({ intermediateDim: 5, numHeads: 1 }).apply([embed(dec), encoded]);
    const model = new Model({ inputs: [dec, enc], outputs: decoded as never });
    randomizeWeights(model, 15);
    const longer: MakeInput = (rng, b, t) => paddedIds(11)(rng, b, t + 2);
    await assertSameAsCandor(
      'transformer_decoder',
      model,
      [paddedIds(11), longer],
      [
        [3, 4],
        [5, 7],
      ],
    );
  });

  it('float64: a TransformerDecoder on PositionalEncoding, every constant in float64', async () => {
    const x = input({ shape: [null, 6], dtype: 'float64' });
    const pe = layers.positionalEncoding({ dtype: 'float64' }).apply(x);
    const y = layers.transformerDecoder({ intermediateDim: 5, numHeads: 2, dtype: 'float64' }).apply(pe);
    const model = new Model({ inputs: x, outputs: y as never });
    randomizeWeights(model, 20);
    const wide: MakeInput = (rng, b, t) => cast(rng.normal([b, t, 6]), 'float64');
    await assertSameAsCandor('transformer_float64', model, [wide], cases);
  });

  it('the GPT (models/gpt.ts), tied and untied, at any length up to its context', async () => {
    for (const tieEmbeddings of [true, false]) {
      const gpt = new GPT({
        vocabSize: 23,
        contextLength: 9,
        hiddenDim: 6,
        numHeads: 3,
        numLayers: 2,
        intermediateDim: 10,
        tieEmbeddings,
        seed: 1,
      });
      randomizeWeights(gpt, 16, 0.3);
      const bytes = await assertSameAsCandor(`gpt_${tieEmbeddings}`, gpt, [tokenIds(23)], cases);
      const graph = interop.decodeModelProto(bytes).graph!;
      assert.deepEqual(
        graph.input!.map((v) => v.type!.tensorType!.elemType),
        [6],
        'int32 token ids',
      );
      const tables = graph.initializer!.filter((t) => t.dims!.join() === '23,6');
      assert.equal(tables.length, 1, 'the token embedding is stored once');
    }
  });

  it('the spam LSTM (examples/spam-lstm.ts): maskZero Embedding -> Bidirectional(LSTM) -> Dense(sigmoid)', async () => {
    const model = new Sequential([
      layers.embedding({ inputDim: 50, outputDim: 6, maskZero: true, inputShape: [9] }),
      layers.bidirectional({ layer: layers.lstm({ units: 5 }) }),
      layers.dense({ units: 1, activation: 'sigmoid' }),
    ]);
    randomizeWeights(model, 18);
    await assertSameAsCandor(
      'spam_lstm',
      model,
      [paddedIds(50)],
      [
        [4, 9],
        [11, 9],
      ],
    );
  });

  it('a model that takes raw text is refused: export from the token ids on', () => {
    const text = input({ shape: [], dtype: 'string', name: 'emails' });
    const tv = layers.textVectorization({ vocabulary: ['a', 'b'], outputSequenceLength: 4 });
    const y = layers.lstm({ units: 2 }).apply(layers.embedding({ inputDim: 5, outputDim: 3 }).apply(tv.apply(text)));
    const model = new Model({ inputs: text, outputs: y as never });
    assert.throws(
      () => interop.toOnnx(model),
      (e: Error) => e instanceof interop.InteropError && /'emails' takes raw text.*token ids/.test(e.message),
    );
  });
});
