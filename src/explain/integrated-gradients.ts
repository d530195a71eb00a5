// Integrated Gradients (Sundararajan et al. 2017): (x - baseline) times the path integral of the gradient,
// by quadrature over points on the straight line, batched over (sample, point) rows.
import type { Tensor } from '../tensor/tensor.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import { broadcastShapes, shapesEqual } from '../tensor/shape.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { identityRows, type ExplainContext } from './context.js';
import { pathRule } from './quadrature.js';
import type { Baseline, IntegratedGradientsOptions, MethodResult } from './types.js';

const OP = 'explain(integratedGradients)';

/** A tensor baseline broadcast to the inputs' shape [N, ...] (a text model's: token ids), or a ShapeError. */
function broadcastBaseline(ctx: ExplainContext, baseline: Tensor): Tensor {
  const shape = ctx.inputs.shape;
  let fits = baseline.rank <= shape.length;
  try {
    fits &&= shapesEqual(broadcastShapes(OP, baseline.shape, shape), shape);
  } catch {
    fits = false;
  }
  if (!fits)
    throw new ShapeError(
      `${OP}: baseline ${fmtShape(baseline.shape)} does not broadcast to the inputs ${fmtShape(shape)}; ` +
        `expected one value, one sample's shape ${fmtShape(shape.slice(1))}, [1, ...] or [${shape[0]}, ...]`,
    );
  return o.broadcastTo(baseline, shape);
}

/**
 * The baseline of each row of a context derived from ctx (row r from sample sampleOf[r]): a number as is, a
 * tensor broadcast to the inputs and gathered (SmoothGrad's noisy copies keep their sample's baseline).
 */
export function baselineRows(ctx: ExplainContext, baseline: Baseline, sampleOf: Int32Array): Baseline {
  if (typeof baseline === 'number') return baseline;
  return tidy(() => o.gather(broadcastBaseline(ctx, baseline), o.tensor(sampleOf, [sampleOf.length], 'int32'), 0));
}

/** The baseline as points like ctx.gradientInputs() [N, ...]: values for float inputs, embeddings of token ids. */
function baselinePoints(ctx: ExplainContext, baseline: Baseline, points: Tensor): Tensor {
  if (ctx.tokens) {
    if (typeof baseline === 'number' && !(Number.isInteger(baseline) && baseline >= 0))
      throw new DTypeError(`${OP}: a text model's baseline is a token id (default 0, padding), got ${baseline}`);
    if (typeof baseline !== 'number' && baseline.dtype !== 'int32')
      throw new DTypeError(`${OP}: a text model's baseline is int32 token ids, got ${baseline.dtype}`);
    const ids = tidy(() =>
      typeof baseline === 'number' ? o.full(ctx.inputs.shape, baseline, 'int32') : broadcastBaseline(ctx, baseline),
    );
    try {
      return ctx.embed(ids);
    } finally {
      ids.dispose();
    }
  }
  if (typeof baseline === 'number') return o.full(points.shape, baseline, points.dtype);
  if (!isFloat(baseline.dtype) && baseline.dtype !== 'int32')
    throw new DTypeError(`${OP}: the baseline must be numbers, got ${baseline.dtype}`);
  // A copy: the caller disposes it, never the user's tensor.
  return tidy(() => o.copy(o.cast(broadcastBaseline(ctx, baseline), points.dtype)));
}

/** Typed host storage of a float dtype. */
const floats = (dtype: Tensor['dtype'], n: number): Float32Array | Float64Array =>
  dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);

export function integratedGradients(ctx: ExplainContext, options: IntegratedGradientsOptions): MethodResult {
  const steps = options.steps ?? 50;
  const rule = options.rule ?? 'gaussLegendre';
  const { alphas, weights } = pathRule(rule, steps, OP);
  const baselineGiven = options.baseline ?? 0;
  const x = ctx.gradientInputs();
  const b = baselinePoints(ctx, baselineGiven, x);
  try {
    const width = x.size / ctx.n;
    const xs = x.dataSync(),
      bs = b.dataSync();
    // sum_k w_k grad f(b + a_k (x - b)) per sample, accumulated on the host in float64.
    const integral = new Float64Array(x.size);
    const rows = ctx.n * steps;
    for (let start = 0; start < rows; start += ctx.batchSize) {
      const count = Math.min(ctx.batchSize, rows - start);
      const sampleOf = Int32Array.from({ length: count }, (_, r) => Math.floor((start + r) / steps));
      const path = floats(x.dtype, count * width);
      for (let r = 0; r < count; r++) {
        const a = alphas[(start + r) % steps],
          at = sampleOf[r] * width;
        for (let j = 0; j < width; j++) path[r * width + j] = bs[at + j] + a * (xs[at + j] - bs[at + j]);
      }
      const points = o.tensor(path, [count, ...x.shape.slice(1)], x.dtype);
      const { gradients } = ctx.inputGradients(points, sampleOf);
      const gs = gradients.dataSync();
      for (let r = 0; r < count; r++) {
        const w = weights[(start + r) % steps],
          at = sampleOf[r] * width;
        for (let j = 0; j < width; j++) integral[at + j] += w * gs[r * width + j];
      }
      points.dispose();
      gradients.dispose();
    }
    const attributed = floats(x.dtype, x.size);
    for (let i = 0; i < x.size; i++) attributed[i] = (xs[i] - bs[i]) * integral[i];
    const rowsOf = identityRows(ctx.n);
    const fx = ctx.pointScores(x, rowsOf),
      fb = ctx.pointScores(b, rowsOf);
    return {
      attributions: ctx.toInputs(o.tensor(attributed, x.shape, x.dtype)),
      parameters: {
        baseline: typeof baselineGiven === 'number' ? baselineGiven : `tensor ${fmtShape(baselineGiven.shape)}`,
        steps,
        rule,
      },
      expectedSum: Float64Array.from(fx, (f, i) => f - fb[i]),
    };
  } finally {
    b.dispose();
  }
}
