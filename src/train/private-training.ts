// The hook through which DP-SGD (src/privacy) runs inside fit(): train/ does not import privacy/ (privacy
// builds on train's Model), so src/privacy registers these hooks when the package loads, and the trainer
// calls them. The privacy options' type lives here, where compile() and fit() declare them.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import type { DpSgdRecord } from '../ledger/privacy.js';
import type { Optimizer } from '../optim/index.js';
import type { Variable } from '../nn/variable.js';
import type { Callback } from './callbacks.js';
import type { StepBatch } from './epoch-iterator.js';
import type { Model } from './model.js';

/**
 * compile({ privacy }) and fit({ privacy }): fit's keys override compile's. Either noiseMultiplier (sigma)
 * or targetEpsilon must be given; with targetEpsilon alone sigma is picked for the steps fit plans, and
 * with both, training stops when the next step would spend more than targetEpsilon.
 */
export interface DpSgdOptions {
  /** C: each example's gradient is scaled to L2 norm at most C (required). */
  l2NormClip?: number;
  /** sigma: the noise added to the clipped sum has standard deviation sigma * C. */
  noiseMultiplier?: number;
  /** The budget: picks sigma (when noiseMultiplier is not given) and stops training when spent. */
  targetEpsilon?: number;
  /** Default 1e-5; it should be well below 1 / samples. */
  delta?: number;
  /** 'poisson' (default: what the accountant assumes) or 'fixed' (shuffled full batches; an approximation). */
  sampling?: 'poisson' | 'fixed';
  /** Draws the noise from this seed instead of a key from node:crypto: reproducible, and NOT private. */
  noiseSeed?: number;
  /** The (epsilon, delta) conversion of the RDP accountant: 'improved' (default) or 'classic'. */
  conversion?: 'classic' | 'improved';
  /**
   * What reports the epsilon spent (logs, budget, record): 'rdp' (default) or 'prv', tighter and slower
   * (a second or so per epoch). sigma for a targetEpsilon is picked with RDP either way, so it is conservative.
   */
  accountant?: 'rdp' | 'prv';
}

/** What a private step is given (see src/privacy/dp-sgd-step.ts). */
export interface PrivateStepArgs {
  model: Model;
  weights: readonly Variable[];
  optimizer: Optimizer;
  /** The compiled mean loss of a batch's (or one example's) predictions, labels and sample weights. */
  loss: (preds: Tensor[], y: Tensor[] | undefined, sampleWeight: Tensor | undefined) => Tensor;
  /** Seeds the layers' randomness (dropout) in this step. */
  stepSeed: number;
}

/** A model's DP-SGD as the trainer drives it (src/privacy/dp-sgd.ts's DpSgd). */
export interface PrivateTraining {
  /** The batch sampling of a fit with these options (fit's override compile's). */
  sampling(fitOptions: DpSgdOptions | undefined): 'poisson' | 'fixed';
  /** Resolves a fit's options (sigma, q, ...) and keys the noise; returns the budget, if any. */
  begin(
    model: Model,
    fitOptions: DpSgdOptions | undefined,
    fit: { samples: number; batchSize: number; plannedSteps: number },
  ): { targetEpsilon?: number; delta: number };
  /** One private step on a batch (possibly empty): its mean loss (NaN when empty) and predictions. */
  step(batch: StepBatch, args: PrivateStepArgs): { loss: number; preds: Tensor[] };
  /** The epsilon spent so far. */
  epsilon(): { epsilon: number };
  /** The run record's privacy section. */
  record(): DpSgdRecord;
  end(model: Model): void;
  /** The private steps accounted so far (consecutive equal ones merged), which model.save() keeps. */
  history(): PrivateSteps[];
  /** Accounts steps taken before (a loaded model's), so that epsilon keeps composing across saves. */
  restore(steps: readonly PrivateSteps[]): void;
}

/** Accounted DP-SGD steps: `steps` steps of noise multiplier sigma at sampling rate q. */
export interface PrivateSteps {
  noiseMultiplier: number;
  sampleRate: number;
  steps: number;
}

export interface PrivacyHooks {
  /** compile's or fit's privacy options checked (typed errors naming the call and the key). */
  check(op: 'compile' | 'fit', options: unknown): DpSgdOptions;
  create(compileOptions?: DpSgdOptions): PrivateTraining;
  /** The callback that stops training when the budget is spent (privacy.PrivacyBudget). */
  budget(targetEpsilon: number, delta: number): Callback;
}

let hooks: PrivacyHooks | undefined;

/** Called by src/privacy/index.ts when the package loads. */
export function setPrivacyHooks(h: PrivacyHooks): void {
  hooks = h;
}

export function privacyHooks(op: string): PrivacyHooks {
  if (!hooks)
    throw new ArgumentError(
      `${op}: privacy (DP-SGD) is not loaded; import the package ('candor'), whose privacy module registers it`,
    );
  return hooks;
}
