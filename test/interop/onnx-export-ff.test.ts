// ONNX export of the feed-forward layers: each layer, on odd sizes and random weights (BatchNormalization with
// non-trivial moving statistics), runs in onnxruntime-node equal to Candor's predict within 1e-5 at two batch
// sizes, and every exported file passes onnx.checker; so do the examples' MNIST MLP and CNN.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  Model,
  RandomStream,
  Sequential,
  input,
  interop,
  layers,
  tensor,
  type Layer,
  type Tensor,
} from '../../src/index.js';
import type { SymbolicTensor } from '../../src/nn/layer.js';
import { mnistCnn } from '../../examples/common.js';
import { assertOnnxMatchesCandor, checkedAfterAll } from './onnx-helpers.js';

/** Every exported file, checked by one onnx.checker run after the tests. */
const exported = checkedAfterAll();

/** Gives the weights that start constant (biases, BN statistics, gamma / beta, PReLU slopes) random values. */
function randomizeWeights(model: Model, seed: number): void {
  const rng = new RandomStream(seed);
  for (const v of model.weights) {
    const name = v.name.split('/').at(-1)!;
    if (name.startsWith('moving_variance')) v.assign(rng.uniform(v.shape, 0.5, 2, v.dtype));
    else if (name.startsWith('gamma')) v.assign(rng.uniform(v.shape, 0.5, 1.5, v.dtype));
    else if (name.startsWith('alpha')) v.assign(rng.uniform(v.shape, 0, 0.5, v.dtype));
    else if (/^(bias|beta|moving_mean)/.test(name)) v.assign(rng.normal(v.shape, 0, 0.5, v.dtype));
  }
}

/** A Sequential of `ls` on inputs of `shape` (no batch axis). */
const seq = (shape: (number | null)[], ...ls: Layer[]) => new Sequential([input({ shape }), ...ls]);

/** Random float inputs of these shapes (the batch prepended), from a seed. */
const normals =
  (...shapes: number[][]) =>
  (b: number) => {
    const rng = new RandomStream(b * 31 + shapes.length);
    return shapes.map((s) => rng.normal([b, ...s]));
  };

/** Exports `model` (weights randomized), compares with onnxruntime and keeps the bytes for the checker. */
async function check(name: string, model: Model, makeInputs: (b: number) => Tensor[]): Promise<Uint8Array> {
  randomizeWeights(model, Object.keys(exported).length + 1);
  const bytes = await assertOnnxMatchesCandor(model, makeInputs);
  exported[name] = bytes;
  return bytes;
}

/** The op types of an exported model's nodes. */
const opTypes = (bytes: Uint8Array) => interop.decodeModelProto(bytes).graph!.node!.map((n) => n.opType);

