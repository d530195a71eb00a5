// Integrated Gradients (Sundararajan et al. 2017): (x - baseline) times the path integral of the gradient,
// by quadrature over points on the straight line, batched over (sample, point) rows.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { identityRows, type ExplainContext } from './context.js';
import { INTEGRATION_RULES, pathRule } from './quadrature.js';
import { broadcastBaseline } from './features.js';
import type { Baseline, IntegratedGradientsOptions, IntegrationRule, MethodResult } from './types.js';
import type { JsonValue } from '../ledger/canonical.js';

const OP = 'explain(integratedGradients)';

/**
 * The baseline of each row of a context derived from ctx (row r from sample sampleOf[r]): a number as is, a
 * tensor broadcast to the inputs and gathered (SmoothGrad's noisy copies keep their sample's baseline).
 */
export function baselineRows(ctx: ExplainContext, baseline: Baseline, sampleOf: Int32Array): Baseline {
  if (typeof baseline === 'number') return baseline;
  return tidy(() =>
    o.gather(broadcastBaseline(OP, baseline, ctx.inputs.shape), o.tensor(sampleOf, [sampleOf.length], 'int32'), 0),
  );
}

/** The baseline as points like ctx.gradientInputs() [N, ...]: values for float inputs, embeddings of token ids. */
function baselinePoints(ctx: ExplainContext, baseline: Baseline, points: Tensor): Tensor {
  if (ctx.tokens) {
    if (typeof baseline === 'number' && !(Number.isInteger(baseline) && baseline >= 0))
      throw new DTypeError(`${OP}: a text model's baseline is a token id (default 0, padding), got ${baseline}`);
    if (typeof baseline !== 'number' && baseline.dtype !== 'int32')
      throw new DTypeError(`${OP}: a text model's baseline is int32 token ids, got ${baseline.dtype}`);
    const ids = tidy(() =>
      typeof baseline === 'number'
        ? o.full(ctx.inputs.shape, baseline, 'int32')
        : broadcastBaseline(OP, baseline, ctx.inputs.shape),
    );
    try {
      return ctx.embed(ids);
    } finally {
      ids.dispose();
    }
  }
  if (typeof baseline === 'number') {
    if (!Number.isFinite(baseline)) throw new ArgumentError(`${OP}: baseline must be finite, got ${baseline}`);
    return o.full(points.shape, baseline, points.dtype);
  }
  if (!isFloat(baseline.dtype) && baseline.dtype !== 'int32')
    throw new DTypeError(`${OP}: the baseline must be numbers, got ${baseline.dtype}`);
  // A copy: the caller disposes it, never the user's tensor.
  return tidy(() => o.copy(o.cast(broadcastBaseline(OP, baseline, ctx.inputs.shape), points.dtype)));
}

/** Typed host storage of a float dtype. */
const floats = (dtype: Tensor['dtype'], n: number): Float32Array | Float64Array =>
  dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);

/** The straight lines from each sample's baseline b to its input x, both as host values [N * width]. */
interface Path {
  xs: ArrayLike<number>;
  bs: ArrayLike<number>;
  width: number;
  shape: readonly number[];
  dtype: Tensor['dtype'];
}

/** Points on the paths: row r is b + alpha[r] (x - b) of sample[r]; its weighted gradient goes to group[r]. */
interface PathRows {
  sample: Int32Array;
  alpha: Float64Array;
  weight: Float64Array;
  group: Int32Array;
}

/** The points of rows start..start+count-1, [count, ...] in the path's dtype. */
function pointsOf(path: Path, rows: Pick<PathRows, 'sample' | 'alpha'>, start: number, count: number): Tensor {
  const { xs, bs, width } = path;
  const values = floats(path.dtype, count * width);
  for (let r = 0; r < count; r++) {
    const a = rows.alpha[start + r],
      at = rows.sample[start + r] * width;
    for (let j = 0; j < width; j++) values[r * width + j] = bs[at + j] + a * (xs[at + j] - bs[at + j]);
  }
  return o.tensor(values, [count, ...path.shape.slice(1)], path.dtype);
}

