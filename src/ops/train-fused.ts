// Fused ops of the training step: bias + activation (and its backward), sparse softmax cross-entropy
// (and its backward), one-call optimizer updates over every parameter, and dropout whose mask a
// backend may draw itself from the same Philox stream. Their composites are the
// unfused math (the optimizer transforms in src/optim call the same moment functions), so a backend's
// kernel only removes dispatches and memory passes, never changes what is computed.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Generator } from './random.js';
import { isFloat } from '../tensor/dtype.js';
import { sizeOf } from '../tensor/shape.js';
import type { ShapeDType } from './primitives.js';
import type { FusedSpec } from './fused.js';
import type { FusedActivation, FusedParams } from './fused-params.js';
import { add, cast, div, greater, mul, neg, relu, rsqrt, sigmoid, sqrt, square, sub, tanh } from './elementwise.js';
import { mean, sum, variance } from './reduce.js';
import { concat, oneHot } from './indexing.js';
import { reshape, unsqueeze } from './views.js';
import { logSoftmax, softmax } from './nn.js';

export type TrainFusedName =
  | 'biasActivation'
  | 'activationGrad'
  | 'sparseSoftmaxCrossEntropy'
  | 'sparseSoftmaxCrossEntropyGrad'
  | 'adamStep'
  | 'sgdStep'
  | 'dropout'
  | 'layerNorm'
  | 'layerNormGrad';

const ACTIVATE: Record<FusedActivation, (z: Tensor) => Tensor> = { linear: (z) => z, relu, sigmoid, tanh };

/** FLOPs per element of activationGrad's composite (comparisons and casts are free in the cost model). */
const GRAD_FLOPS: Record<FusedActivation, number> = { linear: 0, relu: 1, sigmoid: 3, tanh: 3 };

// FLOP models count what the composite's primitives count, so a run's FLOPs do not depend on whether a
// backend fused the op.

/** activation'(z) from y = activation(z). */
const DERIVATIVE: Record<FusedActivation, ((y: Tensor) => Tensor) | undefined> = {
  linear: undefined,
  relu: (y) => cast(greater(y, 0), y.dtype),
  sigmoid: (y) => mul(y, sub(1, y)),
  tanh: (y) => sub(1, square(y)),
};

function requireFloat(op: string, x: ShapeDType, what: string): void {
  if (!isFloat(x.dtype))
    throw new DTypeError(`${op}: ${what} must be float32 or float64, got ${x.dtype} ${fmtShape(x.shape)}`);
}

function requireSame(op: string, a: ShapeDType, b: ShapeDType, what: string): void {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeError(
      `${op}: ${what} must match ${a.dtype} ${fmtShape(a.shape)}, got ${b.dtype} ${fmtShape(b.shape)}`,
    );
  }
}

/** Labels int32 of the logits' leading shape; the classes are the last axis. */
function checkLabels(op: string, logits: ShapeDType, labels: ShapeDType): void {
  requireFloat(op, logits, 'logits');
  const lead = logits.shape.slice(0, -1);
  if (
    logits.shape.length < 1 ||
    labels.dtype !== 'int32' ||
    labels.shape.length !== lead.length ||
    labels.shape.some((d, i) => d !== lead[i])
  ) {
    throw new ShapeError(
      `${op}: expected int32 labels of shape ${fmtShape(lead)} for logits ${fmtShape(logits.shape)}, got ${labels.dtype} ${fmtShape(labels.shape)}`,
    );
  }
}

// ------------------------------------------------------------------------- optimizer moments

/** Adam's moments and direction (Keras' form): m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); u = alpha m / (sqrt(v) + eps). */
export function adamMoments(
  g: Tensor,
  m: Tensor,
  v: Tensor,
  h: { beta1: number; beta2: number; epsilon: number; alpha: number },
) {
  const mNext = add(m, mul(sub(g, m), 1 - h.beta1));
  const vNext = add(v, mul(sub(square(g), v), 1 - h.beta2));
  return { m: mNext, v: vNext, direction: div(mul(mNext, h.alpha), add(sqrt(vNext), h.epsilon)) };
}

/** Momentum: t = decay t + u; the update is t, or u + decay t (Nesterov). */
export function momentumTrace(u: Tensor, t: Tensor, decay: number, nesterov: boolean) {
  const next = add(mul(t, decay), u);
  return { trace: next, update: nesterov ? add(mul(next, decay), u) : next };
}

/** Decoupled weight decay after the learning rate: u - lr * wd * p. */
export function withDecay(u: Tensor, p: Tensor, lr: number, weightDecay: number): Tensor {
  return weightDecay !== 0 ? add(u, mul(p, -lr * weightDecay)) : u;
}

