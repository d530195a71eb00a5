// prunedFineTune: the TF-MOT pruning recipe in one call (wrap, fit with PolynomialDecay and UpdatePruningStep,
// strip), for a trained model and its training tensors; returns the plain pruned model and what was done.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { checkOptions, optionKeys } from '../registry.js';
import type { Model } from '../train/model.js';
import type { History } from '../train/callbacks.js';
import type { CompileArgs } from '../train/trainer.js';
import { PolynomialDecay } from './pruning-schedule.js';
import { UpdatePruningStep } from './pruning-callback.js';
import { pruneLowMagnitude, pruningReport, stripPruning, type PruningReport } from './prune-model.js';
import { weightsFileBytes } from './measure.js';

export interface PrunedFineTuneOptions {
  /** The sparsity reached (in [0, 1)). */
  finalSparsity: number;
  /** The sparsity of the first mask update (default 0; TF-MOT's guide starts at 0.5 for a trained model). */
  initialSparsity?: number;
  /** Epochs of fine-tuning (default 2). */
  epochs?: number;
  batchSize?: number;
  /** The fraction of the steps over which the sparsity rises; the rest fine-tunes at finalSparsity (default 2/3). */
  rampFraction?: number;
  /** Masks update every `frequency` steps (default: about ten updates over the ramp, at most every 100). */
  frequency?: number;
  /** Layer names to prune (default every prunable layer) and global magnitude ranking, as pruneLowMagnitude. */
  layers?: string[];
  globalPruning?: boolean;
  /** compile() arguments for fine-tuning (default: the model's own, which it must then have been compiled with). */
  compile?: CompileArgs;
  seed?: number;
  verbose?: 0 | 1 | 2;
}

const OPTIONS = optionKeys<PrunedFineTuneOptions>({
  finalSparsity: true,
  initialSparsity: true,
  epochs: true,
  batchSize: true,
  rampFraction: true,
  frequency: true,
  layers: true,
  globalPruning: true,
  compile: true,
  seed: true,
  verbose: true,
});

export interface PrunedFineTuneResult {
  /** The pruned model stripped of its wrappers (the original layer classes), compiled as it was fine-tuned. */
  model: Model;
  report: PruningReport;
  /** The weights file's bytes dense and with save({ sparseWeights: true }). */
  bytes: { dense: number; sparse: number };
  history: History;
}

/**
 * Prunes a (trained) Sequential or functional model to `finalSparsity` while fine-tuning it on (x, y): the
 * sparsity follows PolynomialDecay from initialSparsity at step 0 to finalSparsity at rampFraction of the steps.
 * The model's layers are shared with the result, whose pruned kernels are exactly zero.
 */
export async function prunedFineTune(
  model: Model,
  x: Tensor,
  y: Tensor,
  options: PrunedFineTuneOptions,
): Promise<PrunedFineTuneResult> {
  checkOptions('prunedFineTune', options, OPTIONS);
  const { finalSparsity, initialSparsity = 0, epochs = 2, batchSize = 32, rampFraction = 2 / 3 } = options;
  const compile = options.compile ?? model.trainingConfig();
  if (!compile)
    throw new ArgumentError(
      `prunedFineTune: model '${model.name}' was not compiled with named parts; pass options.compile`,
    );
  if (!(rampFraction > 0 && rampFraction <= 1))
    throw new ArgumentError(`prunedFineTune: rampFraction must be in (0, 1], got ${rampFraction}`);
  const steps = Math.ceil(x.shape[0] / batchSize) * epochs;
  const ramp = Math.max(1, Math.round(steps * rampFraction) - 1);
  const frequency = options.frequency ?? Math.min(100, Math.max(1, Math.floor(ramp / 10)));
  // endStep on an update step, so that the last update prunes to finalSparsity exactly.
  const endStep = Math.max(frequency, Math.floor(ramp / frequency) * frequency);
  const schedule = new PolynomialDecay({ initialSparsity, finalSparsity, beginStep: 0, endStep, frequency });
  const pruned = pruneLowMagnitude(model, {
    pruningSchedule: schedule,
    layers: options.layers,
    globalPruning: options.globalPruning,
  });
  pruned.compile(compile);
  const history = await pruned.fit(x, y, {
    epochs,
    batchSize,
    seed: options.seed,
    verbose: options.verbose ?? 0,
    record: false,
    callbacks: [new UpdatePruningStep()],
  });
  const stripped = stripPruning(pruned);
  stripped.compile(compile);
  return { model: stripped, report: pruningReport(stripped), bytes: weightsFileBytes(stripped), history };
}
