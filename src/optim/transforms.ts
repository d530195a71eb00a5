// Gradient transformations (optax style): each maps a flat list of gradients to a list of updates,
// threading its own state, and they compose with chain(). Optimizers are chains of these, e.g.
//   adamw = chain(scaleByAdam(), scaleByLearningRate(lr), addDecayedWeights(wd, { learningRate: lr })).
// Updates are *added* to the parameters, so scaleByLearningRate flips the sign by default.
// Transformations are pure: they never dispose their inputs or old state; the Optimizer (or a caller
// using them directly) runs them in a tidy and frees the state they replace. Updates may be tensors of
// the new state (trace returns its velocity), so a caller must not dispose updates the state still holds.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import * as o from '../ops/index.js';
import { learningRateAt, type LearningRate } from './schedules.js';
import { adamMoments, momentumTrace, withDecay } from '../ops/families/train-step.js';

/** Adam's bias correction at 1-based step t: sqrt(1 - b2^t) / (1 - b1^t). */
export function adamAlpha(b1: number, b2: number, t: number): number {
  return Math.sqrt(1 - b2 ** t) / (1 - b1 ** t);
}

/**
 * Optimizer state: tensors and numbers in arrays and plain objects. Numbers are step counts (updates
 * this transformation has made), which is what lets an Optimizer restore them from its own step;
 * anything else belongs in a tensor.
 */
export type OptState = Tensor | number | readonly OptState[] | { readonly [key: string]: OptState };

export interface GradientTransformation {
  /** The initial state for parameters of these shapes and dtypes. */
  init(params: readonly Tensor[]): OptState;
  /** Updates for the gradients (same order and shapes), and the next state. */
  update(grads: readonly Tensor[], state: OptState, params: readonly Tensor[]): { updates: Tensor[]; state: OptState };
}

/** The factory that made each transformation, and the parts of each chain: how a fused update finds the
 *  state of one transformation (scaleByAdam's moments, say) by what it is rather than by its position. */
const MADE_BY = new WeakMap<GradientTransformation, Factory>();
const PARTS = new WeakMap<GradientTransformation, readonly GradientTransformation[]>();

type Factory = (...args: never[]) => GradientTransformation;

/** A transformation with a typed state; the state is opaque to everyone but its own update (and namedState). */
export function transformation<S extends OptState>(
  t: {
    init(params: readonly Tensor[]): S;
    update(grads: readonly Tensor[], state: S, params: readonly Tensor[]): { updates: Tensor[]; state: S };
  },
  madeBy?: Factory,
): GradientTransformation {
  const g = t as unknown as GradientTransformation;
  if (madeBy) MADE_BY.set(g, madeBy);
  return g;
}

/** Reads and replaces one transformation's state inside the state of the transformation that holds it. */
export interface NamedState<S extends OptState> {
  get(state: OptState): S;
  /** A new whole state with this part's state replaced (the old one is not modified). */
  set(state: OptState, value: S): OptState;
}

/**
 * The state of the transformation made by `factory` (scaleByAdam, trace, ...) within `whole`: whole
 * itself, or the first such part of a chain. Undefined when whole has none. S is the factory's state
 * type (AdamState, CountState, TraceState).
 */
export function namedState<S extends OptState>(
  whole: GradientTransformation,
  factory: Factory,
): NamedState<S> | undefined {
  if (MADE_BY.get(whole) === factory) return { get: (s) => s as S, set: (_s, v) => v };
  const i = (PARTS.get(whole) ?? []).findIndex((p) => MADE_BY.get(p) === factory);
  if (i < 0) return undefined;
  const parts = (s: OptState) => s as readonly OptState[];
  return { get: (s) => parts(s)[i] as S, set: (s, v) => parts(s).map((x, j) => (j === i ? v : x)) };
}

/** The states of scaleByAdam, of the step-counting transformations and of trace. */
export type AdamState = { count: number; mu: Tensor[]; nu: Tensor[] };
export type CountState = { count: number };
export type TraceState = { trace: Tensor[] };

