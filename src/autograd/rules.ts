// The one table of gradient rules. Every op that can be recorded on a tape (primitives, views and fused
// ops) has an entry, so adding a primitive without deciding its gradient does not compile. A rule maps
// the output gradient to one gradient per input (null where none flows) in the *output's* broadcast
// shape: the engine reduces broadcast dimensions, casts, and accumulates.
import type { Tensor } from '../tensor/tensor.js';
import type { PrimitiveParams } from '../ops/primitives.js';
import type { Conv2DParams, FusedParams, Pool2DParams } from '../ops/fused-params.js';
import { runFusedOp } from '../ops/fused.js';
import type { ViewParams } from '../ops/views.js';
import * as o from '../ops/index.js';
import { batchMatmul } from '../ops/linalg.js';
import { keptShape } from '../ops/reduce.js';
import { attentionBackward, gruCellBackward, lstmCellBackward, lstmStates } from '../ops/sequence.js';
import { attentionLogitGrad } from '../ops/fused-seq.js';

export type OpParams = PrimitiveParams & ViewParams & FusedParams;
export type OpName = keyof OpParams;

export interface RuleContext<P> {
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  readonly params: P;
  /** Whether each input needs a gradient (it depends on a differentiated input); a rule may return null for the others. */
  readonly needsGrad: readonly boolean[];
}

export type GradRule<P> = (dy: Tensor, ctx: RuleContext<P>) => readonly (Tensor | null)[];

/** No gradient flows (integer or boolean results, or piecewise-constant functions). */
export const NO_GRADIENT = 'none' as const;
/** Differentiate the op's composite default (used for fused ops without a hand-written rule). */
export const THROUGH_COMPOSITE = 'composite' as const;

export type GradTable = {
  readonly [K in OpName]: GradRule<OpParams[K]> | typeof NO_GRADIENT | typeof THROUGH_COMPOSITE;
};

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/** dy reshaped with kept (size-1) reduced axes and broadcast back over the input. */
function unreduce(dy: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return o.expand(o.reshape(dy, keptShape(x.shape, axes)), x.shape);
}

/** Gradient of max/min reductions: split evenly between tied extreme elements. */
function extremumRule(
  dy: Tensor,
  { inputs: [x], output: y, params: { axes } }: RuleContext<{ axes: readonly number[] }>,
) {
  const mask = o.cast(o.equal(x, unreduce(y, x, axes)), x.dtype);
  const count = o.sum(mask, axes, true);
  return [o.div(o.mul(mask, unreduce(dy, x, axes)), count)];
}

/**
 * Gradient of prod: the product of the other elements, y / x where x is not 0. Where x is 0 that is the
 * product of the slice's nonzero elements if x is its only zero, else 0 (y / x would give NaN).
 */
function prodRule(dy: Tensor, { inputs: [x], output: y, params: { axes } }: RuleContext<{ axes: readonly number[] }>) {
  const isZero = o.equal(x, 0);
  const safeX = o.where(isZero, 1, x);
  const zeroCount = o.sum(o.cast(isZero, x.dtype), axes, true);
  const othersAtZero = o.where(o.equal(zeroCount, 1), o.prod(safeX, axes, true), 0);
  const others = o.where(isZero, othersAtZero, o.div(unreduce(y, x, axes), safeX));
  return [o.mul(unreduce(dy, x, axes), others)];
}

type Shape4 = readonly [number, number, number, number];
const shape4 = (t: Tensor) => t.shape as unknown as Shape4;
/** The window parameters alone (without the backprop ops' shapes), for the op a rule calls. */
const convOf = ({ strides, dilations, pads }: Conv2DParams): Conv2DParams => ({ strides, dilations, pads });
const poolOf = ({ poolSize, strides, pads }: Pool2DParams): Pool2DParams => ({ poolSize, strides, pads });

function invertPermutation(axes: readonly number[]): number[] {
  const inv = new Array<number>(axes.length);
  axes.forEach((a, i) => (inv[a] = i));
  return inv;
}