describe('ONNX export: convolutions', () => {
  it('Conv1D: valid, same with stride 2, causal with dilation, explicit padding, softmax', async () => {
    const cases = [
      layers.conv1d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.conv1d({ filters: 5, kernelSize: 4, strides: 2, padding: 'same', activation: 'tanh' }),
      layers.conv1d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'causal' }),
      layers.conv1d({ filters: 4, kernelSize: 2, padding: [1, 2], useBias: false, activation: 'softmax' }),
    ];
    await check('conv1d', seq([11, 3], ...cases), normals([11, 3]));
  });

  it('Conv2D: odd sizes, same with stride 2, dilation, explicit pads, groups; inner Transposes cancel', async () => {
    const model = seq(
      [9, 7, 4],
      layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      layers.conv2d({ filters: 4, kernelSize: [2, 3], dilationRate: [2, 1], padding: 'same', groups: 2 }),
      layers.conv2d({
        filters: 5,
        kernelSize: 2,
        padding: [
          [1, 0],
          [2, 1],
        ],
        activation: 'elu',
      }),
      layers.conv2d({ filters: 3, kernelSize: 3, strides: [2, 1], activation: 'softmax' }),
    );
    const bytes = await check('conv2d', model, normals([9, 7, 4]));
    // One Transpose in and one out (before the softmax, which is over the channels): the pairs between cancel.
    assert.equal(opTypes(bytes).filter((t) => t === 'Transpose').length, 2);
  });

  it("Conv2D and pooling with 'same' on unknown spatial sizes (SAME_UPPER)", async () => {
    const model = seq(
      [null, null, 2],
      layers.conv2d({ filters: 3, kernelSize: 4, strides: 3, padding: 'same' }),
      layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      layers.averagePooling2d({ poolSize: [2, 3], strides: 2, padding: 'same' }),
    );
    await check('conv2d-dynamic', model, normals([17, 22, 2]));
  });

  it('DepthwiseConv2D and SeparableConv2D', async () => {
    const model = seq(
      [8, 7, 3],
      layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu' }),
      layers.separableConv2d({ filters: 5, kernelSize: [2, 3], depthMultiplier: 2, activation: 'sigmoid' }),
    );
    await check('depthwise', model, normals([8, 7, 3]));
  });

  it("Conv2DTranspose: valid, same, stride above the kernel, outputPadding, dilation; Keras' sizes", async () => {
    const model = seq(
      [5, 4, 3],
      layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, activation: 'relu' }),
      layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }),
      layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3 }),
      layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', outputPadding: 0 }),
      layers.conv2dTranspose({ filters: 2, kernelSize: [3, 2], dilationRate: 2, padding: 'same' }),
    );
    assert.deepEqual(model.computeOutputShape([null, 5, 4, 3]), [null, 131, 107, 2]);
    await check('conv2d-transpose', model, normals([5, 4, 3]));
  });
});

describe('ONNX export: pooling', () => {
  it('Max/AveragePooling2D (same excludes the padding), global 2-D pooling with and without keepdims', async () => {
    const x = input({ shape: [9, 7, 3] });
    const pools = [
      layers.maxPooling2d({ poolSize: [3, 2], strides: [2, 3], padding: 'same' }),
      layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      layers.averagePooling2d({ poolSize: 2 }),
      layers.maxPooling2d({ poolSize: 3, strides: 1 }),
      layers.globalAveragePooling2d({ keepdims: true }),
      layers.globalMaxPooling2d(),
    ];
    const outputs = pools.map((p) => p.apply(x) as SymbolicTensor);
    await check('pool2d', new Model({ inputs: x, outputs }), normals([9, 7, 3]));
  });

  it('Max/AveragePooling1D and global 1-D pooling', async () => {
    const x = input({ shape: [11, 4] });
    const pools = [
      layers.maxPooling1d({ poolSize: 3, strides: 2, padding: 'same' }),
      layers.averagePooling1d({ poolSize: 4, strides: 3, padding: 'same' }),
      layers.averagePooling1d({ poolSize: 2 }),
      layers.globalAveragePooling1d(),
      layers.globalMaxPooling1d({ keepdims: true }),
    ];
    const outputs = pools.map((p) => p.apply(x) as SymbolicTensor);
    await check('pool1d', new Model({ inputs: x, outputs }), normals([11, 4]));
  });
});

