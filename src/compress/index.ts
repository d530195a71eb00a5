// Compression: magnitude pruning (schedules, the PruneLowMagnitude wrapper, its callback, stripPruning, the
// pruning report) and compact sparse weight storage (model.save(dir, { sparseWeights: true }) writes it).
export { ConstantSparsity, PolynomialDecay, PruningSchedule, pruningScheduleFromConfig } from './pruning-schedule.js';
export type { ConstantSparsityArgs, PolynomialDecayArgs, PruningScheduleConfig } from './pruning-schedule.js';
export { PruneLowMagnitude, PRUNABLE_WEIGHTS, prunableWeights } from './prune-low-magnitude.js';
export type { PruneLowMagnitudeArgs } from './prune-low-magnitude.js';
export { UpdatePruningStep, pruningWrappers } from './pruning-callback.js';
export { pruneLowMagnitude, stripPruning, pruningReport, weightsFileBytes } from './prune-model.js';
export type { PruneOptions, PruningReport, PrunedWeightReport } from './prune-model.js';
export { keptCount, magnitudeMasks } from './magnitude-mask.js';
export {
  SPARSE_METADATA_KEY,
  parseSparseSafetensors,
  serializeSparseSafetensors,
  sparseBytes,
} from '../io/sparse-safetensors.js';
export { prunedFineTune } from './pruned-fine-tune.js';
export type { PrunedFineTuneOptions, PrunedFineTuneResult } from './pruned-fine-tune.js';
