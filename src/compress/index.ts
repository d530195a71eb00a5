// Compression and knowledge transfer: pruning, int8 quantisation, distillation, transfer learning, and the
// measurements and records that say what each cost and saved. Exported from the package as `compress`.
export { measureModel, interleavedLatency, accuracyOf, weightsFileBytes, type MeasureOptions } from './measure.js';
export { recordCompression, describeLayers } from './record.js';
export type { CompressionRecord, CompressionLayerRecord, ModelMeasurement } from '../ledger/compression.js';
export { ConstantSparsity, PolynomialDecay, PruningSchedule, pruningScheduleFromConfig } from './pruning-schedule.js';
export type { ConstantSparsityArgs, PolynomialDecayArgs, PruningScheduleConfig } from './pruning-schedule.js';
export { PruneLowMagnitude, PRUNABLE_WEIGHTS, prunableWeights } from './prune-low-magnitude.js';
export type { PruneLowMagnitudeArgs } from './prune-low-magnitude.js';
export { UpdatePruningStep, pruningWrappers } from './pruning-callback.js';
export { pruneLowMagnitude, stripPruning, pruningReport } from './prune-model.js';
export type { PruneOptions, PruningReport, PrunedWeightReport } from './prune-model.js';
export { keptCount, magnitudeMasks } from './magnitude-mask.js';
export {
  SPARSE_METADATA_KEY,
  parseSparseSafetensors,
  serializeSparseSafetensors,
  sparseBytes,
  DEFAULT_MAX_DECODED_BYTES,
} from '../io/sparse-safetensors.js';
export type { SparseParseOptions } from '../io/sparse-safetensors.js';
export { prunedFineTune } from './pruned-fine-tune.js';
export type { PrunedFineTuneOptions, PrunedFineTuneResult } from './pruned-fine-tune.js';
export {
  pruneStructured,
  unitNorms,
  largestUnits,
  type PruneStructuredOptions,
  type StructuredCriterion,
  type StructuredLayerReport,
  type StructuredPruning,
  type StructuredPruningReport,
} from './structured.js';
export { Distiller } from './distiller.js';
export type { DistillerArgs, DistillerCompileArgs, DistillationReport } from './distiller.js';
export { distillationStudy } from './distillation-study.js';
export type { DistillationStudyArgs, DistillationStudyResult, StudyArm } from './distillation-study.js';
export { transferStudy, transferCnn } from './transfer.js';
export type { TransferStudyOptions, TransferStudyResult, TransferRun } from './transfer.js';
export {
  QuantizedConv2D,
  QuantizedDense,
  inputQuantization,
  quantizeKernel,
  quantizeLayer,
  type InputQuantization,
  type InputRange,
  type QuantizedConv2DArgs,
  type QuantizedDenseArgs,
} from './quantized-layers.js';
export {
  CALIBRATION_METHODS,
  calibrate,
  type CalibrateOptions,
  type Calibration,
  type CalibrationMethod,
  type LayerCalibration,
} from './calibrate.js';
export {
  quantizeModel,
  type FloatLayerReport,
  type QuantizationReport,
  type QuantizeModelOptions,
  type QuantizedLayerReport,
} from './quantize-model.js';
export { fakeQuantize } from '../ops/families/quantized.js';
export { quantizeAware, convertQat, type QuantizeAwareOptions, type QatLayerReport } from './qat.js';
export {
  QatConv2D,
  QatDense,
  FakeQuantizer,
  type QatConv2DArgs,
  type QatDenseArgs,
  type QatOptions,
} from './qat-layers.js';
