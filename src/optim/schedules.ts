// Learning-rate schedules with Keras semantics: pure functions of the optimizer step (0 for the first
// update, as Keras' `iterations`), each carrying a { className, config } that round-trips through getSchedule.
import { ArgumentError, fmtValue } from '../errors.js';
import { Registry, checkOptions } from '../registry.js';

/** A learning rate as a function of the step. */
export type Schedule = (step: number) => number;

/** A constant, a serializable schedule from this file, or any function of the step (not serializable). */
export type LearningRate = number | Schedule;

export interface ScheduleConfig {
  className: string;
  config: Record<string, number | boolean | number[] | null>;
}

export interface LearningRateSchedule extends Schedule {
  getConfig(): ScheduleConfig;
}

function schedule(className: string, config: ScheduleConfig['config'], fn: Schedule): LearningRateSchedule {
  const frozen = JSON.parse(JSON.stringify(config)) as ScheduleConfig['config'];
  return Object.assign((step: number) => fn(step), {
    getConfig: () => ({ className, config: structuredClone(frozen) }),
  });
}

function requirePositive(op: string, name: string, v: number): void {
  if (!(Number.isFinite(v) && v > 0)) throw new ArgumentError(`${op}: ${name} must be a positive number, got ${v}`);
}

function requireFinite(op: string, name: string, v: number): void {
  if (!Number.isFinite(v)) throw new ArgumentError(`${op}: ${name} must be a finite number, got ${v}`);
}

export interface ExponentialDecayOptions {
  initialLearningRate: number;
  decaySteps: number;
  decayRate: number;
  /** Decay in discrete jumps: the exponent is floor(step / decaySteps). */
  staircase?: boolean;
}

/** initialLearningRate * decayRate ^ (step / decaySteps) (the exponent floored when staircase). */
export function exponentialDecay(options: ExponentialDecayOptions): LearningRateSchedule {
  checkOptions('exponentialDecay', options, ['initialLearningRate', 'decaySteps', 'decayRate', 'staircase']);
  const { initialLearningRate, decaySteps, decayRate, staircase = false } = options;
  requireFinite('exponentialDecay', 'initialLearningRate', initialLearningRate);
  requirePositive('exponentialDecay', 'decaySteps', decaySteps);
  requireFinite('exponentialDecay', 'decayRate', decayRate);
  return schedule('ExponentialDecay', { initialLearningRate, decaySteps, decayRate, staircase }, (step) => {
    const p = step / decaySteps;
    return initialLearningRate * decayRate ** (staircase ? Math.floor(p) : p);
  });
}

export interface PiecewiseConstantOptions {
  /** Increasing steps; values[i] applies while step <= boundaries[i] (and above the previous boundary). */
  boundaries: number[];
  /** One more value than boundaries. */
  values: number[];
}

/** values[0] for step <= boundaries[0], values[i] for boundaries[i-1] < step <= boundaries[i], the last value after. */
export function piecewiseConstant(options: PiecewiseConstantOptions): LearningRateSchedule {
  checkOptions('piecewiseConstant', options, ['boundaries', 'values']);
  const { boundaries, values } = options;
  if (!Array.isArray(boundaries) || !Array.isArray(values) || values.length !== boundaries.length + 1) {
    throw new ArgumentError(
      'piecewiseConstant: values must have one more entry than boundaries; ' +
        `got ${values?.length} values for ${boundaries?.length} boundaries`,
    );
  }
  boundaries.forEach((b, i) => {
    requireFinite('piecewiseConstant', `boundaries[${i}]`, b);
    if (i > 0 && !(b > boundaries[i - 1]))
      throw new ArgumentError(`piecewiseConstant: boundaries must increase, got [${boundaries.join(', ')}]`);
  });
  values.forEach((v, i) => requireFinite('piecewiseConstant', `values[${i}]`, v));
  return schedule('PiecewiseConstant', { boundaries: [...boundaries], values: [...values] }, (step) => {
    const i = boundaries.findIndex((b) => step <= b);
    return values[i === -1 ? boundaries.length : i];
  });
}

