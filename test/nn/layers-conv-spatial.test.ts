// The convolution and spatial layers of issue 11: DepthwiseConv2D, SeparableConv2D, Conv2D groups and explicit
// padding, Conv1D explicit padding, Conv2DTranspose outputPadding, UpSampling1D / 2D, ZeroPadding and Cropping
// 1D / 2D, GlobalMaxPooling2D, MaxPooling1D, AveragePooling1D: each through the layer harness, and against
// the ops they are built from (slow, obvious compositions) or closed forms.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  ShapeError,
  Tensor,
  add,
  avgPool2d,
  concat,
  conv2d,
  conv2dTranspose,
  depthwiseConv2d,
  max,
  maxPool2d,
  pad,
  reshape,
  slice,
  squeeze,
  tensor,
  unsqueeze,
  vjp,
} from '../../src/index.js';
import {
  AveragePooling1D,
  Conv1D,
  Conv2D,
  Conv2DTranspose,
  Cropping1D,
  Cropping2D,
  DepthwiseConv2D,
  GlobalMaxPooling2D,
  MaxPooling1D,
  SeparableConv2D,
  UpSampling1D,
  UpSampling2D,
  ZeroPadding1D,
  ZeroPadding2D,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const EXACT = { rtol: 1e-12, atol: 1e-12 };

describe('convolution and spatial layers through the harness', () => {
  test('DepthwiseConv2D', () =>
    runLayerTest({
      make: () => new DepthwiseConv2D({ kernelSize: 3, activation: 'tanh' }),
      inputShape: [2, 5, 4, 3],
      expectedOutputShape: [2, 3, 2, 3],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('DepthwiseConv2D depthMultiplier 2, strided same, dilated', () =>
    runLayerTest({
      make: () => new DepthwiseConv2D({ kernelSize: [3, 2], depthMultiplier: 2, strides: 2, padding: 'same' }),
      inputShape: [1, 5, 6, 2],
      expectedOutputShape: [1, 3, 3, 4],
    }));
  test('DepthwiseConv2D explicit asymmetric padding, no bias', () =>
    runLayerTest({
      make: () =>
        new DepthwiseConv2D({
          kernelSize: 2,
          dilationRate: [2, 1],
          padding: [
            [1, 0],
            [0, 2],
          ],
          useBias: false,
        }),
      inputShape: [1, 4, 3, 2],
      expectedOutputShape: [1, 3, 4, 2],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('SeparableConv2D', () =>
    runLayerTest({
      make: () => new SeparableConv2D({ filters: 3, kernelSize: 2, depthMultiplier: 2, padding: 'same' }),
      inputShape: [1, 4, 5, 2],
      expectedOutputShape: [1, 4, 5, 3],
      expectedWeights: { trainable: 3, nonTrainable: 0 },
    }));
  test('Conv2D groups 2', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 4, kernelSize: 2, groups: 2 }),
      inputShape: [1, 4, 3, 4],
      expectedOutputShape: [1, 3, 2, 4],
    }));
  test('Conv2D one group per channel, explicit padding', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 6, kernelSize: 3, groups: 3, padding: 1 }),
      inputShape: [1, 4, 3, 3],
      expectedOutputShape: [1, 4, 3, 6],
    }));
  test('Conv2D [h, w] padding, strided', () =>
    runLayerTest({
      make: () => new Conv2D({ filters: 2, kernelSize: [3, 2], strides: 2, padding: [2, 0] }),
      inputShape: [1, 5, 4, 1],
      expectedOutputShape: [1, 4, 2, 2],
    }));
  test('Conv1D [left, right] padding', () =>
    runLayerTest({
      make: () => new Conv1D({ filters: 2, kernelSize: 3, padding: [3, 1] }),
      inputShape: [2, 4, 2],
      expectedOutputShape: [2, 6, 2],
    }));
  test('Conv2DTranspose outputPadding', () =>
    runLayerTest({
      make: () => new Conv2DTranspose({ filters: 2, kernelSize: 3, strides: [2, 3], outputPadding: [1, 2] }),
      inputShape: [1, 2, 2, 2],
      expectedOutputShape: [1, 6, 8, 2],
    }));
  test('Conv2DTranspose same with outputPadding', () =>
    runLayerTest({
      make: () => new Conv2DTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', outputPadding: 0 }),
      inputShape: [1, 3, 2, 2],
      expectedOutputShape: [1, 5, 3, 1],
    }));
  test('UpSampling1D', () =>
    runLayerTest({ make: () => new UpSampling1D({ size: 3 }), inputShape: [2, 3, 2], expectedOutputShape: [2, 9, 2] }));
  test('UpSampling2D nearest', () =>
    runLayerTest({
      make: () => new UpSampling2D({ size: [2, 3] }),
      inputShape: [1, 2, 3, 2],
      expectedOutputShape: [1, 4, 9, 2],
    }));
  test('UpSampling2D bilinear', () =>
    runLayerTest({
      make: () => new UpSampling2D({ size: [3, 2], interpolation: 'bilinear' }),
      inputShape: [1, 3, 2, 2],
      expectedOutputShape: [1, 9, 4, 2],
    }));
  test('ZeroPadding1D', () =>
    runLayerTest({
      make: () => new ZeroPadding1D({ padding: [2, 1] }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 6, 2],
    }));
  test('ZeroPadding2D', () =>
    runLayerTest({
      make: () =>
        new ZeroPadding2D({
          padding: [
            [1, 0],
            [2, 3],
          ],
        }),
      inputShape: [1, 2, 3, 2],
      expectedOutputShape: [1, 3, 8, 2],
    }));
  test('Cropping1D', () =>
    runLayerTest({
      make: () => new Cropping1D({ cropping: [1, 2] }),
      inputShape: [2, 6, 2],
      expectedOutputShape: [2, 3, 2],
    }));
  test('Cropping2D', () =>
    runLayerTest({
      make: () => new Cropping2D({ cropping: [1, 2] }),
      inputShape: [1, 5, 6, 2],
      expectedOutputShape: [1, 3, 2, 2],
    }));
  test('GlobalMaxPooling2D', () =>
    runLayerTest({ make: () => new GlobalMaxPooling2D(), inputShape: [2, 3, 2, 3], expectedOutputShape: [2, 3] }));
  test('GlobalMaxPooling2D keepdims', () =>
    runLayerTest({
      make: () => new GlobalMaxPooling2D({ keepdims: true }),
      inputShape: [2, 3, 2, 3],
      expectedOutputShape: [2, 1, 1, 3],
    }));
  test('MaxPooling1D', () =>
    runLayerTest({ make: () => new MaxPooling1D(), inputShape: [2, 7, 3], expectedOutputShape: [2, 3, 3] }));
  test('AveragePooling1D same, strides 1', () =>
    runLayerTest({
      make: () => new AveragePooling1D({ poolSize: 3, strides: 1, padding: 'same' }),
      inputShape: [2, 5, 2],
      expectedOutputShape: [2, 5, 2],
    }));
});