/** The flattened concatenation of several tensors: the layout of the optimizer steps' outputs. */
function flatJoin(parts: readonly Tensor[]): Tensor {
  return concat(
    parts.map((t) => reshape(t, [t.size])),
    0,
  );
}

/** Splits the optimizer steps' inputs into `groups` lists of `count` and checks them. */
function stepGroups<T extends ShapeDType>(op: string, inputs: readonly T[], groups: number): T[][] {
  const count = inputs.length / groups;
  if (!Number.isInteger(count) || count === 0)
    throw new ShapeError(`${op}: expected ${groups} lists of tensors of equal length, got ${inputs.length} tensors`);
  const lists = Array.from({ length: groups }, (_, i) => inputs.slice(i * count, (i + 1) * count));
  lists[0].forEach((p, i) => {
    requireFloat(op, p, `parameter ${i}`);
    for (let k = 1; k < groups; k++) requireSame(op, p, lists[k][i], `tensor ${i} of list ${k}`);
  });
  if (lists[0].some((p) => p.dtype !== lists[0][0].dtype))
    throw new DTypeError(`${op}: every parameter must have the same dtype`);
  return lists;
}

const sgdGroups = (p: FusedParams['sgdStep']) => (p.momentum !== 0 ? 3 : 2);

function stepOutput(inputs: readonly ShapeDType[], groups: number, outGroups: number): ShapeDType {
  const params = inputs.slice(0, inputs.length / groups);
  return { shape: [outGroups * params.reduce((s, p) => s + sizeOf(p.shape), 0)], dtype: params[0].dtype };
}

/** Checks layerNorm's x [..., C] and its per-channel vectors ([C], x's dtype); returns C. */
function checkLayerNorm(op: string, x: ShapeDType, vectors: readonly ShapeDType[]): number {
  requireFloat(op, x, 'x');
  const c = x.shape[x.shape.length - 1];
  for (const v of vectors) {
    if (x.shape.length < 1 || v.shape.length !== 1 || v.shape[0] !== c || v.dtype !== x.dtype) {
      throw new ShapeError(
        `${op}: gamma and beta must be ${x.dtype} [${c}] for x ${fmtShape(x.shape)}, got ${v.dtype} ${fmtShape(v.shape)}`,
      );
    }
  }
  return c;
}

/** (x - mean) / sqrt(var + epsilon) over the last axis: the normalized input of layerNorm. */
export function standardizeLastAxis(x: Tensor, epsilon: number): Tensor {
  return mul(sub(x, mean(x, -1, true)), rsqrt(add(variance(x, -1, true), epsilon)));
}

/** x * keep / (1 - rate) for a boolean mask that broadcasts over x: inverted dropout. */
export function applyDropoutMask(x: Tensor, keep: Tensor, rate: number): Tensor {
  return mul(x, mul(cast(keep, x.dtype), 1 / (1 - rate)));
}

// ------------------------------------------------------------------------------------ specs

