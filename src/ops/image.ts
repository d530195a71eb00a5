// Image resampling (keras.ops.image): resize (tf.image.resize numbers) and affineTransform (TF's
// ImageProjectiveTransformV3), for channels-last [batch, height, width, channels] images.
//
// The host computes which input pixels each output reads and with what weights, and the tensor side gathers
// and blends them: resize one axis at a time (a gather of rows per axis), affineTransform with a "sampling
// plan" per output pixel (up to 4 taps for bilinear, 1 for nearest: one gather, one multiply, one sum over
// the taps). The gathers carry the gradient to the input (gather's rule is a scatterAdd), on every backend.
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { add, cast, mul } from './elementwise.js';
import { gather } from './indexing.js';
import { reshape, slice } from './views.js';
import { sum } from './reduce.js';

export type Interpolation = 'nearest' | 'bilinear';
export type FillMode = 'reflect' | 'constant' | 'nearest' | 'wrap';
export const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear'];
export const FILL_MODES: readonly FillMode[] = ['reflect', 'constant', 'nearest', 'wrap'];

/**
 * Which input rows (of the images seen as [batch * height * width, channels]) each output pixel reads:
 * tap t of output pixel n is row index[t * n_out + n] with weight weight[t * n_out + n]; `fill` (per
 * output pixel, optional) is added after (constant fill outside the image).
 */
interface SamplingPlan {
  taps: number;
  index: Int32Array;
  weight: Float64Array | undefined; // undefined: every weight is 1 (one tap, all in bounds)
  fill: Float64Array | undefined;
  outShape: [number, number, number, number];
}

/** Applies a plan: out[n] = sum_t weight[t, n] * rows[index[t, n]] + fill[n]. */
function resample(images: Tensor, plan: SamplingPlan): Tensor {
  const [b, h, w, c] = images.shape;
  const n = plan.outShape[0] * plan.outShape[1] * plan.outShape[2];
  const dtype = images.dtype === 'float64' ? 'float64' : 'float32';
  const rows = reshape(cast(images, dtype), [b * h * w, c]);
  const picked = gather(rows, fromTypedArray(plan.index, [plan.taps * n]), 0);
  let out: Tensor;
  if (plan.weight) {
    const weights = fromTypedArray(plan.weight, [plan.taps, n, 1]);
    out = sum(mul(reshape(picked, [plan.taps, n, c]), cast(weights, dtype)), 0);
  } else out = picked;
  if (plan.fill) out = add(out, cast(fromTypedArray(plan.fill, [n, 1]), dtype));
  return reshape(out, plan.outShape);
}

function assertImages(op: string, images: Tensor): void {
  if (images.rank !== 4)
    throw new ShapeError(`${op}: expected images [batch, height, width, channels], got ${fmtShape(images.shape)}`);
  if (images.shape.some((d) => d === 0))
    throw new ShapeError(`${op}: images must not be empty, got ${fmtShape(images.shape)}`);
}

function assertOneOf<T extends string>(op: string, name: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value))
    throw new ArgumentError(`${op}: ${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got '${value}'`);
}

// ----------------------------------------------------------------------------------------------- resize

/** Keras' crop_to_aspect_ratio window: the largest centred [top, left, height, width] of the target ratio. */
export function aspectRatioCrop(height: number, width: number, targetH: number, targetW: number): number[] {
  const cropH = Math.max(Math.min(height, Math.trunc((width * targetH) / targetW)), 1);
  const cropW = Math.max(Math.min(width, Math.trunc((height * targetW) / targetH)), 1);
  return [Math.trunc((height - cropH) / 2), Math.trunc((width - cropW) / 2), cropH, cropW];
}

/**
 * One axis of a half-pixel resize (TF2's tf.image.resize, antialias off): for each output position the
 * two input positions (within [0, size)) and the weight of the second; nearest has a single position.
 */
function axisTaps(inSize: number, outSize: number, interpolation: Interpolation) {
  const scale = inSize / outSize;
  const lo = new Int32Array(outSize);
  const hi = new Int32Array(outSize);
  const lerp = new Float64Array(outSize);
  for (let i = 0; i < outSize; i++) {
    if (interpolation === 'nearest') {
      // TF's HalfPixelScalerForNN: floor((i + 0.5) * scale), clamped.
      lo[i] = hi[i] = Math.min(Math.floor((i + 0.5) * scale), inSize - 1);
      continue;
    }
    const at = (i + 0.5) * scale - 0.5;
    const f = Math.floor(at);
    lo[i] = Math.max(f, 0);
    hi[i] = Math.min(Math.ceil(at), inSize - 1);
    lerp[i] = at - f;
  }
  return { lo, hi, lerp };
}

