// Fused ops: each has a composite default built from primitives; a backend may supply one kernel
// instead (Backend.fused), which must match the composite. Softmax and log-softmax have their own
// gradient rules; convolution and pooling have hand rules (in autograd/rules.ts) built on their own
// fused backprop ops, whose composites differentiate the forward composites by hand.
import { Tensor } from '../tensor/tensor.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import { noGrad, record } from '../autograd/tape.js';
import { GRAD_RULES, THROUGH_COMPOSITE } from '../autograd/rules.js';
import { tryFused } from './dispatch.js';
import type { ShapeDType } from './primitives.js';
import type { Conv2DParams, FusedName, FusedParams, Padding2D, Pool2DParams } from './fused-params.js';
import { div, equal, exp, sub, where } from './elementwise.js';
import { argmax, logsumexp, max, sum } from './reduce.js';
import { pad } from './indexing.js';
import { expand, flip, permute, reshape, slice, unsqueeze } from './views.js';
import { matmul } from './linalg.js';
import { arange, ones } from './creation.js';
import { unwindows, windowOutputSize, windows } from './windows.js';
import { TRAIN_FUSED } from './train-fused.js';
import { sequenceFusedSpecs } from './fused-seq.js';

export interface FusedSpec<F extends FusedName> {
  infer(inputs: readonly ShapeDType[], params: FusedParams[F]): ShapeDType;
  flops(inputs: readonly ShapeDType[], out: ShapeDType, params: FusedParams[F]): number;
  composite(inputs: readonly Tensor[], params: FusedParams[F]): Tensor;
}

function require4d(op: string, x: ShapeDType, what: string): void {
  if (x.shape.length !== 4) throw new ShapeError(`${op}: ${what} must be 4-D, got ${fmtShape(x.shape)}`);
  if (!isFloat(x.dtype)) throw new DTypeError(`${op}: ${what} must be float32 or float64, got ${x.dtype}`);
}

