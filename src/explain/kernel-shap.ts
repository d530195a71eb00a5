// KernelSHAP (Lundberg and Lee 2017, as shap's KernelExplainer): coalitions of features weighted by the Shapley
// kernel (whole size classes enumerated while the budget allows, the rest sampled in complementary pairs), and
// a weighted least-squares fit of their values under the efficiency constraint sum phi = f(x) - E f.
import { ArgumentError } from '../errors.js';
import { RandomStream, mixSeeds } from '../ops/random.js';
import type { ExplainContext } from './context.js';
import { CoalitionGame, resolveBackground, sampleFeatures, spreadOverElements } from './coalition-game.js';
import type { Features } from './features.js';
import { choleskySolve } from './ridge.js';
import type { KernelShapOptions, MethodResult } from './types.js';

const OP = 'explain(kernelShap)';
/** Size draws per block of random numbers. */
const DRAW_BLOCK = 256;

/** Coalitions of m features (row-major flags) and their regression weights. */
export interface KernelCoalitions {
  masks: Uint8Array;
  weights: Float64Array;
  count: number;
  /** Whether every coalition but the empty and the full one was enumerated (the fit is then exact). */
  exhaustive: boolean;
}

/** C(m, k) in floating point. */
function binomial(m: number, k: number): number {
  let c = 1;
  for (let i = 0; i < k; i++) c = (c * (m - i)) / (i + 1);
  return c;
}

/** Calls visit with each k-subset of 0..m-1 (as ascending indices), in lexicographic order. */
function forEachSubset(m: number, k: number, visit: (indices: Int32Array) => void): void {
  const idx = Int32Array.from({ length: k }, (_, i) => i);
  for (;;) {
    visit(idx);
    let i = k - 1;
    while (i >= 0 && idx[i] === m - k + i) i--;
    if (i < 0) return;
    idx[i]++;
    for (let j = i + 1; j < k; j++) idx[j] = idx[j - 1] + 1;
  }
}

/**
 * shap's coalition plan for m >= 2 features and a budget of `samples` coalitions (at most 2^m - 2): size
 * classes s and m - s, from the smallest, are enumerated whole while the budget covers their share of the
 * Shapley kernel; the remaining budget is drawn by size (in proportion to the kernel left) and then uniformly
 * within the size, each draw with its complement; a repeated draw adds weight to the coalition drawn before.
 * The sampled coalitions share the kernel weight of the sizes not enumerated.
 */
export function kernelCoalitions(m: number, samples: number, stream: RandomStream): KernelCoalitions {
  const budget = m <= 30 ? Math.min(samples, 2 ** m - 2) : samples;
  const sizes = Math.ceil((m - 1) / 2),
    paired = Math.floor((m - 1) / 2);
  // Kernel weight of size class s (index s - 1), counting sizes s and m - s together where they differ.
  const kernel = Float64Array.from(
    { length: sizes },
    (_, i) => ((m - 1) / ((i + 1) * (m - i - 1))) * (i < paired ? 2 : 1),
  );
  const total = kernel.reduce((a, b) => a + b, 0);
  kernel.forEach((w, i) => (kernel[i] = w / total));

  const masks = new Uint8Array(budget * m);
  const weights = new Float64Array(budget);
  let count = 0;
  const add = (mask: Uint8Array, weight: number): number => {
    masks.set(mask, count * m);
    weights[count] = weight;
    return count++;
  };
  const mask = new Uint8Array(m),
    complement = new Uint8Array(m);
  const addPair = (weight: number, withComplement: boolean): void => {
    add(mask, weight);
    if (!withComplement) return;
    for (let f = 0; f < m; f++) complement[f] = 1 - mask[f];
    add(complement, weight);
  };

  let left = budget,
    full = 0;
  const remaining = Float64Array.from(kernel);
  for (let s = 1; s <= sizes; s++) {
    const isPaired = s <= paired;
    const subsets = binomial(m, s) * (isPaired ? 2 : 1);
    if ((left * remaining[s - 1]) / subsets < 1 - 1e-8) break;
    full++;
    left -= subsets;
    const share = remaining[s - 1];
    if (share < 1) remaining.forEach((w, i) => (remaining[i] = w / (1 - share)));
    const weight = kernel[s - 1] / subsets;
    forEachSubset(m, s, (indices) => {
      mask.fill(0);
      for (const f of indices) mask[f] = 1;
      addPair(weight, isPaired);
    });
  }

  const fixed = count;
  if (full < sizes && left > 0) {
    // Each draw brings two coalitions for paired sizes, so their probability is halved.
    const probability = Float64Array.from(kernel.subarray(full), (w, i) => (i + full < paired ? w / 2 : w));
    const sum = probability.reduce((a, b) => a + b, 0);
    const seen = new Map<string, number>();
    const key = (flags: Uint8Array): string => String.fromCharCode(...flags);
    const order = new Int32Array(m);
    // A new coalition takes one of the budget; one drawn before gains weight instead.
    const take = (flags: Uint8Array): void => {
      const k = key(flags);
      const before = seen.get(k);
      if (before !== undefined) weights[before] += 1;
      else {
        seen.set(k, add(flags, 1));
        left--;
      }
    };
    for (let drawn = 0, limit = 4 * left; left > 0 && drawn < limit;) {
      const block = Math.min(DRAW_BLOCK, limit - drawn);
      const u = stream.uniform([block, m + 1], 0, 1, 'float64');
      const draws = u.dataSync();
      u.dispose();
      for (let b = 0; b < block && left > 0; b++, drawn++) {
        const at = b * (m + 1);
        // The size class by inverse CDF, then the coalition by a partial Fisher-Yates shuffle.
        let target = draws[at] * sum,
          c = 0;
        while (c < probability.length - 1 && target >= probability[c]) target -= probability[c++];
        const s = c + full + 1;
        for (let i = 0; i < m; i++) order[i] = i;
        mask.fill(0);
        for (let i = 0; i < s; i++) {
          const j = i + Math.floor(draws[at + 1 + i] * (m - i));
          [order[i], order[j]] = [order[j], order[i]];
          mask[order[i]] = 1;
        }
        take(mask);
        if (s > paired || left === 0) continue;
        for (let f = 0; f < m; f++) complement[f] = 1 - mask[f];
        take(complement);
      }
    }
    let sampled = 0;
    for (let r = fixed; r < count; r++) sampled += weights[r];
    const share = kernel.subarray(full).reduce((a, b) => a + b, 0);
    for (let r = fixed; r < count; r++) weights[r] *= share / sampled;
  }
  return {
    masks: masks.subarray(0, count * m),
    weights: weights.subarray(0, count),
    count,
    exhaustive: count === 2 ** m - 2,
  };
}

