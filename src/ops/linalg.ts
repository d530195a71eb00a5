// matmul with NumPy semantics: 1-D operands are promoted, leading batch dimensions broadcast.
import { Tensor } from '../tensor/tensor.js';
import { ShapeError, fmtShape } from '../errors.js';
import { broadcastShapes, sizeOf } from '../tensor/shape.js';
import { runPrimitive } from './dispatch.js';
import { cast } from './elementwise.js';
import { composite } from '../tensor/storage.js';
import { promoteTypes } from '../tensor/dtype.js';
import { contiguous, expand, permute, reshape } from './views.js';

/** The matmul primitive on 3-D operands, with transposes folded into the kernel. */
export function batchMatmul(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  return runPrimitive('matmul', [a, b], { transA, transB });
}

/**
 * A 3-D operand for the kernel: if the last two axes of `x` are a transposed contiguous matrix, the
 * transpose is folded into the flag instead of copying.
 */
function operand(x: Tensor, batch: number): { t: Tensor; trans: boolean } {
  const [r, c] = x.shape.slice(-2);
  if (!x.isContiguous) {
    const n = x.rank;
    const swapped = permute(x, [...Array.from({ length: n - 2 }, (_, i) => i), n - 1, n - 2]);
    if (swapped.isContiguous) return { t: reshape(swapped, [batch, c, r]), trans: true };
  }
  return { t: reshape(contiguous(x), [batch, r, c]), trans: false };
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  return composite(() => matmulOf(a, b));
}

function matmulOf(a: Tensor, b: Tensor): Tensor {
  if (a.rank === 0 || b.rank === 0)
    throw new ShapeError(`matmul: operands must be at least 1-D, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  const dtype = promoteTypes(a.dtype, b.dtype);
  a = cast(a, dtype);
  b = cast(b, dtype);
  const x = a.rank === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const y = b.rank === 1 ? reshape(b, [b.shape[0], 1]) : b;
  const [m, k] = x.shape.slice(-2);
  const [k2, n] = y.shape.slice(-2);
  if (k !== k2)
    throw new ShapeError(
      `matmul: inner dimensions differ: ${fmtShape(a.shape)} x ${fmtShape(b.shape)} (${k} vs ${k2})`,
    );
  const batchShape = broadcastShapes('matmul', x.shape.slice(0, -2), y.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  const xa = operand(expand(x, [...batchShape, m, k]), batch);
  const ya = operand(expand(y, [...batchShape, k, n]), batch);
  let out = reshape(batchMatmul(xa.t, ya.t, xa.trans, ya.trans), [...batchShape, m, n]);
  if (a.rank === 1) out = reshape(out, [...batchShape, n]);
  if (b.rank === 1) out = reshape(out, out.shape.slice(0, -1));
  return out;
}

/** Outer product of two vectors. */
export function outer(a: Tensor, b: Tensor): Tensor {
  return matmul(reshape(a, [-1, 1]), reshape(b, [1, -1]));
}
