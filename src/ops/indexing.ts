// Joining, splitting, padding and indexing: concat, stack, split, pad, gather/take, scatterAdd, oneHot.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { normalizeAxis } from '../tensor/shape.js';
import { promoteTypes } from '../tensor/dtype.js';
import { runPrimitive } from './dispatch.js';
import { cast, equal } from './elementwise.js';
import { arange, tensor } from './creation.js';
import { slice, unsqueeze, expand } from './views.js';
import type { PadConfig } from './primitives.js';

export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('concat: expected at least one tensor');
  const a = normalizeAxis('concat', axis, tensors[0].rank);
  if (tensors.length === 1) return tensors[0];
  const dtype = tensors.map((t) => t.dtype).reduce(promoteTypes);
  return runPrimitive(
    'concat',
    tensors.map((t) => cast(t, dtype)),
    { axis: a },
  );
}

export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('stack: expected at least one tensor');
  const first = tensors[0].shape;
  for (const t of tensors) {
    if (t.rank !== first.length || t.shape.some((d, i) => d !== first[i])) {
      throw new ShapeError(`stack: all shapes must be equal, got ${tensors.map((x) => fmtShape(x.shape)).join(', ')}`);
    }
  }
  const a = normalizeAxis('stack', axis, first.length + 1);
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}

/** Splits into `sections` equal parts, or parts of the given sizes, along axis (views). */
export function split(x: Tensor, sections: number | readonly number[], axis = 0): Tensor[] {
  const a = normalizeAxis('split', axis, x.rank);
  const dim = x.shape[a];
  let sizes: number[];
  if (typeof sections === 'number') {
    if (!Number.isInteger(sections) || sections < 1 || dim % sections !== 0) {
      throw new ArgumentError(
        `split: axis ${a} of ${fmtShape(x.shape)} (size ${dim}) does not divide into ${sections} equal parts`,
      );
    }
    sizes = new Array<number>(sections).fill(dim / sections);
  } else {
    sizes = [...sections];
    if (sizes.reduce((s, v) => s + v, 0) !== dim)
      throw new ArgumentError(
        `split: sizes [${sizes.join(', ')}] do not sum to ${dim}, the size of axis ${a} of ${fmtShape(x.shape)}`,
      );
  }
  let start = 0;
  return sizes.map((n) => {
    const begin = x.shape.map((_, i) => (i === a ? start : 0));
    const size = x.shape.map((d, i) => (i === a ? n : d));
    start += n;
    return slice(x, begin, size);
  });
}

/**
 * Pads with a constant. `paddings` has one [before, after] pair per axis (NumPy / TF order); an
 * optional third entry inserts that many values between elements (interior padding).
 */
export function pad(x: Tensor, paddings: readonly (readonly number[])[], value = 0): Tensor {
  if (paddings.length !== x.rank)
    throw new ArgumentError(
      `pad: expected ${x.rank} [before, after] pairs for ${fmtShape(x.shape)}, got ${paddings.length}`,
    );
  const config = paddings.map((p, i): PadConfig => {
    const [lo, hi, interior = 0] = p;
    if (![lo, hi, interior].every((v) => Number.isInteger(v) && v >= 0)) {
      throw new ArgumentError(`pad: padding [${p.join(', ')}] on axis ${i} must be non-negative integers`);
    }
    return [lo, hi, interior];
  });
  if (config.every(([lo, hi, inner]) => lo === 0 && hi === 0 && inner === 0)) return x;
  return runPrimitive('pad', [x], { config, value });
}

function asIndices(op: string, indices: Tensor | readonly number[]): Tensor {
  const t = indices instanceof Tensor ? indices : tensor(Int32Array.from(indices));
  if (t.dtype !== 'int32') throw new ArgumentError(`${op}: indices must be int32, got ${t.dtype} ${fmtShape(t.shape)}`);
  return t;
}

/** x's slices at `indices` along axis; output shape x[:axis] + indices.shape + x[axis+1:]. */
export function gather(x: Tensor, indices: Tensor | readonly number[], axis = 0): Tensor {
  return runPrimitive('gather', [x, asIndices('gather', indices)], { axis: normalizeAxis('gather', axis, x.rank) });
}

export const take = gather;

/** A copy of x with `updates` added at `indices` along axis (repeated indices accumulate). */
export function scatterAdd(x: Tensor, indices: Tensor | readonly number[], updates: Tensor, axis = 0): Tensor {
  return runPrimitive('scatterAdd', [x, asIndices('scatterAdd', indices), cast(updates, x.dtype)], {
    axis: normalizeAxis('scatterAdd', axis, x.rank),
  });
}

/** One-hot vectors of length `depth` on a new last axis; out-of-range indices give all zeros (as TF). */
export function oneHot(indices: Tensor, depth: number, dtype: 'float32' | 'float64' | 'int32' = 'float32'): Tensor {
  if (indices.dtype !== 'int32')
    throw new ArgumentError(`oneHot: indices must be int32, got ${indices.dtype} ${fmtShape(indices.shape)}`);
  if (!Number.isInteger(depth) || depth < 1)
    throw new ArgumentError(`oneHot: depth must be a positive integer, got ${depth}`);
  const classes = arange(0, depth);
  const expanded = expand(unsqueeze(indices, -1), [...indices.shape, depth]);
  return cast(equal(expanded, classes), dtype);
}
