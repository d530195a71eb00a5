// Candor's public API.
import './backends/js/index.js';
import './backends/native/index.js';

export { Tensor } from './tensor/tensor.js';
export type { NestedArray } from './tensor/tensor.js';
export type { DType, FloatDType, TypedArray } from './tensor/dtype.js';
export type { Shape } from './tensor/shape.js';
export { memory, tidy, keep, dispose, TensorScope } from './tensor/storage.js';
export type { MemoryInfo } from './tensor/storage.js';
export * from './ops/index.js';
export * as image from './ops/image.js';
export { onKernel } from './ops/dispatch.js';
export type { KernelEvent, KernelHook } from './ops/dispatch.js';
export { PRIMITIVE_NAMES } from './ops/primitives.js';
export { grad, valueAndGrad, vjp, customGrad, stopGradient, noGrad } from './autograd/grad.js';
export type { Params } from './autograd/grad.js';
export { valueAndGrads } from './autograd/grad.js';
export type { GradSource, GradOptions } from './autograd/grad.js';
export { checkGradients, assertGradients } from './autograd/check.js';
export { setBackend, getBackend, listBackends, registerBackend, backendSelection } from './backends/backend.js';
export {
  setNumThreads,
  getNumThreads,
  nativeAvailability,
  trimNativePool,
  nativeMemory,
} from './backends/native/index.js';
export type { NativeMemoryInfo } from './backends/native/index.js';
export type { Backend, Kernel, KernelArg } from './backends/backend.js';
export {
  CandorError,
  ShapeError,
  DTypeError,
  BackendError,
  ArgumentError,
  DisposedError,
  MemoryError,
} from './errors.js';

// Layers, models and training.
export { Layer, SymbolicTensor, registerLayer, layerFromConfig } from './nn/layer.js';
export type { LayerArgs, LayerConfig, CallContext, SymShape } from './nn/layer.js';
export { Variable } from './nn/variable.js';
export { input, InputLayer } from './nn/input.js';
export * from './nn/layers/index.js';
export * as initializers from './nn/initializers.js';
export * as regularizers from './nn/regularizers.js';
export { getActivation } from './nn/activations.js';
export { Model } from './train/model.js';
export type { JitStatus } from './train/compiled-steps.js';
export { Sequential } from './train/sequential.js';
export type { CompileArgs, FitArgs, EvaluateArgs, PredictArgs } from './train/trainer.js';
export type { StepData, StepLogs } from './train/trainer.js';
export { cloneModel } from './train/clone.js';
export {
  History,
  EarlyStopping,
  ModelCheckpoint,
  LearningRateScheduler,
  ReduceLROnPlateau,
  TerminateOnNaN,
  CSVLogger,
  NaNLossError,
} from './train/callbacks.js';
export type { Callback, Logs, FitParams } from './train/callbacks.js';
export type { EarlyStoppingArgs, ModelCheckpointArgs, ReduceLROnPlateauArgs } from './train/callbacks.js';
export { BackupAndRestore, type BackupAndRestoreArgs } from './train/backup-and-restore.js';
export { TensorBoard, type TensorBoardArgs } from './interop/tensorboard/callback.js';
export type { TensorData } from './train/epoch-iterator.js';
export { plotModel, modelToSvg, type PlotModelOptions } from './train/plot-model.js';
export { RunRecorder, modelFacts } from './train/run-record-callback.js';
export * as optimizers from './optim/index.js';
export * as schedules from './optim/schedules.js';
export * as losses from './nn/losses.js';
export * as metrics from './train/metrics.js';
export * as privacy from './privacy/index.js';
export * as compress from './compress/index.js';
export { explain } from './explain/index.js';
export * as explainability from './explain/index.js';
export * as interop from './interop/index.js';
export * as distributed from './distributed/index.js';
export { Optimizer, getOptimizer } from './optim/index.js';
export { getLoss } from './nn/losses.js';
export { getMetric } from './train/metrics.js';

// Data and files.
export * from './data/index.js';
export {
  FormatError,
  serializeSafetensors,
  parseSafetensors,
  saveSafetensors,
  loadSafetensors,
} from './io/safetensors.js';
export type { SafetensorsFile, ParseOptions, ByteTensor } from './io/safetensors.js';
export { writeFileAtomic, readFileBytes } from './io/atomic.js';
export { saveModel, loadModel } from './train/saving.js';
export type { SaveOptions, LoadOptions } from './train/saving.js';
export type { LoadWeightsOptions } from './train/weights-file.js';
export type { WeightLoadReport, WeightSkipReason } from './train/weights-by-name.js';
export { DecryptionError } from './io/encryption.js';

// Accountability: metering, energy and CO2e, run records, the ledger, model cards.
export * from './ledger/index.js';
export * from './cards/index.js';

// Text and language models.
export * from './text/index.js';
export { GPT, generate } from './models/gpt.js';
export type { GPTArgs, GenerateOptions } from './models/gpt.js';
export { sampleToken } from './models/sampling.js';
export type { SamplingOptions } from './models/sampling.js';
