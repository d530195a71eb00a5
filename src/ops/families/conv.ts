// The convolution family: conv2d, its input gradient (= the transposed convolution) and its filter
// gradient, channels-last with Keras' 'same'/'valid' padding; conv1d and conv2dTranspose are built on them.
// The three are bilinear and adjoint to one another, so each one's gradients are the other two.
import type { Tensor } from '../../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { shapesEqual, sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { require4d, requireSame } from '../checks.js';
import { concat, pad } from '../indexing.js';
import { flip, permute, reshape, slice, squeeze, unsqueeze } from '../views.js';
import { matmul } from '../linalg.js';
import { windowOutputSize, windows } from '../windows.js';
import { convAdapters } from './native-args.js';
import { depthwiseConv2dOp } from './depthwise.js';
import {
  explicitPadding,
  pair,
  resolveConvPadding,
  resolvePadding,
  type ConvPadding,
  type Padding2D,
  type PaddingMode,
  type Pair,
} from './conv-padding.js';

// conv2d's callers (layers, pooling, depthwise) read the padding rules from here, the family's module.
export * from './conv-padding.js';

export interface Conv2DParams {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: Padding2D;
}

export type Shape4 = readonly [number, number, number, number];

export interface ConvParams {
  /** x [N, H, W, Cin], filter [kh, kw, Cin, Cout] -> [N, Ho, Wo, Cout]. */
  conv2d: Conv2DParams;
  /** dy [N, Ho, Wo, Cout], filter [kh, kw, Cin, Cout] -> dx [N, H, W, Cin]: the input gradient of conv2d. */
  conv2dBackpropInput: Conv2DParams & { readonly inputShape: Shape4 };
  /** x [N, H, W, Cin], dy [N, Ho, Wo, Cout] -> df [kh, kw, Cin, Cout]: the filter gradient of conv2d. */
  conv2dBackpropFilter: Conv2DParams & { readonly filterShape: Shape4 };
}

