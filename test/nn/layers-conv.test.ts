// Tests the convolution and pooling layers through the shared harness, against the ops they wrap
// (same weights), and their Keras shapes, kernel layouts and layer-named shape errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ShapeError,
  ArgumentError,
  Tensor,
  add,
  avgPool2d,
  conv1d,
  conv2d,
  conv2dTranspose,
  maxPool2d,
  mean,
  ones,
  pad,
  tensor,
} from '../../src/index.js';
import { SymbolicTensor } from '../../src/nn/layer.js';
import {
  AveragePooling2D,
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  GlobalAveragePooling2D,
  MaxPooling2D,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const EXACT = { rtol: 1e-12, atol: 1e-12 };

describe('convolution and pooling layers through the harness', () => {
  test('Conv2D valid', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 2, kernelSize: 2, activation: 'tanh' }),
      inputShape: [1, 4, 3, 2],
      expectedOutputShape: [1, 3, 2, 2],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('Conv2D same, strided', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 2, kernelSize: [3, 2], strides: 2, padding: 'same' }),
      inputShape: [1, 5, 4, 1],
      expectedOutputShape: [1, 3, 2, 2],
    }));
  test('Conv2D dilated, no bias', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 1, kernelSize: 2, dilationRate: 2, useBias: false }),
      inputShape: [1, 4, 4, 2],
      expectedOutputShape: [1, 2, 2, 1],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('Conv1D', () =>
    runLayerTest({
      make: () => new Conv1D({ filters: 2, kernelSize: 3 }),
      inputShape: [2, 5, 2],
      expectedOutputShape: [2, 3, 2],
    }));
  test('Conv1D causal', () =>
    runLayerTest({
      make: () => new Conv1D({ filters: 1, kernelSize: 2, padding: 'causal', dilationRate: 2 }),
      inputShape: [1, 5, 2],
      expectedOutputShape: [1, 5, 1],
    }));
  test('Conv2DTranspose same', () =>
    runLayerTest({
      make: () => new Conv2DTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'same' }),
      inputShape: [1, 2, 2, 2],
      expectedOutputShape: [1, 4, 4, 2],
    }));
  test('Conv2DTranspose valid', () =>
    runLayerTest({
      make: () => new Conv2DTranspose({ filters: 1, kernelSize: 2, strides: [1, 2] }),
      inputShape: [1, 2, 3, 2],
      expectedOutputShape: [1, 3, 6, 1],
    }));
  test('MaxPooling2D', () =>
    runLayerTest({ make: () => new MaxPooling2D(), inputShape: [1, 4, 5, 2], expectedOutputShape: [1, 2, 2, 2] }));
  test('MaxPooling2D same, strides 1', () =>
    runLayerTest({
      make: () => new MaxPooling2D({ poolSize: 2, strides: 1, padding: 'same' }),
      inputShape: [1, 3, 3, 1],
      expectedOutputShape: [1, 3, 3, 1],
    }));
  test('AveragePooling2D', () =>
    runLayerTest({
      make: () => new AveragePooling2D({ poolSize: [2, 3], padding: 'same' }),
      inputShape: [1, 3, 4, 2],
      expectedOutputShape: [1, 2, 2, 2],
    }));
  test('GlobalAveragePooling2D', () =>
    runLayerTest({ make: () => new GlobalAveragePooling2D(), inputShape: [2, 3, 2, 3], expectedOutputShape: [2, 3] }));
  test('GlobalAveragePooling2D keepdims', () =>
    runLayerTest({
      make: () => new GlobalAveragePooling2D({ keepdims: true }),
      inputShape: [2, 3, 2, 3],
      expectedOutputShape: [2, 1, 1, 3],
    }));
});

