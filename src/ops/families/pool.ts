// The pooling family: max and average pooling over 2-D windows (channels-last; the average does not
// count padding, as Keras) and their backprop ops.
import type { Tensor } from '../../tensor/tensor.js';
import { ShapeError, fmtShape } from '../../errors.js';
import { sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { noGrad } from '../../autograd/tape.js';
import { THROUGH_COMPOSITE } from '../../autograd/rule-kinds.js';
import { fusedRunner, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { require4d, requireSame } from '../checks.js';
import { div, equal, where } from '../elementwise.js';
import { argmax, max, sum } from '../reduce.js';
import { expand, reshape, unsqueeze } from '../views.js';
import { arange, ones } from '../creation.js';
import { unwindows, windowOutputSize, windows } from '../windows.js';
import { pair, resolvePadding, type Padding2D, type PaddingMode, type Pair } from './conv.js';
import { buf } from './native-args.js';

export interface Pool2DParams {
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: Padding2D;
}

export interface PoolParams {
  maxPool2d: Pool2DParams;
  avgPool2d: Pool2DParams;
  /** x [N, H, W, C], dy [N, Ho, Wo, C] -> dx: each dy goes to the first max of its window (NaN counts as the max). */
  maxPool2dBackprop: Pool2DParams;
  /** dy [N, Ho, Wo, C] -> dx [N, H, W, C]: each dy spread evenly over the inputs its window covers. */
  avgPool2dBackprop: Pool2DParams & { readonly inputShape: readonly [number, number, number, number] };
}

/** The addon's entry points (kernels/pooling.h). */
export interface PoolAddon {
  /** params: [n, h, w, c, ho, wo, kh, kw, strideH, strideW, padTop, padLeft]. */
  pool2d(isMax: boolean, x: Arr, xOff: number, out: Arr, params: Float64Array): void;
  /** x is read by max only (avg may pass dy). */
  pool2dBackprop(isMax: boolean, x: Arr, xOff: number, dy: Arr, dyOff: number, dx: Arr, params: Float64Array): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const POOL_EXPORTS = { pool2d: true, pool2dBackprop: true } satisfies Record<keyof PoolAddon, true>;

function poolShape(op: string, x: ShapeDType, p: Pool2DParams): ShapeDType {
  require4d(op, x, 'input');
  const ho = windowOutputSize(op, x.shape[1], p.poolSize[0], p.strides[0], 1, p.pads[0]);
  const wo = windowOutputSize(op, x.shape[2], p.poolSize[1], p.strides[1], 1, p.pads[1]);
  return { shape: [x.shape[0], ho, wo, x.shape[3]], dtype: x.dtype };
}

const NO_DILATION: readonly [number, number] = [1, 1];

/** How many inputs (not padding) each pooling window covers, [1, Ho, Wo, 1]. */
function windowCounts(inputShape: readonly number[], dtype: Tensor['dtype'], p: Pool2DParams): Tensor {
  return noGrad(() =>
    sum(windows(ones([1, inputShape[1], inputShape[2], 1], dtype), p.poolSize, p.strides, NO_DILATION, p.pads, 0), 3),
  );
}

/** Each dy to the first max of its window (argmax's rule: first of ties, NaN counts as the max). */
function maxPoolBackpropComposite([x, dy]: readonly Tensor[], p: Pool2DParams): Tensor {
  const win = windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, -Infinity);
  const taps = win.shape[3];
  const first = equal(unsqueeze(argmax(win, 3), 3), reshape(arange(0, taps, 1, 'int32'), [1, 1, 1, taps, 1]));
  const routed = where(first, unsqueeze(dy, 3), 0);
  return unwindows(routed, x.shape, p.poolSize, p.strides, NO_DILATION, p.pads);
}

function avgPoolBackpropComposite([dy]: readonly Tensor[], p: PoolParams['avgPool2dBackprop']): Tensor {
  const share = unsqueeze(div(dy, windowCounts(p.inputShape, dy.dtype, p)), 3);
  const [n, ho, wo, , c] = share.shape;
  return unwindows(
    expand(share, [n, ho, wo, p.poolSize[0] * p.poolSize[1], c]),
    p.inputShape,
    p.poolSize,
    p.strides,
    NO_DILATION,
    p.pads,
  );
}

const shape4 = (t: Tensor) => t.shape as unknown as PoolParams['avgPool2dBackprop']['inputShape'];
/** The window parameters alone (without the backprop ops' shapes), for the op a rule calls. */
const poolOf = ({ poolSize, strides, pads }: Pool2DParams): Pool2DParams => ({ poolSize, strides, pads });

/** The addon's pooling parameters, written into `into`; x [n, h, w, c], y [n, ho, wo, c]. */
function poolArgs(into: Float64Array, x: readonly number[], y: readonly number[], p: Pool2DParams): Float64Array {
  into[0] = x[0];
  into[1] = x[1];
  into[2] = x[2];
  into[3] = x[3];
  into[4] = y[1];
  into[5] = y[2];
  into[6] = p.poolSize[0];
  into[7] = p.poolSize[1];
  into[8] = p.strides[0];
  into[9] = p.strides[1];
  into[10] = p.pads[0][0];
  into[11] = p.pads[1][0];
  return into;
}

const pool2d = (isMax: boolean) => (addon: PoolAddon) => {
  const params = new Float64Array(12);
  return ([x]: readonly KernelArg[], o: KernelArg, p: Pool2DParams) =>
    addon.pool2d(isMax, buf(x), x.offset, buf(o), poolArgs(params, x.shape, o.shape, p));
};

/** Max reads x and dy; average reads only dy (passed twice). */
const pool2dBackprop = (isMax: boolean) => (addon: PoolAddon) => {
  const params = new Float64Array(12);
  return (inputs: readonly KernelArg[], o: KernelArg, p: Pool2DParams) => {
    const x = inputs[0],
      dy = inputs[isMax ? 1 : 0];
    addon.pool2dBackprop(isMax, buf(x), x.offset, buf(dy), dy.offset, buf(o), poolArgs(params, o.shape, dy.shape, p));
  };
};

const family = 'pooling';

export const POOL: FusedSpecs<keyof PoolParams> = {
  maxPool2d: {
    family,
    infer: ([x], p) => poolShape('maxPool2d', x, p),
    flops: (_i, out, p) => sizeOf(out.shape) * p.poolSize[0] * p.poolSize[1],
    composite: ([x], p) => max(windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, -Infinity), 3),
    grad: (dy, { inputs: [x], params }) => [run('maxPool2dBackprop', [x, dy], poolOf(params))],
    native: pool2d(true),
  },
  avgPool2d: {
    family,
    infer: ([x], p) => poolShape('avgPool2d', x, p),
    flops: (_i, out, p) => sizeOf(out.shape) * p.poolSize[0] * p.poolSize[1],
    composite: ([x], p) => {
      // Padding is not counted: each output averages only the inputs its window covers (as Keras).
      const total = sum(windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, 0), 3);
      return div(total, windowCounts(x.shape, x.dtype, p));
    },
    grad: (dy, { inputs: [x], params }) => [
      run('avgPool2dBackprop', [dy], { ...poolOf(params), inputShape: shape4(x) }),
    ],
    native: pool2d(false),
  },
  maxPool2dBackprop: {
    family,
    infer: ([x, dy], p) => {
      requireSame('maxPool2dBackprop', poolShape('maxPool2dBackprop', x, p), dy, 'dy');
      return x;
    },
    flops: ([, dy], _out, p) => sizeOf(dy.shape) * p.poolSize[0] * p.poolSize[1],
    composite: maxPoolBackpropComposite,
    grad: THROUGH_COMPOSITE,
    native: pool2dBackprop(true),
  },
  avgPool2dBackprop: {
    family,
    infer: ([dy], p) => {
      const y = poolShape('avgPool2dBackprop', { shape: p.inputShape, dtype: dy.dtype }, p);
      requireSame('avgPool2dBackprop', y, dy, 'dy');
      return { shape: p.inputShape, dtype: dy.dtype };
    },
    flops: ([dy], _out, p) => sizeOf(dy.shape) * p.poolSize[0] * p.poolSize[1],
    composite: avgPoolBackpropComposite,
    // Linear in dy, and its adjoint is the average pool itself.
    grad: (g, { params }) => [run('avgPool2d', [g], poolOf(params))],
    native: pool2dBackprop(false),
  },
};

const run = fusedRunner(POOL);

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
  return run(op, [x], { poolSize: k, strides: s, pads });
}

/** Max over windows; strides default to the pool size (Keras). */
export function maxPool2d(x: Tensor, poolSize: Pair = 2, options: Pool2DOptions = {}): Tensor {
  return pool('maxPool2d', x, poolSize, options);
}

/** Mean over windows, not counting padding; strides default to the pool size (Keras). */
export function avgPool2d(x: Tensor, poolSize: Pair = 2, options: Pool2DOptions = {}): Tensor {
  return pool('avgPool2d', x, poolSize, options);
}