export interface CosineDecayOptions {
  initialLearningRate: number;
  decaySteps: number;
  /** The floor, as a fraction of the rate decayed from (default 0). */
  alpha?: number;
  /** With warmupSteps: ramp linearly from initialLearningRate to warmupTarget, then decay from warmupTarget. */
  warmupTarget?: number | null;
  warmupSteps?: number;
}

/**
 * Keras CosineDecay: from lr0 = initialLearningRate (or warmupTarget after a linear warmup),
 * lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * t / decaySteps)) + alpha), with t clamped to decaySteps.
 */
export function cosineDecay(options: CosineDecayOptions): LearningRateSchedule {
  checkOptions('cosineDecay', options, ['initialLearningRate', 'decaySteps', 'alpha', 'warmupTarget', 'warmupSteps']);
  const { initialLearningRate, decaySteps, alpha = 0, warmupTarget = null, warmupSteps = 0 } = options;
  requireFinite('cosineDecay', 'initialLearningRate', initialLearningRate);
  requirePositive('cosineDecay', 'decaySteps', decaySteps);
  requireFinite('cosineDecay', 'alpha', alpha);
  if (!(Number.isFinite(warmupSteps) && warmupSteps >= 0))
    throw new ArgumentError(`cosineDecay: warmupSteps must be a non-negative number, got ${warmupSteps}`);
  if (warmupTarget !== null) requireFinite('cosineDecay', 'warmupTarget', warmupTarget);
  const decay = (t: number, from: number) =>
    from * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * (t / decaySteps))) + alpha);
  return schedule('CosineDecay', { initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps }, (step) => {
    if (warmupTarget === null) return decay(Math.min(step, decaySteps), initialLearningRate);
    const t = Math.min(step, decaySteps + warmupSteps);
    if (t < warmupSteps) return (warmupTarget - initialLearningRate) * (t / warmupSteps) + initialLearningRate;
    return decay(t - warmupSteps, warmupTarget);
  });
}

const SCHEDULES = new Registry<(config: never) => LearningRateSchedule>('getSchedule', 'learning-rate schedule')
  .add('ExponentialDecay', exponentialDecay)
  .add('PiecewiseConstant', piecewiseConstant)
  .add('CosineDecay', cosineDecay);

/** A schedule from its getConfig() output (or itself). */
export function getSchedule(spec: ScheduleConfig | LearningRateSchedule): LearningRateSchedule {
  if (typeof spec === 'function') return spec;
  if (typeof spec !== 'object' || spec === null || typeof spec.className !== 'string') {
    throw new ArgumentError(`getSchedule: expected a schedule or { className, config }, got ${fmtValue(spec)}`);
  }
  return (SCHEDULES.get(spec.className).value as (c: unknown) => LearningRateSchedule)(spec.config ?? {});
}

/** The learning rate at `step`; a schedule must give a finite, non-negative number. */
export function learningRateAt(op: string, lr: LearningRate, step: number): number {
  const v = typeof lr === 'number' ? lr : lr(step);
  if (!(typeof v === 'number' && Number.isFinite(v) && v >= 0)) {
    throw new ArgumentError(
      `${op}: the learning rate must be a finite non-negative number, got ${v}` +
        (typeof lr === 'number' ? '' : ` from the schedule at step ${step}`),
    );
  }
  return v;
}

/** JSON for a learning rate: the number, or the schedule's config. Plain functions are not serializable. */
export function serializeLearningRate(op: string, lr: LearningRate): number | ScheduleConfig {
  if (typeof lr === 'number') return lr;
  const withConfig = lr as Partial<LearningRateSchedule>;
  if (typeof withConfig.getConfig === 'function') return withConfig.getConfig();
  throw new ArgumentError(
    `${op}: the learning rate is a plain function of the step and cannot be serialized; ` +
      'use exponentialDecay, piecewiseConstant or cosineDecay, or a number',
  );
}

/** The inverse of serializeLearningRate. */
export function deserializeLearningRate(lr: number | ScheduleConfig | Schedule): LearningRate {
  return typeof lr === 'object' && lr !== null ? getSchedule(lr) : lr;
}
