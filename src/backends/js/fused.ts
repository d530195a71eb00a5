// Fused kernels of the JS reference backend: softmax and log-softmax along one axis in one pass each.
// They must match the composite defaults in ops/families/softmax.ts (tested in test/ops/fused.test.ts).
import type { Kernel } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { FusedParams } from '../../ops/families/index.js';
import { sizeOf } from '../../tensor/shape.js';

function softmaxLike(log: boolean): Kernel<FusedParams['softmax']> {
  return ([xa], oa, { axis }) => {
    // The input is contiguous but may be a view into a larger buffer, starting at its offset.
    const x = (xa.buffer as TypedArray).subarray(xa.offset, xa.offset + sizeOf(xa.shape)),
      o = oa.buffer as TypedArray;
    const dim = xa.shape[axis],
      inner = sizeOf(xa.shape.slice(axis + 1)),
      outer = sizeOf(xa.shape.slice(0, axis));
    for (let p = 0; p < outer; p++) {
      for (let q = 0; q < inner; q++) {
        const base = p * dim * inner + q;
        let max = -Infinity;
        for (let i = 0, j = base; i < dim; i++, j += inner) if (x[j] > max) max = x[j];
        let sum = 0;
        for (let i = 0, j = base; i < dim; i++, j += inner) sum += Math.exp(x[j] - max);
        if (log) {
          const shift = max + Math.log(sum);
          for (let i = 0, j = base; i < dim; i++, j += inner) o[j] = x[j] - shift;
        } else {
          for (let i = 0, j = base; i < dim; i++, j += inner) o[j] = Math.exp(x[j] - max) / sum;
        }
      }
    }
  };
}

export const softmax = softmaxLike(false);
export const logSoftmax = softmaxLike(true);
