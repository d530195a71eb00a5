// The compression package (exported as `compress`): pruning, quantisation, distillation, transfer learning.
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