export const GRAD_RULES: GradTable = {
  // Unary math.
  neg: (dy) => [o.neg(dy)],
  abs: (dy, { inputs: [x] }) => [o.mul(dy, o.sign(x))],
  sign: NO_GRADIENT,
  floor: NO_GRADIENT,
  ceil: NO_GRADIENT,
  round: NO_GRADIENT,
  exp: (dy, { output: y }) => [o.mul(dy, y)],
  expm1: (dy, { output: y }) => [o.mul(dy, o.add(y, 1))],
  log: (dy, { inputs: [x] }) => [o.div(dy, x)],
  log1p: (dy, { inputs: [x] }) => [o.div(dy, o.add(x, 1))],
  sqrt: (dy, { output: y }) => [o.div(dy, o.mul(y, 2))],
  rsqrt: (dy, { inputs: [x], output: y }) => [o.mul(dy, o.div(y, o.mul(x, -2)))],
  reciprocal: (dy, { output: y }) => [o.neg(o.mul(dy, o.mul(y, y)))],
  sin: (dy, { inputs: [x] }) => [o.mul(dy, o.cos(x))],
  cos: (dy, { inputs: [x] }) => [o.neg(o.mul(dy, o.sin(x)))],
  tanh: (dy, { output: y }) => [o.mul(dy, o.sub(1, o.mul(y, y)))],
  sigmoid: (dy, { output: y }) => [o.mul(dy, o.mul(y, o.sub(1, y)))],
  relu: (dy, { inputs: [x] }) => [o.mul(dy, o.cast(o.greater(x, 0), dy.dtype))],
  erf: (dy, { inputs: [x] }) => [o.mul(dy, o.mul(o.exp(o.neg(o.mul(x, x))), TWO_OVER_SQRT_PI))],
  logicalNot: NO_GRADIENT,

  // Binary arithmetic.
  add: (dy) => [dy, dy],
  // Constants (a loss weight, a batch size) need no gradient: those rules skip them.
  sub: (dy, { needsGrad: [, needB] }) => [dy, needB ? o.neg(dy) : null],
  mul: (dy, { inputs: [a, b], needsGrad: [needA, needB] }) => [
    needA ? o.mul(dy, b) : null,
    needB ? o.mul(dy, a) : null,
  ],
  div: (dy, { inputs: [a, b], needsGrad: [needA, needB] }) => [
    needA ? o.div(dy, b) : null,
    needB ? o.neg(o.div(o.mul(dy, a), o.mul(b, b))) : null,
  ],
  pow: (dy, { inputs: [a, b], output: y }) => [
    o.mul(dy, o.mul(b, o.pow(a, o.sub(b, 1)))),
    // d/db a^b = a^b log a, taken as 0 where a <= 0 (where the real power has no derivative in b).
    o.where(o.greater(a, 0), o.mul(dy, o.mul(y, o.log(o.where(o.greater(a, 0), a, 1)))), 0),
  ],
  maximum: (dy, { inputs: [a, b] }) => [
    o.mul(dy, o.cast(o.greaterEqual(a, b), dy.dtype)),
    o.mul(dy, o.cast(o.less(a, b), dy.dtype)),
  ],
  minimum: (dy, { inputs: [a, b] }) => [
    o.mul(dy, o.cast(o.lessEqual(a, b), dy.dtype)),
    o.mul(dy, o.cast(o.greater(a, b), dy.dtype)),
  ],
  equal: NO_GRADIENT,
  notEqual: NO_GRADIENT,
  less: NO_GRADIENT,
  lessEqual: NO_GRADIENT,
  greater: NO_GRADIENT,
  greaterEqual: NO_GRADIENT,
  logicalAnd: NO_GRADIENT,
  logicalOr: NO_GRADIENT,
  where: (dy, { inputs: [c] }) => [null, o.where(c, dy, 0), o.where(c, 0, dy)],

  // Reductions.
  sum: (dy, { inputs: [x], params: { axes } }) => [unreduce(dy, x, axes)],
  prod: prodRule,
  max: extremumRule,
  min: extremumRule,
  argmax: NO_GRADIENT,
  argmin: NO_GRADIENT,

  // C = op(A) op(B); each case is the matmul that gives the stored layout of dA and dB. Only the
  // gradients that are needed are computed (a weight gradient must not pay for the input's).
  matmul: (dy, { inputs: [a, b], params: { transA, transB }, needsGrad: [needA, needB] }) => {
    let grads: [() => Tensor, () => Tensor];
    if (!transA && !transB) grads = [() => batchMatmul(dy, b, false, true), () => batchMatmul(a, dy, true, false)];
    else if (transA && !transB) grads = [() => batchMatmul(b, dy, false, true), () => batchMatmul(a, dy, false, false)];
    else if (!transA && transB) grads = [() => batchMatmul(dy, b, false, false), () => batchMatmul(dy, a, true, false)];
    else grads = [() => batchMatmul(b, dy, true, true), () => batchMatmul(dy, a, true, true)];
    return [needA ? grads[0]() : null, needB ? grads[1]() : null];
  },

  // Indexing and movement.
  gather: (dy, { inputs: [x, idx], params: { axis } }) => [
    o.scatterAdd(o.zeros(x.shape, x.dtype), idx, dy, axis),
    null,
  ],
  scatterAdd: (dy, { inputs: [, idx], params: { axis } }) => [dy, null, o.gather(dy, idx, axis)],
  concat: (dy, { inputs, params: { axis } }) =>
    o.split(
      dy,
      inputs.map((t) => t.shape[axis]),
      axis,
    ),
  pad: (dy, { inputs: [x], params: { config } }) => [
    o.slice(
      dy,
      config.map(([lo]) => lo),
      x.shape,
      config.map(([, , interior]) => interior + 1),
    ),
  ],
  copy: (dy) => [dy],
  cast: (dy, { inputs: [x] }) => [o.cast(dy, x.dtype)],
  reshape: (dy, { inputs: [x] }) => [o.reshape(dy, x.shape)],
  permute: (dy, { params: { axes } }) => [o.permute(dy, invertPermutation(axes))],
  expand: (dy) => [dy],
  slice: (dy, { inputs: [x], params: { begin, size, step } }) => {
    if (size.some((d) => d === 0)) return [o.zeros(x.shape, dy.dtype)];
    return [
      o.pad(
        dy,
        begin.map((b, i) => [b, x.shape[i] - b - (size[i] - 1) * step[i] - 1, step[i] - 1]),
      ),
    ];
  },
  flip: (dy, { params: { axes } }) => [o.flip(dy, axes)],

  // Fused ops.
  softmax: (dy, { output: y, params: { axis } }) => [o.mul(y, o.sub(dy, o.sum(o.mul(dy, y), axis, true)))],
  logSoftmax: (dy, { output: y, params: { axis } }) => [o.sub(dy, o.mul(o.exp(y), o.sum(dy, axis, true)))],
  // Training-step fusions: the bias gradient is dz, summed over the broadcast rows by the engine.
  biasActivation: (dy, { output: y, params: { activation } }) => {
    const dz = activation === 'linear' ? dy : o.activationGrad(dy, y, activation);
    return [dz, dz];
  },
  activationGrad: THROUGH_COMPOSITE,
  sparseSoftmaxCrossEntropy: (dy, { inputs: [logits, labels] }) => [
    o.sparseSoftmaxCrossEntropyGrad(logits, labels, dy),
    null,
  ],
  sparseSoftmaxCrossEntropyGrad: THROUGH_COMPOSITE,
  adamStep: NO_GRADIENT,
  sgdStep: NO_GRADIENT,
  // The same mask (same stream and counter) scales dy.
  dropout: (dy, { params }) => [o.dropoutAt(dy, params)],
  // dbeta is dy, summed over the rows by the engine.
  layerNorm: (dy, { inputs: [x, gamma], params: { epsilon } }) => {
    const { dx, dgamma } = o.layerNormGrad(x, gamma, dy, epsilon);
    return [dx, dgamma, dy];
  },
  layerNormGrad: THROUGH_COMPOSITE,
  // Convolution and pooling: conv2d, its input gradient and its filter gradient are bilinear and
  // adjoint to one another, so each one's gradients are the other two; pooling goes to its backprop op.
  conv2d: (dy, { inputs: [x, f], params, needsGrad: [needX, needF] }) => [
    needX ? runFusedOp('conv2dBackpropInput', [dy, f], { ...convOf(params), inputShape: shape4(x) }) : null,
    needF ? runFusedOp('conv2dBackpropFilter', [x, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
  ],
  conv2dBackpropInput: (g, { inputs: [dy, f], params, needsGrad: [needDy, needF] }) => [
    needDy ? runFusedOp('conv2d', [g, f], convOf(params)) : null,
    needF ? runFusedOp('conv2dBackpropFilter', [g, dy], { ...convOf(params), filterShape: shape4(f) }) : null,
  ],
  conv2dBackpropFilter: (g, { inputs: [x, dy], params, needsGrad: [needX, needDy] }) => [
    needX ? runFusedOp('conv2dBackpropInput', [dy, g], { ...convOf(params), inputShape: shape4(x) }) : null,
    needDy ? runFusedOp('conv2d', [x, g], convOf(params)) : null,
  ],
  maxPool2d: (dy, { inputs: [x], params }) => [runFusedOp('maxPool2dBackprop', [x, dy], poolOf(params))],
  avgPool2d: (dy, { inputs: [x], params }) => [
    runFusedOp('avgPool2dBackprop', [dy], { ...poolOf(params), inputShape: shape4(x) }),
  ],
  maxPool2dBackprop: THROUGH_COMPOSITE,
  // Linear in dy, and its adjoint is the average pool itself.
  avgPool2dBackprop: (g, { params }) => [runFusedOp('avgPool2d', [g], poolOf(params))],
  // Sequence models: each backward is a fused op of its own (one kernel per step where the backend has
  // it); their own gradients (second order) go through their composites.
  lstmCell: (dy, { inputs: [xw, hu, c] }) => {
    const [dz, dc] = lstmCellBackward(xw, hu, c, ...lstmStates(dy));
    return [dz, dz, dc];
  },
  lstmCellGrad: THROUGH_COMPOSITE,
  gruCell: (dy, { inputs: [xw, hu, h, bias] }) => {
    const [dxw, dhu, dh] = gruCellBackward(xw, hu, h, dy, bias ?? null);
    return bias ? [dxw, dhu, dh, dhu] : [dxw, dhu, dh];
  },
  gruCellGrad: THROUGH_COMPOSITE,
  // An additive mask's gradient is the logits' summed over heads (the engine sums broadcast axes).
  attention: (dy, { inputs: [q, k, v, mask], params, needsGrad }) => [
    ...attentionBackward(q, k, v, dy, mask ?? null, params),
    mask && needsGrad[3] ? o.sum(attentionLogitGrad(q, k, v, dy, mask, params).dS, [1]) : null,
  ],
  attentionGrad: THROUGH_COMPOSITE,
};
