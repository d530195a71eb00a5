// Tests QuantizedDense / QuantizedConv2D and quantizeLayer: the layer harness, the weight and input quantisation
// rules, agreement with the float layer within the computed quantisation error bound, and layer-named errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, Tensor, abs, add, conv2d, matmul, mul, ones, softmax, tensor, tidy } from '../../src/index.js';
import { Conv2D, Dense } from '../../src/nn/layers/index.js';
import {
  QuantizedConv2D,
  QuantizedDense,
  inputQuantization,
  quantizeKernel,
  quantizeLayer,
} from '../../src/compress/index.js';
import { runLayerTest } from '../nn/harness.js';
import { assertClose, rand } from '../helpers.js';

const calibrated = { inputScale: 4 / 255, inputZeroPoint: 128 };

describe('quantised layers through the harness', () => {
  test('QuantizedDense', () =>
    runLayerTest({
      make: () => new QuantizedDense({ units: 3, activation: 'relu', ...calibrated }),
      inputShape: [2, 4],
      expectedOutputShape: [2, 3],
      expectedWeights: { trainable: 0, nonTrainable: 3 },
      inferenceOnly: 'int8 ops have no gradient',
    }));
  test('QuantizedDense on rank 3 with softmax after the op', () =>
    runLayerTest({
      make: () => new QuantizedDense({ units: 3, activation: 'softmax', ...calibrated }),
      inputShape: [2, 2, 4],
      expectedOutputShape: [2, 2, 3],
      inferenceOnly: 'int8 ops have no gradient',
    }));
  test('QuantizedConv2D same, strided', () =>
    runLayerTest({
      make: () => new QuantizedConv2D({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', ...calibrated }),
      inputShape: [2, 5, 4, 2],
      expectedOutputShape: [2, 3, 2, 3],
      expectedWeights: { trainable: 0, nonTrainable: 3 },
      inferenceOnly: 'int8 ops have no gradient',
    }));
});

describe('quantisation rules', () => {
  test('input ranges: widened to hold 0, which gets an exact code', () => {
    assert.deepEqual(inputQuantization({ min: 0, max: 2.55 }), { inputScale: Math.fround(0.01), inputZeroPoint: 0 });
    const s = inputQuantization({ min: -1, max: 1 });
    assert.equal(s.inputScale, Math.fround(2 / 255));
    assert.equal(s.inputZeroPoint, 127); // 1 / fround(2 / 255) = 127.49999...
    assert.deepEqual(inputQuantization({ min: 1, max: 3 }), { inputScale: Math.fround(3 / 255), inputZeroPoint: 0 });
    assert.deepEqual(inputQuantization({ min: -2, max: -1 }), {
      inputScale: Math.fround(2 / 255),
      inputZeroPoint: 255,
    });
    assert.deepEqual(inputQuantization({ min: 0, max: 0 }), { inputScale: 1, inputZeroPoint: 0 });
    for (const bad of [
      { min: 1, max: 0 },
      { min: NaN, max: 1 },
      { min: 0, max: Infinity },
    ])
      assert.throws(() => inputQuantization(bad), ArgumentError);
  });

  test('weights: per output channel, max |w| maps to +-127, zero channels stay zero', () => {
    const w = tensor([0.5, -2, 0, 0.25, 1, 0, -0.5, 0.004, 0], [3, 3]);
    const { values, scale } = quantizeKernel(w);
    assert.deepEqual([...scale], [Math.fround(0.5 / 127), Math.fround(2 / 127), 1]);
    assert.deepEqual([...values], [127, -127, 0, 64, 64, 0, -127, 0, 0]);
    w.dispose();
  });
});

/** The real values the layer's int8 weights stand for, [.., out] float32. */
function dequantizedKernel(q: QuantizedDense | QuantizedConv2D): Tensor {
  return mul(q.kernel!.value.cast('float32'), q.kernelScale!.value);
}

/**
 * |float - int8| <= sum_k (sx / 2 |w^_kj| + |x_k| s_j / 2): each input is within half an input step (inside the
 * calibrated range) and each weight within half its channel's step; relu is 1-Lipschitz. A float32 slack covers
 * the rounding of the sums.
 */
function assertWithinBound(got: Tensor, want: Tensor, bound: Tensor): void {
  const g = got.dataSync(),
    w = want.dataSync(),
    b = bound.dataSync();
  let worst = 0;
  for (let i = 0; i < g.length; i++) {
    const excess = Math.abs(g[i] - w[i]) - (b[i] + 1e-5 * (1 + Math.abs(w[i])));
    assert.ok(excess <= 0, `element ${i}: |${g[i]} - ${w[i]}| exceeds the bound ${b[i]}`);
    worst = Math.max(worst, Math.abs(g[i] - w[i]) / (b[i] + 1e-12));
  }
  assert.ok(worst > 0.05, `the error (${worst} of the bound) is suspiciously small: is the op quantising?`);
}

describe('quantizeLayer against the float layer', () => {
  for (const activation of ['linear', 'relu'] as const)
    test(`Dense ${activation}, odd sizes`, () =>
      tidy(() => {
        const dense = new Dense({ units: 7, activation, biasInitializer: 'randomNormal' });
        const x = rand([5, 13], 3, { dtype: 'float32', lo: -1.5, hi: 2 });
        const want = dense.apply(x) as Tensor;
        const q = quantizeLayer(dense, { min: -1.5, max: 2 });
        assert.ok(q instanceof QuantizedDense);
        assert.equal(q.name, dense.name);
        assert.equal(q.kernel!.dtype, 'int8');
        const sx = q.inputQuantization!.inputScale;
        const inputTerm = matmul(mul(ones(x.shape), sx / 2), abs(dequantizedKernel(q)));
        const weightTerm = mul(matmul(abs(x), ones([13, 7])), mul(q.kernelScale!.value, 0.5));
        assertWithinBound(q.apply(x) as Tensor, want, add(inputTerm, weightTerm));
        dense.dispose();
        q.dispose();
      }));

  test('Dense softmax: the op runs linear, softmax after it in float', () =>
    tidy(() => {
      const dense = new Dense({ units: 4, activation: 'softmax' });
      const x = rand([3, 6], 5, { dtype: 'float32' });
      dense.apply(x);
      const q = quantizeLayer(dense, { min: -2, max: 2 });
      const twin = new Dense({ units: 4, name: 'twin' });
      twin.apply(x);
      const linear = quantizeLayer(twin, { min: -2, max: 2 });
      linear.setWeights(q.getWeights());
      assertClose(q.apply(x) as Tensor, softmax(linear.apply(x) as Tensor), { rtol: 0, atol: 0 });
    }));

  for (const [label, args] of [
    ['same, strides 2', { padding: 'same', strides: 2 }],
    ['valid, dilation 2, relu', { padding: 'valid', dilationRate: 2, activation: 'relu' }],
    [
      'explicit padding [[1, 0], [2, 1]]',
      {
        padding: [
          [1, 0],
          [2, 1],
        ],
      },
    ],
  ] as const)
    test(`Conv2D ${label}`, () =>
      tidy(() => {
        const conv = new Conv2D({ filters: 5, kernelSize: [3, 2], biasInitializer: 'randomNormal', ...args });
        const x = rand([2, 7, 6, 3], 11, { dtype: 'float32', lo: 0, hi: 3 });
        const want = conv.apply(x) as Tensor;
        const q = quantizeLayer(conv, { min: 0, max: 3 });
        assert.ok(q instanceof QuantizedConv2D);
        const got = q.apply(x) as Tensor;
        assert.deepEqual(got.shape, want.shape);
        // The same window sums as the bound's matmul form, by the float convolution itself (padding adds 0).
        const options = {
          strides: conv.strides as [number, number],
          dilations: conv.dilationRate as [number, number],
          padding: args.padding as 'same',
        };
        const sx = q.inputQuantization!.inputScale;
        const inputTerm = conv2d(mul(ones(x.shape), sx / 2), abs(dequantizedKernel(q)), options);
        const weightTerm = mul(conv2d(abs(x), ones(q.kernel!.shape), options), mul(q.kernelScale!.value, 0.5));
        assertWithinBound(got, want, add(inputTerm, weightTerm));
      }));
});

describe('quantised layer errors', () => {
  test('an uncalibrated layer refuses to run, naming itself', () => {
    const q = new QuantizedDense({ units: 2, name: 'uncalibrated_dense' });
    const x = rand([1, 3], 1, { dtype: 'float32' });
    assert.throws(
      () => q.apply(x),
      (e: Error) => e instanceof ArgumentError && /uncalibrated_dense/.test(e.message),
    );
    assert.deepEqual([q.getConfig().inputScale, q.getConfig().inputZeroPoint], [null, null]);
    x.dispose();
  });

  test('bad configs and layers int8 cannot replace', () => {
    assert.throws(() => new QuantizedDense({ units: 2, inputScale: -1, inputZeroPoint: 0 }), ArgumentError);
    assert.throws(() => new QuantizedDense({ units: 2, inputScale: 1, inputZeroPoint: 256 }), ArgumentError);
    assert.throws(() => new QuantizedDense({ units: 2, dtype: 'float64', ...calibrated }), ArgumentError);
    assert.throws(
      () => new QuantizedConv2D({ filters: 2, kernelSize: 1, kernelInitializer: 'zeros' } as never),
      ArgumentError,
    );
    assert.throws(() => quantizeLayer(new Dense({ units: 2 }), { min: 0, max: 1 }), /not built/);
    const grouped = new Conv2D({ filters: 4, kernelSize: 1, groups: 2 });
    const x = rand([1, 2, 2, 4], 2, { dtype: 'float32' });
    grouped.apply(x).dispose();
    assert.throws(() => quantizeLayer(grouped, { min: 0, max: 1 }), /groups 2/);
    const dense = new Dense({ units: 2 });
    dense.apply(rand([1, 3], 3, { dtype: 'float32' })).dispose();
    assert.throws(() => quantizeLayer(dense, { min: 2, max: 1 }), ArgumentError);
    x.dispose();
  });

  test('inputs of the wrong size are ShapeErrors naming the layer', () => {
    const dense = new Dense({ units: 2, name: 'sized' });
    dense.apply(rand([1, 3], 1, { dtype: 'float32' })).dispose();
    const q = quantizeLayer(dense, { min: 0, max: 1 });
    const x = rand([1, 4], 1, { dtype: 'float32' });
    assert.throws(() => q.apply(x), /sized/);
    x.dispose();
  });
});