/** The slow, obvious depthwise convolution: one conv2d per channel with its [kh, kw, 1, M] filter slice. */
function depthwisePerChannel(x: Tensor, f: Tensor, options: Parameters<typeof conv2d>[2]): Tensor {
  const [n, h, w, c] = x.shape;
  const [kh, kw, , m] = f.shape;
  const parts = Array.from({ length: c }, (_, ch) =>
    conv2d(slice(x, [0, 0, 0, ch], [n, h, w, 1]), slice(f, [0, 0, ch, 0], [kh, kw, 1, m]), options),
  );
  return concat(parts, 3);
}

describe('convolution layers against slow compositions', () => {
  test('DepthwiseConv2D equals one conv2d per channel plus the bias; kernel [kh, kw, cin, depthMultiplier]', () => {
    const layer = new DepthwiseConv2D({
      kernelSize: [3, 2],
      depthMultiplier: 3,
      strides: [1, 2],
      padding: 'same',
      biasInitializer: 'randomNormal',
      dtype: 'float64',
    });
    const x = rand([2, 7, 6, 4], 1);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual([...layer.kernel!.shape], [3, 2, 4, 3]);
    assert.deepEqual(
      layer.weights.map((v) => v.name.slice(layer.name.length + 1)),
      ['depthwise_kernel', 'bias'],
    );
    const expected = add(
      depthwisePerChannel(x, layer.kernel!.value, { strides: [1, 2], padding: 'same' }),
      layer.bias!.value,
    );
    assertClose(y, expected, EXACT);
  });

  test('SeparableConv2D equals depthwise then a 1x1 conv2d; weight names and layouts as Keras', () => {
    const layer = new SeparableConv2D({
      filters: 5,
      kernelSize: 3,
      depthMultiplier: 2,
      useBias: false,
      dtype: 'float64',
    });
    const x = rand([1, 6, 5, 3], 2);
    const y = layer.apply(x) as Tensor;
    assert.deepEqual(
      layer.weights.map((v) => [v.name.slice(layer.name.length + 1), [...v.shape]]),
      [
        ['depthwise_kernel', [3, 3, 3, 2]],
        ['pointwise_kernel', [1, 1, 6, 5]],
      ],
    );
    const dw = depthwisePerChannel(x, layer.kernel!.value, {});
    assertClose(y, conv2d(dw, layer.pointwiseKernel!.value), EXACT);
    assert.equal(layer.countParams(), 3 * 3 * 3 * 2 + 6 * 5);
  });

  test('Conv2D groups equals per-group convolutions concatenated; one group per channel runs depthwise', () => {
    const x = rand([2, 5, 6, 6], 3);
    for (const groups of [2, 3, 6]) {
      const layer = new Conv2D({
        filters: 12,
        kernelSize: 3,
        groups,
        padding: 'same',
        useBias: false,
        dtype: 'float64',
      });
      const y = layer.apply(x) as Tensor;
      const k = layer.kernel!.value;
      const cin = 6 / groups,
        cout = 12 / groups;
      assert.deepEqual([...k.shape], [3, 3, cin, 12]);
      const parts = Array.from({ length: groups }, (_, g) =>
        conv2d(slice(x, [0, 0, 0, g * cin], [2, 5, 6, cin]), slice(k, [0, 0, 0, g * cout], [3, 3, cin, cout]), {
          padding: 'same',
        }),
      );
      assertClose(y, concat(parts, 3), EXACT);
    }
  });

  test('explicit padding equals zero padding then a valid convolution', () => {
    const x = rand([1, 5, 4, 2], 4);
    const layer = new Conv2D({
      filters: 3,
      kernelSize: 2,
      strides: [2, 1],
      padding: [
        [0, 3],
        [2, 1],
      ],
      useBias: false,
      dtype: 'float64',
    });
    const y = layer.apply(x) as Tensor;
    const padded = pad(x, [
      [0, 0],
      [0, 3],
      [2, 1],
      [0, 0],
    ]);
    assertClose(y, conv2d(padded, layer.kernel!.value, { strides: [2, 1] }), EXACT);
    const dw = new DepthwiseConv2D({ kernelSize: 3, padding: 2, useBias: false, dtype: 'float64' });
    const z = dw.apply(x) as Tensor;
    const padded2 = pad(x, [
      [0, 0],
      [2, 2],
      [2, 2],
      [0, 0],
    ]);
    assertClose(z, depthwiseConv2d(padded2, dw.kernel!.value), EXACT);
    const c1 = new Conv1D({ filters: 2, kernelSize: 2, padding: 2, useBias: false, dtype: 'float64' });
    const x1 = rand([2, 3, 2], 5);
    assert.deepEqual([...(c1.apply(x1) as Tensor).shape], [2, 6, 2]);
  });

  test("Conv2DTranspose with outputPadding is conv2d's input gradient for the larger input (valid and same)", () => {
    for (const padding of ['valid', 'same'] as const) {
      const layer = new Conv2DTranspose({
        filters: 2,
        kernelSize: 3,
        strides: 3,
        padding,
        outputPadding: [1, 2],
        useBias: false,
        dtype: 'float64',
      });
      const x = rand([1, 3, 2, 4], 6);
      const y = layer.apply(x) as Tensor;
      const size = padding === 'valid' ? [3 * 2 + 3 + 1, 3 * 1 + 3 + 2] : [3 * 2 + 1 + 1, 3 * 1 + 1 + 2];
      assert.deepEqual([...y.shape], [1, size[0], size[1], 2]);
      const probe = rand([1, size[0], size[1], 2], 7);
      const k = layer.kernel!.value;
      const expected = vjp((z: Tensor) => conv2d(z, k, { strides: 3, padding }), probe, x).grads as Tensor;
      assertClose(y, expected, EXACT);
      assertClose(y, conv2dTranspose(x, k, { strides: 3, padding, outputPadding: [1, 2] }), EXACT);
    }
  });
});

