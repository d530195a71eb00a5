// The one table of gradient rules for primitives and views; each fused op states its rule in its spec
// (src/ops/families/), typed so that an op without a rule does not compile. A rule maps the output
// gradient to one gradient per input (null where none flows) in the *output's* broadcast shape: the
// engine reduces broadcast dimensions, casts, and accumulates.
import type { Tensor } from '../tensor/tensor.js';
import type { PrimitiveParams } from '../ops/primitives.js';
import type { ViewParams } from '../ops/views.js';
import * as o from '../ops/index.js';
import { batchMatmul } from '../ops/linalg.js';
import { keptShape } from '../ops/reduce.js';
import { FUSED, type FusedName } from '../ops/families/index.js';
import { NO_GRADIENT, type MultiRuleEntry, type RuleContext, type RuleEntry } from './rule-kinds.js';

export {
  NO_GRADIENT,
  THROUGH_COMPOSITE,
  type GradRule,
  type MultiGradRule,
  type RuleContext,
  type RuleEntry,
} from './rule-kinds.js';

export type OpParams = PrimitiveParams & ViewParams;
export type OpName = keyof OpParams;

export type GradTable = { readonly [K in OpName]: RuleEntry<OpParams[K]> };

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
  atan: (dy, { inputs: [x] }) => [o.div(dy, o.add(o.mul(x, x), 1))],
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
  argsort: NO_GRADIENT,

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
  philox: NO_GRADIENT,
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
};

/** An op's gradient entry: the table's for primitives and views, the spec's for fused ops. */
export function gradRuleOf(op: string): RuleEntry<unknown> | MultiRuleEntry<unknown> | undefined {
  if (Object.hasOwn(GRAD_RULES, op)) return GRAD_RULES[op as OpName] as RuleEntry<unknown>;
  if (Object.hasOwn(FUSED, op)) return FUSED[op as FusedName].grad as RuleEntry<unknown> | MultiRuleEntry<unknown>;
  return undefined;
}
