// The training step's fused ops: bias + activation (and its backward), sparse softmax cross-entropy (and
// its backward) and the one-call optimizer updates over every parameter. Their composites are the unfused
// math (the optimizer transforms in src/optim call the same moment functions), so a backend's kernel only
// removes dispatches and memory passes, never changes what is computed.
import type { Tensor } from '../../tensor/tensor.js';
import { DTypeError, ShapeError, fmtShape } from '../../errors.js';
import { shapesEqual, sizeOf } from '../../tensor/shape.js';
import type { KernelArg } from '../../backends/backend.js';
import type { Arr } from '../../backends/native/addon.js';
import { ArgumentError } from '../../errors.js';
import { NO_GRADIENT, THROUGH_COMPOSITE } from '../../autograd/rule-kinds.js';
import { fusedRunner, tryFusedKernel, type FusedSpecs } from '../fused.js';
import type { ShapeDType } from '../primitives.js';
import { requireFloat, requireSame } from '../checks.js';
import { add, cast, div, greater, mul, neg, relu, sigmoid, sqrt, square, sub, tanh } from '../elementwise.js';
import { sum } from '../reduce.js';
import { oneHot } from '../indexing.js';
import { unsqueeze } from '../views.js';
import { logSoftmax, softmax } from './softmax.js';
import { buf } from './native-args.js';

/** Activations whose derivative is a function of their output, so a fused kernel can apply them with the
 *  bias and a backward kernel needs only the output. The order is the native addon's. */
export const FUSED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh'] as const;
export type FusedActivation = (typeof FUSED_ACTIVATIONS)[number];

/** Keras' Adam (AdamW with weightDecay > 0) for one step; alpha = sqrt(1 - beta2^t) / (1 - beta1^t). */
export interface AdamStepParams {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly alpha: number;
}

/** Keras' SGD (momentum, Nesterov, decoupled weight decay) for one step. */
export interface SgdStepParams {
  readonly lr: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly nesterov: boolean;
}

export interface TrainStepParams {
  /** activation(z + bias): z [..., C], bias [C]. */
  biasActivation: { readonly activation: FusedActivation };
  /** (dy, y) -> dy * activation'(z), from the activation's output y: the backward of biasActivation. */
  activationGrad: { readonly activation: FusedActivation };
  /** (logits [..., C], labels int32 [...]) -> [...]: -log softmax(logits)[label]. */
  sparseSoftmaxCrossEntropy: Record<string, never>;
  /** (logits, labels, dy [...]) -> (softmax(logits) - onehot(labels)) * dy: its gradient. */
  sparseSoftmaxCrossEntropyGrad: Record<string, never>;
  /** (params..., grads..., m..., v...) -> params'..., m'..., v'... (each shaped like its parameter). */
  adamStep: AdamStepParams;
  /** (params..., grads..., velocities... when momentum) -> params'..., velocities'... */
  sgdStep: SgdStepParams;
}

/** The family's ops with several results. */
export type TrainStepMulti = 'adamStep' | 'sgdStep';

/** The addon's entry points (kernels/train_step.h). */
export interface TrainStepAddon {
  /** Activation names in the addon's code order. */
  readonly activations: readonly string[];
  biasActivation(
    act: number,
    z: Arr,
    zOff: number,
    bias: Arr,
    biasOff: number,
    out: Arr,
    rows: number,
    cols: number,
  ): void;
  activationGrad(act: number, dy: Arr, dyOff: number, y: Arr, yOff: number, out: Arr): void;
  /** Forward without dy (out [rows]), backward with it (out [rows, cols]); returns -1 or the first row with a
   *  label out of range. */
  sparseSoftmaxCrossEntropy(
    logits: Arr,
    off: number,
    labels: Arr,
    labelsOff: number,
    dy: Arr | null,
    dyOff: number,
    out: Arr,
    rows: number,
    cols: number,
  ): number;
  /** kind 0 Adam, 1 SGD; arrays [params..., grads..., slots...], one offset each; outs [params'..., slots'...];
   *  hyper [lr, weightDecay, beta1, beta2, epsilon, alpha, momentum, nesterov]. */
  optimizerStep(
    kind: number,
    arrays: Arr[],
    offsets: Float64Array,
    sizes: Float64Array,
    outs: Arr[],
    hyper: Float64Array,
  ): void;
}