/** Throws unless v is finite and lo <= v <= hi (lo < v when `openLow`): a hyperparameter out of its range. */
export function checkRange(op: string, name: string, v: number, lo: number, hi = Infinity, openLow = false): void {
  const ok = typeof v === 'number' && Number.isFinite(v) && (openLow ? v > lo : v >= lo) && v <= hi;
  if (!ok) {
    const range = `${openLow ? '(' : '['}${lo}, ${hi === Infinity ? 'inf)' : `${hi}]`}`;
    throw new ArgumentError(`${op}: ${name} must be a number in ${range}, got ${v}`);
  }
}

const NO_STATE: readonly OptState[] = [];

/** Runs each transformation on the previous one's updates; the state is the list of their states. */
export function chain(...transforms: GradientTransformation[]): GradientTransformation {
  const whole = transformation<readonly OptState[]>({
    init: (params) => transforms.map((t) => t.init(params)),
    update: (grads, state, params) => {
      let updates = [...grads];
      const next = transforms.map((t, i) => {
        const r = t.update(updates, state[i], params);
        if (r.updates.length !== grads.length)
          throw new ArgumentError(
            `chain: transformation ${i} returned ${r.updates.length} updates for ${grads.length} gradients`,
          );
        updates = r.updates;
        return r.state;
      });
      return { updates, state: next };
    },
  });
  PARTS.set(whole, transforms);
  return whole;
}

/** u -> factor * u. */
export function scale(factor: number): GradientTransformation {
  checkRange('scale', 'factor', factor, -Infinity);
  return transformation<readonly OptState[]>({
    init: () => NO_STATE,
    update: (grads, state) => ({ updates: grads.map((u) => o.mul(u, factor)), state }),
  });
}

/**
 * u -> -lr(step) * u (or +lr with flipSign false). The learning rate is a number or a function of the
 * step count this transformation keeps (0 on the first update).
 */
export function scaleByLearningRate(
  learningRate: LearningRate,
  { flipSign = true }: { flipSign?: boolean } = {},
): GradientTransformation {
  if (typeof learningRate === 'number') learningRateAt('scaleByLearningRate', learningRate, 0);
  return transformation<{ count: number }>(
    {
      init: () => ({ count: 0 }),
      update: (grads, { count }) => {
        const lr = learningRateAt('scaleByLearningRate', learningRate, count) * (flipSign ? -1 : 1);
        return { updates: grads.map((u) => o.mul(u, lr)), state: { count: count + 1 } };
      },
    },
    scaleByLearningRate,
  );
}

export interface ScaleByAdamOptions {
  b1?: number;
  b2?: number;
  eps?: number;
}

/**
 * Adam's direction in Keras' form (what the learning rate then scales):
 *   m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2);  u = sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * with t the 1-based step. Keras adds eps to sqrt(v) before bias correction ("epsilon hat"); PyTorch
 * adds it after, which differs by eps / sqrt(1 - b2^t) — negligible unless v is tiny.
 */
export function scaleByAdam({ b1 = 0.9, b2 = 0.999, eps = 1e-7 }: ScaleByAdamOptions = {}): GradientTransformation {
  checkRange('scaleByAdam', 'b1', b1, 0, 1);
  checkRange('scaleByAdam', 'b2', b2, 0, 1);
  checkRange('scaleByAdam', 'eps', eps, 0);
  return transformation<AdamState>(
    {
      init: (params) => ({ count: 0, mu: params.map((p) => o.zerosLike(p)), nu: params.map((p) => o.zerosLike(p)) }),
      update: (grads, { count, mu, nu }) => {
        const t = count + 1;
        const steps = grads.map((g, i) =>
          adamMoments(g, mu[i], nu[i], { beta1: b1, beta2: b2, epsilon: eps, alpha: adamAlpha(b1, b2, t) }),
        );
        return {
          updates: steps.map((s) => s.direction),
          state: { count: t, mu: steps.map((s) => s.m), nu: steps.map((s) => s.v) },
        };
      },
    },
    scaleByAdam,
  );
}

export interface ScaleByRmsOptions {
  rho?: number;
  eps?: number;
  /** Divide by the estimated variance (v - mean(g)^2) instead of the second moment. */
  centered?: boolean;
}

