// Creating tensors: from nested arrays or typed arrays, constants, ranges and identity matrices.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, fromTypedArray, type NestedArray } from '../tensor/tensor.js';
import { allocArray, assertDType, dtypeOfArray, type DType, type TypedArray } from '../tensor/dtype.js';
import { assertShape, sizeOf, type Shape } from '../tensor/shape.js';
import { allocationError } from '../tensor/storage.js';

export type TensorLike = Tensor | NestedArray | TypedArray;

/** A zero-filled array for a `shape` tensor; a MemoryError naming `op` when it is too large to allocate. */
function allocFor(op: string, dtype: DType, shape: Shape): TypedArray {
  const size = sizeOf(shape);
  try {
    if (!Number.isSafeInteger(size)) throw new RangeError('more elements than a tensor can index');
    return allocArray(dtype, size);
  } catch (e) {
    throw allocationError(op, dtype, shape, e);
  }
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: Shape, out: number[], depth = 0): void {
  if (depth === shape.length) {
    if (Array.isArray(data))
      throw new ShapeError(
        `tensor: ragged nested array; expected a scalar at depth ${depth} of shape ${fmtShape(shape)}`,
      );
    out.push(typeof data === 'boolean' ? Number(data) : data);
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new ShapeError(
      `tensor: ragged nested array; expected length ${shape[depth]} at depth ${depth} of shape ${fmtShape(shape)}`,
    );
  }
  for (const v of data) flatten(v, shape, out, depth + 1);
}

/**
 * A tensor from nested arrays, a typed array or a scalar. The dtype defaults to the typed array's,
 * bool for booleans and float32 otherwise (as in Keras / TF.js).
 */
export function tensor(data: NestedArray | TypedArray, shape?: Shape, dtype?: DType): Tensor {
  if (dtype !== undefined) assertDType(dtype, 'tensor');
  if (ArrayBuffer.isView(data)) {
    const s = shape ?? [data.length];
    assertShape('tensor', s);
    if (sizeOf(s) !== data.length)
      throw new ShapeError(`tensor: ${data.length} values do not fill shape ${fmtShape(s)}`);
    const d = dtype ?? dtypeOfArray(data);
    // Always a copy: the caller keeps its array, and the tensor must not change when the caller writes to it.
    const arr = d === dtypeOfArray(data) ? data.slice() : allocArray(d, data.length);
    if (d !== dtypeOfArray(data)) arr.set(data);
    return fromTypedArray(arr, s);
  }
  const inferred = inferShape(data);
  const flat: number[] = [];
  flatten(data, inferred, flat);
  let first: NestedArray = data;
  while (Array.isArray(first)) first = first[0];
  const d = dtype ?? (typeof first === 'boolean' ? 'bool' : 'float32');
  const s = shape ?? inferred;
  if (sizeOf(s) !== flat.length) throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(s)}`);
  const arr = allocArray(d, flat.length);
  for (let i = 0; i < flat.length; i++) arr[i] = flat[i];
  return fromTypedArray(arr, s);
}

export function scalar(
  value: number | boolean,
  dtype: DType = typeof value === 'boolean' ? 'bool' : 'float32',
): Tensor {
  return tensor(value, [], dtype);
}

function filled(op: string, shape: Shape, value: number, dtype: DType): Tensor {
  assertShape(op, shape);
  assertDType(dtype, op);
  const arr = allocFor(op, dtype, shape);
  if (value !== 0) arr.fill(value);
  return fromTypedArray(arr, shape);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  return filled('full', shape, value, dtype);
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return filled('zeros', shape, 0, dtype);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return filled('ones', shape, 1, dtype);
}

export function zerosLike(x: Tensor): Tensor {
  return zeros(x.shape, x.dtype);
}

export function onesLike(x: Tensor): Tensor {
  return ones(x.shape, x.dtype);
}

/** [start, stop) in steps of step, like NumPy; int32 when all arguments are integers. */
export function arange(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step))
    throw new ArgumentError(`arange: step must be a finite non-zero number, got ${step}`);
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const d = dtype ?? ([start, stop, step].every(Number.isInteger) ? 'int32' : 'float32');
  const arr = allocFor('arange', d, [n]);
  for (let i = 0; i < n; i++) arr[i] = start + i * step;
  return fromTypedArray(arr, [n]);
}

/** num evenly spaced values from start to stop inclusive. */
export function linspace(start: number, stop: number, num: number, dtype: DType = 'float32'): Tensor {
  if (!Number.isInteger(num) || num < 0)
    throw new ArgumentError(`linspace: num must be a non-negative integer, got ${num}`);
  if (dtype !== 'float32' && dtype !== 'float64')
    throw new DTypeError(`linspace: dtype must be float32 or float64, got ${dtype}`);
  const arr = allocFor('linspace', dtype, [num]);
  const step = num > 1 ? (stop - start) / (num - 1) : 0;
  for (let i = 0; i < num; i++) arr[i] = start + i * step;
  if (num > 1) arr[num - 1] = stop;
  return fromTypedArray(arr, [num]);
}

/** An n x m matrix with ones on the k-th diagonal. */
export function eye(n: number, m = n, k = 0, dtype: DType = 'float32'): Tensor {
  assertShape('eye', [n, m]);
  const arr = allocFor('eye', dtype, [n, m]);
  for (let i = 0; i < n; i++) if (i + k >= 0 && i + k < m) arr[i * m + i + k] = 1;
  return fromTypedArray(arr, [n, m]);
}

/** A tensor for a value that may already be one; numbers take `like`'s dtype (weak typing, as in JAX). */
export function asTensor(v: Tensor | number | boolean, like?: DType): Tensor {
  if (v instanceof Tensor) return v;
  if (typeof v === 'boolean') return scalar(v, 'bool');
  const dtype =
    like === undefined || like === 'bool' ? 'float32' : like === 'int32' && !Number.isInteger(v) ? 'float32' : like;
  return scalar(v, dtype);
}