/** The names above, as a value (the addon's exports are checked against them). */
export const TRAIN_STEP_EXPORTS = {
  activations: true,
  biasActivation: true,
  activationGrad: true,
  sparseSoftmaxCrossEntropy: true,
  optimizerStep: true,
} satisfies Record<keyof TrainStepAddon, true>;

// Wrapped, so this table holds no imported binding at load time (ops and tensor.ts import each other).
const ACTIVATE: Record<FusedActivation, (z: Tensor) => Tensor> = {
  linear: (z) => z,
  relu: (z) => relu(z),
  sigmoid: (z) => sigmoid(z),
  tanh: (z) => tanh(z),
};

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

/** Labels int32 of the logits' leading shape; the classes are the last axis. */
function checkLabels(op: string, logits: ShapeDType, labels: ShapeDType): void {
  requireFloat(op, logits, 'logits');
  const lead = logits.shape.slice(0, -1);
  if (logits.shape.length < 1 || labels.dtype !== 'int32' || !shapesEqual(labels.shape, lead)) {
    throw new ShapeError(
      `${op}: expected int32 labels of shape ${fmtShape(lead)} for logits ${fmtShape(logits.shape)}, got ` +
        `${labels.dtype} ${fmtShape(labels.shape)}`,
    );
  }
}

// ------------------------------------------------------------------------- optimizer moments

/**
 * Adam's moments and direction (Keras' form): m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
 * u = alpha m / (sqrt(v) + eps).
 */
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

const sgdGroups = (p: SgdStepParams) => (p.momentum !== 0 ? 3 : 2);

/** The steps' results: `outGroups` lists shaped like the parameters (params', then each slot's). */
function stepOutputs(inputs: readonly ShapeDType[], groups: number, outGroups: number): ShapeDType[] {
  const params = inputs.slice(0, inputs.length / groups).map((p) => ({ shape: p.shape, dtype: p.dtype }));
  return Array.from({ length: outGroups }, () => params).flat();
}

/** The elements of every parameter, from the steps' inputs. */
const paramElements = (inputs: readonly ShapeDType[], groups: number) =>
  inputs.slice(0, inputs.length / groups).reduce((s, p) => s + sizeOf(p.shape), 0);

// ------------------------------------------------------------------------------------ native

/** sparseSoftmaxCrossEntropy forward (dy undefined) or backward; the addon reports a label out of range. */
function crossEntropy(addon: TrainStepAddon, [logits, labels, dy]: readonly KernelArg[], o: KernelArg): void {
  const cols = logits.shape[logits.shape.length - 1],
    rows = sizeOf(labels.shape);
  const [d, dOff] = dy ? [buf(dy), dy.offset] : [null, 0];
  const bad = addon.sparseSoftmaxCrossEntropy(
    buf(logits),
    logits.offset,
    buf(labels),
    labels.offset,
    d,
    dOff,
    buf(o),
    rows,
    cols,
  );
  if (bad >= 0)
    throw new ArgumentError(
      `sparseSoftmaxCrossEntropy: label ${buf(labels)[labels.offset + bad]} at index ${bad} ` +
        `is not a class index in [0, ${cols})`,
    );
}

/** Every parameter, gradient and slot in one call; outs are [params'..., slots'...]. */
function optimizerStep(
  addon: TrainStepAddon,
  kind: number,
  inputs: readonly KernelArg[],
  outs: readonly KernelArg[],
  groups: number,
  hyper: readonly number[],
) {
  const count = inputs.length / groups;
  const sizes = Float64Array.from(inputs.slice(0, count), (a) => sizeOf(a.shape));
  const offsets = Float64Array.from(inputs, (a) => a.offset);
  addon.optimizerStep(kind, inputs.map(buf), offsets, sizes, outs.map(buf), Float64Array.from(hyper));
}

const activationCode = (addon: TrainStepAddon, activation: FusedActivation) => addon.activations.indexOf(activation);

