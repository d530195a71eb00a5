// Reductions over any axes with keepDims: sum, prod, max, min (primitives) and mean, variance, std,
// logsumexp (composites); argmax/argmin along one axis.
import { Tensor } from '../tensor/tensor.js';
import { normalizeAxes, normalizeAxis, sizeOf } from '../tensor/shape.js';
import { noGrad } from '../autograd/tape.js';
import { ArgumentError } from '../errors.js';
import { runPrimitive } from './dispatch.js';
import { reshape } from './views.js';
import { add, cast, div, equal, exp, log, mul, sqrt, sub, where } from './elementwise.js';
import type { ReduceOp } from './primitives.js';

export type Axes = number | readonly number[];

/** The shape of a reduction with keepDims = true. */
export function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduce(op: ReduceOp, x: Tensor, axes: Axes | undefined, keepDims: boolean): Tensor {
  const norm = normalizeAxes(op, axes, x.rank);
  if (x.dtype === 'bool') x = cast(x, 'int32');
  const out = norm.length === 0 ? x : runPrimitive(op, [x], { axes: norm });
  return keepDims ? reshape(out, keptShape(x.shape, norm)) : out;
}

export const sum = (x: Tensor, axes?: Axes, keepDims = false) => reduce('sum', x, axes, keepDims);
export const prod = (x: Tensor, axes?: Axes, keepDims = false) => reduce('prod', x, axes, keepDims);
export const max = (x: Tensor, axes?: Axes, keepDims = false) => reduce('max', x, axes, keepDims);
export const min = (x: Tensor, axes?: Axes, keepDims = false) => reduce('min', x, axes, keepDims);

function countOf(x: Tensor, axes: Axes | undefined): number {
  return sizeOf(normalizeAxes('mean', axes, x.rank).map((a) => x.shape[a]));
}

export function mean(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  if (x.dtype !== 'float64') x = cast(x, 'float32');
  return div(sum(x, axes, keepDims), countOf(x, axes));
}

export interface VarianceOptions {
  /**
   * Subtracted from the count in the divisor: sum((x - mean)^2) / (n - correction) (PyTorch's correction,
   * NumPy's ddof). 0 by default (population variance, as Keras and NumPy); 1 is the unbiased estimate.
   */
  correction?: number;
  /** PyTorch's older spelling: true is correction 1, false correction 0. */
  unbiased?: boolean;
}

function correctionOf(op: string, { correction, unbiased }: VarianceOptions): number {
  if (correction !== undefined && unbiased !== undefined)
    throw new ArgumentError(`${op}: give correction or unbiased, not both`);
  const c = correction ?? (unbiased ? 1 : 0);
  if (!(Number.isFinite(c) && c >= 0)) throw new ArgumentError(`${op}: correction must be a number >= 0, got ${c}`);
  return c;
}

/**
 * Variance over axes: population variance (ddof = 0) by default, as Keras and NumPy; with correction c
 * the divisor is max(n - c, 0) (PyTorch: a single element's unbiased variance is NaN).
 */
export function variance(x: Tensor, axes?: Axes, keepDims = false, options: VarianceOptions = {}): Tensor {
  const c = correctionOf('variance', options);
  if (x.dtype !== 'float64') x = cast(x, 'float32');
  const centered = sub(x, mean(x, axes, true));
  if (c === 0) return mean(mul(centered, centered), axes, keepDims);
  return div(sum(mul(centered, centered), axes, keepDims), Math.max(countOf(x, axes) - c, 0));
}

/** sqrt(variance(x, axes, keepDims, options)). */
export function std(x: Tensor, axes?: Axes, keepDims = false, options: VarianceOptions = {}): Tensor {
  return sqrt(variance(x, axes, keepDims, options));
}

/** log(sum(exp(x))) computed stably by shifting with the (gradient-free) maximum. */
export function logsumexp(x: Tensor, axes?: Axes, keepDims = false): Tensor {
  const norm = normalizeAxes('logsumexp', axes, x.rank);
  // Shift by the (gradient-free) maximum; where it is infinite (an all -inf slice) shift by 0 instead.
  const shift = noGrad(() => {
    const m = max(x, norm, true);
    return where(equal(sub(m, m), 0), m, 0);
  });
  const out = add(log(sum(exp(sub(x, shift)), norm, true)), shift);
  return keepDims
    ? out
    : reshape(
        out,
        x.shape.filter((_, i) => !norm.includes(i)),
      );
}

export function argmax(x: Tensor, axis = -1): Tensor {
  return runPrimitive('argmax', [x], { axis: normalizeAxis('argmax', axis, x.rank) });
}

export function argmin(x: Tensor, axis = -1): Tensor {
  return runPrimitive('argmin', [x], { axis: normalizeAxis('argmin', axis, x.rank) });
}
