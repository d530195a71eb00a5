// Shared by the sequence families: packing several results into one flat vector and back, and the
// activations' derivatives from their outputs.
import type { Tensor } from '../../tensor/tensor.js';
import { sizeOf } from '../../tensor/shape.js';
import { mul, sub } from '../elementwise.js';
import { concat } from '../indexing.js';
import { reshape, slice } from '../views.js';

/** Several tensors as one flat vector, in order. */
export function flatConcat(parts: readonly Tensor[]): Tensor {
  return concat(
    parts.map((p) => reshape(p, [p.size])),
    0,
  );
}

/** Parts of a flat vector, each reshaped to its shape (contiguous views). */
export function unpack(flat: Tensor, shapes: readonly (readonly number[])[]): Tensor[] {
  let at = 0;
  return shapes.map((s) => {
    const n = sizeOf(s);
    const part = reshape(slice(flat, [at], [n]), s);
    at += n;
    return part;
  });
}

/** The sigmoid derivative from its output: y (1 - y). */
export const dSigmoid = (y: Tensor) => mul(y, sub(1, y));
/** The tanh derivative from its output: 1 - y^2. */
export const dTanh = (y: Tensor) => sub(1, mul(y, y));
