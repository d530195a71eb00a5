// The Optimizer: a gradient transformation plus a step counter, a learning rate settable at run time,
// saveable state and a JSON config; and Keras' SGD, Adam, AdamW, RMSprop and Adagrad with Keras'
// defaults, each a chain of transformations (clipping, direction, learning rate, momentum, decay).
import { Tensor } from '../tensor/tensor.js';
import { dispose, keep, tidy } from '../tensor/storage.js';
import { isFloat, type DType } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { noGrad } from '../autograd/tape.js';
import { OPTIMIZER_SCOPE, withLayerPath, withPhase } from '../autograd/annotations.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape, fmtValue } from '../errors.js';
import * as o from '../ops/index.js';
import { Registry, checkOptions } from '../registry.js';
import {
  addDecayedWeights,
  chain,
  checkRange,
  checkUpdates,
  clip,
  clipByGlobalNorm,
  clipByNorm,
  scaleByAdagrad,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRms,
  trace,
  type GradientTransformation,
  type OptState,
} from './transforms.js';
import { fusedAdam, fusedSgd } from './fused-update.js';
import { dampedTrace, scaleByAmsgrad } from './more-transforms.js';
import {
  deserializeLearningRate,
  learningRateAt,
  serializeLearningRate,
  type LearningRate,
  type Schedule,
  type ScheduleConfig,
} from './schedules.js';

/** Everything needed to resume training exactly: what getState() returns and setState() takes. */
export interface OptimizerState {
  /** Updates applied so far (Keras `iterations`); it also restores every step count inside the state. */
  iterations: number;
  /** Every state tensor (moments, velocities, accumulators), in a fixed order. */
  slots: Tensor[];
  /**
   * Where each slot lives in the state, e.g. '1/mu/0' (chain position / field / parameter index): keys
   * for checkpoints. Optional in setState(); when given, a mismatch (another optimizer's state) throws.
   */
  slotNames?: string[];
}

type ConfigValue = number | boolean | string | null | ScheduleConfig;

/** Keras-style serialization: { className: 'Adam', config: { learningRate: 0.001, beta1: 0.9, ... } }. */
export interface OptimizerConfig {
  className: string;
  config?: Record<string, ConfigValue | undefined>;
}

export type OptimizerSpec = string | Optimizer | OptimizerConfig;

export interface OptimizerOptions {
  /** The class name reported in messages and getConfig() (default 'Optimizer'). */
  name?: string;
  /** Required when the transformation is built from a learning rate. */
  learningRate?: LearningRate;
  /** Other hyperparameters for getConfig(). */
  config?: Record<string, ConfigValue>;
  /**
   * The same update as one fused kernel over every parameter, built from the learning rate like the
   * transformation. It returns undefined where the backend has no such kernel (the chain runs then),
   * and must keep the chain's state layout, so checkpoints do not depend on which path ran.
   */
  fused?: (learningRate: Schedule) => FusedUpdate;
}

/** One whole optimizer step (params -> params + update) with the chain's state in and out. */
export type FusedUpdate = (
  params: readonly Tensor[],
  grads: readonly Tensor[],
  state: OptState,
  /** The transformation whose state this is: the fused update finds its parts' state in it by name. */
  transform: GradientTransformation,
) => { next: Tensor[]; state: OptState } | undefined;

/** Calls fn on every tensor of a state tree, depth first, with its path. */
function walk(state: OptState, onTensor: (t: Tensor, path: string) => void, path = ''): void {
  const join = (k: string | number) => (path === '' ? String(k) : `${path}/${k}`);
  if (state instanceof Tensor) onTensor(state, path);
  else if (Array.isArray(state)) state.forEach((s: OptState, i) => walk(s, onTensor, join(i)));
  else if (typeof state === 'object') for (const [k, s] of Object.entries(state)) walk(s, onTensor, join(k));
}

function contents(state: OptState): { tensors: Tensor[]; paths: string[] } {
  const tensors: Tensor[] = [],
    paths: string[] = [];
  walk(state, (t, p) => {
    tensors.push(t);
    paths.push(p);
  });
  return { tensors, paths };
}

