// Elementwise kernels of the JS reference backend: one plain loop per op over contiguous typed arrays.
import type { Kernel, KernelArg } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { BinaryOp, CompareOp, PrimitiveParams, UnaryOp } from '../../ops/primitives.js';
import { sizeOf } from '../../tensor/shape.js';
import { erf } from './math.js';
import { roundHalfEven } from '../../tensor/round.js';

type Arr = TypedArray;
const buf = (a: KernelArg) => a.buffer as Arr;

/**
 * The elements of a contiguous input: a view of its buffer from `offset` on. An input may be a
 * contiguous view into a larger buffer (a slice or split part), so offset is not always 0.
 */
export function elements(a: KernelArg): Arr {
  const b = buf(a),
    n = sizeOf(a.shape);
  return a.offset === 0 && b.length === n ? b : b.subarray(a.offset, a.offset + n);
}

export function unaryKernel(op: UnaryOp): Kernel<Record<string, never>> {
  return ([xa], oa) => {
    const x = elements(xa),
      o = buf(oa),
      n = o.length;
    switch (op) {
      case 'neg':
        for (let i = 0; i < n; i++) o[i] = -x[i];
        break;
      case 'abs':
        for (let i = 0; i < n; i++) o[i] = Math.abs(x[i]);
        break;
      case 'sign':
        for (let i = 0; i < n; i++) o[i] = Math.sign(x[i]);
        break;
      case 'exp':
        for (let i = 0; i < n; i++) o[i] = Math.exp(x[i]);
        break;
      case 'expm1':
        for (let i = 0; i < n; i++) o[i] = Math.expm1(x[i]);
        break;
      case 'log':
        for (let i = 0; i < n; i++) o[i] = Math.log(x[i]);
        break;
      case 'log1p':
        for (let i = 0; i < n; i++) o[i] = Math.log1p(x[i]);
        break;
      case 'sqrt':
        for (let i = 0; i < n; i++) o[i] = Math.sqrt(x[i]);
        break;
      case 'rsqrt':
        for (let i = 0; i < n; i++) o[i] = 1 / Math.sqrt(x[i]);
        break;
      case 'reciprocal':
        for (let i = 0; i < n; i++) o[i] = 1 / x[i];
        break;
      case 'sin':
        for (let i = 0; i < n; i++) o[i] = Math.sin(x[i]);
        break;
      case 'cos':
        for (let i = 0; i < n; i++) o[i] = Math.cos(x[i]);
        break;
      case 'tanh':
        for (let i = 0; i < n; i++) o[i] = Math.tanh(x[i]);
        break;
      case 'sigmoid':
        // Two branches keep exp from overflowing for large |x|.
        for (let i = 0; i < n; i++) {
          const v = x[i];
          if (v >= 0) o[i] = 1 / (1 + Math.exp(-v));
          else {
            const e = Math.exp(v);
            o[i] = e / (1 + e);
          }
        }
        break;
      // x < 0 ? 0 : x keeps NaN (as TF does), so TerminateOnNaN sees NaN inputs through relu networks.
      case 'relu':
        for (let i = 0; i < n; i++) o[i] = x[i] < 0 ? 0 : x[i];
        break;
      case 'erf':
        for (let i = 0; i < n; i++) o[i] = erf(x[i]);
        break;
      case 'atan':
        for (let i = 0; i < n; i++) o[i] = Math.atan(x[i]);
        break;
      case 'floor':
        for (let i = 0; i < n; i++) o[i] = Math.floor(x[i]);
        break;
      case 'ceil':
        for (let i = 0; i < n; i++) o[i] = Math.ceil(x[i]);
        break;
      // Round half to even, as NumPy and TF do.
      case 'round':
        for (let i = 0; i < n; i++) o[i] = roundHalfEven(x[i]);
        break;
      case 'logicalNot':
        for (let i = 0; i < n; i++) o[i] = x[i] ? 0 : 1;
        break;
    }
  };
}

