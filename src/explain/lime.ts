// LIME (Ribeiro et al. 2016, as the `lime` package): switch random sets of features off, weight each perturbed
// sample by an exponential kernel on its cosine distance to the sample, and fit a weighted ridge surrogate
// whose coefficients are the attributions.
import { positiveInteger, positiveNumber } from './measure-context.js';
import { ArgumentError } from '../errors.js';
import { allocArray, isFloat } from '../tensor/dtype.js';
import { RandomStream, mixSeeds } from '../ops/random.js';
import * as o from '../ops/index.js';
import type { ExplainContext } from './context.js';
import { defaultGrouping, maskedInputs, resolveFeatures } from './features.js';
import { WeightedDesign } from './ridge.js';
import type { LimeOptions, MethodResult } from './types.js';

const OP = 'explain(lime)';
/** The surrogate's normal equations are d x d: past this, group elements (patches, superpixels) first. */
const MAX_FEATURES = 2048;

/**
 * `samples` coalitions of d features, row-major: the first has every feature on; each other switches off a
 * number of features drawn uniformly from 1..d, then which ones (lime_text's sampling).
 */
export function limeCoalitions(d: number, samples: number, stream: RandomStream): Uint8Array {
  const z = new Uint8Array(samples * d).fill(1);
  if (samples < 2 || d === 0) return z;
  const draw = (n: number): Float64Array => {
    const u = stream.uniform([n], 0, 1, 'float64');
    const values = u.dataSync() as Float64Array;
    u.dispose();
    return values;
  };
  const offCounts = Array.from(draw(samples - 1), (u) => 1 + Math.floor(u * d));
  // Choosing which `off` switch off is choosing which d - off stay on: draw the smaller set.
  const picks = offCounts.map((off) => Math.min(off, d - off));
  const draws = draw(
    Math.max(
      1,
      picks.reduce((a, b) => a + b, 0),
    ),
  );
  const order = new Int32Array(d);
  let at = 0;
  for (let r = 1; r < samples; r++) {
    const off = offCounts[r - 1],
      pick = picks[r - 1];
    const row = z.subarray(r * d, (r + 1) * d);
    if (pick < off) row.fill(0);
    for (let i = 0; i < d; i++) order[i] = i;
    // Partial Fisher-Yates: the first `pick` entries of order are a uniform draw without replacement.
    for (let i = 0; i < pick; i++) {
      const j = i + Math.floor(draws[at++] * (d - i));
      [order[i], order[j]] = [order[j], order[i]];
      row[order[i]] = pick < off ? 1 : 0;
    }
  }
  return z;
}

/** lime's kernel on the cosine distance to the all-on coalition: sqrt(exp(-dist^2 / width^2)). */
export function limeWeight(on: number, d: number, width: number): number {
  // cos(z, 1) = on / sqrt(on * d); an all-off z has similarity 0 (sklearn's convention), distance 1.
  const distance = 1 - (on > 0 ? Math.sqrt(on / d) : 0);
  return Math.sqrt(Math.exp(-(distance * distance) / (width * width)));
}

