// Weighted ridge regression with an intercept, in float64, as sklearn's Ridge(alpha, fit_intercept=True) with
// sample weights: the surrogate fit of LIME, with LIME's two ways to pick features.
import { ArgumentError } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';

export interface RidgeFit {
  /** One per feature of the subset fitted, in its order. */
  coefficients: Float64Array;
  intercept: number;
  /** Weighted R^2 of the fit (sklearn's score with sample_weight): 1 when y is constant and fitted exactly. */
  r2: number;
}

/**
 * Solves A b = c for a symmetric positive semi-definite A (n x n, row-major) by Cholesky. A pivot that
 * vanishes (a feature that is constant, or a copy of others, with no ridge) drops that variable: its
 * coefficient is 0, which is a least-squares solution of the singular system.
 */
export function choleskySolve(a: Float64Array, c: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  let scale = 0;
  for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(a[i * n + i]));
  const tol = 1e-12 * scale;
  const dropped = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j];
    for (let k = 0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
    if (!(d > tol)) {
      dropped[j] = 1;
      continue;
    }
    const ljj = Math.sqrt(d);
    l[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      l[i * n + j] = s / ljj;
    }
  }
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (dropped[i]) continue;
    let s = c[i];
    for (let k = 0; k < i; k++) s -= l[i * n + k] * y[k];
    y[i] = s / l[i * n + i];
  }
  const b = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    if (dropped[i]) continue;
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
  return b;
}

/**
 * The weighted, centred moments of a design X [rows, d] (row-major) and targets y: fits on any subset of the
 * columns then cost a d' x d' solve. sum_r w_r (y_r - c - x_r . b)^2 + ridge |b|^2 is minimised by
 * (Xc' W Xc + ridge I) b = Xc' W yc with Xc, yc centred on their weighted means, and c = my - mx . b.
 */
export class WeightedDesign {
  private readonly gram: Float64Array;
  private readonly cross: Float64Array;
  private readonly meanX: Float64Array;
  private readonly meanY: number;
  /** Weighted sum of squares of yc. */
  private readonly total: number;

  constructor(
    x: ArrayLike<number>,
    readonly d: number,
    y: ArrayLike<number>,
    w: ArrayLike<number>,
  ) {
    const rows = y.length;
    if (x.length !== rows * d || w.length !== rows)
      throw new ArgumentError(`WeightedDesign: ${x.length} design values, ${w.length} weights for ${rows} x ${d}`);
    let sw = 0,
      my = 0;
    const mx = new Float64Array(d);
    for (let r = 0; r < rows; r++) {
      sw += w[r];
      my += w[r] * y[r];
      for (let j = 0; j < d; j++) mx[j] += w[r] * x[r * d + j];
    }
    if (!(sw > 0)) throw new ArgumentError('WeightedDesign: the weights sum to zero');
    my /= sw;
    for (let j = 0; j < d; j++) mx[j] /= sw;
    // [A | b] with A = sqrt(W) Xc and b = sqrt(W) yc: A' [A | b] is the Gram and the cross term in one matmul
    // (float64 on the backend: the d^2 x rows products are most of a fit's cost).
    const ab = new Float64Array(rows * (d + 1));
    let total = 0;
    for (let r = 0; r < rows; r++) {
      const root = Math.sqrt(w[r]),
        yc = y[r] - my;
      total += w[r] * yc * yc;
      for (let j = 0; j < d; j++) ab[r * (d + 1) + j] = root * (x[r * d + j] - mx[j]);
      ab[r * (d + 1) + d] = root * yc;
    }
    const products = tidy(() => {
      const both = o.tensor(ab, [rows, d + 1], 'float64');
      const a = o.slice(both, [0, 0], [rows, d]);
      return Float64Array.from(o.matmul(o.transpose(a), both).dataSync());
    });
    const gram = new Float64Array(d * d),
      cross = new Float64Array(d);
    for (let j = 0; j < d; j++) {
      gram.set(products.subarray(j * (d + 1), j * (d + 1) + d), j * d);
      cross[j] = products[j * (d + 1) + d];
    }
    this.gram = gram;
    this.cross = cross;
    this.meanX = mx;
    this.meanY = my;
    this.total = total;
  }

  /** The ridge fit on the columns `subset` (default all). */
  fit(ridge: number, subset: readonly number[] = Array.from({ length: this.d }, (_, j) => j)): RidgeFit {
    const n = subset.length,
      d = this.d;
    const a = new Float64Array(n * n),
      c = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      c[i] = this.cross[subset[i]];
      for (let k = 0; k < n; k++) a[i * n + k] = this.gram[subset[i] * d + subset[k]];
      a[i * n + i] += ridge;
    }
    const b = choleskySolve(a, c, n);
    let intercept = this.meanY,
      explained = 0;
    for (let i = 0; i < n; i++) {
      intercept -= this.meanX[subset[i]] * b[i];
      // Residual sum of squares = total - 2 b.c + b' G b (G without the ridge).
      let gb = 0;
      for (let k = 0; k < n; k++) gb += this.gram[subset[i] * d + subset[k]] * b[k];
      explained += 2 * b[i] * c[i] - b[i] * gb;
    }
    const residual = Math.max(0, this.total - explained);
    const r2 = this.total > 0 ? 1 - residual / this.total : residual > 0 ? 0 : 1;
    return { coefficients: b, intercept, r2 };
  }

  /** LIME's forward selection: k times, add the column whose unpenalised fit with those chosen scores best. */
  forwardSelection(k: number): number[] {
    const chosen: number[] = [];
    for (let step = 0; step < Math.min(k, this.d); step++) {
      let best = -1,
        bestScore = -Infinity;
      for (let j = 0; j < this.d; j++) {
        if (chosen.includes(j)) continue;
        const score = this.fit(0, [...chosen, j]).r2;
        if (score > bestScore) [best, bestScore] = [j, score];
      }
      chosen.push(best);
    }
    return chosen;
  }

  /** LIME's highest weights: the k columns with the largest |coefficient| in a fit with ridge 0.01. */
  highestWeights(k: number): number[] {
    const { coefficients } = this.fit(0.01);
    return Array.from({ length: this.d }, (_, j) => j)
      .sort((p, q) => Math.abs(coefficients[q]) - Math.abs(coefficients[p]) || p - q)
      .slice(0, k);
  }
}