/** sum over rows of weight x the gradient at the row's point, per group: [groups * width], in float64. */
function integrate(ctx: ExplainContext, path: Path, rows: PathRows, groups: number): Float64Array {
  const { width } = path;
  const sums = new Float64Array(groups * width);
  const total = rows.sample.length;
  for (let start = 0; start < total; start += ctx.batchSize) {
    const count = Math.min(ctx.batchSize, total - start);
    const points = pointsOf(path, rows, start, count);
    const { gradients } = ctx.inputGradients(points, rows.sample.subarray(start, start + count));
    const gs = gradients.dataSync();
    for (let r = 0; r < count; r++) {
      const w = rows.weight[start + r],
        at = rows.group[start + r] * width;
      for (let j = 0; j < width; j++) sums[at + j] += w * gs[r * width + j];
    }
    points.dispose();
    gradients.dispose();
  }
  return sums;
}

/** A fixed rule: every sample's integral from the same points and weights. */
function fixedIntegral(ctx: ExplainContext, path: Path, rule: IntegrationRule, steps: number): Float64Array {
  const { alphas, weights } = pathRule(rule, steps, OP);
  const total = ctx.n * steps;
  const sample = Int32Array.from({ length: total }, (_, r) => Math.floor(r / steps));
  const rows: PathRows = {
    sample,
    alpha: Float64Array.from({ length: total }, (_, r) => alphas[r % steps]),
    weight: Float64Array.from({ length: total }, (_, r) => weights[r % steps]),
    group: sample,
  };
  return integrate(ctx, path, rows, ctx.n);
}

interface Segment {
  sample: number;
  from: number;
  to: number;
  /** f at `from` and at `to`. */
  scoreFrom: number;
  scoreTo: number;
}

/** Segments shorter than this are accepted whatever their error (float rounding sets a floor). */
const SHORTEST_SEGMENT = 2 ** -24;

/**
 * Adaptive Gauss-Legendre: each path starts as one segment; a segment whose attributions do not sum to its own
 * score difference f(to) - f(from) within tolerance x its length is halved, so the points gather where the
 * gradient jumps (ReLU and max-pool switches, where fixed rules converge only as 1/steps), until the whole
 * path's completeness gap is below tolerance or the sample's segment budget is spent.
 */
function adaptiveIntegral(
  ctx: ExplainContext,
  path: Path,
  nodes: number,
  tolerance: number,
  maxSegments: number,
  scores: { x: Float64Array; baseline: Float64Array },
): { integral: Float64Array; segments: number[] } {
  const { alphas, weights } = pathRule('gaussLegendre', nodes, OP);
  const { xs, bs, width } = path;
  const integral = new Float64Array(ctx.n * width);
  const segments = new Array<number>(ctx.n).fill(1);
  const epsilon = path.dtype === 'float64' ? 2 ** -52 : 2 ** -23;
  let pending: Segment[] = Array.from({ length: ctx.n }, (_, i) => ({
    sample: i,
    from: 0,
    to: 1,
    scoreFrom: scores.baseline[i],
    scoreTo: scores.x[i],
  }));
  while (pending.length > 0) {
    const total = pending.length * nodes;
    const rows: PathRows = {
      sample: Int32Array.from({ length: total }, (_, r) => pending[Math.floor(r / nodes)].sample),
      alpha: Float64Array.from({ length: total }, (_, r) => {
        const s = pending[Math.floor(r / nodes)];
        return s.from + (s.to - s.from) * alphas[r % nodes];
      }),
      weight: Float64Array.from({ length: total }, (_, r) => {
        const s = pending[Math.floor(r / nodes)];
        return (s.to - s.from) * weights[r % nodes];
      }),
      group: Int32Array.from({ length: total }, (_, r) => Math.floor(r / nodes)),
    };
    const sums = integrate(ctx, path, rows, pending.length);
    const split: Segment[] = [];
    pending.forEach((s, k) => {
      const at = s.sample * width;
      let estimate = 0;
      for (let j = 0; j < width; j++) estimate += sums[k * width + j] * (xs[at + j] - bs[at + j]);
      const length = s.to - s.from;
      // Below a few roundings of the scores, halving cannot help: the error is the float's, not the rule's.
      const rounding = 16 * epsilon * (Math.abs(s.scoreFrom) + Math.abs(s.scoreTo));
      // Each segment may use tolerance / 2 of the gap per unit length, and at least tolerance / (2 maxSegments):
      // a segment across a gradient jump keeps an error proportional to its length, so it is accepted once short
      // enough; the accepted errors add up to at most the tolerance.
      const allowed = (tolerance / 2) * Math.max(length, 1 / maxSegments);
      const fine = Math.abs(estimate - (s.scoreTo - s.scoreFrom)) <= Math.max(allowed, rounding);
      if (!fine && length > SHORTEST_SEGMENT && segments[s.sample] < maxSegments) {
        split.push(s);
        segments[s.sample]++;
        return;
      }
      for (let j = 0; j < width; j++) integral[at + j] += sums[k * width + j];
    });
    if (split.length === 0) break;
    const middle = {
      sample: Int32Array.from(split, (s) => s.sample),
      alpha: Float64Array.from(split, (s) => (s.from + s.to) / 2),
    };
    const points = pointsOf(path, middle, 0, split.length);
    const midScores = ctx.pointScores(points, middle.sample);
    points.dispose();
    pending = split.flatMap((s, k) => {
      const m = middle.alpha[k];
      return [
        { sample: s.sample, from: s.from, to: m, scoreFrom: s.scoreFrom, scoreTo: midScores[k] },
        { sample: s.sample, from: m, to: s.to, scoreFrom: midScores[k], scoreTo: s.scoreTo },
      ];
    });
  }
  return { integral, segments };
}