// ------------------------------------------------------------------------------------ specs

const family = { activation: 'activation', loss: 'loss', optimizer: 'optimizer' } as const;

export const TRAIN_STEP: FusedSpecs<keyof TrainStepParams> = {
  biasActivation: {
    family: family.activation,
    infer: ([z, b]) => {
      requireFloat('biasActivation', z, 'z');
      const c = z.shape[z.shape.length - 1];
      if (z.shape.length < 1 || b.shape.length !== 1 || b.shape[0] !== c || b.dtype !== z.dtype) {
        throw new ShapeError(
          `biasActivation: bias must be ${z.dtype} [${c}] for z ${fmtShape(z.shape)}, got ${b.dtype} ` +
            `${fmtShape(b.shape)}`,
        );
      }
      return z;
    },
    flops: ([z], _out, { activation }) => sizeOf(z.shape) * (activation === 'linear' ? 1 : 2),
    composite: ([z, b], { activation }) => ACTIVATE[activation](add(z, b)),
    // The bias gradient is dz, summed over the broadcast rows by the engine.
    grad: (dy, { output: y, params: { activation } }) => {
      const dz = activation === 'linear' ? dy : activationGrad(dy, y, activation);
      return [dz, dz];
    },
    native: (addon) => {
      const code = new Map(FUSED_ACTIVATIONS.map((a) => [a, activationCode(addon, a)]));
      return ([z, b], o, { activation }) => {
        const cols = b.shape[0];
        const rows = cols ? sizeOf(z.shape) / cols : 0;
        addon.biasActivation(code.get(activation)!, buf(z), z.offset, buf(b), b.offset, buf(o), rows, cols);
      };
    },
  },
  activationGrad: {
    family: family.activation,
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
    grad: THROUGH_COMPOSITE,
    native: (addon) => {
      const code = new Map(FUSED_ACTIVATIONS.map((a) => [a, activationCode(addon, a)]));
      return ([dy, y], o, { activation }) =>
        addon.activationGrad(code.get(activation)!, buf(dy), dy.offset, buf(y), y.offset, buf(o));
    },
  },
  sparseSoftmaxCrossEntropy: {
    family: family.loss,
    infer: ([logits, labels]) => {
      checkLabels('sparseSoftmaxCrossEntropy', logits, labels);
      return { shape: labels.shape, dtype: logits.dtype };
    },
    flops: ([logits], out) => 6 * sizeOf(logits.shape) + sizeOf(out.shape),
    composite: ([logits, labels]) =>
      neg(sum(mul(oneHot(labels, logits.shape[logits.rank - 1], floatOf(logits)), logSoftmax(logits, -1)), -1)),
    grad: (dy, { inputs: [logits, labels] }) => [sparseSoftmaxCrossEntropyGrad(logits, labels, dy), null],
    native: (addon) => (inputs, o) => crossEntropy(addon, inputs.slice(0, 2), o),
  },
  sparseSoftmaxCrossEntropyGrad: {
    family: family.loss,
    infer: ([logits, labels, dy]) => {
      checkLabels('sparseSoftmaxCrossEntropyGrad', logits, labels);
      requireSame('sparseSoftmaxCrossEntropyGrad', { shape: labels.shape, dtype: logits.dtype }, dy, 'dy');
      return logits;
    },
    flops: ([logits]) => 6 * sizeOf(logits.shape),
    composite: ([logits, labels, dy]) => {
      const target = oneHot(labels, logits.shape[logits.rank - 1], floatOf(logits));
      return mul(sub(softmax(logits, -1), target), unsqueeze(dy, -1));
    },
    grad: THROUGH_COMPOSITE,
    native: (addon) => (inputs, o) => crossEntropy(addon, inputs, o),
  },
  adamStep: {
    family: family.optimizer,
    inferAll: (inputs) => {
      stepGroups('adamStep', inputs, 4);
      return stepOutputs(inputs, 4, 3);
    },
    flops: (inputs, _outs, h) => paramElements(inputs, 4) * (13 + (h.weightDecay !== 0 ? 2 : 0)),
    composite: (inputs, h) => {
      const [params, grads, ms, vs] = stepGroups('adamStep', inputs, 4);
      const steps = params.map((p, i) => {
        const { m, v, direction } = adamMoments(grads[i], ms[i], vs[i], h);
        return { p: add(p, withDecay(mul(direction, -h.lr), p, h.lr, h.weightDecay)), m, v };
      });
      return [...steps.map((s) => s.p), ...steps.map((s) => s.m), ...steps.map((s) => s.v)];
    },
    grad: NO_GRADIENT,
    native: (addon) => (inputs, outs, h) =>
      optimizerStep(addon, 0, inputs, outs, 4, [h.lr, h.weightDecay, h.beta1, h.beta2, h.epsilon, h.alpha, 0, 0]),
  },
  sgdStep: {
    family: family.optimizer,
    inferAll: (inputs, h) => {
      stepGroups('sgdStep', inputs, sgdGroups(h));
      return stepOutputs(inputs, sgdGroups(h), sgdGroups(h) - 1);
    },
    flops: (inputs, _outs, h) =>
      paramElements(inputs, sgdGroups(h)) *
      (2 + (h.momentum !== 0 ? 2 : 0) + (h.nesterov && h.momentum !== 0 ? 2 : 0) + (h.weightDecay !== 0 ? 2 : 0)),
    composite: (inputs, h) => {
      const [params, grads, velocities] = stepGroups('sgdStep', inputs, sgdGroups(h));
      const steps = params.map((p, i) => {
        const u = mul(grads[i], -h.lr);
        const traced = velocities ? momentumTrace(u, velocities[i], h.momentum, h.nesterov) : undefined;
        return { p: add(p, withDecay(traced ? traced.update : u, p, h.lr, h.weightDecay)), trace: traced?.trace };
      });
      return [...steps.map((s) => s.p), ...(velocities ? steps.map((s) => s.trace!) : [])];
    },
    grad: NO_GRADIENT,
    native: (addon) => (inputs, outs, h) =>
      optimizerStep(addon, 1, inputs, outs, sgdGroups(h), [
        h.lr,
        h.weightDecay,
        0,
        0,
        0,
        0,
        h.momentum,
        h.nesterov ? 1 : 0,
      ]),
  },
};