/**
 * The Shapley values of the m features the plan's coalitions switch, from their values v, v(full) and
 * v(empty): with phi_last = (fx - f0) - sum of the others, v(z) - f0 - z_last (fx - f0) is fitted by
 * sum_i (z_i - z_last) phi_i over the first m - 1 (shap's elimination of one variable).
 */
export function constrainedFit(
  plan: KernelCoalitions,
  m: number,
  v: Float64Array,
  fx: number,
  f0: number,
): Float64Array {
  const { masks, weights, count } = plan;
  const gap = fx - f0,
    n = m - 1;
  // The normal equations X' W X b = X' W y in float64, X [count, n]: x_ri = z_ri - z_r,last (each -1, 0 or 1).
  const a = new Float64Array(n * n),
    c = new Float64Array(n),
    x = new Float64Array(n);
  for (let r = 0; r < count; r++) {
    const last = masks[r * m + n];
    const y = v[r] - f0 - last * gap;
    for (let i = 0; i < n; i++) x[i] = masks[r * m + i] - last;
    for (let i = 0; i < n; i++) {
      if (x[i] === 0) continue;
      const wx = weights[r] * x[i];
      c[i] += wx * y;
      for (let k = i; k < n; k++) a[i * n + k] += wx * x[k];
    }
  }
  for (let i = 0; i < n; i++) for (let k = 0; k < i; k++) a[i * n + k] = a[k * n + i];
  // A direction the coalitions do not determine (too small a budget) gets 0.
  const coefficients = choleskySolve(a, c, n);
  const phi = new Float64Array(m);
  phi.set(coefficients);
  phi[m - 1] = gap - coefficients.reduce((a, b) => a + b, 0);
  return phi;
}

export function kernelShap(ctx: ExplainContext, options: KernelShapOptions): MethodResult {
  const x = ctx.inputs;
  const background = resolveBackground(OP, x, options.background);
  if (options.samples !== undefined && !(Number.isInteger(options.samples) && options.samples >= 1))
    throw new ArgumentError(`${OP}: samples must be a positive integer, got ${String(options.samples)}`);
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = x.dataSync();
  const features: Features[] = [];
  const values: Float64Array[] = [];
  const expectedSum = new Float64Array(ctx.n);
  const budgets = new Set<number>();
  const baseValue: number[] = [],
    evaluated: number[] = [],
    exhaustive: boolean[] = [];
  for (let s = 0; s < ctx.n; s++) {
    const sample = data.subarray(s * size, (s + 1) * size);
    const f = sampleFeatures(OP, ctx, options.features, sample);
    features.push(f);
    const d = f.count;
    const game = new CoalitionGame(ctx, s, sample, f, background);
    // v(full) is f(x) on every background row alike: the context's score, not M more rows.
    const fx = ctx.scores[s];
    const [f0] = game.values(new Uint8Array(d), 1);
    // Only features that differ from the background somewhere can move the score (shap's varying groups).
    const varying = game.varying().flatMap((on, i) => (on ? [i] : []));
    const m = varying.length;
    const phi = new Float64Array(d);
    let plan: KernelCoalitions | undefined;
    if (m === 1) phi[varying[0]] = fx - f0;
    else if (m > 1) {
      const budget = options.samples ?? 2 * m + 2048;
      budgets.add(budget);
      plan = kernelCoalitions(m, budget, new RandomStream(mixSeeds(ctx.seed, s)));
      // Features that do not vary stay on (switching them changes nothing).
      const flags = new Uint8Array(plan.count * d).fill(1);
      for (let r = 0; r < plan.count; r++)
        varying.forEach((feature, i) => (flags[r * d + feature] = plan!.masks[r * m + i]));
      constrainedFit(plan, m, game.values(flags, plan.count), fx, f0).forEach((p, i) => (phi[varying[i]] = p));
    }
    values.push(phi);
    baseValue.push(f0);
    expectedSum[s] = fx - f0;
    evaluated.push(plan?.count ?? 0);
    exhaustive.push(plan?.exhaustive ?? true);
  }
  return {
    attributions: spreadOverElements(x, features, values),
    parameters: {
      // The default depends on each sample's varying features; one number where they agree.
      samples: options.samples ?? (budgets.size === 1 ? [...budgets][0] : '2m + 2048'),
      features: features[0].grouping,
      background: background.rows,
    },
    expectedSum,
    details: {
      baseValue,
      samples: evaluated,
      exhaustive,
      features: features.map((f) => f.count),
      values: values.map((v) => Array.from(v)),
    },
  };
}
