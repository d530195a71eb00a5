// Candor's public API.
import './backends/js/index.js';

export { Tensor } from './tensor/tensor.js';
export type { NestedArray } from './tensor/tensor.js';
export type { DType, FloatDType, TypedArray } from './tensor/dtype.js';
export type { Shape } from './tensor/shape.js';
export { memory, tidy, keep, dispose, TensorScope } from './tensor/storage.js';
export type { MemoryInfo } from './tensor/storage.js';
export * from './ops/index.js';
export { onKernel } from './ops/dispatch.js';
export type { KernelEvent, KernelHook } from './ops/dispatch.js';
export { PRIMITIVE_NAMES } from './ops/primitives.js';
export { grad, valueAndGrad, vjp, customGrad, stopGradient, noGrad } from './autograd/grad.js';
export type { Params } from './autograd/grad.js';
export { checkGradients, assertGradients } from './autograd/check.js';
export { setBackend, getBackend, listBackends, registerBackend } from './backends/backend.js';
export type { Backend, Kernel, KernelArg } from './backends/backend.js';
export { CandorError, ShapeError, DTypeError, BackendError, ArgumentError, DisposedError } from './errors.js';
