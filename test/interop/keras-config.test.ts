// Keras config mapping: Candor -> Keras config (Keras 3 and Keras 2 / TF.js flavours) -> Candor gives the same
// predictions for every mapped layer; the real Keras 3, legacy and TF.js configs load; options Candor cannot
// honour and unknown classes are refused by name; registerKerasLayer supplies a replacement.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  Layer,
  Model,
  RandomStream,
  Sequential,
  input,
  interop,
  layers,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { assertClose } from '../helpers.js';
import { KERAS_LAYER_CLASSES } from '../../src/interop/keras/layer-config.js';

const { fromKerasConfig, toKerasConfig, kerasModelWeights, assignKerasWeights, registerKerasLayer } = interop;

/** The same model read back from its Keras config (through JSON), with the weights copied by Keras order. */
function roundTrip(model: Model, flavor: 'keras3' | 'keras2'): Model {
  const json = JSON.parse(JSON.stringify(toKerasConfig(model, { flavor }))) as unknown;
  const back = fromKerasConfig(json);
  const target = new Map(kerasModelWeights(back).map((l) => [l.layer.name, l.layer]));
  for (const { layer, weights } of kerasModelWeights(model)) {
    const dest = target.get(layer.name);
    assert.ok(dest, `layer '${layer.name}' is in the loaded model (${flavor})`);
    assignKerasWeights(dest, (w) => weights[kerasWeightsIndex(weights, w)].variable.value, 'test');
  }
  return back;
}

const kerasWeightsIndex = (all: readonly { name: string }[], w: { name: string }) =>
  all.findIndex((x) => x.name === w.name);

function assertSamePredictions(model: Model, x: Tensor | Tensor[], seen: Set<string>): void {
  for (const l of model.flattenLayers()) seen.add(l.className);
  for (const flavor of ['keras3', 'keras2'] as const) {
    const back = roundTrip(model, flavor);
    assert.equal(back.className, model.className);
    assert.deepEqual(
      back.layers.map((l) => [l.className, l.name]),
      model.layers.map((l) => [l.className, l.name]),
    );
    tidy(() => {
      const want = model.predict(x) as Tensor;
      const got = back.predict(x) as Tensor;
      assert.deepEqual(got.shape, want.shape);
      assertClose(got, want, { rtol: 1e-6, atol: 1e-6 }, flavor);
    });
    back.dispose();
  }
}

/** Nonzero biases, BN statistics and the like, so that a weight assigned to the wrong slot shows. */
function perturb(model: Model, seed: number): void {
  const rng = new RandomStream(seed);
  for (const w of model.weights) {
    const r = rng.uniform([...w.shape], 0.5, 1.5);
    w.assign(tidy(() => w.value.mul(r).add(rng.uniform([...w.shape], 0.05, 0.2))));
    r.dispose();
  }
}

