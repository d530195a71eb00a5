// Neural-network ops with Keras conventions (channels-last, 'same'/'valid' padding): softmax,
// log-softmax, conv1d, conv2d, conv2dTranspose, maxPool2d, avgPool2d.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { normalizeAxis } from '../tensor/shape.js';
import { runFusedOp } from './fused.js';
import { windowOutputSize } from './windows.js';
import type { Padding2D } from './fused-params.js';
import { squeeze, unsqueeze } from './views.js';

export type PaddingMode = 'same' | 'valid';
type Pair = number | readonly [number, number];

export function softmax(x: Tensor, axis = -1): Tensor {
  return runFusedOp('softmax', [x], { axis: normalizeAxis('softmax', axis, x.rank) });
}

export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return runFusedOp('logSoftmax', [x], { axis: normalizeAxis('logSoftmax', axis, x.rank) });
}

function pair(op: string, name: string, v: Pair): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1))
    throw new ArgumentError(`${op}: ${name} must be positive integers, got ${JSON.stringify(v)}`);
  return p;
}

/** TF's 'same' rule: output ceil(size / stride), padding split with the extra element after. */
export function resolvePadding(
  op: string,
  mode: PaddingMode,
  size: readonly [number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): Padding2D {
  if (mode !== 'same' && mode !== 'valid')
    throw new ArgumentError(`${op}: padding must be 'same' or 'valid', got '${mode as string}'`);
  const one = (a: 0 | 1): [number, number] => {
    if (mode === 'valid') return [0, 0];
    const extent = (kernel[a] - 1) * dilations[a] + 1;
    const out = Math.ceil(size[a] / strides[a]);
    const total = Math.max((out - 1) * strides[a] + extent - size[a], 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  return [one(0), one(1)];
}

export interface Conv2DOptions {
  strides?: Pair;
  padding?: PaddingMode;
  dilations?: Pair;
}

/** x [N, H, W, Cin] * filter [kh, kw, Cin, Cout] -> [N, Ho, Wo, Cout]. */
export function conv2d(
  x: Tensor,
  filter: Tensor,
  { strides = 1, padding = 'valid', dilations = 1 }: Conv2DOptions = {},
): Tensor {
  if (x.rank !== 4 || filter.rank !== 4)
    throw new ShapeError(
      `conv2d: expected input [N, H, W, C] and filter [kh, kw, Cin, Cout], got ${fmtShape(x.shape)} and ${fmtShape(filter.shape)}`,
    );
  const s = pair('conv2d', 'strides', strides),
    d = pair('conv2d', 'dilations', dilations);
  const pads = resolvePadding('conv2d', padding, [x.shape[1], x.shape[2]], [filter.shape[0], filter.shape[1]], s, d);
  return runFusedOp('conv2d', [x, filter], { strides: s, dilations: d, pads });
}

/** x [N, L, Cin] * filter [k, Cin, Cout] -> [N, Lo, Cout]. */
export function conv1d(
  x: Tensor,
  filter: Tensor,
  { stride = 1, padding = 'valid', dilation = 1 }: { stride?: number; padding?: PaddingMode; dilation?: number } = {},
): Tensor {
  if (x.rank !== 3 || filter.rank !== 3)
    throw new ShapeError(
      `conv1d: expected input [N, L, C] and filter [k, Cin, Cout], got ${fmtShape(x.shape)} and ${fmtShape(filter.shape)}`,
    );
  // Check here, so that errors name conv1d and the 3-D shapes rather than the conv2d this delegates to.
  if (x.shape[2] !== filter.shape[1])
    throw new ShapeError(
      `conv1d: input ${fmtShape(x.shape)} has ${x.shape[2]} channels but filter ${fmtShape(filter.shape)} expects ${filter.shape[1]} ([k, inChannels, outChannels])`,
    );
  const [s] = pair('conv1d', 'stride', stride),
    [d] = pair('conv1d', 'dilation', dilation);
  const [, pads] = resolvePadding('conv1d', padding, [1, x.shape[1]], [1, filter.shape[0]], [1, s], [1, d]);
  windowOutputSize('conv1d', x.shape[1], filter.shape[0], s, d, pads);
  const y = conv2d(unsqueeze(x, 1), unsqueeze(filter, 0), { strides: [1, s], padding, dilations: [1, d] });
  return squeeze(y, 1);
}

export interface Conv2DTransposeOptions {
  strides?: Pair;
  padding?: PaddingMode;
  dilations?: Pair;
}

/**
 * Keras Conv2DTranspose: x [N, H, W, Cin] with filter [kh, kw, Cout, Cin] -> [N, Ho, Wo, Cout], where
 * Ho = H * stride ('same') or (H - 1) * stride + max(kernel extent, stride) ('valid'; the trailing
 * stride - extent rows, when the stride is the larger, are zero). It is the input gradient of conv2d
 * with the same filter.
 */
export function conv2dTranspose(
  x: Tensor,
  filter: Tensor,
  { strides = 1, padding = 'valid', dilations = 1 }: Conv2DTransposeOptions = {},
): Tensor {
  if (x.rank !== 4 || filter.rank !== 4)
    throw new ShapeError(
      `conv2dTranspose: expected input [N, H, W, C] and filter [kh, kw, Cout, Cin], got ${fmtShape(x.shape)} and ${fmtShape(filter.shape)}`,
    );
  if (x.shape[3] !== filter.shape[3])
    throw new ShapeError(
      `conv2dTranspose: input ${fmtShape(x.shape)} has ${x.shape[3]} channels but filter ${fmtShape(filter.shape)} expects ${filter.shape[3]} ([kh, kw, outChannels, inChannels])`,
    );
  const s = pair('conv2dTranspose', 'strides', strides),
    d = pair('conv2dTranspose', 'dilations', dilations);
  const extent = [0, 1].map((a) => (filter.shape[a] - 1) * d[a] + 1);
  const outSize = [0, 1].map((a) =>
    padding === 'same' ? x.shape[1 + a] * s[a] : (x.shape[1 + a] - 1) * s[a] + Math.max(extent[a], s[a]),
  ) as [number, number];
  const pads = resolvePadding('conv2dTranspose', padding, outSize, [filter.shape[0], filter.shape[1]], s, d);
  const inputShape = [x.shape[0], outSize[0], outSize[1], filter.shape[2]] as const;
  return runFusedOp('conv2dBackpropInput', [x, filter], { strides: s, dilations: d, pads, inputShape });
}

export interface Pool2DOptions {
  strides?: Pair;
  padding?: PaddingMode;
}

function pool(
  op: 'maxPool2d' | 'avgPool2d',
  x: Tensor,
  poolSize: Pair,
  { strides, padding = 'valid' }: Pool2DOptions,
): Tensor {
  if (x.rank !== 4) throw new ShapeError(`${op}: expected input [N, H, W, C], got ${fmtShape(x.shape)}`);
  const k = pair(op, 'poolSize', poolSize);
  const s = pair(op, 'strides', strides ?? k);
  const pads = resolvePadding(op, padding, [x.shape[1], x.shape[2]], k, s, [1, 1]);
  return runFusedOp(op, [x], { poolSize: k, strides: s, pads });
}

/** Max over windows; strides default to the pool size (Keras). */
export function maxPool2d(x: Tensor, poolSize: Pair = 2, options: Pool2DOptions = {}): Tensor {
  return pool('maxPool2d', x, poolSize, options);
}

/** Mean over windows, not counting padding; strides default to the pool size (Keras). */
export function avgPool2d(x: Tensor, poolSize: Pair = 2, options: Pool2DOptions = {}): Tensor {
  return pool('avgPool2d', x, poolSize, options);
}
