// The int8 family against a scalar loop written from the arithmetic in src/ops/families/quantized.ts: bit-exact
// on odd shapes, random inputs and weights, every zero point edge, on whichever backend runs the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { quantizedConv2d, quantizedMatmul } from '../../src/ops/families/quantized.js';
import { resolvePadding } from '../../src/ops/families/conv.js';
import { rand } from '../helpers.js';
import {
  int8Weights,
  perChannel,
  referenceConv2d,
  referenceMatmul,
  STRIDE_2_VALID,
  withNaN,
} from './quantized-reference.js';

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 7, 5],
  [17, 33, 19],
  [5, 130, 67],
  [64, 257, 31],
];

for (const [m, k, n] of SHAPES) {
  for (const [zeroPoint, activation] of [
    [0, 'linear'],
    [128, 'relu'],
    [255, 'linear'],
    [37, 'relu'],
  ] as const) {
    test(`quantizedMatmul ${m}x${k}x${n}, zero point ${zeroPoint}, ${activation}: equals the scalar reference`, () => {
      const x = c.cast(rand([m, k], m * 7 + k, { lo: -3, hi: 3 }), 'float32');
      const w = int8Weights([k, n], n + 11);
      const scale = perChannel(n, k + 3, 1e-4, 1e-2);
      const bias = perChannel(n, k + 4, -1, 1);
      const inputScale = 6 / 255;
      const y = quantizedMatmul(x, w, scale, bias, { inputScale, inputZeroPoint: zeroPoint, activation });
      assert.equal(y.dtype, 'float32');
      assert.deepEqual(y.shape, [m, n]);
      const want = referenceMatmul(x, w, scale, bias, { inputScale, zeroPoint, activation });
      assert.deepEqual(y.dataSync(), want);
    });
  }
}

const CONVS: { x: number[]; w: number[]; strides: [number, number]; dilations: [number, number]; same: boolean }[] = [
  { x: [2, 7, 9, 1], w: [3, 3, 1, 5], strides: [1, 1], dilations: [1, 1], same: false },
  { x: [1, 11, 10, 3], w: [3, 3, 3, 17], strides: [2, 1], dilations: [1, 1], same: true },
  { x: [3, 9, 8, 33], w: [2, 3, 33, 7], strides: [1, 2], dilations: [2, 1], same: true },
  { x: [2, 6, 5, 13], w: [1, 1, 13, 35], strides: [1, 1], dilations: [1, 1], same: false },
];

for (const [index, spec] of CONVS.entries()) {
  test(`quantizedConv2d ${spec.x.join('x')} * ${spec.w.join('x')}: equals the scalar reference`, () => {
    const [, h, wd] = spec.x;
    const [kh, kw, , cout] = spec.w;
    const x = c.cast(rand(spec.x, 100 + index, { lo: -1, hi: 4 }), 'float32');
    const w = int8Weights(spec.w, 200 + index);
    const scale = perChannel(cout, 300 + index, 1e-4, 1e-2);
    const bias = perChannel(cout, 400 + index, -1, 1);
    const pads = resolvePadding('t', spec.same ? 'same' : 'valid', [h, wd], [kh, kw], spec.strides, spec.dilations);
    const inputScale = 5 / 255,
      zeroPoint = 51,
      activation = index % 2 ? 'relu' : 'linear';
    const p = {
      inputScale,
      inputZeroPoint: zeroPoint,
      activation,
      strides: spec.strides,
      dilations: spec.dilations,
      pads,
    } as const;
    const y = quantizedConv2d(x, w, scale, bias, p);
    const want = referenceConv2d(x, w, scale, bias, { ...p, zeroPoint }, y.shape.slice(1, 3));
    assert.deepEqual(y.dataSync(), want);
  });
}

test('quantized ops: bad operands and parameters are refused naming the op and shapes', () => {
  const x = c.ones([2, 3]);
  const w = c.tensor([1, 2, 3, 4, 5, 6], [3, 2], 'int8');
  const s = c.ones([2]);
  const p = { inputScale: 0.1, inputZeroPoint: 0, activation: 'linear' } as const;
  assert.throws(() => quantizedMatmul(x, c.cast(w, 'float32'), s, s, p), /quantizedMatmul: weights must be int8/);
  assert.throws(() => quantizedMatmul(c.ones([2, 4]), w, s, s, p), /quantizedMatmul: input \[2, 4\] must be \[m, 3\]/);
  assert.throws(() => quantizedMatmul(x, w, c.ones([3]), s, p), /scale must be float32 \[2\]/);
  assert.throws(() => quantizedMatmul(x, w, s, s, { ...p, inputZeroPoint: 256 }), /inputZeroPoint/);
  assert.throws(() => quantizedMatmul(x, w, s, s, { ...p, inputScale: 0 }), /inputScale/);
  assert.throws(() => quantizedMatmul(x, w, s, s, { ...p, activation: 'gelu' as 'relu' }), /activation/);
});

test('quantized ops: a NaN input (which no uint8 code holds) raises ArgumentError naming the op and shape', () => {
  const p = { inputScale: 0.1, inputZeroPoint: 3, activation: 'relu' } as const;
  const nanError = (op: string, shape: string) => (e: Error) =>
    e instanceof c.ArgumentError && e.message === `${op}: input ${shape} contains NaN; int8 cannot represent it`;
  for (const at of [0, 20, 39]) {
    const w = int8Weights([20, 3], at);
    const s = c.ones([3]);
    assert.throws(() => quantizedMatmul(withNaN([2, 20], at), w, s, s, p), nanError('quantizedMatmul', '[2, 20]'));
  }
  // Pixel 4 of each row and row 4 are read by no window (2x2, stride 2, valid): their NaN is found too.
  const w = int8Weights([2, 2, 1, 2], 5);
  const s = c.ones([2]);
  const conv = { ...p, ...STRIDE_2_VALID };
  for (const at of [0, 12, 4, 22])
    assert.throws(
      () => quantizedConv2d(withNaN([1, 5, 5, 1], at), w, s, s, conv),
      nanError('quantizedConv2d', '[1, 5, 5, 1]'),
    );
});