describe('Keras config mapping', () => {
  const seen = new Set<string>();

  it('round-trips image layers (Sequential)', () => {
    const model = new Sequential([
      input({ shape: [12, 12, 3] }),
      layers.rescaling({ scale: 0.5, offset: 0.1 }),
      layers.zeroPadding2d({ padding: 1 }),
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', kernelRegularizer: 'l2' }),
      layers.batchNormalization({}),
      layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }),
      layers.separableConv2d({ filters: 4, kernelSize: 3, activation: 'elu' }),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.upSampling2d({ size: 2 }),
      layers.cropping2d({ cropping: [1, 1] }),
      layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
      layers.averagePooling2d({ poolSize: 2 }),
      layers.spatialDropout2d({ rate: 0.3 }),
      layers.centerCrop({ height: 3, width: 3 }),
      layers.resizing({ height: 4, width: 4 }),
      layers.prelu({}),
      layers.globalMaxPooling2d({ keepdims: true }),
      layers.globalAveragePooling2d({}),
      layers.dense({ units: 5, activation: 'gelu' }),
    ]);
    perturb(model, 1);
    assertSamePredictions(model, new RandomStream(2).normal([3, 12, 12, 3]), seen);
  });

  it('round-trips dense, activation and reshaping layers', () => {
    const model = new Sequential([
      layers.dense({ units: 8, inputShape: [6], activation: 'swish', biasInitializer: 'ones' }),
      layers.layerNormalization({}),
      layers.leakyReLU({ negativeSlope: 0.1 }),
      layers.reshape({ targetShape: [4, 2] }),
      layers.permute({ dims: [2, 1] }),
      layers.groupNormalization({ groups: 2 }),
      layers.flatten({}),
      layers.repeatVector({ n: 2 }),
      layers.globalAveragePooling1d({}),
      layers.reLU({ maxValue: 1.5 }),
      layers.elu({ alpha: 0.5 }),
      layers.dropout({ rate: 0.5 }),
      layers.gaussianNoise({ stddev: 0.1 }),
      layers.gaussianDropout({ rate: 0.1 }),
      layers.activation({ activation: 'tanh' }),
      layers.dense({ units: 3 }),
      layers.softmax({}),
    ]);
    perturb(model, 3);
    assertSamePredictions(model, new RandomStream(4).normal([5, 6]), seen);
  });

  it('round-trips sequence layers: Embedding, recurrent layers, wrappers, 1D conv and pooling', () => {
    const model = new Sequential([
      input({ shape: [10], dtype: 'int32' }),
      layers.embedding({ inputDim: 20, outputDim: 6, maskZero: false }),
      layers.conv1d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      layers.maxPooling1d({ poolSize: 2 }),
      layers.upSampling1d({ size: 2 }),
      layers.zeroPadding1d({ padding: 1 }),
      layers.cropping1d({ cropping: [1, 1] }),
      layers.averagePooling1d({ poolSize: 2, strides: 1, padding: 'same' }),
      layers.spatialDropout1d({ rate: 0.2 }),
      layers.lstm({ units: 5, returnSequences: true }),
      layers.bidirectional({ layer: layers.gru({ units: 4, returnSequences: true }), mergeMode: 'sum' }),
      layers.gru({ units: 4, returnSequences: true, resetAfter: false }),
      layers.timeDistributed({ layer: layers.dense({ units: 3 }) }),
      layers.masking({ maskValue: 0 }),
      layers.simpleRnn({ units: 3, returnSequences: true }),
      layers.globalMaxPooling1d({}),
      layers.dense({ units: 2 }),
    ]);
    perturb(model, 5);
    const ids = tensor(
      Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 19)),
      [4, 10],
      'int32',
    );
    assertSamePredictions(model, ids, seen);
  });

  it('round-trips a functional model: merges, attention, a shared layer, a nested model, training: false', () => {
    const a = input({ shape: [4, 6], name: 'seq_a' });
    const b = input({ shape: [4, 6], name: 'seq_b' });
    const shared = layers.dense({ units: 6, activation: 'tanh' });
    const sa = shared.apply(a);
    const sb = shared.apply(b);
    const mha = layers.multiHeadAttention({ numHeads: 2, keyDim: 3 }).apply([sa, sb]);
    const att = layers.attention({ useScale: true }).apply([sa, sb]);
    const add = layers.additiveAttention({}).apply([sa, sb]);
    const merged = [
      layers.add({}).apply([mha, att]),
      layers.subtract({}).apply([mha, add]),
      layers.multiply({}).apply([att, add]),
      layers.average({}).apply([sa, sb]),
      layers.maximum({}).apply([sa, sb]),
      layers.minimum({}).apply([sa, sb]),
    ];
    const cat = layers.concatenate({ axis: -1 }).apply(merged);
    const inner = new Sequential([
      input({ shape: [4, 36] }),
      layers.dropout({ rate: 0.5 }),
      layers.dense({ units: 4 }),
    ]);
    const fed = inner.apply(cat, { training: false });
    const pooled = layers.globalAveragePooling1d({}).apply(fed);
    const dot = layers.dot({ axes: 1, normalize: true }).apply([pooled, layers.dense({ units: 4 }).apply(pooled)]);
    const model = new Model({ inputs: [a, b], outputs: [pooled, dot] });
    perturb(model, 7);
    const rng = new RandomStream(8);
    const xs = [rng.normal([2, 4, 6]), rng.normal([2, 4, 6])];
    for (const flavor of ['keras3', 'keras2'] as const) {
      const back = roundTrip(model, flavor);
      tidy(() => {
        const want = model.predict(xs) as Tensor[];
        const got = back.predict(xs) as Tensor[];
        want.forEach((w, i) => assertClose(got[i], w, { rtol: 1e-6, atol: 1e-6 }, `${flavor} output ${i}`));
      });
    }
    for (const l of model.flattenLayers()) seen.add(l.className);
  });

  it('every mapped class was round-tripped above', () => {
    const missing = KERAS_LAYER_CLASSES.filter((c) => !seen.has(c));
    assert.deepEqual(missing, []);
  });
});