describe('ONNX export: normalization', () => {
  it('BatchNormalization with moving statistics: channels last after a conv, axis 1, no center / scale', async () => {
    const model = seq(
      [7, 5, 3],
      layers.conv2d({ filters: 4, kernelSize: 2 }),
      layers.batchNormalization({ epsilon: 0.01 }),
      layers.batchNormalization({ axis: 1, center: false }),
      layers.batchNormalization({ axis: 2, scale: false }),
    );
    await check('batchnorm', model, normals([7, 5, 3]));
  });

  it('LayerNormalization over the last axis, the last two, a middle one, without center or scale', async () => {
    const model = seq(
      [5, 6],
      layers.layerNormalization(),
      layers.layerNormalization({ axis: [-2, -1], epsilon: 1e-5 }),
      layers.layerNormalization({ axis: 1, center: false }),
      layers.layerNormalization({ scale: false }),
    );
    const bytes = await check('layernorm', model, normals([5, 6]));
    assert.equal(opTypes(bytes).filter((t) => t === 'LayerNormalization').length, 3);
  });

  it('Normalization: given statistics, adapted ones (with a zero variance), the inverse', async () => {
    const adapted = layers.normalization({ axis: [1, 2] });
    const data = new RandomStream(5).normal([20, 4, 3]);
    adapted.adapt(data);
    data.dispose();
    const model = seq(
      [4, 3],
      layers.normalization({ mean: [0.5, -1, 2], variance: [2, 0.5, 0] }),
      adapted,
      layers.normalization({ axis: null, mean: 1, variance: 4, invert: true }),
    );
    await check('normalization', model, normals([4, 3]));
  });

  it('GroupNormalization, channels last and on axis 1', async () => {
    const model = seq(
      [5, 6],
      layers.groupNormalization({ groups: 3 }),
      layers.groupNormalization({ groups: 5, axis: 1, center: false }),
    );
    await check('groupnorm', model, normals([5, 6]));
  });
});

describe('ONNX export: elementwise and training-only layers', () => {
  it('activation layers with their options', async () => {
    const model = seq(
      [4, 5],
      layers.reLU({ maxValue: 1.5 }),
      layers.prelu({ sharedAxes: [1] }),
      layers.leakyReLU({ negativeSlope: 0.1 }),
      layers.elu({ alpha: 0.7 }),
      layers.reLU({ negativeSlope: 0.2, threshold: 0.3 }),
      layers.prelu(),
      layers.reLU({ threshold: 0.1, maxValue: 2 }),
      layers.softmax({ axis: 1 }),
      layers.activation({ activation: 'gelu' }),
      layers.rescaling({ scale: [1, 2, 3, 4, 5], offset: -0.5 }),
    );
    await check('activations', model, normals([4, 5]));
  });

  it('dropout, noise and augmentation layers are the identity: no nodes', async () => {
    const model = seq(
      [6, 5, 2],
      layers.dropout({ rate: 0.3 }),
      layers.spatialDropout2d({ rate: 0.2 }),
      layers.gaussianNoise({ stddev: 0.5 }),
      layers.gaussianDropout({ rate: 0.2 }),
      layers.randomFlip(),
      layers.randomRotation({ factor: 0.2 }),
      layers.randomZoom({ heightFactor: 0.1 }),
      layers.randomTranslation({ heightFactor: 0.1, widthFactor: 0.1 }),
      layers.randomContrast({ factor: 0.3 }),
      layers.reshape({ targetShape: [30, 2] }),
      layers.spatialDropout1d({ rate: 0.2 }),
    );
    const bytes = await check('inference-identity', model, normals([6, 5, 2]));
    assert.deepEqual(opTypes(bytes), ['Reshape']);
  });
});

