// Magnitude masks: which weights survive pruning to a sparsity, over one tensor (per-layer pruning) or
// over several at once (global pruning: one threshold for all the model's kernels).
import { ArgumentError } from '../errors.js';
import type { TypedArray } from '../tensor/dtype.js';
import { roundHalfEven } from '../tensor/round.js';

/** How many of n weights are kept at this sparsity: TF-MOT's max(round(n * (1 - sparsity)), 1), at most n. */
export function keptCount(n: number, sparsity: number): number {
  return Math.min(n, Math.max(roundHalfEven(n * (1 - sparsity)), 1));
}

/** A weight to rank: its name (for errors) and its values. */
export interface RankedWeight {
  readonly name: string;
  readonly values: TypedArray;
}

/**
 * Masks (1 keep, 0 prune) that keep exactly keptCount(total, sparsity) weights of largest magnitude over all
 * `weights` together, and the magnitude threshold (the smallest kept |w|). TF-MOT keeps every weight with
 * |w| >= threshold, so ties at the threshold may keep more; here ties are broken by position (earlier
 * weight, then earlier element), so the sparsity is always exactly the one asked for.
 */
export function magnitudeMasks(
  weights: readonly RankedWeight[],
  sparsity: number,
): { masks: Uint8Array[]; threshold: number } {
  const total = weights.reduce((s, w) => s + w.values.length, 0);
  const masks = weights.map((w) => new Uint8Array(w.values.length));
  if (total === 0) return { masks, threshold: 0 };
  const magnitudes = new Float64Array(total);
  let at = 0;
  for (const w of weights) {
    const v = w.values;
    for (let i = 0; i < v.length; i++) {
      const m = Math.abs(v[i]);
      if (Number.isNaN(m))
        throw new ArgumentError(
          `pruning: weight '${w.name}' holds NaN at element ${i}; it cannot be ranked by magnitude`,
        );
      magnitudes[at++] = m;
    }
  }
  const k = keptCount(total, sparsity);
  const sorted = magnitudes.slice().sort();
  const threshold = sorted[total - k];
  // Everything above the threshold is kept; the remaining places go to ties in position order.
  let above = 0;
  for (let i = total - k + 1; i < total; i++) if (sorted[i] > threshold) above++;
  let ties = k - above;
  at = 0;
  for (const mask of masks)
    for (let i = 0; i < mask.length; i++, at++) {
      const m = magnitudes[at];
      if (m > threshold || (m === threshold && ties-- > 0)) mask[i] = 1;
    }
  return { masks, threshold };
}