describe('spatial layers against closed forms', () => {
  test('UpSampling2D nearest repeats rows and columns; UpSampling1D repeats steps', () => {
    const x = tensor([1, 2, 3, 4, 5, 6], [1, 2, 3, 1]);
    const y = new UpSampling2D({ size: [2, 1] }).apply(x) as Tensor;
    assert.deepEqual(flat(y), [1, 2, 3, 1, 2, 3, 4, 5, 6, 4, 5, 6]);
    const z = new UpSampling1D({ size: 2 }).apply(tensor([1, 10, 2, 20], [1, 2, 2])) as Tensor;
    assert.deepEqual(flat(z), [1, 10, 1, 10, 2, 20, 2, 20]);
  });

  test('UpSampling2D bilinear: half-pixel centres, edges clamped', () => {
    // Along one axis of length 2 upsampled by 2: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1).
    const y = new UpSampling2D({ size: [2, 1], interpolation: 'bilinear' }).apply(tensor([0, 4], [1, 2, 1, 1]));
    assert.deepEqual(flat(y as Tensor), [0, 1, 3, 4]);
  });

  test('ZeroPadding and Cropping add and remove edges; config as Keras [before, after] per axis', () => {
    const x = rand([1, 3, 4, 2], 8);
    const padded = new ZeroPadding2D({ padding: 1 });
    const y = padded.apply(x) as Tensor;
    assertClose(
      y,
      pad(x, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]),
      EXACT,
    );
    assert.deepEqual(padded.getConfig().padding, [
      [1, 1],
      [1, 1],
    ]);
    const cropped = new Cropping2D({
      cropping: [
        [1, 1],
        [1, 1],
      ],
    }).apply(y) as Tensor;
    assertClose(cropped, x, EXACT);
    const x1 = rand([2, 5, 3], 9);
    const c1 = new Cropping1D({ cropping: [2, 1] }).apply(x1) as Tensor;
    assertClose(c1, slice(x1, [0, 2, 0], [2, 2, 3]), EXACT);
    const z1 = new ZeroPadding1D().apply(x1) as Tensor;
    assert.deepEqual([...z1.shape], [2, 7, 3]);
  });

  test('GlobalMaxPooling2D is the max over H and W; 1-D pooling is the 2-D op over one row', () => {
    const x = rand([2, 3, 4, 5], 10);
    assertClose(new GlobalMaxPooling2D().apply(x) as Tensor, max(x, [1, 2]), EXACT);
    const s = rand([2, 7, 3], 11);
    const mp = new MaxPooling1D({ poolSize: 3, strides: 2, padding: 'same' }).apply(s) as Tensor;
    assertClose(mp, squeeze(maxPool2d(unsqueeze(s, 1), [1, 3], { strides: [1, 2], padding: 'same' }), 1), EXACT);
    const ap = new AveragePooling1D({ poolSize: 2 }).apply(s) as Tensor;
    const sd = s.dataSync();
    assert.ok(Math.abs(ap.dataSync()[0] - (sd[0] + sd[3]) / 2) < 1e-6);
    assertClose(ap, reshape(avgPool2d(reshape(s, [2, 1, 7, 3]), [1, 2]), [2, 3, 3]), EXACT);
  });
});