const run = fusedRunner(TRAIN_STEP);
const floatOf = (t: Tensor) => t.dtype as 'float32' | 'float64';

/** activation(z + bias) for z [..., C] and bias [C]; activation one of FUSED_ACTIVATIONS. */
export function biasActivation(z: Tensor, bias: Tensor, activation: FusedActivation = 'linear'): Tensor {
  return run('biasActivation', [z, bias], { activation });
}

/** dy * activation'(z), computed from y = activation(z). */
export function activationGrad(dy: Tensor, y: Tensor, activation: FusedActivation): Tensor {
  return run('activationGrad', [dy, y], { activation });
}

/** Per-example -log softmax(logits)[label]: logits [..., C], labels int32 [...] in [0, C). */
export function sparseSoftmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return run('sparseSoftmaxCrossEntropy', [logits, labels], {});
}

/** The gradient of sparseSoftmaxCrossEntropy with respect to the logits, for output gradient dy. */
export function sparseSoftmaxCrossEntropyGrad(logits: Tensor, labels: Tensor, dy: Tensor): Tensor {
  return run('sparseSoftmaxCrossEntropyGrad', [logits, labels, dy], {});
}

/**
 * One Adam (or SGD) update of every parameter in a single kernel, returning [params'..., slots'...] (each
 * shaped like its parameter), or undefined where the current backend has no such kernel (the optimizer
 * then runs its transformation chain, which computes the same thing op by op).
 */
export function tryAdamStep(inputs: readonly Tensor[], params: AdamStepParams): Tensor[] | undefined {
  return tryFusedKernel('adamStep', TRAIN_STEP.adamStep, inputs, params);
}

export function trySgdStep(inputs: readonly Tensor[], params: SgdStepParams): Tensor[] | undefined {
  return tryFusedKernel('sgdStep', TRAIN_STEP.sgdStep, inputs, params);
}