/** The same tree with its tensors replaced in walk order, and its numbers (step counts) by `count(n)`. */
function rebuild(state: OptState, tensors: Iterator<Tensor>, count: (n: number) => number): OptState {
  if (state instanceof Tensor) return tensors.next().value as Tensor;
  if (typeof state === 'number') return count(state);
  if (Array.isArray(state)) return state.map((s: OptState) => rebuild(s, tensors, count));
  return Object.fromEntries(Object.entries(state).map(([k, s]) => [k, rebuild(s, tensors, count)]));
}

/** What applyGradients updates in place: a layer's Variable, or anything holding a tensor it can replace. */
export interface Assignable {
  readonly value: Tensor;
  assign(value: Tensor): void;
  readonly name?: string;
}

/** Runs an update untracked, in phase 'optimizer' at layer path 'optimizer' (what the meter reads). */
function inOptimizer<T>(fn: () => T): T {
  return noGrad(() => withPhase('optimizer', () => withLayerPath(OPTIMIZER_SCOPE, fn)));
}

/**
 * Wraps a GradientTransformation for training loops: counts steps, owns (and frees) the state, adds
 * updates to parameters, and saves / restores / serializes itself.
 *
 *   const opt = new Optimizer((lr) => chain(clipByGlobalNorm(1), scaleByAdam(), scaleByLearningRate(lr)), {
 *     learningRate: 1e-3,
 *   });
 *   const next = opt.apply(params, grads);   // new tensors; the caller disposes the old params
 */
export class Optimizer {
  readonly className: string;
  private lr?: LearningRate;
  private readonly transform: GradientTransformation;
  private readonly hyper: Record<string, ConfigValue>;
  private state?: OptState;
  /** Shapes and dtypes of the parameters the state was built for. */
  private built?: { shape: readonly number[]; dtype: DType }[];
  /** A state set before the first apply(), installed when the parameters are known. */
  private pending?: OptimizerState;
  private count = 0;
  private readonly fused?: FusedUpdate;

  /** `transform` is a fixed transformation, or a function from the learning rate (a function of the step) to one. */
  constructor(
    transform: GradientTransformation | ((learningRate: Schedule) => GradientTransformation),
    options: OptimizerOptions = {},
  ) {
    checkOptions('Optimizer', options, ['name', 'learningRate', 'config', 'fused']);
    this.className = options.name ?? 'Optimizer';
    this.hyper = { ...options.config };
    if (typeof transform === 'function') {
      if (options.learningRate === undefined)
        throw new ArgumentError(
          `${this.className}: a transformation built from a learning rate needs options.learningRate`,
        );
      this.checkLearningRate(options.learningRate);
      this.lr = options.learningRate;
      const schedule = (step: number) => learningRateAt(this.className, this.lr!, step);
      this.transform = transform(schedule);
      this.fused = options.fused?.(schedule);
    } else {
      if (options.learningRate !== undefined)
        throw new ArgumentError(
          `${this.className}: learningRate was given but the transformation is fixed; ` +
            'pass (lr) => transformation to use it',
        );
      this.transform = transform;
    }
  }

  private checkLearningRate(value: LearningRate): void {
    if (typeof value === 'number') learningRateAt(this.className, value, this.count);
    else if (typeof value !== 'function')
      throw new ArgumentError(
        `${this.className}: learningRate must be a number or a function of the step, got ${typeof value}`,
      );
  }

  /** Updates applied so far; the step the learning-rate schedule sees next (Keras `iterations`). */
  get iterations(): number {
    return this.count;
  }

  /** The learning rate the next update uses (a schedule is evaluated at the current step). */
  get learningRate(): number {
    if (this.lr === undefined)
      throw new ArgumentError(
        `${this.className}: this optimizer has no learning rate (it was made from a fixed transformation)`,
      );
    return learningRateAt(this.className, this.lr, this.count);
  }

