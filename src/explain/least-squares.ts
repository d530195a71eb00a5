// Weighted least squares in float64 for KernelSHAP: the normal equations X' W X b = X' W y, solved by Gaussian
// elimination with partial pivoting.
import { ArgumentError } from '../errors.js';

/**
 * b minimising sum_r w_r (y_r - x_r . b)^2, X [rows, d] row-major (no intercept). A direction the rows do not
 * determine (a pivot below 1e-12 of the largest diagonal) gets 0, a least-squares solution of the singular
 * system; `rank` says how many were determined.
 */
export function weightedLeastSquares(
  x: Float64Array,
  d: number,
  y: Float64Array,
  w: Float64Array,
): { coefficients: Float64Array; rank: number } {
  const rows = y.length;
  if (x.length !== rows * d || w.length !== rows)
    throw new ArgumentError(`weightedLeastSquares: ${x.length} design values, ${w.length} weights for ${rows} x ${d}`);
  // a = [X' W X | X' W y], d x (d + 1).
  const cols = d + 1;
  const a = new Float64Array(d * cols);
  for (let r = 0; r < rows; r++) {
    const at = r * d;
    for (let i = 0; i < d; i++) {
      const v = w[r] * x[at + i];
      if (v === 0) continue;
      for (let k = i; k < d; k++) a[i * cols + k] += v * x[at + k];
      a[i * cols + d] += v * y[r];
    }
  }
  for (let i = 0; i < d; i++) for (let k = 0; k < i; k++) a[i * cols + k] = a[k * cols + i];
  let scale = 0;
  for (let i = 0; i < d; i++) scale = Math.max(scale, Math.abs(a[i * cols + i]));
  const tol = 1e-12 * scale;
  // Elimination over the columns; pivotRow[c] is the row that holds column c's pivot, or -1.
  const pivotRow = new Int32Array(d).fill(-1);
  const used = new Uint8Array(d);
  let rank = 0;
  for (let c = 0; c < d; c++) {
    let best = -1;
    for (let r = 0; r < d; r++)
      if (
        !used[r] &&
        Math.abs(a[r * cols + c]) > tol &&
        (best < 0 || Math.abs(a[r * cols + c]) > Math.abs(a[best * cols + c]))
      )
        best = r;
    if (best < 0) continue;
    used[best] = 1;
    pivotRow[c] = best;
    rank++;
    const p = a[best * cols + c];
    for (let r = 0; r < d; r++) {
      if (r === best) continue;
      const f = a[r * cols + c] / p;
      if (f === 0) continue;
      for (let k = c; k < cols; k++) a[r * cols + k] -= f * a[best * cols + k];
    }
  }
  const coefficients = new Float64Array(d);
  for (let c = 0; c < d; c++)
    if (pivotRow[c] >= 0) coefficients[c] = a[pivotRow[c] * cols + d] / a[pivotRow[c] * cols + c];
  return { coefficients, rank };
}
