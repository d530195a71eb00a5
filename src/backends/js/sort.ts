// argsort of the JS reference backend: a stable comparison sort of each [outer, axis, inner] line. Also the
// native backend's kernel (support.ts): a sort has no arithmetic to vectorise, and Array.prototype.sort is
// native code already.
import type { Kernel } from '../backend.js';
import type { PrimitiveParams } from '../../ops/primitives.js';
import { sizeOf } from '../../tensor/shape.js';
import { elements } from './elementwise.js';

/** a before b ascending, NaN last (the largest), as NumPy and PyTorch sort. */
function ascending(a: number, b: number): number {
  if (Number.isNaN(a)) return Number.isNaN(b) ? 0 : 1;
  if (Number.isNaN(b)) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

export const argsort: Kernel<PrimitiveParams['argsort']> = ([xa], oa, { axis, descending }) => {
  const x = elements(xa),
    o = oa.buffer as Int32Array;
  const outer = sizeOf(xa.shape.slice(0, axis)),
    dim = xa.shape[axis],
    inner = sizeOf(xa.shape.slice(axis + 1));
  const order = Array.from({ length: dim }, (_, i) => i);
  const line = new Float64Array(dim);
  // Array.prototype.sort is stable (ES2019), so equal values keep their order in both directions.
  const cmp = descending
    ? (i: number, j: number) => ascending(line[j], line[i])
    : (i: number, j: number) => ascending(line[i], line[j]);
  for (let p = 0; p < outer; p++) {
    for (let q = 0; q < inner; q++) {
      const base = p * dim * inner + q;
      for (let i = 0; i < dim; i++) {
        line[i] = x[base + i * inner];
        order[i] = i;
      }
      order.sort(cmp);
      for (let i = 0; i < dim; i++) o[base + i * inner] = order[i];
    }
  }
};