export function binaryKernel(op: BinaryOp | CompareOp): Kernel<Record<string, never>> {
  return ([aa, ba], oa) => {
    const a = elements(aa),
      b = elements(ba),
      o = buf(oa),
      n = o.length;
    // A one-element operand is repeated (stride 0) rather than materialised (Backend.broadcastsScalars).
    const sa = a.length === 1 ? 0 : 1,
      sb = b.length === 1 ? 0 : 1;
    switch (op) {
      case 'add':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] + b[ib];
        break;
      case 'sub':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] - b[ib];
        break;
      case 'mul':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] * b[ib];
        break;
      case 'div':
        if (oa.dtype === 'int32')
          for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = Math.floor(a[ia] / b[ib]);
        else for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] / b[ib];
        break;
      case 'pow':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = Math.pow(a[ia], b[ib]);
        break;
      // NaN propagates through maximum/minimum, as in NumPy.
      case 'maximum':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb)
          o[i] = a[ia] >= b[ib] ? a[ia] : b[ib] > a[ia] ? b[ib] : NaN;
        break;
      case 'minimum':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb)
          o[i] = a[ia] <= b[ib] ? a[ia] : b[ib] < a[ia] ? b[ib] : NaN;
        break;
      case 'equal':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] === b[ib] ? 1 : 0;
        break;
      case 'notEqual':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] !== b[ib] ? 1 : 0;
        break;
      case 'less':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] < b[ib] ? 1 : 0;
        break;
      case 'lessEqual':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] <= b[ib] ? 1 : 0;
        break;
      case 'greater':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] > b[ib] ? 1 : 0;
        break;
      case 'greaterEqual':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] >= b[ib] ? 1 : 0;
        break;
      case 'logicalAnd':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] && b[ib] ? 1 : 0;
        break;
      case 'logicalOr':
        for (let i = 0, ia = 0, ib = 0; i < n; i++, ia += sa, ib += sb) o[i] = a[ia] || b[ib] ? 1 : 0;
        break;
    }
  };
}

export const where: Kernel<Record<string, never>> = ([ca, aa, ba], oa) => {
  const c = elements(ca),
    a = elements(aa),
    b = elements(ba),
    o = buf(oa);
  const sc = c.length === 1 ? 0 : 1,
    sa = a.length === 1 ? 0 : 1,
    sb = b.length === 1 ? 0 : 1;
  for (let i = 0, ic = 0, ia = 0, ib = 0; i < o.length; i++, ic += sc, ia += sa, ib += sb) o[i] = c[ic] ? a[ia] : b[ib];
};

export const cast: Kernel<PrimitiveParams['cast']> = ([xa], oa, { dtype }) => {
  const x = elements(xa),
    o = buf(oa);
  // Typed-array stores truncate toward zero for int32 and round to nearest for float32.
  if (dtype === 'bool') for (let i = 0; i < o.length; i++) o[i] = x[i] !== 0 ? 1 : 0;
  else if (dtype === 'int32') for (let i = 0; i < o.length; i++) o[i] = Number.isFinite(x[i]) ? x[i] : 0;
  // int8 saturates (kernels/scalar_math.h to_int8): a quantised value out of range clips rather than wraps.
  else if (dtype === 'int8')
    for (let i = 0; i < o.length; i++) o[i] = Number.isNaN(x[i]) ? 0 : Math.max(-128, Math.min(127, Math.trunc(x[i])));
  else o.set(x);
};

/** Gathers a strided view (any strides, including 0 and negative) into a contiguous buffer. */
export const copy: Kernel<Record<string, never>> = ([xa], oa) => {
  const x = buf(xa),
    o = buf(oa);
  const shape = xa.shape,
    strides = xa.strides,
    rank = shape.length;
  const n = o.length;
  if (n === 0) return;
  if (rank === 0) {
    o[0] = x[xa.offset];
    return;
  }
  const inner = shape[rank - 1],
    innerStride = strides[rank - 1];
  const index = new Array<number>(rank).fill(0);
  let base = xa.offset;
  for (let start = 0; start < n; start += inner) {
    for (let j = 0, p = base; j < inner; j++, p += innerStride) o[start + j] = x[p];
    // Odometer over the outer dimensions.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      base += strides[d];
      if (index[d] < shape[d]) break;
      base -= strides[d] * shape[d];
      index[d] = 0;
    }
  }
};
