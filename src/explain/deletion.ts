// Deletion and insertion curves (Petsiuk et al. 2018, RISE): features are removed from the input (replaced by a
// baseline), or inserted into the baseline, in order of decreasing attribution; the target score is read after
// each step and the area under the curve summarises it (low for deletion, high for insertion is faithful).
import { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import { broadcastBaseline, resolveFeatures, maskedInputs, type Features } from './features.js';
import { measureContext, mean, positiveInteger } from './measure-context.js';
import type { Baseline, Explanation } from './types.js';
import type { CurveOptions, CurveResult, MeasureTarget } from './faithfulness-types.js';

const DEFAULT_MAX_STEPS = 50;

/** Each sample's baseline: one value, or its elements (row-major) of a tensor that broadcasts to the inputs. */
function baselineOf(op: string, baseline: Baseline, inputs: Tensor): (i: number) => number | ArrayLike<number> {
  if (typeof baseline === 'number') return () => baseline;
  const shape = inputs.shape;
  const values = tidy(() => broadcastBaseline(op, baseline, shape).dataSync());
  const size = inputs.size / shape[0];
  return (i) => values.subarray(i * size, (i + 1) * size);
}

/** Feature ids in order of decreasing summed attribution (ties: the lower id first). */
export function rankedFeatures(attributions: ArrayLike<number>, features: Features): Int32Array {
  const total = new Float64Array(features.count);
  features.map.forEach((f, i) => {
    if (f >= 0) total[f] += attributions[i];
  });
  return Int32Array.from({ length: features.count }, (_, f) => f).sort((a, b) => total[b] - total[a] || a - b);
}

/** Area under y(x) by the trapezoid rule. */
export function trapezoid(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) area += ((x[i] - x[i - 1]) * (y[i] + y[i - 1])) / 2;
  return area;
}

function curves(
  kind: 'deletion' | 'insertion',
  model: Model,
  inputs: Tensor,
  explanation: Explanation,
  options: CurveOptions & MeasureTarget,
): CurveResult {
  const op = `${kind}Curve(${explanation.method})`;
  const { ctx } = measureContext(op, model, inputs, explanation, options);
  const shape = inputs.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = inputs.dataSync(),
    attributions = explanation.attributions.dataSync();
  const base = baselineOf(op, options.baseline ?? 0, inputs);
  const grouping = options.features ?? (inputs.dtype === 'int32' ? 'tokens' : 'elements');
  const all: number[][] = [];
  const fractions: number[][] = [];
  for (let i = 0; i < ctx.n; i++) {
    const row = x.subarray(i * size, (i + 1) * size);
    const features = resolveFeatures(op, grouping, row, shape, inputs.dtype === 'int32');
    const d = features.count;
    if (d === 0) throw new ArgumentError(`${op}: sample ${i} has no features to remove (all padding?)`);
    const steps = positiveInteger(op, 'steps', options.steps, Math.max(1, Math.min(d, DEFAULT_MAX_STEPS)));
    const order = rankedFeatures(attributions.subarray(i * size, (i + 1) * size), features);
    // Point k has the first round(k d / steps) ranked features removed (deletion) or present (insertion).
    const counts = Array.from({ length: steps + 1 }, (_, k) => Math.round((k * d) / steps));
    const coalitions = new Uint8Array((steps + 1) * d);
    counts.forEach((count, k) => {
      const flags = coalitions.subarray(k * d, (k + 1) * d);
      flags.fill(kind === 'deletion' ? 1 : 0);
      for (let j = 0; j < count; j++) flags[order[j]] = kind === 'deletion' ? 0 : 1;
    });
    const rows = maskedInputs(row, base(i), features, coalitions, shape, inputs.dtype);
    const scores = ctx.predictScores(rows, new Int32Array(steps + 1).fill(i));
    dispose(rows);
    fractions.push(counts.map((c) => c / d));
    all.push(Array.from(scores));
  }
  ctx.dispose();
  const auc = all.map((scores, i) => trapezoid(fractions[i], scores));
  return { fractions, scores: all, auc, meanAuc: mean(auc) };
}

type Curve = (
  model: Model,
  inputs: Tensor,
  explanation: Explanation,
  options?: CurveOptions & MeasureTarget,
) => CurveResult;

/**
 * The deletion curve of an explanation: the target score as the features with the largest attributions are
 * replaced by the baseline, `steps` parts at a time, and its area (trapezoid rule over the fraction removed).
 * Lower is more faithful. `inputs` are the explained inputs; a function target must be given again.
 */
export const deletionCurve: Curve = (model, inputs, explanation, options = {}) =>
  curves('deletion', model, inputs, explanation, options);

/**
 * The insertion curve: from the baseline, the features with the largest attributions are put back first.
 * Higher is more faithful.
 */
export const insertionCurve: Curve = (model, inputs, explanation, options = {}) =>
  curves('insertion', model, inputs, explanation, options);