export const TRAIN_FUSED: { readonly [F in TrainFusedName]: FusedSpec<F> } = {
  biasActivation: {
    infer: ([z, b]) => {
      requireFloat('biasActivation', z, 'z');
      const c = z.shape[z.shape.length - 1];
      if (z.shape.length < 1 || b.shape.length !== 1 || b.shape[0] !== c || b.dtype !== z.dtype) {
        throw new ShapeError(
          `biasActivation: bias must be ${z.dtype} [${c}] for z ${fmtShape(z.shape)}, got ${b.dtype} ${fmtShape(b.shape)}`,
        );
      }
      return z;
    },
    flops: ([z], _out, { activation }) => sizeOf(z.shape) * (activation === 'linear' ? 1 : 2),
    composite: ([z, b], { activation }) => ACTIVATE[activation](add(z, b)),
  },
  activationGrad: {
    infer: ([dy, y]) => {
      requireFloat('activationGrad', dy, 'dy');
      requireSame('activationGrad', dy, y, 'the activation output');
      return dy;
    },
    flops: ([dy], _out, { activation }) => sizeOf(dy.shape) * GRAD_FLOPS[activation],
    composite: ([dy, y], { activation }) => {
      const derivative = DERIVATIVE[activation];
      return derivative ? mul(dy, derivative(y)) : dy;
    },
  },
  sparseSoftmaxCrossEntropy: {
    infer: ([logits, labels]) => {
      checkLabels('sparseSoftmaxCrossEntropy', logits, labels);
      return { shape: labels.shape, dtype: logits.dtype };
    },
    flops: ([logits], out) => 6 * sizeOf(logits.shape) + sizeOf(out.shape),
    composite: ([logits, labels]) =>
      neg(
        sum(
          mul(
            oneHot(labels, logits.shape[logits.rank - 1], logits.dtype as 'float32' | 'float64'),
            logSoftmax(logits, -1),
          ),
          -1,
        ),
      ),
  },
  sparseSoftmaxCrossEntropyGrad: {
    infer: ([logits, labels, dy]) => {
      checkLabels('sparseSoftmaxCrossEntropyGrad', logits, labels);
      requireSame('sparseSoftmaxCrossEntropyGrad', { shape: labels.shape, dtype: logits.dtype }, dy, 'dy');
      return logits;
    },
    flops: ([logits]) => 6 * sizeOf(logits.shape),
    composite: ([logits, labels, dy]) => {
      const target = oneHot(labels, logits.shape[logits.rank - 1], logits.dtype as 'float32' | 'float64');
      return mul(sub(softmax(logits, -1), target), unsqueeze(dy, -1));
    },
  },
  adamStep: {
    infer: (inputs) => {
      stepGroups('adamStep', inputs, 4);
      return stepOutput(inputs, 4, 3);
    },
    flops: (_inputs, out, h) => (out.shape[0] / 3) * (13 + (h.weightDecay !== 0 ? 2 : 0)),
    composite: (inputs, h) => {
      const [params, grads, ms, vs] = stepGroups('adamStep', inputs, 4);
      const steps = params.map((p, i) => {
        const { m, v, direction } = adamMoments(grads[i], ms[i], vs[i], h);
        return { p: add(p, withDecay(mul(direction, -h.lr), p, h.lr, h.weightDecay)), m, v };
      });
      return flatJoin([...steps.map((s) => s.p), ...steps.map((s) => s.m), ...steps.map((s) => s.v)]);
    },
  },
  sgdStep: {
    infer: (inputs, h) => {
      stepGroups('sgdStep', inputs, sgdGroups(h));
      return stepOutput(inputs, sgdGroups(h), sgdGroups(h) - 1);
    },
    flops: (_inputs, out, h) =>
      (out.shape[0] / (sgdGroups(h) - 1)) *
      (2 + (h.momentum !== 0 ? 2 : 0) + (h.nesterov && h.momentum !== 0 ? 2 : 0) + (h.weightDecay !== 0 ? 2 : 0)),
    composite: (inputs, h) => {
      const [params, grads, velocities] = stepGroups('sgdStep', inputs, sgdGroups(h));
      const steps = params.map((p, i) => {
        const u = mul(grads[i], -h.lr);
        const traced = velocities ? momentumTrace(u, velocities[i], h.momentum, h.nesterov) : undefined;
        return { p: add(p, withDecay(traced ? traced.update : u, p, h.lr, h.weightDecay)), trace: traced?.trace };
      });
      return flatJoin([...steps.map((s) => s.p), ...(velocities ? steps.map((s) => s.trace!) : [])]);
    },
  },
  layerNorm: {
    infer: ([x, gamma, beta]) => {
      checkLayerNorm('layerNorm', x, [gamma, beta]);
      return x;
    },
    // mean 2, variance 4, subtract, add, rsqrt, normalize, scale, shift (per element; the row terms are negligible).
    flops: ([x]) => 10 * sizeOf(x.shape),
    composite: ([x, gamma, beta], { epsilon }) => add(mul(standardizeLastAxis(x, epsilon), gamma), beta),
  },
  layerNormGrad: {
    infer: ([x, gamma, dy]) => {
      checkLayerNorm('layerNormGrad', x, [gamma]);
      requireSame('layerNormGrad', x, dy, 'dy');
      return { shape: [sizeOf(x.shape) + gamma.shape[0]], dtype: x.dtype };
    },
    flops: ([x]) => 14 * sizeOf(x.shape),
    composite: ([x, gamma, dy], { epsilon }) => {
      // dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma; dgamma = sum over rows of dy xhat.
      const rstd = rsqrt(add(variance(x, -1, true), epsilon));
      const xhat = mul(sub(x, mean(x, -1, true)), rstd);
      const g = mul(dy, gamma);
      const dx = mul(rstd, sub(sub(g, mean(g, -1, true)), mul(xhat, mean(mul(g, xhat), -1, true))));
      const rows = [...Array(x.rank - 1).keys()];
      return flatJoin([dx, sum(mul(dy, xhat), rows)]);
    },
  },
  dropout: {
    infer: ([x], { rate }) => {
      requireFloat('dropout', x, 'x');
      if (!(rate >= 0 && rate < 1)) throw new ArgumentError(`dropout: rate must be in [0, 1), got ${rate}`);
      return x;
    },
    flops: ([x]) => 2 * sizeOf(x.shape),
    composite: ([x], { seed, counter, rate }) => {
      return applyDropoutMask(x, new Generator(seed, counter).bernoulli(x.shape, 1 - rate), rate);
    },
  },
};