/** The addon's entry points (kernels/conv.h, conv_implicit.h, conv_grad.h). */
export interface ConvAddon {
  /** params: [n, h, w, cin, cout, kh, kw, ho, wo, strideH, strideW, dilH, dilW, padTop, padLeft]. */
  conv2d(x: Arr, xOff: number, f: Arr, fOff: number, out: Arr, params: Float64Array): void;
  conv2dBackpropInput(dy: Arr, dyOff: number, f: Arr, fOff: number, dx: Arr, params: Float64Array): void;
  /** df [kh, kw, cin, cout]; params as conv2d's. */
  conv2dBackpropFilter(x: Arr, xOff: number, dy: Arr, dyOff: number, df: Arr, params: Float64Array): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const CONV_EXPORTS = { conv2d: true, conv2dBackpropInput: true, conv2dBackpropFilter: true } satisfies Record<
  keyof ConvAddon,
  true
>;

function conv2dShape(op: string, x: ShapeDType, f: ShapeDType, p: Conv2DParams): ShapeDType {
  require4d(op, x, 'input');
  require4d(op, f, 'filter');
  if (x.shape[3] !== f.shape[2]) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} has ${x.shape[3]} channels but filter ${fmtShape(f.shape)} ` +
        `expects ${f.shape[2]} ([kh, kw, inChannels, outChannels])`,
    );
  }
  if (x.dtype !== f.dtype) throw new DTypeError(`${op}: input is ${x.dtype} but filter is ${f.dtype}`);
  const ho = windowOutputSize(op, x.shape[1], f.shape[0], p.strides[0], p.dilations[0], p.pads[0]);
  const wo = windowOutputSize(op, x.shape[2], f.shape[1], p.strides[1], p.dilations[1], p.pads[1]);
  return { shape: [x.shape[0], ho, wo, f.shape[3]], dtype: x.dtype };
}

function conv2dComposite([x, f]: readonly Tensor[], p: Conv2DParams): Tensor {
  const [kh, kw, cin, cout] = f.shape;
  const win = windows(x, [kh, kw], p.strides, p.dilations, p.pads, 0);
  const [n, ho, wo] = win.shape;
  const cols = reshape(win, [n * ho * wo, kh * kw * cin]);
  return reshape(matmul(cols, reshape(f, [kh * kw * cin, cout])), [n, ho, wo, cout]);
}

/** Pads (or crops, for negative amounts) the two spatial axes of [N, H, W, C]. */
function padOrCrop(x: Tensor, amounts: readonly [number, number][], interior: readonly [number, number]): Tensor {
  const padded = pad(x, [
    [0, 0],
    [Math.max(amounts[0][0], 0), Math.max(amounts[0][1], 0), interior[0]],
    [Math.max(amounts[1][0], 0), Math.max(amounts[1][1], 0), interior[1]],
    [0, 0],
  ]);
  const crop = amounts.map(([lo, hi]) => [Math.max(-lo, 0), Math.max(-hi, 0)]);
  if (crop.every(([a, b]) => a === 0 && b === 0)) return padded;
  const [n, h, w, c] = padded.shape;
  return slice(
    padded,
    [0, crop[0][0], crop[1][0], 0],
    [n, h - crop[0][0] - crop[0][1], w - crop[1][0] - crop[1][1], c],
  );
}

/**
 * The input gradient of conv2d (= transposed convolution): dilate dy by the stride, pad it so a
 * stride-1 conv with the spatially flipped, channel-swapped filter lands on the input's shape.
 */
function backpropInputComposite([dy, f]: readonly Tensor[], p: ConvParams['conv2dBackpropInput']): Tensor {
  const [kh, kw] = f.shape;
  const extent = [(kh - 1) * p.dilations[0] + 1, (kw - 1) * p.dilations[1] + 1];
  const amounts = [0, 1].map((a): [number, number] => {
    const dilated = (dy.shape[1 + a] - 1) * p.strides[a] + 1;
    const lo = extent[a] - 1 - p.pads[a][0];
    return [lo, p.inputShape[1 + a] + extent[a] - 1 - dilated - lo];
  });
  const dyp = padOrCrop(dy, amounts, [p.strides[0] - 1, p.strides[1] - 1]);
  const flipped = permute(flip(f, [0, 1]), [0, 1, 3, 2]);
  return conv2dComposite([dyp, flipped], {
    strides: [1, 1],
    dilations: p.dilations,
    pads: [
      [0, 0],
      [0, 0],
    ],
  });
}

/** df = windows(x)^T dy, as [kh, kw, Cin, Cout]. */
function backpropFilterComposite([x, dy]: readonly Tensor[], p: ConvParams['conv2dBackpropFilter']): Tensor {
  const [kh, kw, cin, cout] = p.filterShape;
  const win = windows(x, [kh, kw], p.strides, p.dilations, p.pads, 0);
  const [n, ho, wo] = win.shape;
  const cols = reshape(win, [n * ho * wo, kh * kw * cin]);
  return reshape(matmul(permute(cols, [1, 0]), reshape(dy, [n * ho * wo, cout])), p.filterShape);
}

const shape4 = (t: Tensor) => t.shape as unknown as Shape4;
/** The window parameters alone (without the backprop ops' shapes), for the op a rule calls. */
const convOf = ({ strides, dilations, pads }: Conv2DParams): Conv2DParams => ({ strides, dilations, pads });

const nativeConv = (addon: ConvAddon) =>
  convAdapters(addon.conv2d, addon.conv2dBackpropInput, addon.conv2dBackpropFilter);

export const CONV: FusedSpecs<keyof ConvParams> = {
  conv2d: {
    family: 'convolution',
    infer: ([x, f], p) => conv2dShape('conv2d', x, f, p),
    flops: ([, f], out) => 2 * sizeOf(out.shape) * f.shape[0] * f.shape[1] * f.shape[2],
    composite: conv2dComposite,
    grad: (dy, { inputs: [x, f], params, needsGrad: [needX, needF] }) => [
      needX ? run('conv2dBackpropInput', [dy, f], { ...convOf(params), inputShape: shape4(x) }) : null,
      needF ? run('conv2dBackpropFilter', [x, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
    ],
    native: (addon) => nativeConv(addon).forward,
  },
  conv2dBackpropInput: {
    family: 'convolution',
    infer: ([dy, f], p) => {
      const expected = conv2dShape('conv2dBackpropInput', { shape: p.inputShape, dtype: dy.dtype }, f, p);
      if (!shapesEqual(expected.shape, dy.shape)) {
        throw new ShapeError(
          `conv2dBackpropInput: dy ${fmtShape(dy.shape)} does not match the conv2d output ` +
            `${fmtShape(expected.shape)} of input ${fmtShape(p.inputShape)}`,
        );
      }
      return { shape: p.inputShape, dtype: dy.dtype };
    },
    flops: ([dy, f]) => 2 * sizeOf(dy.shape) * f.shape[0] * f.shape[1] * f.shape[2],
    composite: backpropInputComposite,
    grad: (g, { inputs: [dy, f], params, needsGrad: [needDy, needF] }) => [
      needDy ? run('conv2d', [g, f], convOf(params)) : null,
      needF ? run('conv2dBackpropFilter', [g, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
    ],
    native: (addon) => nativeConv(addon).input,
  },
  conv2dBackpropFilter: {
    family: 'convolution',
    infer: ([x, dy], p) => {
      const y = conv2dShape('conv2dBackpropFilter', x, { shape: p.filterShape, dtype: x.dtype }, p);
      requireSame('conv2dBackpropFilter', y, dy, 'dy');
      return { shape: p.filterShape, dtype: x.dtype };
    },
    flops: ([, dy], out) => 2 * sizeOf(dy.shape) * out.shape[0] * out.shape[1] * out.shape[2],
    composite: backpropFilterComposite,
    grad: (g, { inputs: [x, dy], params, needsGrad: [needX, needDy] }) => [
      needX ? run('conv2dBackpropInput', [dy, g], { ...convOf(params), inputShape: shape4(x) }) : null,
      needDy ? run('conv2d', [x, g], convOf(params)) : null,
    ],
    native: (addon) => nativeConv(addon).filter,
  },
};

const run = fusedRunner(CONV);

export interface Conv2DOptions {
  strides?: Pair;
  /** 'same', 'valid', or explicit zero padding (n, [h, w] or [[top, bottom], [left, right]]); default 'valid'. */
  padding?: ConvPadding;
  dilations?: Pair;
  /**
   * Channel groups (PyTorch's and Keras' `groups`): input channel group g [g * Cin/groups, ...) feeds only output
   * channel group g, and the filter is [kh, kw, Cin / groups, Cout]. Default 1.
   */
  groups?: number;
}

/** The resolved window parameters of a 2-D convolution of x [N, H, W, C] with a [kh, kw, ...] filter. */
function conv2dParams(op: string, x: Tensor, filter: Tensor, o: Omit<Conv2DOptions, 'groups'>): Conv2DParams {
  if (x.rank !== 4 || filter.rank !== 4)
    throw new ShapeError(
      `${op}: expected input [N, H, W, C] and a 4-D filter, got ${fmtShape(x.shape)} and ${fmtShape(filter.shape)}`,
    );
  const strides = pair(op, 'strides', o.strides ?? 1),
    dilations = pair(op, 'dilations', o.dilations ?? 1);
  const size = [x.shape[1], x.shape[2]] as const,
    kernel = [filter.shape[0], filter.shape[1]] as const;
  return { strides, dilations, pads: resolveConvPadding(op, o.padding ?? 'valid', size, kernel, strides, dilations) };
}

/** x [N, H, W, Cin] * filter [kh, kw, Cin / groups, Cout] -> [N, Ho, Wo, Cout]. */
export function conv2d(x: Tensor, filter: Tensor, { groups = 1, ...options }: Conv2DOptions = {}): Tensor {
  const p = conv2dParams('conv2d', x, filter, options);
  if (groups === 1) return run('conv2d', [x, filter], p);
  const [kh, kw, fin, cout] = filter.shape,
    cin = x.shape[3];
  if (!Number.isInteger(groups) || groups < 1)
    throw new ArgumentError(`conv2d: groups must be a positive integer, got ${JSON.stringify(groups)}`);
  if (cin % groups !== 0 || cout % groups !== 0 || fin * groups !== cin)
    throw new ShapeError(
      `conv2d: with groups ${groups}, input ${fmtShape(x.shape)} and filter ${fmtShape(filter.shape)} need ` +
        `channels divisible by ${groups} and a filter of ${cin / groups} input channels ([kh, kw, Cin / groups, Cout])`,
    );
  // One group per input channel is the depthwise convolution: output channel c * M + m is group c's m-th.
  if (fin === 1) return depthwiseConv2dOp(x, reshape(filter, [kh, kw, cin, cout / cin]), p);
  const outPerGroup = cout / groups;
  const parts = Array.from({ length: groups }, (_, g) =>
    run(
      'conv2d',
      [
        slice(x, [0, 0, 0, g * fin], [x.shape[0], x.shape[1], x.shape[2], fin]),
        slice(filter, [0, 0, 0, g * outPerGroup], [kh, kw, fin, outPerGroup]),
      ],
      p,
    ),
  );
  return concat(parts, 3);
}

export type DepthwiseConv2DOptions = Omit<Conv2DOptions, 'groups'>;

/** Each channel of x [N, H, W, C] with its own M filters of filter [kh, kw, C, M] -> [N, Ho, Wo, C * M]. */
export function depthwiseConv2d(x: Tensor, filter: Tensor, options: DepthwiseConv2DOptions = {}): Tensor {
  return depthwiseConv2dOp(x, filter, conv2dParams('depthwiseConv2d', x, filter, options));
}

/**
 * The depthwise convolution (filter [kh, kw, C, M]) followed by a pointwise one (pointwiseFilter
 * [1, 1, C * M, Cout]) -> [N, Ho, Wo, Cout]; the options apply to the depthwise step.
 */
export function separableConv2d(
  x: Tensor,
  depthwiseFilter: Tensor,
  pointwiseFilter: Tensor,
  options: DepthwiseConv2DOptions = {},
): Tensor {
  if (pointwiseFilter.rank !== 4 || pointwiseFilter.shape[0] !== 1 || pointwiseFilter.shape[1] !== 1)
    throw new ShapeError(
      `separableConv2d: pointwise filter must be [1, 1, C * depthMultiplier, Cout], ` +
        `got ${fmtShape(pointwiseFilter.shape)}`,
    );
  return conv2d(depthwiseConv2d(x, depthwiseFilter, options), pointwiseFilter);
}

/** 1-D padding: 'same', 'valid', n on both ends or [left, right]. */
export type Conv1DPadding = PaddingMode | number | readonly [number, number];

/** x [N, L, Cin] * filter [k, Cin, Cout] -> [N, Lo, Cout]. */
export function conv1d(
  x: Tensor,
  filter: Tensor,
  { stride = 1, padding = 'valid', dilation = 1 }: { stride?: number; padding?: Conv1DPadding; dilation?: number } = {},
): Tensor {
  if (x.rank !== 3 || filter.rank !== 3)
    throw new ShapeError(
      `conv1d: expected input [N, L, C] and filter [k, Cin, Cout], got ${fmtShape(x.shape)} and ` +
        `${fmtShape(filter.shape)}`,
    );
  // Check here, so that errors name conv1d and the 3-D shapes rather than the conv2d this delegates to.
  if (x.shape[2] !== filter.shape[1])
    throw new ShapeError(
      `conv1d: input ${fmtShape(x.shape)} has ${x.shape[2]} channels but filter ${fmtShape(filter.shape)} ` +
        `expects ${filter.shape[1]} ([k, inChannels, outChannels])`,
    );
  const [s] = pair('conv1d', 'stride', stride),
    [d] = pair('conv1d', 'dilation', dilation);
  let pads: Padding2D;
  if (typeof padding === 'string')
    pads = resolvePadding('conv1d', padding, [1, x.shape[1]], [1, filter.shape[0]], [1, s], [1, d]);
  else {
    const lr = explicitPadding([0, padding]) ?? explicitPadding([[0, 0], padding]);
    if (!lr)
      throw new ArgumentError(
        `conv1d: padding must be 'same', 'valid', a non-negative integer or [left, right], ` +
          `got ${JSON.stringify(padding)}`,
      );
    pads = lr;
  }
  windowOutputSize('conv1d', x.shape[1], filter.shape[0], s, d, pads[1]);
  const y = run('conv2d', [unsqueeze(x, 1), unsqueeze(filter, 0)], { strides: [1, s], dilations: [1, d], pads });
  return squeeze(y, 1);
}

export interface Conv2DTransposeOptions {
  strides?: Pair;
  padding?: PaddingMode;
  dilations?: Pair;
  /** Extra rows and columns at the bottom and right of the output, each less than the stride (Keras, PyTorch). */
  outputPadding?: Pair | null;
}

/** Keras' deconv_output_length: the transposed convolution's output size along one axis. */
export function transposedOutputSize(
  size: number,
  kernel: number,
  padding: PaddingMode,
  stride: number,
  dilation: number,
  outputPadding: number | null,
): number {
  const extent = (kernel - 1) * dilation + 1;
  if (outputPadding === null)
    return padding === 'same' ? size * stride : (size - 1) * stride + Math.max(extent, stride);
  const pad = padding === 'same' ? Math.floor(extent / 2) : 0;
  return (size - 1) * stride + extent - 2 * pad + outputPadding;
}

/**
 * Keras Conv2DTranspose: x [N, H, W, Cin] with filter [kh, kw, Cout, Cin] -> [N, Ho, Wo, Cout], where
 * Ho = H * stride ('same') or (H - 1) * stride + max(kernel extent, stride) ('valid'; the trailing
 * stride - extent rows, when the stride is the larger, are zero). With outputPadding p, Ho = (H - 1) * stride
 * + extent - 2 * pad + p, pad = floor(extent / 2) for 'same' and 0 for 'valid' (Keras' deconv_output_length).
 * It is the input gradient of conv2d with the same filter on an input of that size.
 */
export function conv2dTranspose(
  x: Tensor,
  filter: Tensor,
  { strides = 1, padding = 'valid', dilations = 1, outputPadding = null }: Conv2DTransposeOptions = {},
): Tensor {
  if (x.rank !== 4 || filter.rank !== 4)
    throw new ShapeError(
      `conv2dTranspose: expected input [N, H, W, C] and filter [kh, kw, Cout, Cin], got ${fmtShape(x.shape)} and ` +
        `${fmtShape(filter.shape)}`,
    );
  if (x.shape[3] !== filter.shape[3])
    throw new ShapeError(
      `conv2dTranspose: input ${fmtShape(x.shape)} has ${x.shape[3]} channels but filter ` +
        `${fmtShape(filter.shape)} expects ${filter.shape[3]} ([kh, kw, outChannels, inChannels])`,
    );
  const s = pair('conv2dTranspose', 'strides', strides),
    d = pair('conv2dTranspose', 'dilations', dilations);
  let extra: [number, number] | null = null;
  if (outputPadding !== null) {
    extra = typeof outputPadding === 'number' ? [outputPadding, outputPadding] : [outputPadding[0], outputPadding[1]];
    if (!extra.every((p, a) => Number.isInteger(p) && p >= 0 && p < s[a]))
      throw new ArgumentError(
        `conv2dTranspose: outputPadding must be non-negative integers less than the strides ` +
          `${JSON.stringify(s)}, got ${JSON.stringify(outputPadding)}`,
      );
  }
  const outSize = [0, 1].map((a) =>
    transposedOutputSize(x.shape[1 + a], filter.shape[a], padding, s[a], d[a], extra ? extra[a] : null),
  ) as [number, number];
  const pads = resolvePadding('conv2dTranspose', padding, outSize, [filter.shape[0], filter.shape[1]], s, d);
  [0, 1].forEach((a) => {
    const size = windowOutputSize('conv2dTranspose', outSize[a], filter.shape[a], s[a], d[a], pads[a]);
    if (size !== x.shape[1 + a])
      throw new ShapeError(
        `conv2dTranspose: output size ${outSize[a]} (axis ${a + 1}) of input ${fmtShape(x.shape)} with kernel ` +
          `${filter.shape[a]}, stride ${s[a]}, padding '${padding}' and outputPadding ` +
          `${JSON.stringify(outputPadding)} ` +
          `is not one that a convolution maps back to ${x.shape[1 + a]} (Keras and TensorFlow reject it too)`,
      );
  });
  const inputShape = [x.shape[0], outSize[0], outSize[1], filter.shape[2]] as const;
  return run('conv2dBackpropInput', [x, filter], { strides: s, dilations: d, pads, inputShape });
}