export interface ResizeOptions {
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
  /** Crop the largest centred window of the target aspect ratio first, so the image is not distorted. */
  cropToAspectRatio?: boolean;
}

/**
 * Resizes [batch, h, w, c] images to [batch, height, width, c] with half-pixel centres and no antialiasing,
 * as tf.image.resize (and Keras' Resizing layer) does; differentiable w.r.t. the images.
 */
export function resize(images: Tensor, size: readonly [number, number], options: ResizeOptions = {}): Tensor {
  const op = 'image.resize';
  assertImages(op, images);
  const [outH, outW] = size;
  if (!(Number.isInteger(outH) && outH >= 1 && Number.isInteger(outW) && outW >= 1))
    throw new ArgumentError(`${op}: size must be two positive integers, got ${JSON.stringify(size)}`);
  const interpolation = options.interpolation ?? 'bilinear';
  assertOneOf(op, 'interpolation', interpolation, INTERPOLATIONS);
  const [b, h, w, c] = images.shape;
  const [top, left, cropH, cropW] = options.cropToAspectRatio ? aspectRatioCrop(h, w, outH, outW) : [0, 0, h, w];
  const cropped = cropH === h && cropW === w ? images : slice(images, [0, top, left, 0], [b, cropH, cropW, c]);
  const nearest = interpolation === 'nearest';
  // Separable: rows, then columns; host work is O(height + width), not a plan per output pixel.
  return resampleAxis(
    resampleAxis(cropped, 1, axisTaps(cropH, outH, interpolation), nearest),
    2,
    axisTaps(cropW, outW, interpolation),
    nearest,
  );
}

/** x resampled along `axis` by its taps: the rows at lo and hi blended by lerp (nearest: lo alone). */
function resampleAxis(x: Tensor, axis: number, taps: ReturnType<typeof axisTaps>, nearest: boolean): Tensor {
  const size = taps.lo.length;
  if (size === x.shape[axis]) return x; // half-pixel centres at scale 1 read each row itself
  const rows = (index: Int32Array) => gather(x, fromTypedArray(index, [size]), axis);
  if (nearest) return rows(taps.lo);
  const shape = x.shape.map((d, a) => (a === axis ? size : 1));
  const hiWeight = cast(fromTypedArray(taps.lerp, shape), x.dtype);
  const loWeight = cast(
    fromTypedArray(
      taps.lerp.map((v) => 1 - v),
      shape,
    ),
    x.dtype,
  );
  return add(mul(rows(taps.lo), loWeight), mul(rows(taps.hi), hiWeight));
}

// ------------------------------------------------------------------------------------- affine transform

/**
 * TF's MapCoordinate: a coordinate outside [0, len - 1] brought inside by the fill mode (constant leaves
 * it outside: those taps read the fill value).
 */
function mapCoordinate(v: number, len: number, mode: FillMode): number {
  if (mode === 'constant') return v;
  if (len <= 1) return 0;
  if (mode === 'reflect') {
    // (d c b a | a b c d | d c b a): period 2 * len, the edge pixel repeated.
    const sz2 = 2 * len;
    if (v < 0) {
      v += sz2 * Math.trunc(-v / sz2);
      v = v < -len ? v + sz2 : -v - 1;
    } else if (v > len - 1) {
      v -= sz2 * Math.trunc(v / sz2);
      if (v >= len) v = sz2 - v - 1;
    }
  } else if (mode === 'wrap') {
    // (a b c d | a b c d | a b c d) within one image of the edge; TF's arithmetic kept as is (it divides
    // by len - 1, so farther points do not repeat with period len).
    const sz = len - 1;
    if (v < 0) v += len * (Math.trunc(-v / sz) + 1);
    else if (v > len - 1) v -= len * Math.trunc(v / sz);
  }
  return Math.min(Math.max(v, 0), len - 1); // 'nearest' is this clamp alone
}

