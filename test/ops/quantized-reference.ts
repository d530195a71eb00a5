// Scalar loops written from the int8 family's arithmetic (src/ops/families/quantized.ts): the reference the op and
// every native kernel must equal bit for bit, and the seeded operands the tests feed them.
import * as c from '../../src/index.js';
import type { QuantizedActivation } from '../../src/ops/families/quantized.js';
import { RandomStream } from '../../src/ops/random.js';
import { rand } from '../helpers.js';

const f32 = Math.fround;

/** Round half to even, as the round primitive and the kernels' cvtps. */
function roundEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export function codes(x: ArrayLike<number>, scale: number, zeroPoint: number): Int32Array {
  const inverse = f32(1 / scale);
  return Int32Array.from(x, (v) => Math.min(255, Math.max(0, roundEven(f32(v * inverse)) + zeroPoint)));
}

export function epilogue(acc: number, scale: number, bias: number, activation: QuantizedActivation): number {
  const y = f32(f32(f32(acc) * scale) + bias);
  return activation === 'relu' ? Math.max(y, 0) : y;
}

export function int8Weights(shape: number[], seed: number): c.Tensor {
  const g = new RandomStream(seed);
  const u = g.uniform(shape, -128, 128, 'float64');
  // Both ends of the range appear: they are where saturation and VNNI sign handling go wrong.
  const d = Array.from(u.dataSync(), (v, i) => (i % 17 === 3 ? -128 : i % 17 === 5 ? 127 : Math.floor(v)));
  return c.tensor(d, shape, 'int8');
}

export function perChannel(n: number, seed: number, lo: number, hi: number): c.Tensor {
  return c.cast(rand([n], seed, { lo, hi }), 'float32');
}

export interface QuantizedCase {
  readonly inputScale: number;
  readonly zeroPoint: number;
  readonly activation: QuantizedActivation;
}

/** y [m, n] of x [m, k] float32 and w [k, n] int8, by the arithmetic's loops. */
export function referenceMatmul(x: c.Tensor, w: c.Tensor, scale: c.Tensor, bias: c.Tensor, p: QuantizedCase) {
  const [m, k] = x.shape,
    n = w.shape[1];
  const q = codes(x.dataSync(), p.inputScale, p.zeroPoint);
  const [wd, sd, bd] = [w.dataSync(), scale.dataSync(), bias.dataSync()];
  const want = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let t = 0; t < k; t++) acc += (q[i * k + t] - p.zeroPoint) * wd[t * n + j];
      want[i * n + j] = epilogue(acc, sd[j], bd[j], p.activation);
    }
  return want;
}

export interface ConvWindow {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: readonly (readonly [number, number])[];
}

/** y [N, ho, wo, cout] of x [N, H, W, cin] float32 and w [kh, kw, cin, cout] int8, by the arithmetic's loops. */
export function referenceConv2d(
  x: c.Tensor,
  w: c.Tensor,
  scale: c.Tensor,
  bias: c.Tensor,
  p: QuantizedCase & ConvWindow,
  [ho, wo]: readonly number[],
) {
  const [nb, h, wd, cin] = x.shape;
  const [kh, kw, , cout] = w.shape;
  const q = codes(x.dataSync(), p.inputScale, p.zeroPoint);
  const [wv, sd, bd] = [w.dataSync(), scale.dataSync(), bias.dataSync()];
  const want = new Float32Array(nb * ho * wo * cout);
  for (let b = 0; b < nb; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let co = 0; co < cout; co++) {
          let acc = 0;
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * p.strides[0] + ky * p.dilations[0] - p.pads[0][0];
              const ix = ox * p.strides[1] + kx * p.dilations[1] - p.pads[1][0];
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              for (let ci = 0; ci < cin; ci++)
                acc +=
                  (q[((b * h + iy) * wd + ix) * cin + ci] - p.zeroPoint) * wv[((ky * kw + kx) * cin + ci) * cout + co];
            }
          want[((b * ho + oy) * wo + ox) * cout + co] = epilogue(acc, sd[co], bd[co], p.activation);
        }
  return want;
}

/** Float32 values in [-1, 1.5] of a shape, with NaN at index `at` when given. */
export function withNaN(shape: number[], at?: number): c.Tensor {
  const v = Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => (i % 11) / 4 - 1);
  if (at !== undefined) v[at] = NaN;
  return c.tensor(v, shape);
}

/** Stride 2, no dilation, no padding: windows of size 2 or 3 leave an odd image's last row and column unread. */
export const STRIDE_2_VALID = {
  strides: [2, 2],
  dilations: [1, 1],
  pads: [
    [0, 0],
    [0, 0],
  ],
} as const;