  /**
   * Sets a constant rate or a new schedule, from the next update on. As in Keras, an optimizer made
   * with a schedule does not take a plain number (the schedule would silently stop).
   */
  set learningRate(value: LearningRate) {
    if (this.lr === undefined)
      throw new ArgumentError(
        `${this.className}: this optimizer has no learning rate (it was made from a fixed transformation)`,
      );
    this.checkLearningRate(value);
    if (typeof value === 'number' && typeof this.lr !== 'number') {
      throw new ArgumentError(
        `${this.className}: the learning rate is a schedule and cannot be set to a number; ` +
          'set a new schedule, or make the optimizer with a number',
      );
    }
    this.lr = value;
  }

  /** Creates the state for these parameters (apply() does this on first use). */
  build(params: readonly Tensor[]): void {
    if (this.built) {
      const same =
        params.length === this.built.length &&
        params.every((p, i) => shapesEqual(p.shape, this.built![i].shape) && p.dtype === this.built![i].dtype);
      if (!same) {
        throw new ShapeError(
          `${this.className}: built for ${this.built.length} parameters ` +
            `${this.built.map((b) => `${fmtShape(b.shape)} ${b.dtype}`).join(', ')}; ` +
            `got ${params.length}: ${params.map((p) => `${fmtShape(p.shape)} ${p.dtype}`).join(', ')}`,
        );
      }
      return;
    }
    params.forEach((p, i) => {
      p.assertLive(`${this.className}.build`);
      if (!isFloat(p.dtype))
        throw new DTypeError(
          `${this.className}: parameter ${i} must be float32 or float64, got ${p.dtype} ${fmtShape(p.shape)}`,
        );
    });
    const initial = noGrad(() => tidy(() => this.transform.init(params)));
    this.state = this.adopt(initial, undefined, params);
    this.built = params.map((p) => ({ shape: [...p.shape], dtype: p.dtype }));
    if (this.pending) {
      const pending = this.pending;
      this.pending = undefined;
      try {
        this.restore(pending);
      } finally {
        dispose(pending.slots);
      }
    }
  }

  /**
   * One update: returns params + updates(grads) as NEW tensors (the caller disposes the old ones).
   * The state it replaces is freed; nothing else made here survives.
   */
  apply(params: readonly Tensor[], grads: readonly Tensor[]): Tensor[] {
    const op = `${this.className}.apply`;
    if (params.length !== grads.length)
      throw new ArgumentError(`${op}: got ${params.length} parameters but ${grads.length} gradients`);
    params.forEach((p, i) => {
      p.assertLive(op);
      grads[i].assertLive(op);
      if (!shapesEqual(p.shape, grads[i].shape))
        throw new ShapeError(
          `${op}: gradient ${i} has shape ${fmtShape(grads[i].shape)} ` +
            `but parameter ${i} has shape ${fmtShape(p.shape)}`,
        );
    });
    this.build(params);
    const old = this.state!;
    // Phase and layer path 'optimizer' wherever the step is called from (fit or a custom loop), so the
    // meter attributes the update's kernels to the optimizer.
    const { next, state } = inOptimizer(() =>
      tidy(() => {
        // Gradients in the parameters' dtypes, so that the state keeps the dtype it was made with.
        const g = grads.map((x, i) => o.cast(x, params[i].dtype));
        const fast = this.fused?.(params, g, old, this.transform);
        if (fast) return fast;
        const r = this.transform.update(g, old, params);
        checkUpdates(op, g, r.updates);
        return { next: params.map((p, i) => o.add(p, o.cast(r.updates[i], p.dtype))), state: r.state };
      }),
    );
    this.state = this.adopt(state, old, [...params, ...grads]);
    this.count++;
    return next;
  }