export function integratedGradients(ctx: ExplainContext, options: IntegratedGradientsOptions): MethodResult {
  const rule = options.rule ?? 'gaussLegendre';
  const adaptive = rule === 'adaptive';
  if (!adaptive && !INTEGRATION_RULES.includes(rule))
    throw new ArgumentError(
      `${OP}: rule must be one of ${INTEGRATION_RULES.join(', ')} or adaptive, got ${String(rule)}`,
    );
  const steps = options.steps ?? (adaptive ? 8 : 50);
  const baselineGiven = options.baseline ?? 0;
  const x = ctx.gradientInputs();
  const b = baselinePoints(ctx, baselineGiven, x);
  try {
    const xs = x.dataSync(),
      bs = b.dataSync();
    const path: Path = { xs, bs, width: x.size / ctx.n, shape: x.shape, dtype: x.dtype };
    const rowsOf = identityRows(ctx.n);
    const fx = ctx.pointScores(x, rowsOf),
      fb = ctx.pointScores(b, rowsOf);
    const parameters: Record<string, JsonValue> = {
      baseline: typeof baselineGiven === 'number' ? baselineGiven : `tensor ${fmtShape(baselineGiven.shape)}`,
      steps,
      rule,
    };
    let integral: Float64Array;
    let details: Record<string, JsonValue> | undefined;
    if (!adaptive && (options.tolerance !== undefined || options.maxSegments !== undefined))
      throw new ArgumentError(`${OP}: tolerance and maxSegments are options of rule 'adaptive', not of '${rule}'`);
    if (adaptive) {
      const tolerance = options.tolerance ?? (x.dtype === 'float64' ? 1e-8 : 1e-4);
      const maxSegments = options.maxSegments ?? (x.dtype === 'float64' ? 1024 : 256);
      if (!(tolerance > 0 && Number.isFinite(tolerance)))
        throw new ArgumentError(`${OP}: tolerance must be a positive finite number, got ${String(tolerance)}`);
      if (!Number.isInteger(maxSegments) || maxSegments < 1)
        throw new ArgumentError(`${OP}: maxSegments must be a positive integer, got ${String(maxSegments)}`);
      const result = adaptiveIntegral(ctx, path, steps, tolerance, maxSegments, { x: fx, baseline: fb });
      integral = result.integral;
      Object.assign(parameters, { tolerance, maxSegments });
      details = { segments: result.segments };
    } else {
      integral = fixedIntegral(ctx, path, rule, steps);
    }
    const attributed = floats(x.dtype, x.size);
    for (let i = 0; i < x.size; i++) attributed[i] = (xs[i] - bs[i]) * integral[i];
    return {
      attributions: ctx.toInputs(o.tensor(attributed, x.shape, x.dtype)),
      parameters,
      expectedSum: Float64Array.from(fx, (f, i) => f - fb[i]),
      ...(details ? { details } : {}),
    };
  } finally {
    b.dispose();
  }
}