describe('Keras configs written by Keras and TF.js', () => {
  it('loads the Keras 3 and legacy configs of the shared fixtures, with their shapes and names', () => {
    const cnn = fromKerasConfig(readFileSync('test/fixtures/interop/keras/mnist-cnn-config.json', 'utf8'));
    assert.deepEqual(
      cnn.layers.map((l) => l.name),
      ['conv2d', 'max_pooling2d', 'conv2d_1', 'max_pooling2d_1', 'flatten', 'dense', 'dense_1'],
    );
    assert.deepEqual(cnn.computeOutputShape([null, 28, 28, 1]), [null, 10]);
    const weights = kerasModelWeights(cnn).flatMap((l) => l.weights.map((w) => `${l.layer.name}/${w.name}`));
    assert.deepEqual(weights.slice(0, 2), ['conv2d/kernel', 'conv2d/bias']);
    // The model_config attribute of the legacy .h5 file (Keras 3.3 writing the HDF5 format).
    const mlp = fromKerasConfig(readFileSync('test/fixtures/interop/keras/mnist-mlp-legacy-config.json', 'utf8'));
    assert.deepEqual(
      mlp.layers.map((l) => [l.name, l.countParams()]),
      [
        ['dense', 784 * 64 + 64],
        ['dense_1', 64 * 64 + 64],
        ['dense_2', 64 * 10 + 10],
      ],
    );
  });
});

