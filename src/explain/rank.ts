// Spearman rank correlation: the Pearson correlation of the ranks, tied values sharing their mean rank.
import { ArgumentError } from '../errors.js';

/** Ranks 1..n of the values; tied values all get the mean of the ranks they span. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const rank = (i + j) / 2 + 1; // positions i..j hold equal values
    for (let k = i; k <= j; k++) out[order[k]] = rank;
    i = j + 1;
  }
  return out;
}

/** Pearson correlation; 0 when either side is constant (no ranking to agree with). */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0,
    mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i] / n;
    mb += b[i] / n;
  }
  let ab = 0,
    aa = 0,
    bb = 0;
  for (let i = 0; i < n; i++) {
    ab += (a[i] - ma) * (b[i] - mb);
    aa += (a[i] - ma) ** 2;
    bb += (b[i] - mb) ** 2;
  }
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

/** Spearman's rank correlation of two equally long lists of numbers (ties: mean ranks), in [-1, 1]. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length < 2)
    throw new ArgumentError(`spearman: needs two lists of the same length >= 2, got ${a.length} and ${b.length}`);
  if (Array.prototype.some.call(a, (v: number) => Number.isNaN(v)) || Array.prototype.some.call(b, Number.isNaN))
    throw new ArgumentError('spearman: the values contain NaN');
  return pearson(ranks(a), ranks(b));
}