export function lime(ctx: ExplainContext, options: LimeOptions): MethodResult {
  const x = ctx.inputs;
  // The first sample is x itself: with no other there is nothing to fit (every coefficient would be 0).
  const samples = positiveInteger(OP, 'samples', options.samples, 1000, 2);
  const width = positiveNumber(OP, 'kernelWidth', options.kernelWidth, 0.25);
  const ridge = options.ridge ?? 1;
  if (!(Number.isFinite(ridge) && ridge >= 0))
    throw new ArgumentError(`${OP}: ridge must be a non-negative number, got ${String(ridge)}`);
  const baseline = options.baseline ?? 0;
  const selection = options.featureSelection ?? 'auto';
  if (options.numFeatures !== undefined) positiveInteger(OP, 'numFeatures', options.numFeatures, 1);
  if (!['auto', 'forwardSelection', 'highestWeights'].includes(selection))
    throw new ArgumentError(`${OP}: featureSelection must be auto, forwardSelection or highestWeights`);
  if (typeof baseline !== 'number' || !Number.isFinite(baseline))
    throw new ArgumentError(`${OP}: baseline must be a finite number, got ${String(baseline)}`);
  if (x.dtype === 'int32' && !Number.isInteger(baseline))
    throw new ArgumentError(`${OP}: the baseline of token inputs is a token id, got ${baseline}`);
  const grouping = options.features ?? defaultGrouping(x);

  const shape = x.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  const data = x.dataSync();
  const dtype = isFloat(x.dtype) ? x.dtype : 'float32';
  const out = allocArray(dtype, ctx.n * size);
  const intercepts: number[] = [],
    r2s: number[] = [],
    counts: number[] = [],
    local: number[] = [],
    kept: number[][] = [];
  let groupingName = '';
  for (let s = 0; s < ctx.n; s++) {
    const sample = data.subarray(s * size, (s + 1) * size);
    const features = resolveFeatures(OP, grouping, sample, shape, x.dtype === 'int32');
    groupingName = features.grouping;
    const d = features.count;
    if (d > MAX_FEATURES)
      throw new ArgumentError(
        `${OP}: ${d} features (grouping ${features.grouping}) is more than the ${MAX_FEATURES} a surrogate fit ` +
          'can take; group the elements (features: { patches }, { superpixels }, { featureMap })',
      );
    // With no features (a text of padding only) every perturbed copy is the sample: one row is the fit.
    const rows = d === 0 ? 1 : samples;
    const z = limeCoalitions(d, rows, new RandomStream(mixSeeds(ctx.seed, s)));
    const y = new Float64Array(rows);
    const sampleOf = new Int32Array(ctx.batchSize).fill(s);
    for (let start = 0; start < rows; start += ctx.batchSize) {
      const count = Math.min(ctx.batchSize, rows - start);
      const batch =
        d === 0
          ? ctx.rowsOf(x, s, 1)
          : maskedInputs(sample, baseline, features, z.subarray(start * d, (start + count) * d), shape, x.dtype);
      y.set(ctx.predictScores(batch, sampleOf.subarray(0, count)), start);
      batch.dispose();
    }
    const w = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      let on = 0;
      for (let f = 0; f < d; f++) on += z[r * d + f];
      w[r] = limeWeight(on, d, width);
    }
    const design = new WeightedDesign(z, d, y, w);
    const k = Math.min(options.numFeatures ?? d, d);
    let subset = Array.from({ length: d }, (_, f) => f);
    if (k < d) {
      const forward = selection === 'forwardSelection' || (selection === 'auto' && k <= 6);
      subset = forward ? design.forwardSelection(k) : design.highestWeights(k);
    }
    if (options.numFeatures !== undefined) kept.push(subset);
    const fit = design.fit(ridge, subset);
    const coefficient = new Float64Array(d);
    subset.forEach((f, i) => (coefficient[f] = fit.coefficients[i]));
    for (let e = 0; e < size; e++) {
      const f = features.map[e];
      out[s * size + e] = f < 0 ? 0 : coefficient[f];
    }
    intercepts.push(fit.intercept);
    r2s.push(fit.r2);
    counts.push(d);
    // The surrogate at the sample itself (every feature on), lime's local_pred.
    local.push(fit.intercept + fit.coefficients.reduce((a, b) => a + b, 0));
  }
  const details: MethodResult['details'] = { intercept: intercepts, r2: r2s, features: counts, localPrediction: local };
  if (options.numFeatures !== undefined) details.selected = kept;
  return {
    attributions: o.tensor(out, x.shape, dtype),
    parameters: {
      samples,
      features: groupingName,
      baseline,
      kernelWidth: width,
      ridge,
      numFeatures: options.numFeatures ?? null,
      featureSelection: selection,
    },
    details,
  };
}