describe('convolution layers', () => {
  test('Conv2D equals ops.conv2d with its kernel plus the bias', () => {
    const layer = new Conv2D({
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      biasInitializer: 'randomNormal',
      dtype: 'float64',
    });
    const x = rand([2, 7, 6, 3], 1);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual([...layer.kernel!.shape], [3, 3, 3, 4], 'Keras kernel layout [kh, kw, cin, filters]');
    assertClose(y, add(conv2d(x, layer.kernel!.value, { strides: 2, padding: 'same' }), layer.bias!.value), EXACT);
  });

  test('Conv1D equals ops.conv1d; causal output t sees only inputs up to t', () => {
    const layer = new Conv1D({
      filters: 2,
      kernelSize: 3,
      dilationRate: 2,
      padding: 'causal',
      dtype: 'float64',
      useBias: false,
    });
    const x = rand([1, 8, 2], 2);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual([...layer.kernel!.shape], [3, 2, 2]);
    assertClose(
      y,
      conv1d(
        pad(x, [
          [0, 0],
          [4, 0],
          [0, 0],
        ]),
        layer.kernel!.value,
        { dilation: 2 },
      ),
      EXACT,
    );
    // Changing the last step changes only the last output step.
    const data = x.dataSync();
    data[data.length - 1] += 1;
    const y2 = flat(layer.apply(tensor(data, x.shape)) as Tensor),
      y1 = flat(y);
    assert.deepEqual(y2.slice(0, 14), y1.slice(0, 14));
    assert.notDeepEqual(y2.slice(14), y1.slice(14));
    const plain = new Conv1D({ filters: 2, kernelSize: 3, strides: 2, padding: 'same', dtype: 'float64' });
    const yp = plain.apply(x) as Tensor;
    assertClose(yp, add(conv1d(x, plain.kernel!.value, { stride: 2, padding: 'same' }), plain.bias!.value), EXACT);
  });

  test('Conv2DTranspose: kernel [kh, kw, filters, cin], output H * stride (same), equals ops.conv2dTranspose', () => {
    const layer = new Conv2DTranspose({
      filters: 3,
      kernelSize: 3,
      strides: 2,
      padding: 'same',
      dtype: 'float64',
      useBias: false,
    });
    const x = rand([1, 3, 4, 2], 3);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual([...layer.kernel!.shape], [3, 3, 3, 2]);
    assert.deepEqual([...y.shape], [1, 6, 8, 3]);
    assertClose(y, conv2dTranspose(x, layer.kernel!.value, { strides: 2, padding: 'same' }), EXACT);
  });

  test('symbolic shapes keep unknown spatial sizes', () => {
    const s = new SymbolicTensor([null, null, 8, 3], 'float32', 'x');
    assert.deepEqual((new Conv2D({ filters: 5, kernelSize: 3 }).apply(s) as SymbolicTensor).shape, [null, null, 6, 5]);
    assert.deepEqual(
      (new Conv2DTranspose({ filters: 5, kernelSize: 3, strides: 2 }).apply(s) as SymbolicTensor).shape,
      [null, null, 17, 5],
    );
    assert.deepEqual((new MaxPooling2D().apply(s) as SymbolicTensor).shape, [null, null, 4, 3]);
  });

  test('config normalizes int arguments to tuples, as Keras', () => {
    const c = new Conv2D({ filters: 2, kernelSize: 3 }).getConfig();
    assert.deepEqual([c.kernelSize, c.strides, c.dilationRate, c.padding], [[3, 3], [1, 1], [1, 1], 'valid']);
    assert.deepEqual(new Conv1D({ filters: 2, kernelSize: 3 }).getConfig().kernelSize, [3]);
    assert.deepEqual(new MaxPooling2D({ poolSize: 3 }).getConfig().strides, [3, 3]);
  });

  test('shape errors name the layer and say what was expected', () => {
    const layer = new Conv2D({ filters: 2, kernelSize: 3, name: 'c' });
    layer.apply(ones([1, 5, 5, 3]));
    assert.throws(
      () => layer.apply(ones([1, 5, 5, 4])),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message ===
          "Conv2D 'c' expects input (None, H, W, 3), got (1, 5, 5, 4): the last (channel) dimension must be 3",
    );
    assert.throws(
      () => layer.apply(ones([5, 5, 3])),
      (e: Error) => e instanceof ShapeError && /rank 4/.test(e.message),
    );
    assert.throws(
      () => layer.apply(ones([1, 2, 5, 3])),
      (e: Error) => e instanceof ShapeError && /^Conv2D 'c'.*window of extent 3 does not fit/.test(e.message),
    );
    assert.throws(() => new Conv1D({ filters: 1, kernelSize: 2 }).apply(ones([1, 4])), ShapeError);
    assert.throws(
      () => new MaxPooling2D({ poolSize: 3, name: 'p' }).apply(ones([1, 2, 2, 1])),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message.startsWith("MaxPooling2D 'p' expects input (None, H, W, channels), got (1, 2, 2, 1)"),
    );
    assert.throws(() => new GlobalAveragePooling2D().apply(ones([2, 3])), ShapeError);
  });

  test('bad arguments are ArgumentErrors naming the layer', () => {
    assert.throws(
      () => new Conv2D({ filters: 2, kernelSize: [3, 3, 3], name: 'c' }),
      (e: Error) => e instanceof ArgumentError && /^Conv2D 'c': kernelSize/.test(e.message),
    );
    assert.throws(() => new Conv2D({ filters: 2, kernelSize: 3, padding: 'causal' as 'same' }), ArgumentError);
    assert.throws(() => new Conv2D({ filters: 1.5, kernelSize: 3 }), ArgumentError);
    assert.throws(() => new MaxPooling2D({ padding: 'full' as 'same' }), ArgumentError);
  });
});

describe('pooling layers', () => {
  test('equal the pooling ops; strides default to the pool size', () => {
    const x = rand([2, 6, 5, 3], 4);
    assertClose(new MaxPooling2D({ poolSize: 2 }).apply(x) as Tensor, maxPool2d(x, 2, { strides: 2 }), EXACT);
    assertClose(
      new AveragePooling2D({ poolSize: 3, strides: 1, padding: 'same' }).apply(x) as Tensor,
      avgPool2d(x, 3, { strides: 1, padding: 'same' }),
      EXACT,
    );
    assertClose(new GlobalAveragePooling2D().apply(x) as Tensor, mean(x, [1, 2]), EXACT);
  });
});
