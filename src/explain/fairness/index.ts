// Fairness: the report by group (src/ledger/fairness.ts, also what run records hold) and mitigation by
// reweighing the training data or by per-group thresholds on a trained model's scores.
export { fairnessReport, FAIRNESS_MEASURES } from '../../ledger/fairness.js';
export type {
  BootstrapOptions,
  Calibration,
  CalibrationBin,
  Disparity,
  FairnessIntervals,
  FairnessMeasure,
  FairnessOptions,
  FairnessReport,
  GroupMetrics,
} from '../../ledger/fairness.js';
export { reweighing } from './reweighing.js';
export { thresholdOptimizer } from './threshold-optimizer.js';
export type {
  GroupRule,
  ThresholdConstraint,
  ThresholdOptimizer,
  ThresholdOptimizerOptions,
} from './threshold-optimizer.js';
