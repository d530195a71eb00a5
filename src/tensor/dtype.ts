// Dtypes, their typed-array storage, and the promotion order bool < int8 < int32 < float32 < float64. int8 is a
// storage dtype (quantised weights): it casts, copies, gathers and saves, but arithmetic refuses it.
import { DTypeError } from '../errors.js';

export type DType = 'float32' | 'float64' | 'int32' | 'int8' | 'bool';
export type FloatDType = 'float32' | 'float64';
export type TypedArray = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array;

export const DTYPES: readonly DType[] = ['bool', 'int8', 'int32', 'float32', 'float64'];

export function arrayConstructor(dtype: DType) {
  switch (dtype) {
    case 'float32':
      return Float32Array;
    case 'float64':
      return Float64Array;
    case 'int32':
      return Int32Array;
    case 'int8':
      return Int8Array;
    case 'bool':
      return Uint8Array;
  }
}

export function bytesPerElement(dtype: DType): number {
  return arrayConstructor(dtype).BYTES_PER_ELEMENT;
}

/**
 * The arrays one after another, in a new array of their total length that `make` gives (a Float64Array, bytes, ...;
 * elements convert as typed-array assignment does).
 */
export function concatArrays<T extends TypedArray>(
  parts: readonly ArrayLike<number>[],
  make: (length: number) => T,
): T {
  const out = make(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function allocArray(dtype: DType, size: number): TypedArray {
  return new (arrayConstructor(dtype))(size);
}

export function isFloat(dtype: DType): dtype is FloatDType {
  return dtype === 'float32' || dtype === 'float64';
}

export function assertDType(dtype: string, op: string): asserts dtype is DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new DTypeError(`${op}: unknown dtype '${dtype}'; expected one of ${DTYPES.join(', ')}`);
  }
}

/** The smallest dtype both operands convert to without losing kind (NumPy-style, no int64). */
export function promoteTypes(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

export function dtypeOfArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Int8Array) return 'int8';
  if (data instanceof Uint8Array) return 'bool';
  throw new DTypeError(`tensor: unsupported typed array ${(data as object).constructor.name}`);
}
