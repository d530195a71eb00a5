// Optimizers: composable gradient transformations, Keras optimizers with Keras defaults, learning-rate schedules.
export {
  chain,
  scale,
  scaleByLearningRate,
  scaleByAdam,
  scaleByRms,
  scaleByAdagrad,
  trace,
  addDecayedWeights,
  clip,
  clipByNorm,
  clipByGlobalNorm,
} from './transforms.js';
export type {
  GradientTransformation,
  OptState,
  ScaleByAdamOptions,
  ScaleByRmsOptions,
  ScaleByAdagradOptions,
  TraceOptions,
  DecayedWeightsOptions,
} from './transforms.js';
export { Optimizer, sgd, adam, adamw, rmsprop, adagrad, getOptimizer } from './optimizer.js';
export { nadam, adamax, adadelta, lion } from './more-optimizers.js';
export type { AdadeltaOptions, LionOptions } from './more-optimizers.js';
export {
  scaleByAmsgrad,
  scaleByNadam,
  scaleByAdamax,
  scaleByAdadelta,
  scaleByLion,
  dampedTrace,
} from './more-transforms.js';
export type {
  Assignable,
  OptimizerState,
  OptimizerConfig,
  OptimizerSpec,
  OptimizerOptions,
  BaseOptimizerOptions,
  SGDOptions,
  AdamFamilyOptions,
  RMSpropOptions,
  AdagradOptions,
} from './optimizer.js';
export { exponentialDecay, piecewiseConstant, cosineDecay, getSchedule } from './schedules.js';
export type {
  Schedule,
  LearningRate,
  LearningRateSchedule,
  ScheduleConfig,
  ExponentialDecayOptions,
  PiecewiseConstantOptions,
  CosineDecayOptions,
} from './schedules.js';