/**
 * RMSprop's direction as Keras computes it: v = rho v + (1 - rho) g^2 (from zeros), then
 * u = g / sqrt(v + eps), or g / sqrt(v - mg^2 + eps) when centered (mg = rho mg + (1 - rho) g).
 * eps sits inside the square root, as in Keras (PyTorch adds it outside).
 */
export function scaleByRms({
  rho = 0.9,
  eps = 1e-7,
  centered = false,
}: ScaleByRmsOptions = {}): GradientTransformation {
  checkRange('scaleByRms', 'rho', rho, 0, 1);
  checkRange('scaleByRms', 'eps', eps, 0);
  type S = { nu: Tensor[]; mg: Tensor[] };
  return transformation<S>({
    init: (params) => ({
      nu: params.map((p) => o.zerosLike(p)),
      mg: centered ? params.map((p) => o.zerosLike(p)) : [],
    }),
    update: (grads, { nu, mg }) => {
      const v = grads.map((g, i) => o.add(o.mul(nu[i], rho), o.mul(o.square(g), 1 - rho)));
      const m = centered ? grads.map((g, i) => o.add(o.mul(mg[i], rho), o.mul(g, 1 - rho))) : [];
      const updates = grads.map((g, i) => {
        const denominator = centered ? o.add(o.sub(v[i], o.square(m[i])), eps) : o.add(v[i], eps);
        return o.div(g, o.sqrt(denominator));
      });
      return { updates, state: { nu: v, mg: m } };
    },
  });
}

export interface ScaleByAdagradOptions {
  initialAccumulatorValue?: number;
  eps?: number;
}

/** Adagrad's direction as Keras: acc += g^2 (acc starts at initialAccumulatorValue), u = g / sqrt(acc + eps). */
export function scaleByAdagrad({
  initialAccumulatorValue = 0.1,
  eps = 1e-7,
}: ScaleByAdagradOptions = {}): GradientTransformation {
  checkRange('scaleByAdagrad', 'initialAccumulatorValue', initialAccumulatorValue, 0);
  checkRange('scaleByAdagrad', 'eps', eps, 0);
  return transformation<{ acc: Tensor[] }>({
    init: (params) => ({ acc: params.map((p) => o.full(p.shape, initialAccumulatorValue, p.dtype)) }),
    update: (grads, { acc }) => {
      const next = grads.map((g, i) => o.add(acc[i], o.square(g)));
      return { updates: grads.map((g, i) => o.div(g, o.sqrt(o.add(next[i], eps)))), state: { acc: next } };
    },
  });
}

export interface TraceOptions {
  /** The momentum coefficient. */
  decay: number;
  nesterov?: boolean;
}

/**
 * Momentum: t = decay * t + u; the update is t, or u + decay * t with Nesterov. Placed after
 * scaleByLearningRate (as the optimizers here do) this is exactly Keras' SGD momentum, which keeps
 * the learning rate inside the velocity (m = momentum m - lr g); placed before, it is PyTorch's.
 */
export function trace({ decay, nesterov = false }: TraceOptions): GradientTransformation {
  checkRange('trace', 'decay', decay, 0, 1);
  return transformation<{ trace: Tensor[] }>(
    {
      init: (params) => ({ trace: params.map((p) => o.zerosLike(p)) }),
      update: (grads, { trace: t }) => {
        const steps = grads.map((u, i) => momentumTrace(u, t[i], decay, nesterov));
        return { updates: steps.map((s) => s.update), state: { trace: steps.map((s) => s.trace) } };
      },
    },
    trace,
  );
}

export interface DecayedWeightsOptions {
  /** Which parameters decay (by index or predicate); all of them by default. */
  mask?: readonly boolean[] | ((param: Tensor, index: number) => boolean);
  /**
   * Scale the decay by -learningRate(step): u + (-lr * wd * p). This is Keras' decoupled weight decay
   * (p -= lr * wd * p, outside any momentum), for placement after scaleByLearningRate. Without it the
   * term is +wd * p (optax), for placement before scaleByLearningRate.
   */
  learningRate?: LearningRate;
}