describe('errors name the layer and what was expected', () => {
  test('bad arguments and shapes', () => {
    assert.throws(() => new Conv2D({ filters: 4, kernelSize: 2, groups: 3 }), ArgumentError);
    assert.throws(
      () => new Conv1D({ filters: 4, kernelSize: 2, groups: 2 } as never),
      /groups is supported by Conv2D only/,
    );
    assert.throws(
      () => new Conv2D({ filters: 4, kernelSize: 2, groups: 2 }).apply(rand([1, 3, 3, 3], 1)),
      (e: Error) => e instanceof ShapeError && /input channels \(3\) must be divisible by groups \(2\)/.test(e.message),
    );
    assert.throws(() => new Conv2D({ filters: 1, kernelSize: 2, padding: -1 }), /padding must be/);
    assert.throws(() => new Conv2D({ filters: 1, kernelSize: 2, padding: 'full' as 'same' }), /padding must be/);
    assert.throws(
      () => new Conv2DTranspose({ filters: 1, kernelSize: 2, strides: 2, outputPadding: 2 }),
      /outputPadding must be non-negative integers less than the strides/,
    );
    assert.throws(
      () => new Conv2DTranspose({ filters: 1, kernelSize: 2, padding: 1 as unknown as 'same' }),
      ArgumentError,
    );
    assert.throws(
      () => new UpSampling2D({ interpolation: 'bicubic' as 'bilinear' }),
      /interpolation must be 'nearest' or 'bilinear'/,
    );
    assert.throws(() => new Cropping2D({ cropping: 2 }).apply(rand([1, 4, 5, 1], 2)), /leaves nothing/);
    assert.throws(() => new ZeroPadding2D({ padding: [1, 2, 3] }), ArgumentError);
    assert.throws(
      () => new DepthwiseConv2D({ kernelSize: 3 }).apply(rand([1, 5, 5], 3)),
      (e: Error) => e instanceof ShapeError && /DepthwiseConv2D/.test(e.message),
    );
  });
});
