// Tests the core layers through the shared harness and on their own behaviour: Dense, Activation,
// Dropout, Flatten, Reshape, Add and Concatenate, plus the layers factory and the registry.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  ShapeError,
  Tensor,
  add,
  assertGradients,
  full,
  matmul,
  memory,
  ones,
  relu,
  reshape,
  setSeed,
  tensor,
  tidy,
} from '../../src/index.js';
import { SymbolicTensor, layerFromConfig, registerLayer, registeredLayers } from '../../src/nn/layer.js';
import {
  Activation,
  Add,
  Concatenate,
  Dense,
  Dropout,
  Flatten,
  Reshape,
  layers,
  registerLambda,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, naiveMatmul, rand } from '../helpers.js';

describe('core layers through the harness', () => {
  test('Dense', () =>
    runLayerTest({
      make: () => new Dense({ units: 3, activation: 'tanh' }),
      inputShape: [2, 4],
      expectedOutputShape: [2, 3],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('Dense on rank 3, no bias, l2 regularizer', () =>
    runLayerTest({
      make: () => new Dense({ units: 2, useBias: false, kernelRegularizer: 'l2', kernelInitializer: 'heNormal' }),
      inputShape: [2, 3, 4],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('Activation', () =>
    runLayerTest({
      make: () => new Activation({ activation: 'sigmoid' }),
      inputShape: [2, 3],
      expectedOutputShape: [2, 3],
    }));
  test('Activation linear (identity)', () =>
    runLayerTest({
      make: () => new Activation({ activation: 'linear' }),
      inputShape: [2, 3],
      expectedOutputShape: [2, 3],
    }));
  test('Dropout', () =>
    runLayerTest({
      make: () => new Dropout({ rate: 0.5, seed: 1 }),
      inputShape: [2, 5],
      expectedOutputShape: [2, 5],
      expectedWeights: { trainable: 0, nonTrainable: 0 },
    }));
  test('Flatten', () =>
    runLayerTest({ make: () => new Flatten(), inputShape: [2, 3, 2], expectedOutputShape: [2, 6] }));
  test('Reshape with -1', () =>
    runLayerTest({
      make: () => new Reshape({ targetShape: [-1, 2] }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
    }));
  test('Reshape', () =>
    runLayerTest({
      make: () => new Reshape({ targetShape: [2, 3] }),
      inputShape: [2, 6],
      expectedOutputShape: [2, 2, 3],
    }));
  test('Add', () =>
    runLayerTest({
      make: () => new Add(),
      inputShapes: [
        [2, 3],
        [2, 3],
        [2, 3],
      ],
      expectedOutputShape: [2, 3],
    }));
  test('Add broadcasting a size-1 axis', () =>
    runLayerTest({
      make: () => new Add(),
      inputShapes: [
        [2, 3],
        [2, 1],
      ],
      expectedOutputShape: [2, 3],
    }));
  test('Concatenate', () =>
    runLayerTest({
      make: () => new Concatenate(),
      inputShapes: [
        [2, 3],
        [2, 2],
      ],
      expectedOutputShape: [2, 5],
    }));
  test('Concatenate axis 1 of rank 3', () =>
    runLayerTest({
      make: () => new Concatenate({ axis: 1 }),
      inputShapes: [
        [2, 1, 2],
        [2, 3, 2],
      ],
      expectedOutputShape: [2, 4, 2],
    }));
});

describe('Dense', () => {
  test('equals x @ kernel + bias, then the activation', () => {
    const layer = new Dense({ units: 3, activation: 'relu', biasInitializer: 'randomNormal' });
    const x = rand([4, 5], 1, { dtype: 'float32' });
    const y = layer.apply(x) as Tensor;
    const k = layer.kernel!.value,
      b = layer.bias!.value;
    assert.deepEqual([...k.shape], [5, 3]);
    const ref = naiveMatmul(x.dataSync(), k.dataSync(), 4, 5, 3).map((v, i) => Math.max(0, v + b.dataSync()[i % 3]));
    assertClose(y, ref, { rtol: 1e-5, atol: 1e-6 });
  });

  test('on rank 3 applies the same kernel to every position of the last axis', () => {
    const layer = new Dense({ units: 2, dtype: 'float64' });
    const x = rand([2, 3, 4], 2);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual([...y.shape], [2, 3, 2]);
    const ref = add(matmul(reshape(x, [6, 4]), layer.kernel!.value), layer.bias!.value);
    assertClose(y, reshape(ref, [2, 3, 2]), { rtol: 1e-12, atol: 1e-12 });
  });

  test('a float32 layer casts float64 inputs to float32', () => {
    const y = new Dense({ units: 2 }).apply(rand([1, 3], 3)) as Tensor;
    assert.equal(y.dtype, 'float32');
  });

  test('input shape errors name the layer, the expected and the received shape', () => {
    const withShape = new Dense({ units: 10, inputShape: [784], name: 'dense_1' });
    const x = full([32, 28, 28], 0);
    assert.throws(
      () => withShape.apply(x),
      (e: Error) =>
        e instanceof ShapeError && e.message === "Dense 'dense_1' expects input (None, 784), got (32, 28, 28)",
    );
    const builtByUse = new Dense({ units: 10, name: 'dense_1' });
    builtByUse.apply(full([2, 784], 0));
    assert.throws(
      () => builtByUse.apply(x),
      (e: Error) =>
        e instanceof ShapeError && e.message.startsWith("Dense 'dense_1' expects input (None, 784), got (32, 28, 28)"),
    );
    assert.throws(
      () => builtByUse.apply(new SymbolicTensor([null, 28, 28], 'float32', 'x')),
      /Dense 'dense_1' expects input \(None, 784\), got \(None, 28, 28\)/,
    );
    assert.throws(
      () => new Dense({ units: 2 }).apply(tensor([1, 2, 3])),
      (e: Error) => e instanceof ShapeError && /rank >= 2/.test(e.message),
    );
    assert.throws(
      () => new Dense({ units: 2 }).apply(new SymbolicTensor([null, null], 'float32', 'x')),
      (e: Error) => e instanceof ShapeError && /last dimension/.test(e.message),
    );
  });

  test('bad arguments are ArgumentErrors with suggestions', () => {
    assert.throws(() => new Dense({ units: 0 }), ArgumentError);
    assert.throws(() => new Dense({ units: 2, activation: 'rleu' }), /did you mean 'relu'/);
    assert.throws(() => new Dense({ units: 2, kernelInitializer: 'glorot_unifrom' }), /did you mean 'glorotUniform'/);
  });

  test('config saves initializers and regularizers as configs, activations as names', () => {
    const layer = new Dense({
      units: 4,
      activation: 'leaky_relu',
      kernelInitializer: 'he_normal',
      kernelRegularizer: { className: 'L1L2', l1: 0.1 },
      name: 'd',
    });
    const c = layer.getConfig();
    assert.equal(c.activation, 'leakyRelu');
    assert.equal(c.units, 4);
    assert.deepEqual(c.kernelInitializer, {
      className: 'HeNormal',
      config: { scale: 2, mode: 'fanIn', distribution: 'truncatedNormal' },
    });
    assert.deepEqual(c.biasInitializer, { className: 'Zeros', config: {} });
    assert.deepEqual(c.kernelRegularizer, { className: 'L1L2', l1: 0.1, l2: 0 });
    assert.equal(c.biasRegularizer, null);
  });

  test('kernel regularizer penalty reaches regularizationLoss', () => {
    const layer = new Dense({ units: 2, kernelRegularizer: 'l2', dtype: 'float64' });
    tidy(() => {
      layer.apply(rand([1, 3], 4));
    });
    const w = flat(layer.kernel!.value);
    assert.ok(Math.abs(layer.regularizationLoss()!.item() - 0.01 * w.reduce((s, v) => s + v * v, 0)) < 1e-12);
  });

  test('seeded initializers give the same weights; names are unique', () => {
    const a = new Dense({ units: 3, kernelInitializer: { className: 'GlorotUniform', config: { seed: 9 } } });
    const b = Dense.fromConfig(a.getConfig());
    a.apply(ones([1, 2]));
    b.apply(ones([1, 2]));
    assert.deepEqual(flat(a.kernel!.value), flat(b.kernel!.value));
    const names = [new Dense({ units: 1 }).name, new Dense({ units: 1 }).name];
    assert.notEqual(names[0], names[1]);
    assert.match(names[1], /^dense_\d+$/);
  });
});

describe('Activation', () => {
  test('applies the named function', () => {
    const x = rand([2, 3], 5);
    assertClose(new Activation({ activation: 'relu' }).apply(x) as Tensor, relu(x));
    assert.throws(() => new Activation({ activation: 'sigmoyd' }), /did you mean 'sigmoid'/);
  });
});

describe('Dropout', () => {
  const x = ones([200, 100]);

  test('is the identity at inference and with rate 0', () => {
    assert.equal(new Dropout({ rate: 0.5 }).apply(x), x);
    assert.equal(new Dropout({ rate: 0 }).apply(x, { training: true }), x);
  });

  test('drops about `rate` of the elements in training and scales the rest by 1 / (1 - rate)', () => {
    const y = flat(new Dropout({ rate: 0.3, seed: 3 }).apply(x, { training: true }) as Tensor);
    const dropped = y.filter((v) => v === 0).length / y.length;
    assert.ok(Math.abs(dropped - 0.3) < 0.01, `dropped fraction ${dropped}`);
    assert.ok(
      y.every((v) => v === 0 || Math.abs(v - 1 / 0.7) < 1e-6),
      'kept values scaled by 1/(1-rate)',
    );
    // Inverted dropout keeps the expectation.
    assert.ok(Math.abs(y.reduce((s, v) => s + v, 0) / y.length - 1) < 0.02);
  });

  test('masks are reproducible: by seed, under setSeed, and per call seed', () => {
    const mask = (d: Dropout, seed?: number) => flat(d.apply(x, { training: true, seed }) as Tensor);
    assert.deepEqual(mask(new Dropout({ rate: 0.5, seed: 42 })), mask(new Dropout({ rate: 0.5, seed: 42 })));
    assert.notDeepEqual(mask(new Dropout({ rate: 0.5, seed: 42 })), mask(new Dropout({ rate: 0.5, seed: 43 })));
    // The layer's stream advances: two calls give two masks.
    const d = new Dropout({ rate: 0.5, seed: 42 });
    assert.notDeepEqual(mask(d), mask(d));
    // Unseeded layers take their seed from the global stream.
    setSeed(5);
    const a = mask(new Dropout({ rate: 0.5 }));
    setSeed(5);
    assert.deepEqual(mask(new Dropout({ rate: 0.5 })), a);
    // A call seed fixes the mask for that call; two layers given the same call seed still differ.
    const e = new Dropout({ rate: 0.5, seed: 1 }),
      f = new Dropout({ rate: 0.5, seed: 2 });
    assert.deepEqual(mask(e, 7), mask(e, 7));
    assert.notDeepEqual(mask(e, 7), mask(e, 8));
    assert.notDeepEqual(mask(e, 7), mask(f, 7));
    // The saved config carries the effective seed, so a rebuilt layer draws the same masks.
    assert.deepEqual(mask(Dropout.fromConfig(e.getConfig()), 7), mask(e, 7));
  });

  test('noiseShape broadcasts one mask entry over the size-1 axes', () => {
    const y = new Dropout({ rate: 0.5, noiseShape: [null, 1], seed: 4 }).apply(ones([6, 5]), {
      training: true,
    }) as Tensor;
    const rows = y.toArray() as number[][];
    for (const r of rows)
      assert.ok(
        r.every((v) => v === r[0]),
        `row ${r} is all dropped or all kept`,
      );
    assert.throws(
      () => new Dropout({ rate: 0.5, noiseShape: [null, 3] }).apply(ones([6, 5]), { training: true }),
      ShapeError,
    );
  });

  test('gradient in training is the scaled mask (fixed by a call seed)', () => {
    const layer = new Dropout({ rate: 0.4, seed: 8, dtype: 'float64' });
    assertGradients((v) => layer.apply(v, { training: true, seed: 11 }) as Tensor, [rand([3, 4], 6)]);
  });

  test('rejects rates outside [0, 1) and bad seeds', () => {
    for (const rate of [-0.1, 1, 1.5, NaN]) assert.throws(() => new Dropout({ rate }), ArgumentError);
    assert.throws(() => new Dropout({ rate: 0.5, seed: -1 }), ArgumentError);
  });
});

describe('Flatten and Reshape', () => {
  test('Flatten keeps the batch and row-major order; rank 1 becomes [N, 1]', () => {
    const x = rand([2, 3, 4], 1);
    const y = new Flatten().apply(x) as Tensor;
    assert.deepEqual([...y.shape], [2, 12]);
    assert.deepEqual(flat(y), flat(x));
    assert.deepEqual([...(new Flatten().apply(ones([3])) as Tensor).shape], [3, 1]);
    assert.deepEqual(new Flatten().computeOutputShape([null, null, 4]), [null, null]);
  });

  test('Reshape infers -1 and reports incompatible sizes naming the layer', () => {
    const layer = new Reshape({ targetShape: [4, -1], name: 'r' });
    assert.deepEqual([...(layer.apply(ones([2, 8])) as Tensor).shape], [2, 4, 2]);
    assert.deepEqual(layer.computeOutputShape([null, null]), [null, 4, null]);
    assert.throws(
      () => layer.apply(ones([2, 6])),
      (e: Error) =>
        e instanceof ShapeError && /^Reshape 'r' expects input/.test(e.message) && /6 elements/.test(e.message),
    );
    assert.throws(() => new Reshape({ targetShape: [5] }).computeOutputShape([null, 6]), ShapeError);
    assert.throws(() => new Reshape({ targetShape: [-1, -1] }), ArgumentError);
    assert.throws(() => new Reshape({ targetShape: [0, 2] }), ArgumentError);
  });
});

describe('Add and Concatenate', () => {
  test('Add sums the inputs', () => {
    const a = rand([2, 3], 1),
      b = rand([2, 3], 2),
      c = rand([2, 3], 3);
    assertClose(new Add().apply([a, b, c]) as Tensor, add(add(a, b), c));
  });

  test('Concatenate joins along the axis', () => {
    const a = rand([2, 3], 1),
      b = rand([2, 1], 2);
    const y = new Concatenate().apply([a, b]) as Tensor;
    const rows = y.toArray() as number[][];
    assert.deepEqual(
      rows.map((r) => r.slice(0, 3)),
      a.toArray(),
    );
    assert.deepEqual(
      rows.map((r) => r.slice(3)),
      b.toArray(),
    );
  });

  test('symbolic shapes keep unknown sizes', () => {
    const s = (shape: (number | null)[]) => new SymbolicTensor(shape, 'float32', 'x');
    assert.deepEqual((new Concatenate().apply([s([null, 3]), s([null, 4])]) as SymbolicTensor).shape, [null, 7]);
    assert.deepEqual(
      (new Concatenate({ axis: 1 }).apply([s([null, null, 2]), s([null, 3, 2])]) as SymbolicTensor).shape,
      [null, null, 2],
    );
    assert.deepEqual((new Add().apply([s([null, 3]), s([null, 1])]) as SymbolicTensor).shape, [null, 3]);
  });

  test('shape errors name the layer and show every input shape', () => {
    assert.throws(
      () => new Add({ name: 'add_x' }).apply([ones([2, 3]), ones([2, 4])]),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message.startsWith("Add 'add_x' expects inputs of one shape") &&
        e.message.includes('(2, 3), (2, 4)'),
    );
    assert.throws(
      () => new Concatenate({ name: 'cat' }).apply([ones([2, 3]), ones([3, 3])]),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message.startsWith("Concatenate 'cat' expects") &&
        e.message.includes('(2, 3), (3, 3)'),
    );
    assert.throws(() => new Concatenate().apply([ones([2, 3]), ones([2, 3, 1])]), ShapeError);
    assert.throws(
      () => new Add().apply(ones([2, 3])),
      (e: Error) => e instanceof ArgumentError && /at least 2 inputs/.test(e.message),
    );
    assert.throws(() => new Add().apply([ones([2, 3])]), ArgumentError);
    assert.throws(() => new Add().apply(new SymbolicTensor([null, 3], 'float32', 'x')), ArgumentError);
  });
});

describe('layers factory and registry', () => {
  test('every factory makes its class, and every class is registered', () => {
    registerLambda('layersCoreIdentity', (x) => x as Tensor);
    const made = [
      layers.dense({ units: 1 }),
      layers.conv1d({ filters: 1, kernelSize: 1 }),
      layers.conv2d({ filters: 1, kernelSize: 1 }),
      layers.conv2dTranspose({ filters: 1, kernelSize: 1 }),
      layers.maxPooling2d(),
      layers.averagePooling2d({ poolSize: 3 }),
      layers.globalAveragePooling2d(),
      layers.flatten(),
      layers.reshape({ targetShape: [-1] }),
      layers.dropout({ rate: 0.1 }),
      layers.activation({ activation: 'relu' }),
      layers.batchNormalization(),
      layers.add(),
      layers.concatenate(),
      // Sequence layers (test/nn/sequence-*.test.ts and attention.test.ts test them in depth).
      layers.embedding({ inputDim: 2, outputDim: 1 }),
      layers.simpleRnn({ units: 1 }),
      layers.lstm({ units: 1 }),
      layers.gru({ units: 1 }),
      layers.bidirectional({ layer: layers.lstm({ units: 1 }) }),
      layers.timeDistributed({ layer: layers.dense({ units: 1 }) }),
      layers.layerNormalization(),
      layers.multiHeadAttention({ numHeads: 1, keyDim: 1 }),
      layers.positionalEncoding(),
      layers.positionEmbedding({ sequenceLength: 2 }),
      layers.transformerEncoder({ numHeads: 1, intermediateDim: 1 }),
      layers.transformerDecoder({ numHeads: 1, intermediateDim: 1 }),
      layers.globalAveragePooling1d(),
      layers.globalMaxPooling1d(),
      // Image preprocessing (test/nn/preprocessing-image.test.ts).
      layers.normalization(),
      layers.rescaling({ scale: 1 }),
      layers.resizing({ height: 1, width: 1 }),
      layers.centerCrop({ height: 1, width: 1 }),
      layers.randomFlip(),
      layers.randomRotation({ factor: 0.1 }),
      layers.randomZoom({ heightFactor: 0.1 }),
      layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1 }),
      layers.randomContrast({ factor: 0.1 }),
      // Convolution and spatial layers (test/nn/layers-conv-spatial.test.ts).
      layers.depthwiseConv2d({ kernelSize: 1 }),
      layers.separableConv2d({ filters: 1, kernelSize: 1 }),
      layers.globalMaxPooling2d(),
      layers.maxPooling1d(),
      layers.averagePooling1d(),
      layers.zeroPadding1d(),
      layers.zeroPadding2d(),
      layers.cropping1d(),
      layers.cropping2d(),
      layers.upSampling1d(),
      layers.upSampling2d(),
      // Text preprocessing (test/nn/preprocessing-text.test.ts).
      layers.textVectorization(),
      layers.stringLookup(),
      layers.integerLookup(),
      layers.categoryEncoding({ numTokens: 2 }),
      layers.hashing({ numBins: 2 }),
      // Activation, merge, axis, normalization, attention, masking, noise and Lambda layers
      // (test/nn/layers-activations, -merge, -group-norm, -dense-attention and -masking-noise-lambda tests).
      layers.leakyReLU(),
      layers.prelu(),
      layers.reLU(),
      layers.elu(),
      layers.softmax(),
      layers.subtract(),
      layers.multiply(),
      layers.average(),
      layers.maximum(),
      layers.minimum(),
      layers.dot({ axes: 1 }),
      layers.repeatVector({ n: 1 }),
      layers.permute({ dims: [1] }),
      layers.groupNormalization(),
      layers.attention(),
      layers.additiveAttention(),
      layers.masking(),
      layers.gaussianNoise({ stddev: 0.1 }),
      layers.gaussianDropout({ rate: 0.1 }),
      layers.spatialDropout1d({ rate: 0.1 }),
      layers.spatialDropout2d({ rate: 0.1 }),
      // A registered function, so that the config round trip below can save it.
      layers.lambda({ function: 'layersCoreIdentity' }),
    ];
    assert.equal(made.length, Object.keys(layers).length);
    for (const l of made) {
      assert.ok(registeredLayers().includes(l.className), `${l.className} registered`);
      assert.equal(layerFromConfig({ className: l.className, config: l.getConfig() }).constructor, l.constructor);
    }
  });

  test('users can subclass a built-in layer under their own registered name', () => {
    class ScaledDense extends Dense {
      static override readonly className: string = 'ScaledDense';
    }
    registerLayer(ScaledDense);
    const l = layerFromConfig({
      className: 'ScaledDense',
      config: new ScaledDense({ units: 2, name: 's' }).getConfig(),
    });
    assert.ok(l instanceof ScaledDense);
    assert.equal(l.name, 's');
  });

  test('a factory call with inputShape checks inputs like Keras', () => {
    const d = layers.dense({ units: 2, inputShape: [3] });
    assert.deepEqual(d.getConfig().batchInputShape, [null, 3]);
    assert.throws(() => d.apply(ones([1, 4])), ShapeError);
  });

  test('an eager call inside tidy leaves only its output', () => {
    const d = layers.dense({ units: 2 });
    const x = ones([1, 3]);
    tidy(() => {
      d.apply(x);
    });
    const before = memory().tensors;
    const y = tidy(() => d.apply(x) as Tensor);
    assert.equal(memory().tensors, before + 1);
    y.dispose();
  });
});
