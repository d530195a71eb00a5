// Sparsity schedules for magnitude pruning, as TF-MOT's (tfmot.sparsity.keras): whether the masks update
// at a step, and the sparsity they are then set to. ConstantSparsity and PolynomialDecay.
import { ArgumentError, fmtValue } from '../errors.js';
import { Registry, checkOptions, optionKeys } from '../registry.js';

/** A schedule as saved in a pruning wrapper's config (TF-MOT's get_config layout). */
export interface PruningScheduleConfig {
  className: string;
  config: Record<string, number>;
}

/**
 * When the masks of a pruned layer update, and to what sparsity (the fraction of zeros). Steps count the
 * training batches seen by the UpdatePruningStep callback, from 0.
 */
export abstract class PruningSchedule {
  static readonly className: string = 'PruningSchedule';

  constructor(
    readonly beginStep: number,
    readonly endStep: number,
    readonly frequency: number,
    allowNoEnd: boolean,
  ) {
    const who = this.who;
    if (!Number.isSafeInteger(beginStep) || beginStep < 0)
      throw new ArgumentError(`${who}: beginStep must be an integer >= 0, got ${fmtValue(beginStep)}`);
    if (!Number.isSafeInteger(endStep))
      throw new ArgumentError(`${who}: endStep must be an integer, got ${fmtValue(endStep)}`);
    // PolynomialDecay needs an end to decay towards; -1 means "prune until training ends" elsewhere.
    if (!allowNoEnd && endStep === -1) throw new ArgumentError(`${who}: endStep cannot be -1`);
    if (endStep !== -1 && endStep < 0) throw new ArgumentError(`${who}: endStep must be -1 or >= 0, got ${endStep}`);
    if (endStep !== -1 && endStep < beginStep)
      throw new ArgumentError(`${who}: beginStep (${beginStep}) must be <= endStep (${endStep})`);
    if (!Number.isSafeInteger(frequency) || frequency <= 0)
      throw new ArgumentError(`${who}: frequency must be an integer > 0, got ${fmtValue(frequency)}`);
  }

  protected get who(): string {
    return (this.constructor as typeof PruningSchedule).className;
  }

  /** Checks a sparsity argument: TF-MOT accepts [0, 1) (1 would remove every weight). */
  protected checkSparsity(value: number, name: string): number {
    if (typeof value !== 'number' || !(value >= 0 && value < 1))
      throw new ArgumentError(`${this.who}: ${name} must be in [0, 1), got ${fmtValue(value)}`);
    return value;
  }

  /**
   * Whether the masks update at `step`: within [beginStep, endStep] (no end when endStep is -1), every
   * `frequency` steps counted from beginStep (TF-MOT's _should_prune_in_step).
   */
  shouldPrune(step: number): boolean {
    const inRange = step >= this.beginStep && (step <= this.endStep || this.endStep < 0);
    return inRange && (step - this.beginStep) % this.frequency === 0;
  }

  /** The target sparsity at `step`. */
  abstract sparsity(step: number): number;

  /** [whether the masks update at `step`, the sparsity they are set to], as TF-MOT's __call__. */
  call(step: number): [shouldPrune: boolean, sparsity: number] {
    if (!Number.isSafeInteger(step) || step < 0)
      throw new ArgumentError(`${this.who}: step must be an integer >= 0, got ${fmtValue(step)}`);
    return [this.shouldPrune(step), this.sparsity(step)];
  }

  abstract getConfig(): PruningScheduleConfig;
}

export interface ConstantSparsityArgs {
  targetSparsity: number;
  beginStep: number;
  /** -1 (the default): prune until training ends. */
  endStep?: number;
  /** Masks update every `frequency` steps (default 100). */
  frequency?: number;
}

/** The same sparsity whenever the masks update (TF-MOT ConstantSparsity). */
export class ConstantSparsity extends PruningSchedule {
  static override readonly className: string = 'ConstantSparsity';
  readonly targetSparsity: number;

  constructor(args: ConstantSparsityArgs) {
    checkOptions('ConstantSparsity', args, CONSTANT_KEYS);
    super(args?.beginStep, args?.endStep ?? -1, args?.frequency ?? 100, true);
    this.targetSparsity = this.checkSparsity(args?.targetSparsity, 'targetSparsity');
  }

  sparsity(): number {
    return this.targetSparsity;
  }