describe('ONNX export: shape layers', () => {
  it("Flatten keeps Keras' H, W, C order after a convolution", async () => {
    const model = seq(
      [5, 4, 2],
      layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }),
      layers.flatten(),
      layers.dense({ units: 4 }),
    );
    await check('flatten', model, normals([5, 4, 2]));
  });

  it('TimeDistributed of a Conv2D and of a Dense (batch and time dynamic)', async () => {
    const model = seq(
      [null, 5, 4, 2],
      layers.timeDistributed({ layer: layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }) }),
      layers.timeDistributed({ layer: layers.flatten() }),
      layers.timeDistributed({ layer: layers.dense({ units: 4 }) }),
    );
    await check('time-distributed', model, normals([3, 5, 4, 2]));
  });

  it('a Permute after a convolution composes with its Transpose into one', async () => {
    const model = seq(
      [5, 4, 2],
      layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }),
      layers.permute({ dims: [2, 1, 3] }),
      layers.flatten(),
    );
    const bytes = await check('conv-permute', model, normals([5, 4, 2]));
    const perms = interop
      .decodeModelProto(bytes)
      .graph!.node!.filter((n) => n.opType === 'Transpose')
      .map((n) => n.attribute![0].ints);
    // Into channels first; then channels first -> [N, W, H, C] in one step.
    assert.deepEqual(perms, [
      [0, 3, 1, 2],
      [0, 3, 2, 1],
    ]);
  });

  it('Reshape, Permute, RepeatVector', async () => {
    const model = seq(
      [6, 5],
      layers.reshape({ targetShape: [3, -1] }),
      layers.permute({ dims: [2, 1] }),
      layers.flatten(),
      layers.repeatVector({ n: 3 }),
    );
    await check('reshape', model, normals([6, 5]));
  });

  it('ZeroPadding, Cropping and UpSampling in 1-D', async () => {
    const model = seq(
      [7, 3],
      layers.zeroPadding1d({ padding: [2, 1] }),
      layers.cropping1d({ cropping: [0, 3] }),
      layers.upSampling1d({ size: 3 }),
      layers.cropping1d({ cropping: 2 }),
    );
    await check('resize1d', model, normals([7, 3]));
  });

  it('ZeroPadding, Cropping, UpSampling (nearest, bilinear), Resizing and CenterCrop in 2-D', async () => {
    const model = seq(
      [5, 7, 2],
      layers.zeroPadding2d({
        padding: [
          [1, 2],
          [0, 3],
        ],
      }),
      layers.cropping2d({
        cropping: [
          [2, 0],
          [1, 1],
        ],
      }),
      layers.upSampling2d({ size: [2, 3] }),
      layers.upSampling2d({ size: 2, interpolation: 'bilinear' }),
      layers.resizing({ height: 9, width: 13 }),
      layers.resizing({ height: 5, width: 4, interpolation: 'nearest', cropToAspectRatio: true }),
      layers.centerCrop({ height: 3, width: 3 }),
      layers.centerCrop({ height: 4, width: 6 }),
    );
    await check('resize2d', model, normals([5, 7, 2]));
  });
});

