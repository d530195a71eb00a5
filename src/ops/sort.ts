// Sorting: argsort (the primitive: a stable sort, NaN last), sort and topK as a gather of x at those
// indices (takeAlongAxis), so the gradient of the values flows back through gather to the picked elements.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { normalizeAxis, sizeOf } from '../tensor/shape.js';
import { runPrimitive } from './dispatch.js';
import { add, less, where } from './elementwise.js';
import { arange, zeros } from './creation.js';
import { gather } from './indexing.js';
import { permute, reshape, sliceAxis } from './views.js';

export interface SortOptions {
  /** Largest first; equal values still keep their order (the sort is stable). */
  descending?: boolean;
}

/** The indices that sort x along axis (default the last): a stable sort, NaN counted as the largest. */
export function argsort(x: Tensor, axis = -1, { descending = false }: SortOptions = {}): Tensor {
  const a = normalizeAxis('argsort', axis, x.rank);
  return runPrimitive('argsort', [x], { axis: a, descending });
}

/** axes with `axis` moved last, and the permutation that undoes it. */
function axisLast(rank: number, axis: number): { order: number[]; back: number[] } {
  const order = [...Array(rank).keys()].filter((i) => i !== axis).concat(axis);
  const back = order.map((_, i) => order.indexOf(i));
  return { order, back };
}

/**
 * out[..., i, ...] = x[..., indices[..., i, ...], ...] along axis (numpy.take_along_axis, torch.gather):
 * indices has x's rank and shape except along axis. Indices out of [-n, n) throw (they are read to the host).
 */
export function takeAlongAxis(x: Tensor, indices: Tensor, axis = -1): Tensor {
  const a = normalizeAxis('takeAlongAxis', axis, x.rank);
  if (indices.dtype !== 'int32')
    throw new DTypeError(`takeAlongAxis: indices must be int32, got ${indices.dtype} ${fmtShape(indices.shape)}`);
  if (indices.rank !== x.rank || indices.shape.some((d, i) => i !== a && d !== x.shape[i]))
    throw new ShapeError(
      `takeAlongAxis: indices ${fmtShape(indices.shape)} must match x ${fmtShape(x.shape)} on every axis but ${a}`,
    );
  const n = x.shape[a];
  const values = indices.dataSync();
  for (let i = 0; i < values.length; i++)
    if (!(values[i] >= -n && values[i] < n))
      throw new ArgumentError(
        `takeAlongAxis: index ${values[i]} is out of range for axis ${a} of size ${n} (x ${fmtShape(x.shape)})`,
      );
  return takeLines(x, indices, a);
}

/** takeAlongAxis for indices known to be in range: one gather from x flattened, at line * n + index. */
function takeLines(x: Tensor, indices: Tensor, axis: number): Tensor {
  const { order, back } = axisLast(x.rank, axis);
  const n = x.shape[axis],
    m = indices.shape[axis];
  const xs = permute(x, order),
    is = permute(indices, order);
  const lines = sizeOf(xs.shape.slice(0, -1));
  if (lines * m === 0) return permute(zeros(is.shape, x.dtype), back);
  const wrapped = where(less(is, 0), add(is, n), is);
  const flatIndex = add(reshape(wrapped, [lines, m]), reshape(arange(0, lines * n, n, 'int32'), [lines, 1]));
  const picked = gather(reshape(xs, [lines * n]), reshape(flatIndex, [lines * m]), 0);
  return permute(reshape(picked, is.shape), back);
}

/** x sorted along axis (default the last), ascending unless `descending`; NaN sorts last (first descending). */
export function sort(x: Tensor, axis = -1, options: SortOptions = {}): Tensor {
  const a = normalizeAxis('sort', axis, x.rank);
  return takeLines(x, argsort(x, a, options), a);
}

export interface TopKOptions {
  /** The k smallest instead (PyTorch's largest = false); they come smallest first. */
  largest?: boolean;
}

/**
 * The k largest values along the last axis and their indices, largest first; equal values keep their
 * order, lower index first (tf.topk). The values' gradient flows to the elements picked.
 */
export function topK(x: Tensor, k = 1, { largest = true }: TopKOptions = {}): { values: Tensor; indices: Tensor } {
  if (x.rank === 0) throw new ShapeError('topK: x must be at least 1-D, got a scalar');
  const n = x.shape[x.rank - 1];
  if (!Number.isInteger(k) || k < 0 || k > n)
    throw new ArgumentError(`topK: k must be an integer in [0, ${n}] for x ${fmtShape(x.shape)}, got ${k}`);
  const indices = sliceAxis(argsort(x, -1, { descending: largest }), -1, 0, k);
  return { values: takeLines(x, indices, x.rank - 1), indices };
}
