// Reductions of the JS reference backend. Reduced axes are moved last, so each output element reduces
// one contiguous run; sums accumulate in double precision.
import type { Kernel, KernelArg } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { allocArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import type { ArgReduceOp, PrimitiveParams, ReduceOp } from '../../ops/primitives.js';
import { copy, elements } from './elementwise.js';

/** The input's elements reordered so that `axes` come last; returns the array and the run length. */
function axesLast(xa: KernelArg, axes: readonly number[]): { data: TypedArray; run: number } {
  const rank = xa.shape.length;
  const kept = Array.from({ length: rank }, (_, i) => i).filter((i) => !axes.includes(i));
  const run = sizeOf(axes.map((a) => xa.shape[a]));
  const alreadyLast = axes.every((a, i) => a === rank - axes.length + i);
  const src = elements(xa);
  if (alreadyLast) return { data: src, run };
  const order = [...kept, ...axes];
  const strides = contiguousStrides(xa.shape);
  const data = allocArray(xa.dtype, sizeOf(xa.shape));
  copy(
    [{ ...xa, buffer: src, shape: order.map((a) => xa.shape[a]), strides: order.map((a) => strides[a]), offset: 0 }],
    { ...xa, buffer: data },
    {},
  );
  return { data, run };
}

export function reduceKernel(op: ReduceOp): Kernel<PrimitiveParams[ReduceOp]> {
  return ([xa], oa, { axes }) => {
    const { data: x, run } = axesLast(xa, axes);
    const o = oa.buffer as TypedArray;
    for (let r = 0, base = 0; r < o.length; r++, base += run) {
      let acc: number;
      switch (op) {
        case 'sum':
          acc = 0;
          for (let i = 0; i < run; i++) acc += x[base + i];
          break;
        case 'prod':
          acc = 1;
          for (let i = 0; i < run; i++) acc *= x[base + i];
          break;
        case 'max':
          acc = -Infinity;
          for (let i = 0; i < run; i++) {
            const v = x[base + i];
            if (v > acc || Number.isNaN(v)) {
              acc = v;
              if (Number.isNaN(v)) break;
            }
          }
          break;
        case 'min':
          acc = Infinity;
          for (let i = 0; i < run; i++) {
            const v = x[base + i];
            if (v < acc || Number.isNaN(v)) {
              acc = v;
              if (Number.isNaN(v)) break;
            }
          }
          break;
      }
      o[r] = acc;
    }
  };
}

/** Index of the first maximum (or minimum) along one axis; NaN counts as the extreme, as in NumPy. */
export function argReduceKernel(op: ArgReduceOp): Kernel<PrimitiveParams[ArgReduceOp]> {
  return ([xa], oa, { axis }) => {
    const { data: x, run } = axesLast(xa, [axis]);
    const o = oa.buffer as Int32Array;
    const better = op === 'argmax' ? (v: number, b: number) => v > b : (v: number, b: number) => v < b;
    for (let r = 0, base = 0; r < o.length; r++, base += run) {
      let best = x[base],
        bestIndex = 0;
      for (let i = 1; i < run && !Number.isNaN(best); i++) {
        const v = x[base + i];
        if (better(v, best) || Number.isNaN(v)) {
          best = v;
          bestIndex = i;
        }
      }
      o[r] = bestIndex;
    }
  };
}
