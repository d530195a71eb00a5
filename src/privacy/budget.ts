// PrivacyBudget: the fit() callback that stops DP-SGD training before a step would spend more than a target
// epsilon (fit({ privacy: { targetEpsilon } }) adds one), and puts the epsilon spent in each epoch's logs.
import { ArgumentError } from '../errors.js';
import { checkOptions, optionKeys } from '../registry.js';
import type { Callback, FitParams, Logs } from '../train/callbacks.js';
import type { Model } from '../train/model.js';
import { dpSgdOf, type DpSgd } from './dp-sgd.js';

export interface PrivacyBudgetArgs {
  /** The epsilon not to exceed. */
  targetEpsilon: number;
  /** The delta at which epsilon is computed; default: the fit's privacy.delta. */
  delta?: number;
}

const PRIVACY_BUDGET_OPTIONS = optionKeys<PrivacyBudgetArgs>({ targetEpsilon: true, delta: true });

/**
 * Stops training when the next DP-SGD step would take the spent epsilon above targetEpsilon (the steps
 * allowed are found once per fit, by bisection on the accountant, so a step costs nothing). Use it in a
 * private fit: `fit(x, y, { callbacks: [new privacy.PrivacyBudget({ targetEpsilon: 3 })] })`.
 */
export class PrivacyBudget implements Callback {
  readonly targetEpsilon: number;
  readonly delta?: number;
  private model?: Model;
  private run?: DpSgd;
  /** Steps this fit may take within the budget. */
  private allowed = 0;
  private planned = 0;

  constructor(args: PrivacyBudgetArgs) {
    checkOptions('PrivacyBudget', args, PRIVACY_BUDGET_OPTIONS);
    const { targetEpsilon, delta } = args ?? ({} as PrivacyBudgetArgs);
    if (typeof targetEpsilon !== 'number' || !(targetEpsilon > 0 && targetEpsilon < Infinity))
      throw new ArgumentError(`PrivacyBudget: targetEpsilon must be a finite number > 0, got ${targetEpsilon}`);
    if (delta !== undefined && (typeof delta !== 'number' || !(delta > 0 && delta < 1)))
      throw new ArgumentError(`PrivacyBudget: delta must be a number in (0, 1), got ${delta}`);
    this.targetEpsilon = targetEpsilon;
    this.delta = delta;
  }

  setModel(model: Model): void {
    this.model = model;
  }

  setParams(params: FitParams): void {
    this.planned = (params.epochs - (params.initialEpoch ?? 0)) * (params.steps ?? 0);
  }

  onTrainBegin(): void {
    const run = dpSgdOf(this.model!);
    if (!run)
      throw new ArgumentError(
        'PrivacyBudget: the fit does not train privately; pass compile({ privacy }) or fit({ privacy })',
      );
    this.run = run;
    run.budget = { targetEpsilon: this.targetEpsilon };
    this.allowed = this.allowedSteps(run);
    this.stopIfSpent();
  }

  onBatchEnd(): void {
    this.stopIfSpent();
  }

  /**
   * Keras users see the budget spent in History: fit logs it at the fit's delta, so it is recomputed (once
   * more through the accountant) only when this budget is kept at another delta.
   */
  onEpochEnd(_epoch: number, logs: Logs): void {
    if (this.run && this.delta !== undefined && this.delta !== this.run.plan.delta)
      logs.epsilon = this.run.epsilonAfter(0, this.delta);
  }

  /** The most steps k of this fit with epsilon(k) <= target: epsilon grows with k, so bisect. */
  private allowedSteps(run: DpSgd): number {
    const within = (k: number) => run.epsilonAfter(k, this.delta) <= this.targetEpsilon;
    let high = Math.max(1, this.planned);
    if (within(high)) return Infinity; // the whole fit fits the budget
    let low = 0; // invariant: within(low), !within(high)
    if (!within(0)) return 0;
    while (high - low > 1) {
      const mid = Math.floor((low + high) / 2);
      if (within(mid)) low = mid;
      else high = mid;
    }
    return low;
  }

  private stopIfSpent(): void {
    const run = this.run!;
    if (run.stepsThisFit >= this.allowed && !this.model!.stopTraining) {
      this.model!.stopTraining = true;
      run.stoppedByBudget = true;
    }
  }
}