describe('Keras 3 functional configs', () => {
  const tensorRef = (layer: string, shape: (number | null)[]) => ({
    class_name: '__keras_tensor__',
    config: { shape, dtype: 'float32', keras_history: [layer, 0, 0] },
  });
  const policy = { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' }, registered_name: null };
  const entry = (cls: string, name: string, config: object, inbound: object[]) => ({
    module: 'keras.layers',
    class_name: cls,
    config: { name, trainable: true, dtype: policy, ...config },
    registered_name: null,
    name,
    inbound_nodes: inbound,
  });

  it('reads {args, kwargs} nodes: list arguments, null masks, training: false, one-ref input_layers', () => {
    // The shape of what Keras 3.11's Functional.get_config writes (keras/src/models/functional.py).
    const config = {
      module: 'keras.src.models.functional',
      class_name: 'Functional',
      config: {
        name: 'functional',
        trainable: true,
        layers: [
          {
            module: 'keras.layers',
            class_name: 'InputLayer',
            config: { batch_shape: [null, 3], dtype: 'float32', sparse: false, ragged: false, name: 'input_layer' },
            registered_name: null,
            name: 'input_layer',
            inbound_nodes: [],
          },
          entry('Dense', 'dense', { units: 3, activation: 'relu', use_bias: true }, [
            { args: [tensorRef('input_layer', [null, 3])], kwargs: {} },
          ]),
          entry('Dropout', 'dropout', { rate: 0.5, seed: null, noise_shape: null }, [
            { args: [tensorRef('dense', [null, 3])], kwargs: { training: false, mask: null } },
          ]),
          entry('Add', 'add', {}, [
            { args: [[tensorRef('dropout', [null, 3]), tensorRef('input_layer', [null, 3])]], kwargs: {} },
          ]),
        ],
        input_layers: ['input_layer', 0, 0],
        output_layers: [['add', 0, 0]],
      },
      registered_name: 'Functional',
      build_config: { input_shape: null },
    };
    const model = fromKerasConfig(config);
    assert.deepEqual(
      model.layers.map((l) => l.className),
      ['InputLayer', 'Dense', 'Dropout', 'Add'],
    );
    assert.deepEqual(model.getLayer('dropout').inboundNodes[0].callArgs, { training: false });
    assert.deepEqual(model.outputs[0].shape, [null, 3]);
    // Keras' own spelling comes back out.
    const back = toKerasConfig(model) as { config: { layers: { inbound_nodes: unknown[] }[] } };
    assert.deepEqual(back.config.layers[3].inbound_nodes, config.config.layers[3].inbound_nodes);
  });
});

describe('Keras config refusals', () => {
  const dense = (config: Record<string, unknown>) => ({
    class_name: 'Sequential',
    config: {
      name: 's',
      layers: [{ class_name: 'Dense', config: { name: 'd', units: 2, batch_input_shape: [null, 3], ...config } }],
    },
  });

  it('refuses options Candor cannot honour, naming the layer and the option', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 2 } } }, /'d'.*kernel_constraint/],
      [{ activity_regularizer: { class_name: 'L2', config: { l2: 0.1 } } }, /'d'.*activity_regularizer/],
      [{ dtype: 'mixed_float16' }, /'d'.*dtype.*mixed_float16/],
      [{ activation: 'hard_sigmoid' }, /'d'.*activation.*hard_sigmoid/],
      [{ kernel_initializer: { class_name: 'Identity', config: {} } }, /'d'.*kernel_initializer.*Identity/],
      [{ lora_rank: 4 }, /'d'.*lora_rank/],
      [{ some_new_option: true }, /'d'.*some_new_option/],
    ];
    for (const [config, message] of cases)
      assert.throws(
        () => fromKerasConfig(dense(config)),
        (e: Error) => e instanceof interop.InteropError && message.test(e.message),
      );
    const conv = {
      class_name: 'Sequential',
      config: {
        layers: [
          {
            class_name: 'Conv2D',
            config: {
              name: 'c',
              filters: 2,
              kernel_size: 3,
              data_format: 'channels_first',
              batch_input_shape: [null, 3, 8, 8],
            },
          },
        ],
      },
    };
    assert.throws(() => fromKerasConfig(conv), /'c'.*data_format.*channels_first/);
    // A config without a required tuple argument: a typed error naming it (was a TypeError in tuple()).
    delete (conv.config.layers[0].config as Record<string, unknown>).data_format;
    delete (conv.config.layers[0].config as Record<string, unknown>).kernel_size;
    assert.throws(
      () => fromKerasConfig(conv),
      (e: Error) => e instanceof interop.InteropError && /'c'.*kernelSize must be a positive integer/.test(e.message),
    );
  });

  it('drops what provably does nothing: float32, trainable, channels_last, null constraints, implementation', () => {
    const model = fromKerasConfig(
      dense({ dtype: 'float32', trainable: true, kernel_constraint: null, bias_constraint: null, lora_rank: null }),
    );
    assert.equal(model.layers[0].className, 'Dense');
    const seq = fromKerasConfig({
      class_name: 'Sequential',
      config: {
        layers: [
          {
            class_name: 'Conv1D',
            config: {
              name: 'c',
              filters: 2,
              kernel_size: 3,
              data_format: 'channels_last',
              batch_input_shape: [null, 6, 2],
            },
          },
          { class_name: 'LSTM', config: { name: 'l', units: 2, implementation: 2, unroll: false, time_major: false } },
          {
            class_name: 'BatchNormalization',
            config: { name: 'b', renorm: false, renorm_momentum: 0.99, fused: true },
          },
        ],
      },
    });
    assert.deepEqual(
      seq.layers.map((l) => l.name),
      ['c', 'l', 'b'],
    );
  });

  it('refuses an unknown class by name, and registerKerasLayer replaces it', () => {
    const config = {
      module: 'keras',
      class_name: 'Sequential',
      config: {
        name: 'with_lambda',
        layers: [
          { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 3], name: 'in' } },
          { module: 'keras.layers', class_name: 'Lambda', config: { name: 'double', function: '...' } },
          {
            module: 'my_pkg',
            class_name: 'Dense',
            registered_name: 'my_pkg>Dense',
            config: { name: 'mine', units: 2 },
          },
        ],
      },
    };
    assert.throws(
      () => fromKerasConfig(config),
      (e: Error) => e instanceof interop.UnsupportedLayerError && /'double' \(Lambda\)/.test(e.message),
    );
    registerKerasLayer('Lambda', (c) => layers.rescaling({ scale: 2, name: String(c.name) }));
    assert.throws(() => fromKerasConfig(config), /'mine' \(Dense\).*custom class/);
    const model = fromKerasConfig(config, {
      customLayers: { 'my_pkg>Dense': (c) => layers.dense({ units: Number(c.units), name: String(c.name) }) },
    });
    assert.deepEqual(
      model.layers.map((l: Layer) => [l.className, l.name]),
      [
        ['Rescaling', 'double'],
        ['Dense', 'mine'],
      ],
    );
  });
});
