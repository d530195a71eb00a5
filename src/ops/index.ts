// The op surface: everything users call on tensors, re-exported from one place (internals such as the
// fused backward ops stay in their family modules).
export * from './creation.js';
export * from './elementwise.js';
export * from './views.js';
export * from './reduce.js';
export * from './linalg.js';
export * from './indexing.js';
export * from './random.js';
export * from './math.js';
export * from './activations.js';
export * from './scan.js';
export * from './tile.js';
export * from './sort.js';
export * from './einsum.js';
export { softmax, logSoftmax } from './families/softmax.js';
export {
  conv1d,
  conv2d,
  conv2dTranspose,
  depthwiseConv2d,
  separableConv2d,
  resolvePadding,
  type Conv2DOptions,
  type ConvPadding,
  type DepthwiseConv2DOptions,
  type Conv2DTransposeOptions,
  type PaddingMode,
} from './families/conv.js';
export { avgPool2d, maxPool2d, type Pool2DOptions } from './families/pool.js';
export {
  activationGrad,
  biasActivation,
  sparseSoftmaxCrossEntropy,
  sparseSoftmaxCrossEntropyGrad,
  type FusedActivation,
} from './families/train-step.js';
export { dropout } from './families/dropout.js';
export { layerNorm } from './families/layer-norm.js';
