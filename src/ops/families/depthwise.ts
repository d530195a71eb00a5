// The depthwise convolution family: each input channel convolved with its own depthMultiplier filters
// (channels-last, Keras' filter layout [kh, kw, C, M], output channel c * M + m), its input gradient and
// its filter gradient. As conv2d's, the three are bilinear and adjoint, so each one's gradients are the
// other two. Grouped conv2d with one group per input channel is this op (ops/families/grouped.ts).
import type { Tensor } from '../../tensor/tensor.js';
import { DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { shapesEqual, sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { require4d, requireSame } from '../checks.js';
import { permute, reshape } from '../views.js';
import { matmul } from '../linalg.js';
import { unwindows, windowOutputSize, windows } from '../windows.js';
import type { Conv2DParams, Shape4 } from './conv.js';
import { convAdapters } from './native-args.js';

export interface DepthwiseParams {
  /** x [N, H, W, C], filter [kh, kw, C, M] -> [N, Ho, Wo, C * M]. */
  depthwiseConv2d: Conv2DParams;
  /** dy [N, Ho, Wo, C * M], filter [kh, kw, C, M] -> dx [N, H, W, C]: the input gradient. */
  depthwiseConv2dBackpropInput: Conv2DParams & { readonly inputShape: Shape4 };
  /** x [N, H, W, C], dy [N, Ho, Wo, C * M] -> df [kh, kw, C, M]: the filter gradient. */
  depthwiseConv2dBackpropFilter: Conv2DParams & { readonly filterShape: Shape4 };
}

/** The addon's entry points (kernels/depthwise.h); params as conv2d's with cout = C * M (napi_conv.h). */
export interface DepthwiseAddon {
  depthwiseConv2d(x: Arr, xOff: number, f: Arr, fOff: number, out: Arr, params: Float64Array): void;
  depthwiseConv2dBackpropInput(dy: Arr, dyOff: number, f: Arr, fOff: number, dx: Arr, params: Float64Array): void;
  depthwiseConv2dBackpropFilter(x: Arr, xOff: number, dy: Arr, dyOff: number, df: Arr, params: Float64Array): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const DEPTHWISE_EXPORTS = {
  depthwiseConv2d: true,
  depthwiseConv2dBackpropInput: true,
  depthwiseConv2dBackpropFilter: true,
} satisfies Record<keyof DepthwiseAddon, true>;

function depthwiseShape(op: string, x: ShapeDType, f: ShapeDType, p: Conv2DParams): ShapeDType {
  require4d(op, x, 'input');
  require4d(op, f, 'filter');
  if (x.shape[3] !== f.shape[2]) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} has ${x.shape[3]} channels but filter ${fmtShape(f.shape)} ` +
        `expects ${f.shape[2]} ([kh, kw, channels, depthMultiplier])`,
    );
  }
  if (x.dtype !== f.dtype) throw new DTypeError(`${op}: input is ${x.dtype} but filter is ${f.dtype}`);
  const ho = windowOutputSize(op, x.shape[1], f.shape[0], p.strides[0], p.dilations[0], p.pads[0]);
  const wo = windowOutputSize(op, x.shape[2], f.shape[1], p.strides[1], p.dilations[1], p.pads[1]);
  return { shape: [x.shape[0], ho, wo, f.shape[2] * f.shape[3]], dtype: x.dtype };
}

/** The windows of x as [C, P, T] (P = N * Ho * Wo output pixels, T = kh * kw taps): one matrix per channel. */
function channelWindows(x: Tensor, kernel: readonly [number, number], p: Conv2DParams): Tensor {
  const win = windows(x, kernel, p.strides, p.dilations, p.pads, 0);
  const [n, ho, wo, taps, c] = win.shape;
  return permute(reshape(win, [n * ho * wo, taps, c]), [2, 0, 1]);
}

/** dy [N, Ho, Wo, C * M] as [C, P, M]. */
function channelGradients(dy: Tensor, c: number): Tensor {
  const [n, ho, wo, cm] = dy.shape;
  return permute(reshape(dy, [n * ho * wo, c, cm / c]), [1, 0, 2]);
}

/** y [P, C, M] = per channel, windows [P, T] x filter [T, M]: one batched matmul over the channels. */
function forwardComposite([x, f]: readonly Tensor[], p: Conv2DParams): Tensor {
  const [kh, kw, c, m] = f.shape;
  const cols = channelWindows(x, [kh, kw], p);
  const y = matmul(cols, permute(reshape(f, [kh * kw, c, m]), [1, 0, 2]));
  const [n, ho, wo] = depthwiseShape('depthwiseConv2d', x, f, p).shape;
  return reshape(permute(y, [1, 0, 2]), [n, ho, wo, c * m]);
}

/** dcols [C, P, T] = dy [C, P, M] x filter^T [C, M, T], summed back onto the input by unwindows. */
function backpropInputComposite(
  [dy, f]: readonly Tensor[],
  p: DepthwiseParams['depthwiseConv2dBackpropInput'],
): Tensor {
  const [kh, kw, c, m] = f.shape;
  const [n, ho, wo] = dy.shape;
  const dcols = matmul(channelGradients(dy, c), permute(reshape(f, [kh * kw, c, m]), [1, 2, 0]));
  const g = reshape(permute(dcols, [1, 2, 0]), [n, ho, wo, kh * kw, c]);
  return unwindows(g, p.inputShape, [kh, kw], p.strides, p.dilations, p.pads);
}

/** df [T, C, M] = per channel, windows^T [T, P] x dy [P, M]. */
function backpropFilterComposite(
  [x, dy]: readonly Tensor[],
  p: DepthwiseParams['depthwiseConv2dBackpropFilter'],
): Tensor {
  const [kh, kw, c] = p.filterShape;
  const df = matmul(permute(channelWindows(x, [kh, kw], p), [0, 2, 1]), channelGradients(dy, c));
  return reshape(permute(df, [1, 0, 2]), p.filterShape);
}

const shape4 = (t: Tensor) => t.shape as unknown as Shape4;
const convOf = ({ strides, dilations, pads }: Conv2DParams): Conv2DParams => ({ strides, dilations, pads });

const nativeDepthwise = (addon: DepthwiseAddon) =>
  convAdapters(addon.depthwiseConv2d, addon.depthwiseConv2dBackpropInput, addon.depthwiseConv2dBackpropFilter);

const family = 'convolution';

export const DEPTHWISE: FusedSpecs<keyof DepthwiseParams> = {
  depthwiseConv2d: {
    family,
    infer: ([x, f], p) => depthwiseShape('depthwiseConv2d', x, f, p),
    flops: ([, f], out) => 2 * sizeOf(out.shape) * f.shape[0] * f.shape[1],
    composite: forwardComposite,
    grad: (dy, { inputs: [x, f], params, needsGrad: [needX, needF] }) => [
      needX ? run('depthwiseConv2dBackpropInput', [dy, f], { ...convOf(params), inputShape: shape4(x) }) : null,
      needF ? run('depthwiseConv2dBackpropFilter', [x, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
    ],
    native: (addon) => nativeDepthwise(addon).forward,
  },
  depthwiseConv2dBackpropInput: {
    family,
    infer: ([dy, f], p) => {
      const op = 'depthwiseConv2dBackpropInput';
      const expected = depthwiseShape(op, { shape: p.inputShape, dtype: dy.dtype }, f, p);
      if (!shapesEqual(expected.shape, dy.shape)) {
        throw new ShapeError(
          `${op}: dy ${fmtShape(dy.shape)} does not match the depthwiseConv2d output ` +
            `${fmtShape(expected.shape)} of input ${fmtShape(p.inputShape)}`,
        );
      }
      return { shape: p.inputShape, dtype: dy.dtype };
    },
    flops: ([dy, f]) => 2 * sizeOf(dy.shape) * f.shape[0] * f.shape[1],
    composite: backpropInputComposite,
    grad: (g, { inputs: [dy, f], params, needsGrad: [needDy, needF] }) => [
      needDy ? run('depthwiseConv2d', [g, f], convOf(params)) : null,
      needF ? run('depthwiseConv2dBackpropFilter', [g, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
    ],
    native: (addon) => nativeDepthwise(addon).input,
  },
  depthwiseConv2dBackpropFilter: {
    family,
    infer: ([x, dy], p) => {
      const op = 'depthwiseConv2dBackpropFilter';
      requireSame(op, depthwiseShape(op, x, { shape: p.filterShape, dtype: x.dtype }, p), dy, 'dy');
      return { shape: p.filterShape, dtype: x.dtype };
    },
    flops: ([, dy], out) => 2 * sizeOf(dy.shape) * out.shape[0] * out.shape[1],
    composite: backpropFilterComposite,
    grad: (g, { inputs: [x, dy], params, needsGrad: [needX, needDy] }) => [
      needX ? run('depthwiseConv2dBackpropInput', [dy, g], { ...convOf(params), inputShape: shape4(x) }) : null,
      needDy ? run('depthwiseConv2d', [x, g], convOf(params)) : null,
    ],
    native: (addon) => nativeDepthwise(addon).filter,
  },
};

const run = fusedRunner(DEPTHWISE);

/** Runs the depthwise convolution with resolved parameters (the public functions live in ops/families/conv.ts). */
export function depthwiseConv2dOp(x: Tensor, filter: Tensor, p: Conv2DParams): Tensor {
  return run('depthwiseConv2d', [x, filter], p);
}