function conv2dShape(op: string, x: ShapeDType, f: ShapeDType, p: Conv2DParams): ShapeDType {
  require4d(op, x, 'input');
  require4d(op, f, 'filter');
  if (x.shape[3] !== f.shape[2]) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} has ${x.shape[3]} channels but filter ${fmtShape(f.shape)} expects ${f.shape[2]} ([kh, kw, inChannels, outChannels])`,
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
function backpropInputComposite([dy, f]: readonly Tensor[], p: FusedParams['conv2dBackpropInput']): Tensor {
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

/** df = windows(x)^T dy, as [kh, kw, Cin, Cout]. */
function backpropFilterComposite([x, dy]: readonly Tensor[], p: FusedParams['conv2dBackpropFilter']): Tensor {
  const [kh, kw, cin, cout] = p.filterShape;
  const win = windows(x, [kh, kw], p.strides, p.dilations, p.pads, 0);
  const [n, ho, wo] = win.shape;
  const cols = reshape(win, [n * ho * wo, kh * kw * cin]);
  return reshape(matmul(permute(cols, [1, 0]), reshape(dy, [n * ho * wo, cout])), p.filterShape);
}

/** Each dy to the first max of its window (argmax's rule: first of ties, NaN counts as the max). */
function maxPoolBackpropComposite([x, dy]: readonly Tensor[], p: Pool2DParams): Tensor {
  const win = windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, -Infinity);
  const taps = win.shape[3];
  const first = equal(unsqueeze(argmax(win, 3), 3), reshape(arange(0, taps, 1, 'int32'), [1, 1, 1, taps, 1]));
  const routed = where(first, unsqueeze(dy, 3), 0);
  return unwindows(routed, x.shape, p.poolSize, p.strides, NO_DILATION, p.pads);
}

function avgPoolBackpropComposite([dy]: readonly Tensor[], p: FusedParams['avgPool2dBackprop']): Tensor {
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

function requireSameShape(op: string, what: string, got: ShapeDType, expected: ShapeDType): void {
  if (got.shape.length !== expected.shape.length || expected.shape.some((d, i) => d !== got.shape[i])) {
    throw new ShapeError(
      `${op}: ${what} ${fmtShape(got.shape)} does not match the expected ${fmtShape(expected.shape)}`,
    );
  }
  if (got.dtype !== expected.dtype) throw new DTypeError(`${op}: ${what} is ${got.dtype}, expected ${expected.dtype}`);
}

export const FUSED: { readonly [F in FusedName]: FusedSpec<F> } = {
  softmax: {
    infer: ([x]) => x,
    flops: ([x]) => 4 * sizeOf(x.shape),
    composite: ([x], { axis }) => exp(sub(x, logsumexp(x, axis, true))),
  },
  logSoftmax: {
    infer: ([x]) => x,
    flops: ([x]) => 4 * sizeOf(x.shape),
    composite: ([x], { axis }) => sub(x, logsumexp(x, axis, true)),
  },
  conv2d: {
    infer: ([x, f], p) => conv2dShape('conv2d', x, f, p),
    flops: ([, f], out) => 2 * sizeOf(out.shape) * f.shape[0] * f.shape[1] * f.shape[2],
    composite: conv2dComposite,
  },
  conv2dBackpropInput: {
    infer: ([dy, f], p) => {
      const expected = conv2dShape('conv2dBackpropInput', { shape: p.inputShape, dtype: dy.dtype }, f, p);
      if (expected.shape.some((d, i) => d !== dy.shape[i])) {
        throw new ShapeError(
          `conv2dBackpropInput: dy ${fmtShape(dy.shape)} does not match the conv2d output ${fmtShape(expected.shape)} of input ${fmtShape(p.inputShape)}`,
        );
      }
      return { shape: p.inputShape, dtype: dy.dtype };
    },
    flops: ([dy, f]) => 2 * sizeOf(dy.shape) * f.shape[0] * f.shape[1] * f.shape[2],
    composite: backpropInputComposite,
  },
  maxPool2d: {
    infer: ([x], p) => poolShape('maxPool2d', x, p),
    flops: (_i, out, p) => sizeOf(out.shape) * p.poolSize[0] * p.poolSize[1],
    composite: ([x], p) => max(windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, -Infinity), 3),
  },
  avgPool2d: {
    infer: ([x], p) => poolShape('avgPool2d', x, p),
    flops: (_i, out, p) => sizeOf(out.shape) * p.poolSize[0] * p.poolSize[1],
    composite: ([x], p) => {
      // Padding is not counted: each output averages only the inputs its window covers (as Keras).
      const total = sum(windows(x, p.poolSize, p.strides, NO_DILATION, p.pads, 0), 3);
      return div(total, windowCounts(x.shape, x.dtype, p));
    },
  },
  // ---- gradients of convolution and pooling ----
  conv2dBackpropFilter: {
    infer: ([x, dy], p) => {
      const y = conv2dShape('conv2dBackpropFilter', x, { shape: p.filterShape, dtype: x.dtype }, p);
      requireSameShape('conv2dBackpropFilter', 'dy', dy, y);
      return { shape: p.filterShape, dtype: x.dtype };
    },
    flops: ([, dy], out) => 2 * sizeOf(dy.shape) * out.shape[0] * out.shape[1] * out.shape[2],
    composite: backpropFilterComposite,
  },
  maxPool2dBackprop: {
    infer: ([x, dy], p) => {
      requireSameShape('maxPool2dBackprop', 'dy', dy, poolShape('maxPool2dBackprop', x, p));
      return x;
    },
    flops: ([, dy], _out, p) => sizeOf(dy.shape) * p.poolSize[0] * p.poolSize[1],
    composite: maxPoolBackpropComposite,
  },
  avgPool2dBackprop: {
    infer: ([dy], p) => {
      requireSameShape(
        'avgPool2dBackprop',
        'dy',
        dy,
        poolShape('avgPool2dBackprop', { shape: p.inputShape, dtype: dy.dtype }, p),
      );
      return { shape: p.inputShape, dtype: dy.dtype };
    },
    flops: ([dy], _out, p) => sizeOf(dy.shape) * p.poolSize[0] * p.poolSize[1],
    composite: avgPoolBackpropComposite,
  },
  ...TRAIN_FUSED,
  // Sequence models (recurrent cells, attention).
  ...sequenceFusedSpecs(),
};

/** Checks a fused op's inputs and runs the backend's kernel for it; undefined when the backend has none. */
export function tryFusedKernel<F extends FusedName>(
  op: F,
  inputs: readonly Tensor[],
  params: FusedParams[F],
): Tensor | undefined {
  const spec = FUSED[op] as FusedSpec<F>;
  for (const t of inputs) t.assertLive(op);
  const info = spec.infer(inputs, params);
  return tryFused(op, inputs, params, info, spec.flops(inputs, info, params));
}

/**
 * Runs a fused op: the backend's kernel when it has one, else the composite default. An op with a hand
 * gradient rule is recorded as itself either way (its composite's primitives are not), so every backend
 * differentiates it by that rule.
 */
export function runFusedOp<F extends FusedName>(op: F, inputs: readonly Tensor[], params: FusedParams[F]): Tensor {
  const fused = tryFusedKernel(op, inputs, params);
  if (fused) return fused;
  const spec = FUSED[op] as FusedSpec<F>;
  if (GRAD_RULES[op] === THROUGH_COMPOSITE) return spec.composite(inputs, params);
  const out = noGrad(() => spec.composite(inputs, params));
  record(op, inputs, out, params);
  return out;
}