  /**
   * One update of variables in place (Keras apply_gradients): `applyGradients(grads, model.trainableWeights)`
   * as Keras 3, or a list of [grad, variable] pairs as Keras 2. The same step as apply(), fused kernel
   * included; the state is laid out for the variables of the first call, so give them in the same order.
   */
  applyGradients(grads: readonly Tensor[], variables: readonly Assignable[]): void;
  applyGradients(pairs: readonly (readonly [Tensor, Assignable])[]): void;
  applyGradients(
    gradsOrPairs: readonly Tensor[] | readonly (readonly [Tensor, Assignable])[],
    variables?: readonly Assignable[],
  ): void {
    const op = `${this.className}.applyGradients`;
    let grads: readonly Tensor[], vars: readonly Assignable[];
    if (variables === undefined) {
      const pairs = gradsOrPairs as readonly (readonly [Tensor, Assignable])[];
      if (!Array.isArray(pairs) || !pairs.every((p) => Array.isArray(p) && p.length === 2))
        throw new ArgumentError(`${op}: expected (grads, variables) or a list of [grad, variable] pairs`);
      grads = pairs.map((p) => p[0]);
      vars = pairs.map((p) => p[1]);
    } else {
      grads = gradsOrPairs as readonly Tensor[];
      vars = variables;
      if (!Array.isArray(grads) || !Array.isArray(vars) || grads.length !== vars.length)
        throw new ArgumentError(
          `${op}: got ${Array.isArray(grads) ? grads.length : typeof grads} gradients for ` +
            `${Array.isArray(vars) ? vars.length : typeof vars} variables; expected one gradient per variable`,
        );
    }
    vars.forEach((v, i) => {
      if (!(v?.value instanceof Tensor) || typeof v.assign !== 'function')
        throw new ArgumentError(`${op}: variable ${i} is not a Variable (a value tensor with assign())`);
      if (!(grads[i] instanceof Tensor))
        throw new ArgumentError(
          `${op}: gradient ${i} (for '${v.name ?? i}') is ${fmtValue(grads[i])}, expected a Tensor`,
        );
    });
    // apply() returns the new values in this scope; assign() takes them out of it into the variables.
    const next = this.apply(
      vars.map((v) => v.value),
      grads,
    );
    vars.forEach((v, i) => v.assign(next[i]));
  }

  /**
   * Takes ownership of a new state: copies any tensor that belongs to the caller (a transformation may
   * pass a gradient through), lifts it out of every scope, and frees what the old state held.
   */
  private adopt(state: OptState, previous: OptState | undefined, callerTensors: readonly Tensor[]): OptState {
    const caller = new Set(callerTensors);
    const { tensors } = contents(state);
    const owned = rebuild(state, tensors.map((t) => (caller.has(t) ? o.copy(t) : t))[Symbol.iterator](), (n) => n);
    keep(owned);
    if (previous !== undefined) {
      const live = new Set(contents(owned).tensors);
      for (const t of contents(previous).tensors) if (!live.has(t)) t.dispose();
    }
    return owned;
  }

  /** Copies of the state (the caller owns and disposes the slots). */
  getState(): OptimizerState {
    if (this.state === undefined) {
      const p = this.pending;
      return {
        iterations: this.count,
        slots: p ? p.slots.map((t) => o.copy(t)) : [],
        slotNames: p?.slotNames ? [...p.slotNames] : [],
      };
    }
    const { tensors, paths } = contents(this.state);
    return { iterations: this.count, slots: tensors.map((t) => o.copy(t)), slotNames: paths };
  }

  /**
   * Restores getState() output, copying the slots (the caller keeps its tensors). With `params`, or
   * once built, it is checked and installed now; otherwise it is held until the first apply().
   */
  setState(state: OptimizerState, params?: readonly Tensor[]): void {
    const op = `${this.className}.setState`;
    if (!Number.isInteger(state?.iterations) || state.iterations < 0)
      throw new ArgumentError(`${op}: iterations must be a non-negative integer, got ${state?.iterations}`);
    if (!Array.isArray(state.slots) || !state.slots.every((t) => t instanceof Tensor))
      throw new ArgumentError(`${op}: slots must be an array of tensors`);
    if (state.slotNames !== undefined && state.slotNames.length !== state.slots.length)
      throw new ArgumentError(`${op}: ${state.slotNames.length} slot names for ${state.slots.length} slots`);
    if (params) this.build(params);
    if (this.state === undefined) {
      if (this.pending) dispose(this.pending.slots);
      this.pending = {
        iterations: state.iterations,
        slots: keep(state.slots.map((t) => o.copy(t))),
        slotNames: state.slotNames && [...state.slotNames],
      };
      this.count = state.iterations;
      return;
    }
    this.restore(state);
  }

