// Cumulative sums and products along an axis (TF's cumsum / cumprod with exclusive and reverse), as a
// Hillis-Steele scan of ceil(log2 n) shifted adds (or multiplies): pad, slice and add only, so the gradient
// (including cumprod's through zeros) comes from the table's rules.
import type { Tensor } from '../tensor/tensor.js';
import { normalizeAxis } from '../tensor/shape.js';
import { add, cast, mul } from './elementwise.js';
import { pad } from './indexing.js';
import { flip, sliceAxis } from './views.js';

export interface ScanOptions {
  /** out[i] leaves out x[i]: the first result is the identity (0 for sums, 1 for products). */
  exclusive?: boolean;
  /** Accumulate from the end of the axis towards its start. */
  reverse?: boolean;
}

/** x moved `k` places towards the end of `axis`, the first k places filled with `identity`. */
function shift(x: Tensor, axis: number, k: number, identity: number): Tensor {
  const n = x.shape[axis];
  const kept = sliceAxis(x, axis, 0, Math.max(n - k, 0));
  return pad(
    kept,
    x.shape.map((_, i) => (i === axis ? [Math.min(k, n), 0] : [0, 0])),
    identity,
  );
}

function scan(op: string, x: Tensor, axis: number, options: ScanOptions, combine: typeof add, identity: number) {
  const a = normalizeAxis(op, axis, x.rank);
  const { exclusive = false, reverse = false } = options;
  let y = x.dtype === 'bool' ? cast(x, 'int32') : x;
  if (reverse) y = flip(y, a);
  for (let k = 1; k < y.shape[a]; k *= 2) y = combine(y, shift(y, a, k, identity));
  if (exclusive) y = shift(y, a, 1, identity);
  return reverse ? flip(y, a) : y;
}

/** Running sums along axis (default 0, as TF): out[i] = x[0] + ... + x[i]. */
export function cumsum(x: Tensor, axis = 0, options: ScanOptions = {}): Tensor {
  return scan('cumsum', x, axis, options, add, 0);
}

/** Running products along axis (default 0, as TF): out[i] = x[0] * ... * x[i]. */
export function cumprod(x: Tensor, axis = 0, options: ScanOptions = {}): Tensor {
  return scan('cumprod', x, axis, options, mul, 1);
}