  getConfig(): PruningScheduleConfig {
    const { targetSparsity, beginStep, endStep, frequency } = this;
    return { className: 'ConstantSparsity', config: { targetSparsity, beginStep, endStep, frequency } };
  }
}

export interface PolynomialDecayArgs {
  initialSparsity: number;
  finalSparsity: number;
  beginStep: number;
  endStep: number;
  /** The exponent of the decay (default 3). */
  power?: number;
  /** Masks update every `frequency` steps (default 100). */
  frequency?: number;
}

/**
 * Sparsity rising from initialSparsity at beginStep to finalSparsity at endStep (TF-MOT PolynomialDecay,
 * after Zhu and Gupta 2017): final + (initial - final) * (1 - p)^power with p = (step - begin) / (end - begin)
 * clipped to [0, 1]. Computed in float64 (TF-MOT computes in float32).
 */
export class PolynomialDecay extends PruningSchedule {
  static override readonly className: string = 'PolynomialDecay';
  readonly initialSparsity: number;
  readonly finalSparsity: number;
  readonly power: number;

  constructor(args: PolynomialDecayArgs) {
    checkOptions('PolynomialDecay', args, POLYNOMIAL_KEYS);
    super(args?.beginStep, args?.endStep, args?.frequency ?? 100, false);
    // TF-MOT divides by zero here (NaN sparsity); refuse it instead.
    if (this.endStep === this.beginStep)
      throw new ArgumentError(
        `PolynomialDecay: beginStep and endStep are both ${this.endStep}; the decay needs endStep > beginStep ` +
          '(use ConstantSparsity for a single pruning step)',
      );
    this.initialSparsity = this.checkSparsity(args.initialSparsity, 'initialSparsity');
    this.finalSparsity = this.checkSparsity(args.finalSparsity, 'finalSparsity');
    this.power = args.power ?? 3;
    if (typeof this.power !== 'number' || !Number.isFinite(this.power))
      throw new ArgumentError(`PolynomialDecay: power must be a finite number, got ${fmtValue(this.power)}`);
  }

  sparsity(step: number): number {
    const p = Math.min(1, Math.max(0, (step - this.beginStep) / (this.endStep - this.beginStep)));
    return (this.initialSparsity - this.finalSparsity) * Math.pow(1 - p, this.power) + this.finalSparsity;
  }

  getConfig(): PruningScheduleConfig {
    const { initialSparsity, finalSparsity, power, beginStep, endStep, frequency } = this;
    return {
      className: 'PolynomialDecay',
      config: { initialSparsity, finalSparsity, power, beginStep, endStep, frequency },
    };
  }
}

const CONSTANT_KEYS = optionKeys<ConstantSparsityArgs>({
  targetSparsity: true,
  beginStep: true,
  endStep: true,
  frequency: true,
});
const POLYNOMIAL_KEYS = optionKeys<PolynomialDecayArgs>({
  initialSparsity: true,
  finalSparsity: true,
  beginStep: true,
  endStep: true,
  power: true,
  frequency: true,
});

const schedules = new Registry<new (args: never) => PruningSchedule>('pruningScheduleFromConfig', 'pruning schedule')
  .add('ConstantSparsity', ConstantSparsity)
  .add('PolynomialDecay', PolynomialDecay);

/** Rebuilds a schedule from getConfig() output (a pruning wrapper's saved config). */
export function pruningScheduleFromConfig(entry: PruningScheduleConfig): PruningSchedule {
  if (typeof entry !== 'object' || entry === null || typeof entry.config !== 'object' || entry.config === null)
    throw new ArgumentError(`pruningScheduleFromConfig: expected { className, config }, got ${fmtValue(entry)}`);
  const cls = schedules.get(entry.className).value;
  return new cls(entry.config as never);
}

/** The schedule given as an instance or as its config. */
export function toPruningSchedule(schedule: PruningSchedule | PruningScheduleConfig, op: string): PruningSchedule {
  if (schedule instanceof PruningSchedule) return schedule;
  if (typeof schedule === 'object' && schedule !== null && 'className' in schedule)
    return pruningScheduleFromConfig(schedule);
  throw new ArgumentError(
    `${op}: pruningSchedule must be a PruningSchedule (ConstantSparsity, PolynomialDecay) or its config, ` +
      `got ${fmtValue(schedule)}`,
  );
}
