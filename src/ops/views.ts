// Movement ops. reshape (of a contiguous tensor), permute, expand, slice, flip, squeeze and unsqueeze
// are views that share the input's buffer; none launches a kernel, but each is recorded for autograd.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import {
  assertShape,
  broadcastShapes,
  normalizeAxes,
  normalizeAxis,
  shapesEqual,
  sizeOf,
  type Shape,
} from '../tensor/shape.js';
import { record } from '../autograd/tape.js';
import { makeView, runPrimitive } from './dispatch.js';

/** Parameters of the view ops, for the gradient table. */
export interface ViewParams {
  reshape: { shape: Shape };
  permute: { axes: readonly number[] };
  expand: { shape: Shape };
  /** begin, size and positive step per axis. */
  slice: { begin: readonly number[]; size: readonly number[]; step: readonly number[] };
  flip: { axes: readonly number[] };
}

function view<K extends keyof ViewParams>(
  op: K,
  x: Tensor,
  params: ViewParams[K],
  shape: Shape,
  strides: Shape,
  offset: number,
): Tensor {
  const out = makeView(x, shape, strides, offset);
  record(op, [x], out, params);
  return out;
}

/** A contiguous copy of any view. */
export function copy(x: Tensor): Tensor {
  return runPrimitive('copy', [x], {});
}

/** x itself when already contiguous, else a contiguous copy. */
export function contiguous(x: Tensor): Tensor {
  return x.isContiguous ? x : copy(x);
}

/** New shape with the same number of elements; one dimension may be -1. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const unknown = shape.indexOf(-1);
  let resolved = [...shape];
  if (unknown >= 0) {
    const known = sizeOf(shape.filter((_, i) => i !== unknown));
    if (shape.lastIndexOf(-1) !== unknown || known === 0 || x.size % known !== 0) {
      throw new ShapeError(`reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) to ${fmtShape(shape)}`);
    }
    resolved[unknown] = x.size / known;
  }
  assertShape('reshape', resolved);
  if (sizeOf(resolved) !== x.size) {
    throw new ShapeError(
      `reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) ` +
        `to ${fmtShape(shape)} (${sizeOf(resolved)} elements)`,
    );
  }
  if (shapesEqual(resolved, x.shape)) return x;
  const src = contiguous(x);
  const strides: number[] = [];
  for (let i = resolved.length - 1, s = 1; i >= 0; i--) {
    strides[i] = s;
    s *= resolved[i];
  }
  return view('reshape', src, { shape: resolved }, resolved, strides, src.offset);
}

export function permute(x: Tensor, axes: readonly number[]): Tensor {
  const norm = axes.map((a) => normalizeAxis('permute', a, x.rank));
  if (norm.length !== x.rank || new Set(norm).size !== x.rank) {
    throw new ArgumentError(
      `permute: axes [${axes.join(', ')}] are not a permutation of ${x.rank} axes of ${fmtShape(x.shape)}`,
    );
  }
  if (norm.every((a, i) => a === i)) return x;
  return view(
    'permute',
    x,
    { axes: norm },
    norm.map((a) => x.shape[a]),
    norm.map((a) => x.strides[a]),
    x.offset,
  );
}

/** Reverses the axes by default; otherwise permute. */
export function transpose(x: Tensor, axes?: readonly number[]): Tensor {
  return permute(x, axes ?? Array.from({ length: x.rank }, (_, i) => x.rank - 1 - i));
}

/** Broadcasts to `shape` without copying (stride 0 on the broadcast axes). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  const target = broadcastShapes('expand', x.shape, shape);
  if (!shapesEqual(target, shape))
    throw new ShapeError(`expand: cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  if (shapesEqual(shape, x.shape)) return x;
  const lead = shape.length - x.rank;
  const strides = shape.map((d, i) => (i < lead || (x.shape[i - lead] === 1 && d !== 1) ? 0 : x.strides[i - lead]));
  return view('expand', x, { shape: [...shape] }, [...shape], strides, x.offset);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  return expand(x, shape);
}

/**
 * x[begin : begin + size : step] on each axis. size -1 runs to the end; a negative begin counts from
 * the end. Steps must be positive (use flip to reverse).
 */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[], step?: readonly number[]): Tensor {
  if (begin.length > x.rank) throw new ArgumentError(`slice: ${begin.length} begin values for ${fmtShape(x.shape)}`);
  const b: number[] = [],
    s: number[] = [],
    st: number[] = [];
  for (let i = 0; i < x.rank; i++) {
    const dim = x.shape[i];
    const stp = step?.[i] ?? 1;
    let start = begin[i] ?? 0;
    if (start < 0) start += dim;
    if (!Number.isInteger(stp) || stp < 1)
      throw new ArgumentError(`slice: step ${stp} on axis ${i} must be a positive integer`);
    if (!Number.isInteger(start) || start < 0 || start > dim)
      throw new ArgumentError(`slice: begin ${begin[i]} is out of range for axis ${i} of ${fmtShape(x.shape)}`);
    const available = Math.ceil((dim - start) / stp);
    const want = size?.[i] ?? -1;
    const n = want === -1 ? available : want;
    if (!Number.isInteger(n) || n < 0 || n > available) {
      throw new ArgumentError(
        `slice: size ${want} with begin ${start} and step ${stp} does not fit axis ${i} of ${fmtShape(x.shape)}`,
      );
    }
    b.push(start);
    s.push(n);
    st.push(stp);
  }
  if (b.every((v) => v === 0) && s.every((v, i) => v === x.shape[i]) && st.every((v) => v === 1)) return x;
  const offset = x.offset + b.reduce((acc, v, i) => acc + v * x.strides[i], 0);
  return view(
    'slice',
    x,
    { begin: b, size: s, step: st },
    s,
    x.strides.map((v, i) => v * st[i]),
    offset,
  );
}

/** x[start:end:step] on one axis (Python-style negative start/end). */
export function sliceAxis(x: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normalizeAxis('sliceAxis', axis, x.rank);
  const dim = x.shape[a];
  const lo = Math.min(Math.max(start < 0 ? start + dim : start, 0), dim);
  const hi = Math.min(Math.max(end === undefined ? dim : end < 0 ? end + dim : end, lo), dim);
  const begin = x.shape.map((_, i) => (i === a ? lo : 0));
  const size = x.shape.map((d, i) => (i === a ? Math.ceil((hi - lo) / step) : d));
  const steps = x.shape.map((_, i) => (i === a ? step : 1));
  return slice(x, begin, size, steps);
}

/** Reverses the order of elements along the given axes (a view with negative strides). */
export function flip(x: Tensor, axes?: number | readonly number[]): Tensor {
  const norm = normalizeAxes('flip', axes, x.rank);
  if (norm.length === 0) return x;
  let offset = x.offset;
  const strides = [...x.strides];
  for (const a of norm) {
    if (x.shape[a] > 0) offset += (x.shape[a] - 1) * x.strides[a];
    strides[a] = -strides[a];
  }
  return view('flip', x, { axes: norm }, x.shape, strides, offset);
}

/** Removes size-1 axes (all of them by default). */
export function squeeze(x: Tensor, axes?: number | readonly number[]): Tensor {
  const list =
    axes === undefined ? x.shape.flatMap((d, i) => (d === 1 ? [i] : [])) : normalizeAxes('squeeze', axes, x.rank);
  for (const a of list) {
    if (x.shape[a] !== 1)
      throw new ShapeError(`squeeze: axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, expected 1`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !list.includes(i)),
  );
}

/** Inserts a size-1 axis at `axis` (which may be -1 for last). */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

export const expandDims = unsqueeze;