  private restore(state: OptimizerState): void {
    const op = `${this.className}.setState`;
    const { tensors, paths } = contents(this.state!);
    if (state.slots.length !== tensors.length) {
      throw new ArgumentError(
        `${op}: the saved state has ${state.slots.length} slots but this optimizer keeps ${tensors.length} ` +
          `for its ${this.built!.length} parameters (${paths.join(', ') || 'none'})`,
      );
    }
    state.slots.forEach((t, i) => {
      const name = state.slotNames?.[i];
      if (name !== undefined && name !== paths[i])
        throw new ArgumentError(
          `${op}: slot ${i} is '${name}' in the saved state but '${paths[i]}' here; ` +
            'was it saved by another kind of optimizer?',
        );
      if (!shapesEqual(t.shape, tensors[i].shape))
        throw new ShapeError(
          `${op}: slot ${i} ('${paths[i]}') has shape ${fmtShape(t.shape)} ` +
            `but this optimizer's has shape ${fmtShape(tensors[i].shape)}`,
        );
    });
    const copies = noGrad(() => state.slots.map((t, i) => o.cast(o.copy(t), tensors[i].dtype)));
    this.state = this.adopt(
      rebuild(this.state!, copies[Symbol.iterator](), () => state.iterations),
      this.state,
      [],
    );
    this.count = state.iterations;
  }

  /** { className, config } with the current learning rate (or schedule config); getOptimizer() rebuilds it. */
  getConfig(): OptimizerConfig {
    const config: Record<string, ConfigValue> = {};
    if (this.lr !== undefined) config.learningRate = serializeLearningRate(`${this.className}.getConfig`, this.lr);
    return { className: this.className, config: { ...config, ...this.hyper } };
  }