/** Decoupled weight decay (AdamW): adds a multiple of each parameter to its update. */
export function addDecayedWeights(
  weightDecay: number,
  { mask, learningRate }: DecayedWeightsOptions = {},
): GradientTransformation {
  checkRange('addDecayedWeights', 'weightDecay', weightDecay, 0);
  const decays = (p: Tensor, i: number) =>
    mask === undefined ? true : typeof mask === 'function' ? mask(p, i) : mask[i] !== false;
  return transformation<{ count: number }>(
    {
      init: () => ({ count: 0 }),
      update: (grads, { count }, params) => {
        if (params.length !== grads.length)
          throw new ArgumentError(
            `addDecayedWeights: needs the parameters: got ${params.length} for ${grads.length} gradients`,
          );
        // withDecay adds -lr * wd * p; without a learning rate (optax placement) the term is +wd * p.
        const lr = learningRate === undefined ? -1 : learningRateAt('addDecayedWeights', learningRate, count);
        const updates = grads.map((u, i) => (decays(params[i], i) ? withDecay(u, params[i], lr, weightDecay) : u));
        return { updates, state: { count: count + 1 } };
      },
    },
    addDecayedWeights,
  );
}

/** Keras clipvalue: each element clipped to [-maxDelta, maxDelta]. */
export function clip(maxDelta: number): GradientTransformation {
  checkRange('clip', 'maxDelta', maxDelta, 0, Infinity, true);
  return transformation<readonly OptState[]>({
    init: () => NO_STATE,
    update: (grads, state) => ({ updates: grads.map((u) => o.clip(u, -maxDelta, maxDelta)), state }),
  });
}

/** sqrt(sum(u^2)) of one tensor, as a scalar tensor. */
function l2Norm(u: Tensor): Tensor {
  return o.sqrt(o.sum(o.square(u)));
}

/**
 * maxNorm / max(norm, maxNorm), plus (norm - norm) so that a NaN or infinite norm gives NaN rather than
 * a silent zero update (as Keras / TF do), which lets TerminateOnNaN see it.
 */
function clipFactor(norm: Tensor, maxNorm: number): Tensor {
  return o.add(o.div(maxNorm, o.maximum(norm, maxNorm)), o.sub(norm, norm));
}

/** Keras clipnorm: each tensor rescaled so that its own L2 norm is at most maxNorm. */
export function clipByNorm(maxNorm: number): GradientTransformation {
  checkRange('clipByNorm', 'maxNorm', maxNorm, 0, Infinity, true);
  return transformation<readonly OptState[]>({
    init: () => NO_STATE,
    update: (grads, state) => ({ updates: grads.map((u) => o.mul(u, clipFactor(l2Norm(u), maxNorm))), state }),
  });
}

/** Keras global_clipnorm: all tensors rescaled together so that their joint L2 norm is at most maxNorm. */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation {
  checkRange('clipByGlobalNorm', 'maxNorm', maxNorm, 0, Infinity, true);
  return transformation<readonly OptState[]>({
    init: () => NO_STATE,
    update: (grads, state) => {
      if (grads.length === 0) return { updates: [], state };
      const squares = grads.map((u) => o.sum(o.square(u)));
      const factor = clipFactor(o.sqrt(squares.reduce((a, b) => o.add(a, b))), maxNorm);
      return { updates: grads.map((u) => o.mul(u, o.cast(factor, u.dtype))), state };
    },
  });
}

/** Updates must match their gradients one for one in shape; a transformation that breaks this is a bug worth naming. */
export function checkUpdates(op: string, grads: readonly Tensor[], updates: readonly Tensor[]): void {
  if (updates.length !== grads.length)
    throw new ArgumentError(
      `${op}: the transformation returned ${updates.length} updates for ${grads.length} gradients`,
    );
  updates.forEach((u, i) => {
    const g = grads[i];
    if (u.rank !== g.rank || u.shape.some((d, j) => d !== g.shape[j])) {
      throw new ShapeError(
        `${op}: update ${i} has shape ${fmtShape(u.shape)} but its gradient has shape ${fmtShape(g.shape)}`,
      );
    }
  });
}