/** std::round: halves away from zero (Math.round rounds -0.5 up to 0). */
const roundHalfAway = (v: number) => Math.sign(v) * Math.round(Math.abs(v));

export interface AffineTransformOptions {
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
  /** Default 'constant'. */
  fillMode?: FillMode;
  /** The value read outside the image when fillMode is 'constant'. Default 0. */
  fillValue?: number;
}

/**
 * Transforms each image by its own projective transform [a0, a1, a2, b0, b1, b2, c0, c1] (one row of
 * `transforms` per image, or one row for all): output pixel (x, y) reads the input at
 * ((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k), k = c0 x + c1 y + 1, in pixel-index coordinates, as
 * TF's ImageProjectiveTransformV3 (keras.ops.image.affine_transform). Differentiable w.r.t. the images.
 */
export function affineTransform(
  images: Tensor,
  transforms: ArrayLike<number>,
  options: AffineTransformOptions = {},
): Tensor {
  const op = 'image.affineTransform';
  assertImages(op, images);
  const interpolation = options.interpolation ?? 'bilinear';
  const fillMode = options.fillMode ?? 'constant';
  const fillValue = options.fillValue ?? 0;
  assertOneOf(op, 'interpolation', interpolation, INTERPOLATIONS);
  assertOneOf(op, 'fillMode', fillMode, FILL_MODES);
  if (!Number.isFinite(fillValue))
    throw new ArgumentError(`${op}: fillValue must be a finite number, got ${fillValue}`);
  const [b, h, w, c] = images.shape;
  if (transforms.length !== 8 * b && transforms.length !== 8)
    throw new ShapeError(`${op}: expected 8 transform numbers per image (${b} images), got ${transforms.length}`);
  const n = b * h * w;
  const taps = interpolation === 'nearest' ? 1 : 4;
  const index = new Int32Array(taps * n);
  const weight = new Float64Array(taps * n);
  const fill = fillMode === 'constant' && fillValue !== 0 ? new Float64Array(n) : undefined;
  // One tap: in bounds, it reads row (bi, yy, xx); outside, its weight goes to the fill value.
  const tap = (t: number, k: number, bi: number, yy: number, xx: number, wt: number) => {
    if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
      index[t * n + k] = (bi * h + yy) * w + xx;
      weight[t * n + k] = wt;
    } else if (fill) fill[k] += wt * fillValue;
  };
  for (let bi = 0, k = 0; bi < b; bi++) {
    const m = transforms.length === 8 ? 0 : 8 * bi;
    const [a0, a1, a2, b0, b1, b2, c0, c1] = Array.from({ length: 8 }, (_, i) => transforms[m + i]);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++, k++) {
        const proj = c0 * x + c1 * y + 1;
        if (proj === 0) {
          if (fill) fill[k] = fillValue;
          continue;
        }
        const ix = mapCoordinate((a0 * x + a1 * y + a2) / proj, w, fillMode);
        const iy = mapCoordinate((b0 * x + b1 * y + b2) / proj, h, fillMode);
        if (taps === 1) {
          tap(0, k, bi, roundHalfAway(iy), roundHalfAway(ix), 1);
          continue;
        }
        const x0 = Math.floor(ix),
          y0 = Math.floor(iy);
        const lx = ix - x0,
          ly = iy - y0;
        tap(0, k, bi, y0, x0, (1 - ly) * (1 - lx));
        tap(1, k, bi, y0, x0 + 1, (1 - ly) * lx);
        tap(2, k, bi, y0 + 1, x0, ly * (1 - lx));
        tap(3, k, bi, y0 + 1, x0 + 1, ly * lx);
      }
    }
  }
  return resample(images, { taps, index, weight, fill, outShape: [b, h, w, c] });
}

/**
 * Moves pixels without mixing them (flips): output pixel (bi, y, x) is input row source(bi, y, x) of the
 * images seen as [batch * height * width, channels]; source must return indices in range.
 */
export function remapPixels(images: Tensor, source: (bi: number, y: number, x: number) => number): Tensor {
  assertImages('image.remapPixels', images);
  const [b, h, w, c] = images.shape;
  const index = new Int32Array(b * h * w);
  for (let bi = 0, k = 0; bi < b; bi++)
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++, k++) index[k] = source(bi, y, x);
  return resample(images, { taps: 1, index, weight: undefined, fill: undefined, outShape: [b, h, w, c] });
}
