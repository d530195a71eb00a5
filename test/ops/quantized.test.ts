// The int8 family against a scalar loop written from the arithmetic in src/ops/families/quantized.ts: bit-exact
// on odd shapes, random inputs and weights, every zero point edge, on whichever backend runs the suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { quantizedConv2d, quantizedMatmul, type QuantizedActivation } from '../../src/ops/families/quantized.js';
import { resolvePadding } from '../../src/ops/families/conv.js';
import { RandomStream } from '../../src/ops/random.js';
import { rand } from '../helpers.js';

const f32 = Math.fround;

/** Round half to even, as the round primitive and the kernels' cvtps. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function codes(x: ArrayLike<number>, scale: number, zeroPoint: number): Int32Array {
  const inverse = f32(1 / scale);
  return Int32Array.from(x, (v) => Math.min(255, Math.max(0, roundEven(f32(v * inverse)) + zeroPoint)));
}

function epilogue(acc: number, scale: number, bias: number, activation: QuantizedActivation): number {
  const y = f32(f32(f32(acc) * scale) + bias);
  return activation === 'relu' ? Math.max(y, 0) : y;
}

function int8Weights(shape: number[], seed: number): c.Tensor {
  const g = new RandomStream(seed);
  const u = g.uniform(shape, -128, 128, 'float64');
  // Both ends of the range appear: they are where saturation and VNNI sign handling go wrong.
  const d = Array.from(u.dataSync(), (v, i) => (i % 17 === 3 ? -128 : i % 17 === 5 ? 127 : Math.floor(v)));
  return c.tensor(d, shape, 'int8');
}

function perChannel(n: number, seed: number, lo: number, hi: number): c.Tensor {
  return c.cast(rand([n], seed, { lo, hi }), 'float32');
}

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
      const q = codes(x.dataSync(), inputScale, zeroPoint);
      const [wd, sd, bd] = [w.dataSync(), scale.dataSync(), bias.dataSync()];
      const want = new Float32Array(m * n);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let t = 0; t < k; t++) acc += (q[i * k + t] - zeroPoint) * wd[t * n + j];
          want[i * n + j] = epilogue(acc, sd[j], bd[j], activation);
        }
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
    const [nb, h, wd, cin] = spec.x;
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
    const [, ho, wo] = y.shape;
    const q = codes(x.dataSync(), inputScale, zeroPoint);
    const [wv, sd, bd] = [w.dataSync(), scale.dataSync(), bias.dataSync()];
    const want = new Float32Array(nb * ho * wo * cout);
    for (let b = 0; b < nb; b++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++)
          for (let co = 0; co < cout; co++) {
            let acc = 0;
            for (let ky = 0; ky < kh; ky++)
              for (let kx = 0; kx < kw; kx++) {
                const iy = oy * spec.strides[0] + ky * spec.dilations[0] - pads[0][0];
                const ix = ox * spec.strides[1] + kx * spec.dilations[1] - pads[1][0];
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                for (let ci = 0; ci < cin; ci++)
                  acc +=
                    (q[((b * h + iy) * wd + ix) * cin + ci] - zeroPoint) * wv[((ky * kw + kx) * cin + ci) * cout + co];
              }
            want[((b * ho + oy) * wo + ox) * cout + co] = epilogue(acc, sd[co], bd[co], activation);
          }
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
