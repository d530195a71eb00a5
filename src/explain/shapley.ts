// Exact Shapley values: every one of the 2^d coalitions of a sample's features is evaluated, and each feature
// gets its marginal contributions weighted by |S|! (d - |S| - 1)! / d!.
import { ArgumentError } from '../errors.js';
import type { ExplainContext } from './context.js';
import { CoalitionGame, resolveBackground, sampleFeatures, spreadOverElements } from './coalition-game.js';
import type { Features } from './features.js';
import type { MethodResult, ShapleyOptions } from './types.js';

const OP = 'explain(shapley)';
/** 2^20 coalitions (times the background rows) is the most an explanation should evaluate. */
export const MAX_EXACT_FEATURES = 20;
/** Coalitions evaluated per call of the game (their flags are built a chunk at a time). */
const CHUNK = 1 << 12;

/** The Shapley weight of a coalition of `size` of d players: size! (d - size - 1)! / d!, for size 0..d-1. */
export function shapleyWeights(d: number): Float64Array {
  const w = new Float64Array(Math.max(d, 1));
  // w(s) = 1 / (d * C(d - 1, s)), with C built up in floating point (exact for d <= 20).
  let binomial = 1;
  for (let s = 0; s < d; s++) {
    w[s] = 1 / (d * binomial);
    binomial = (binomial * (d - 1 - s)) / (s + 1);
  }
  return w;
}

/** v of every coalition of d features: entry `mask` is the coalition with feature f on where bit f is set. */
function allValues(game: CoalitionGame, d: number): Float64Array {
  const total = 2 ** d;
  const values = new Float64Array(total);
  for (let start = 0; start < total; start += CHUNK) {
    const count = Math.min(CHUNK, total - start);
    const flags = new Uint8Array(count * d);
    for (let r = 0; r < count; r++) for (let f = 0; f < d; f++) flags[r * d + f] = ((start + r) >>> f) & 1;
    values.set(game.values(flags, count), start);
  }
  return values;
}

/** phi_f = sum over coalitions S without f of w(|S|) (v(S + f) - v(S)). */
export function shapleyFromValues(values: Float64Array, d: number): Float64Array {
  const w = shapleyWeights(d);
  const phi = new Float64Array(d);
  for (let mask = 0; mask < values.length; mask++) {
    let size = 0;
    for (let m = mask; m; m &= m - 1) size++;
    if (size === d) continue;
    for (let f = 0; f < d; f++) {
      const bit = 1 << f;
      if (!(mask & bit)) phi[f] += w[size] * (values[mask | bit] - values[mask]);
    }
  }
  return phi;
}

export function shapley(ctx: ExplainContext, options: ShapleyOptions): MethodResult {
  const x = ctx.inputs;
  const background = resolveBackground(OP, x, options.background);
  const size = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const data = x.dataSync();
  const features: Features[] = [];
  const values: Float64Array[] = [];
  const expectedSum = new Float64Array(ctx.n);
  const baseValue: number[] = [];
  for (let s = 0; s < ctx.n; s++) {
    const sample = data.subarray(s * size, (s + 1) * size);
    const f = sampleFeatures(OP, ctx, options.features, sample);
    if (f.count > MAX_EXACT_FEATURES)
      throw new ArgumentError(
        `${OP}: sample ${s} has ${f.count} features (grouping ${f.grouping}), which would take 2^${f.count} ` +
          `coalitions; exact Shapley values take at most ${MAX_EXACT_FEATURES}: use method 'kernelShap', or ` +
          'group the elements into fewer features (features: { patches }, { superpixels }, { featureMap })',
      );
    features.push(f);
    const v = allValues(new CoalitionGame(ctx, s, sample, f, background), f.count);
    values.push(shapleyFromValues(v, f.count));
    baseValue.push(v[0]);
    expectedSum[s] = v[v.length - 1] - v[0];
  }
  return {
    attributions: spreadOverElements(x, features, values),
    parameters: { features: features[0].grouping, background: background.rows },
    expectedSum,
    details: {
      baseValue,
      coalitions: features.map((f) => 2 ** f.count),
      features: features.map((f) => f.count),
      values: values.map((v) => Array.from(v)),
    },
  };
}