describe('ONNX export: merge and embedding layers', () => {
  it('Add, Subtract, Multiply, Average, Maximum, Minimum (with broadcasting), Concatenate, Dot', async () => {
    const a = input({ shape: [4, 5] }),
      b = input({ shape: [4, 5] }),
      c = input({ shape: [1, 5] });
    const apply = (l: Layer, xs: SymbolicTensor[]) => l.apply(xs) as SymbolicTensor;
    const outputs = [
      apply(layers.add(), [a, b, c]),
      apply(layers.subtract(), [a, c]),
      apply(layers.multiply(), [a, b]),
      apply(layers.average(), [a, b, c]),
      apply(layers.maximum(), [a, c]),
      apply(layers.minimum(), [b, a]),
      apply(layers.concatenate({ axis: 1 }), [a, b, c]),
      apply(layers.concatenate(), [a, b]),
      apply(layers.dot({ axes: 2 }), [a, b]),
      apply(layers.dot({ axes: [1, 1], normalize: true }), [a, b]),
    ];
    await check('merge', new Model({ inputs: [a, b, c], outputs }), normals([4, 5], [4, 5], [1, 5]));
  });

  it('Embedding on int32 and float ids; a maskZero mask reaches GlobalAveragePooling1D', async () => {
    const ids = (b: number) => {
      const rng = new RandomStream(b);
      const data = Array.from(rng.uniform([b * 6], 0, 9).dataSync(), Math.floor);
      data[0] = 0; // one padding step at least
      return data;
    };
    const intModel = seq(
      [6],
      layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true }),
      layers.dropout({ rate: 0.1 }),
      layers.globalAveragePooling1d(),
    );
    const intInput = new Sequential([
      input({ shape: [6], dtype: 'int32' }),
      layers.embedding({ inputDim: 9, outputDim: 5 }),
      layers.flatten(),
    ]);
    await check('embedding-mask', intModel, (b) => [tensor(ids(b), [b, 6])]);
    // The mask passes through Dense (supportsMasking) to the pooling, as in Candor.
    const throughDense = seq(
      [6],
      layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true }),
      layers.dense({ units: 3 }),
      layers.globalAveragePooling1d(),
    );
    await check('embedding-mask-dense', throughDense, (b) => [tensor(ids(b), [b, 6])]);
    await check('embedding-int32', intInput, (b) => [tensor(ids(b), [b, 6], 'int32')]);
  });

  it('Masking zeroes masked steps and its mask reaches GlobalAveragePooling1D', async () => {
    const model = seq([5, 3], layers.masking({ maskValue: 0 }), layers.globalAveragePooling1d({ keepdims: true }));
    await check('masking', model, (b) => {
      const x = new RandomStream(b).normal([b, 5, 3]).dataSync();
      x.fill(0, 3, 9); // steps 1 and 2 of the first sample are padding
      return [tensor(Array.from(x), [b, 5, 3])];
    });
  });

  it('refuses a mask a layer would apply but its exporter does not, and layers with no exporter, by name', () => {
    const masked = seq(
      [6],
      layers.embedding({ inputDim: 9, outputDim: 4, maskZero: true }),
      layers.softmax({ name: 'probs' }),
    );
    assert.throws(
      () => interop.toOnnx(masked),
      (e: Error) => e instanceof interop.UnsupportedLayerError && /'probs' \(Softmax\).*mask/.test(e.message),
    );
    // Keras' transposed output size needs the input's spatial sizes.
    const unknownSizes = seq([null, null, 2], layers.conv2dTranspose({ filters: 2, kernelSize: 3, name: 'up' }));
    assert.throws(
      () => interop.toOnnx(unknownSizes),
      (e: Error) =>
        e instanceof interop.InteropError && /'up' \(Conv2DTranspose\).*\(None, None, None, 2\)/.test(e.message),
    );
    const lambda = seq([4], layers.lambda({ function: (x) => x as Tensor, name: 'custom' }));
    assert.throws(
      () => interop.toOnnx(lambda),
      (e: Error) => e instanceof interop.UnsupportedLayerError && /'custom' \(Lambda\)/.test(e.message),
    );
  });
});

describe('ONNX export: float64 layers', () => {
  it('constants take the layer dtype (BatchNormalization, LayerNormalization, ReLU, Rescaling, Average)', async () => {
    const dtype = 'float64';
    const x = input({ shape: [5, 4], dtype });
    const h = [
      layers.dense({ units: 6, dtype }),
      layers.batchNormalization({ dtype }),
      layers.layerNormalization({ dtype }),
      layers.layerNormalization({ axis: 1, dtype }),
      layers.reLU({ threshold: 0.1, negativeSlope: 0.2, maxValue: 2, dtype }),
      layers.rescaling({ scale: 0.5, offset: [1, 2, 3, 4, 5, 6], dtype }),
    ].reduce((v, l) => l.apply(v) as SymbolicTensor, x);
    const y = layers.average({ dtype }).apply([h, h]) as SymbolicTensor;
    await check('float64', new Model({ inputs: x, outputs: y }), (b) => [
      new RandomStream(b).normal([b, 5, 4], 0, 1, dtype),
    ]);
  });
});

describe('ONNX export: the MNIST examples', () => {
  it('the MNIST MLP (examples/mnist-mlp.ts)', async () => {
    const model = new Sequential([
      layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
      layers.dropout({ rate: 0.2 }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    await check('mnist-mlp', model, (b) => [new RandomStream(b).uniform([b, 784])]);
  });

  it('the MNIST CNN (examples/common.ts mnistCnn)', async () => {
    const model = mnistCnn();
    const bytes = await check('mnist-cnn', model, (b) => [new RandomStream(b).uniform([b, 28, 28, 1])]);
    // Between the convolutions and poolings the layout stays channels first: one Transpose in, one out.
    assert.equal(opTypes(bytes).filter((t) => t === 'Transpose').length, 2);
  });
});