  /** Frees the state tensors; a later apply() starts from a fresh state. */
  dispose(): void {
    if (this.state !== undefined) dispose(contents(this.state).tensors);
    if (this.pending) dispose(this.pending.slots);
    this.state = this.pending = this.built = undefined;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Options every Keras optimizer takes. At most one of the three clipping options may be set (as Keras). */
export interface BaseOptimizerOptions {
  learningRate?: LearningRate;
  /** Decoupled weight decay p -= lr * weightDecay * p each step, applied outside momentum (Keras). */
  weightDecay?: number | null;
  /** Clip each gradient tensor to this L2 norm. */
  clipnorm?: number | null;
  /** Clip each gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number | null;
  /** Clip all gradients together to this joint L2 norm. */
  globalClipnorm?: number | null;
}

const BASE_KEYS = ['learningRate', 'weightDecay', 'clipnorm', 'clipvalue', 'globalClipnorm'];

/**
 * The shared shape of the Keras optimizers: chain(clipping, body(lr), decoupled weight decay). The
 * body ends in the learning-rate scale (and any momentum after it, as Keras keeps lr in its velocity).
 */
export function kerasOptimizer(
  className: string,
  options: BaseOptimizerOptions,
  extraKeys: readonly string[],
  defaults: { learningRate: number; weightDecay?: number },
  hyper: Record<string, number | boolean>,
  body: (lr: Schedule) => GradientTransformation[],
  fused?: (lr: Schedule, weightDecay: number) => FusedUpdate,
): Optimizer {
  checkOptions(className, options, [...BASE_KEYS, ...extraKeys]);
  const {
    learningRate = defaults.learningRate,
    weightDecay = defaults.weightDecay ?? null,
    clipnorm = null,
    clipvalue = null,
    globalClipnorm = null,
  } = options;
  const clips = { clipnorm, clipvalue, globalClipnorm };
  const set = Object.entries(clips).filter(([, v]) => v != null);
  if (set.length > 1)
    throw new ArgumentError(
      `${className}: only one of clipnorm, clipvalue and globalClipnorm can be set; ` +
        `got ${set.map(([k, v]) => `${k}=${v}`).join(', ')}`,
    );
  for (const [k, v] of set) checkRange(className, k, v as number, 0, Infinity, true);
  if (weightDecay != null) checkRange(className, 'weightDecay', weightDecay, 0);
  const clipping =
    clipnorm != null
      ? [clipByNorm(clipnorm)]
      : globalClipnorm != null
        ? [clipByGlobalNorm(globalClipnorm)]
        : clipvalue != null
          ? [clip(clipvalue)]
          : [];
  return new Optimizer(
    (lr) =>
      chain(...clipping, ...body(lr), ...(weightDecay ? [addDecayedWeights(weightDecay, { learningRate: lr })] : [])),
    {
      name: className,
      learningRate,
      config: { ...hyper, weightDecay, clipnorm, clipvalue, globalClipnorm },
      // Clipping runs as ops before the update, so only unclipped optimizers take the fused step.
      fused: fused && clipping.length === 0 ? (lr) => fused(lr, weightDecay ?? 0) : undefined,
    },
  );
}

export interface SGDOptions extends BaseOptimizerOptions {
  momentum?: number;
  nesterov?: boolean;
  /**
   * PyTorch's dampening: the velocity takes (1 - dampening) of each gradient after the first step
   * (buf = momentum buf + (1 - dampening) g; p -= lr buf). 0 by default; not with nesterov (as PyTorch).
   */
  dampening?: number;
}

/**
 * Keras SGD: learningRate 0.01; with momentum, m = momentum * m - lr * g and p += m
 * (or Nesterov's p += momentum * m - lr * g). With dampening, PyTorch's SGD (see SGDOptions.dampening).
 */
export function sgd(options: SGDOptions = {}): Optimizer {
  const { momentum = 0, nesterov = false, dampening = 0 } = options ?? {};
  checkRange('SGD', 'momentum', momentum, 0, 1);
  checkRange('SGD', 'dampening', dampening, 0, 1);
  if (dampening !== 0 && (nesterov || momentum === 0))
    throw new ArgumentError(
      `SGD: dampening ${dampening} needs momentum > 0 and nesterov false (as PyTorch), ` +
        `got momentum ${momentum}, nesterov ${nesterov}`,
    );
  const velocity =
    dampening !== 0
      ? [dampedTrace({ decay: momentum, dampening })]
      : momentum !== 0
        ? [trace({ decay: momentum, nesterov })]
        : [];
  return kerasOptimizer(
    'SGD',
    options,
    ['momentum', 'nesterov', 'dampening'],
    { learningRate: 0.01 },
    { momentum, nesterov, ...(dampening !== 0 ? { dampening } : {}) },
    (lr) => [scaleByLearningRate(lr), ...velocity],
    dampening !== 0 ? undefined : (lr, weightDecay) => fusedSgd(lr, { momentum, nesterov, weightDecay }),
  );
}

export interface AdamFamilyOptions extends BaseOptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Adam and AdamW only: AMSGrad, the running maximum of the second moments (see scaleByAmsgrad). */
  amsgrad?: boolean;
}

function adamFamily(
  className: string,
  options: AdamFamilyOptions,
  defaults: { learningRate: number; weightDecay?: number },
): Optimizer {
  const { beta1 = 0.9, beta2 = 0.999, epsilon = 1e-7, amsgrad = false } = options ?? {};
  for (const [k, v] of Object.entries({ beta1, beta2 })) checkRange(className, k, v, 0, 1);
  checkRange(className, 'epsilon', epsilon, 0);
  if (typeof amsgrad !== 'boolean') throw new ArgumentError(`${className}: amsgrad must be a boolean, got ${amsgrad}`);
  const moments = { b1: beta1, b2: beta2, eps: epsilon };
  return kerasOptimizer(
    className,
    options,
    ['beta1', 'beta2', 'epsilon', 'amsgrad'],
    defaults,
    { beta1, beta2, epsilon, ...(amsgrad ? { amsgrad } : {}) },
    (lr) => [amsgrad ? scaleByAmsgrad(moments) : scaleByAdam(moments), scaleByLearningRate(lr)],
    amsgrad ? undefined : (lr, weightDecay) => fusedAdam(lr, { beta1, beta2, epsilon, weightDecay }),
  );
}

/** Keras Adam: learningRate 0.001, beta1 0.9, beta2 0.999, epsilon 1e-7 (see scaleByAdam for the exact form). */
export function adam(options: AdamFamilyOptions = {}): Optimizer {
  return adamFamily('Adam', options, { learningRate: 0.001 });
}

/** Keras AdamW: Adam with decoupled weight decay, default weightDecay 0.004 (p -= lr * wd * p each step). */
export function adamw(options: AdamFamilyOptions = {}): Optimizer {
  return adamFamily('AdamW', options, { learningRate: 0.001, weightDecay: 0.004 });
}

export interface RMSpropOptions extends BaseOptimizerOptions {
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
}

/** Keras RMSprop: learningRate 0.001, rho 0.9, momentum 0, epsilon 1e-7 (inside the square root), centered false. */
export function rmsprop(options: RMSpropOptions = {}): Optimizer {
  const { rho = 0.9, momentum = 0, epsilon = 1e-7, centered = false } = options ?? {};
  checkRange('RMSprop', 'rho', rho, 0, 1);
  checkRange('RMSprop', 'momentum', momentum, 0, 1);
  checkRange('RMSprop', 'epsilon', epsilon, 0);
  return kerasOptimizer(
    'RMSprop',
    options,
    ['rho', 'momentum', 'epsilon', 'centered'],
    { learningRate: 0.001 },
    { rho, momentum, epsilon, centered },
    (lr) => [
      scaleByRms({ rho, eps: epsilon, centered }),
      scaleByLearningRate(lr),
      ...(momentum !== 0 ? [trace({ decay: momentum })] : []),
    ],
  );
}

export interface AdagradOptions extends BaseOptimizerOptions {
  initialAccumulatorValue?: number;
  epsilon?: number;
}

/** Keras Adagrad: learningRate 0.001, initialAccumulatorValue 0.1, epsilon 1e-7 (inside the square root). */
export function adagrad(options: AdagradOptions = {}): Optimizer {
  const { initialAccumulatorValue = 0.1, epsilon = 1e-7 } = options ?? {};
  checkRange('Adagrad', 'initialAccumulatorValue', initialAccumulatorValue, 0);
  checkRange('Adagrad', 'epsilon', epsilon, 0);
  return kerasOptimizer(
    'Adagrad',
    options,
    ['initialAccumulatorValue', 'epsilon'],
    { learningRate: 0.001 },
    { initialAccumulatorValue, epsilon },
    (lr) => [scaleByAdagrad({ initialAccumulatorValue, eps: epsilon }), scaleByLearningRate(lr)],
  );
}

/** The optimizers by name; more-optimizers.ts adds its own (optim/index.ts loads it). */
export const OPTIMIZERS = new Registry<(options: Record<string, unknown>) => Optimizer>('getOptimizer', 'optimizer')
  .add('sgd', sgd)
  .add('adam', adam)
  .add('adamw', adamw)
  .add('rmsprop', rmsprop)
  .add('adagrad', adagrad);

/**
 * An optimizer from a name ('adam', 'RMSprop', any case), a { className, config } from getConfig(), or
 * an Optimizer (returned as is). Names make a fresh optimizer with Keras defaults.
 */
export function getOptimizer(spec: OptimizerSpec): Optimizer {
  if (spec instanceof Optimizer) return spec;
  if (typeof spec === 'string') return OPTIMIZERS.get(spec).value({});
  if (typeof spec !== 'object' || spec === null || typeof spec.className !== 'string') {
    throw new ArgumentError(
      `getOptimizer: expected a name (${OPTIMIZERS.names.join(', ')}), an Optimizer or { className, config }, ` +
        `got ${fmtValue(spec)}`,
    );
  }
  const factory = OPTIMIZERS.get(spec.className).value;
  const config: Record<string, unknown> = { ...spec.config };
  if (config.learningRate !== undefined)
    config.learningRate = deserializeLearningRate(config.learningRate as number | ScheduleConfig);
  return factory(config);
}
