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
