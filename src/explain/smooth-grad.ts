// SmoothGrad / VarGrad (Smilkov et al. 2017; Adebayo et al. 2018): a noise tunnel that averages another
// gradient method over noisy copies of each sample (the mean, the mean of squares, or the variance).
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { RandomStream } from '../ops/random.js';
import * as o from '../ops/index.js';
import { tidy } from '../tensor/storage.js';
import type { JsonValue } from '../ledger/canonical.js';
import { identityRows, repeatedRows, type ExplainContext } from './context.js';
import type { Method } from './methods.js';
import { gradientXInput, saliency } from './saliency.js';
import { baselineRows, integratedGradients } from './integrated-gradients.js';
import type { IntegratedGradientsOptions, MethodResult, SmoothGradOptions } from './types.js';

const OP = 'explain(smoothGrad)';
/** The methods the tunnel can run (not through METHODS: that table holds smoothGrad itself). */
const INNER_METHODS = { saliency, gradientXInput, integratedGradients } as const;
const INNER = Object.keys(INNER_METHODS) as (keyof typeof INNER_METHODS)[];
const NOISE_TYPES = ['smoothGrad', 'smoothGradSquared', 'varGrad'] as const;

/** Noise standard deviation of each sample: the one given, or 0.15 x (max - min) of the sample's values. */
function noiseScales(values: ArrayLike<number>, n: number, stdDev: number | undefined): Float64Array {
  if (stdDev !== undefined) return new Float64Array(n).fill(stdDev);
  const width = values.length / n;
  return Float64Array.from({ length: n }, (_, s) => {
    let lo = Infinity,
      hi = -Infinity;
    for (let j = s * width; j < (s + 1) * width; j++) {
      lo = Math.min(lo, values[j]);
      hi = Math.max(hi, values[j]);
    }
    return 0.15 * (hi - lo);
  });
}

export function smoothGrad(ctx: ExplainContext, options: SmoothGradOptions): MethodResult {
  const over = options.over ?? 'saliency';
  if (!INNER.includes(over)) throw new ArgumentError(`${OP}: over must be one of ${INNER.join(', ')}, got ${over}`);
  const samples = options.samples ?? 25;
  if (!Number.isInteger(samples) || samples < 1)
    throw new ArgumentError(`${OP}: samples must be a positive integer, got ${String(samples)}`);
  const noiseType = options.noiseType ?? 'smoothGrad';
  if (!NOISE_TYPES.includes(noiseType))
    throw new ArgumentError(`${OP}: noiseType must be one of ${NOISE_TYPES.join(', ')}, got ${String(noiseType)}`);
  const { stdDev } = options;
  if (stdDev !== undefined && !(Number.isFinite(stdDev) && stdDev >= 0))
    throw new ArgumentError(`${OP}: stdDev must be a finite number >= 0, got ${stdDev}`);
  // Smilkov et al. average the signed gradient; only an explicit absolute: true takes magnitudes first.
  const inner = { ...(over === 'saliency' ? { absolute: false } : {}), ...options.overOptions };

  // Noisy copies of the points gradients are taken at (token models: embeddings), copy c of sample s at row
  // s * samples + c, from the context's seed.
  const x = ctx.gradientInputs();
  const n = ctx.n,
    width = x.size / n,
    xs = x.dataSync();
  const scales = noiseScales(xs, n, stdDev);
  const sampleOf = repeatedRows(identityRows(n), samples);
  const noise = new RandomStream(ctx.seed).normal([sampleOf.length * width], 0, 1, x.dtype);
  const noisy = noise.dataSync();
  noise.dispose();
  for (let r = 0; r < sampleOf.length; r++) {
    const s = sampleOf[r];
    for (let j = 0; j < width; j++) noisy[r * width + j] = xs[s * width + j] + scales[s] * noisy[r * width + j];
  }
  const points = o.tensor(noisy, [sampleOf.length, ...x.shape.slice(1)], x.dtype);
  const ids = ctx.tokens
    ? tidy(() => o.gather(ctx.inputs, o.tensor(sampleOf, [sampleOf.length], 'int32'), 0))
    : undefined;
  const baseline = (inner as IntegratedGradientsOptions).baseline;
  const rowBaseline =
    over === 'integratedGradients' && baseline !== undefined ? baselineRows(ctx, baseline, sampleOf) : undefined;
  const derived = ctx.derive(ids ?? points, sampleOf, ids && points);
  let result: MethodResult;
  try {
    const innerOptions = rowBaseline === undefined ? inner : { ...inner, baseline: rowBaseline };
    result = (INNER_METHODS[over] as Method<typeof over>)(derived, innerOptions as never);
  } finally {
    derived.dispose();
    points.dispose();
    ids?.dispose();
    if (rowBaseline !== baseline && typeof rowBaseline === 'object') rowBaseline.dispose();
  }

  // Per sample: the mean of its copies' attributions, of their squares, or their variance (two-pass).
  const each = result.attributions;
  if (each.shape[0] !== sampleOf.length) throw new ShapeError(`${OP}: inner attributions of ${each.shape[0]} rows`);
  const size = each.size / sampleOf.length;
  const values = each.dataSync();
  const reduced = new Float64Array(n * size);
  for (let s = 0; s < n; s++)
    for (let j = 0; j < size; j++) {
      let sum = 0,
        squares = 0;
      for (let c = 0; c < samples; c++) {
        const v = values[(s * samples + c) * size + j];
        sum += v;
        squares += v * v;
      }
      const mean = sum / samples;
      if (noiseType === 'smoothGrad') reduced[s * size + j] = mean;
      else if (noiseType === 'smoothGradSquared') reduced[s * size + j] = squares / samples;
      else {
        let deviations = 0;
        for (let c = 0; c < samples; c++) deviations += (values[(s * samples + c) * size + j] - mean) ** 2;
        reduced[s * size + j] = deviations / samples;
      }
    }
  const attributions = o.tensor(reduced, [n, ...each.shape.slice(1)], each.dtype);
  each.dispose();
  return {
    attributions,
    parameters: {
      over,
      // The baseline as given, not as spread over the copies.
      overOptions:
        typeof baseline === 'object'
          ? { ...result.parameters, baseline: `tensor ${fmtShape(baseline.shape)}` }
          : result.parameters,
      samples,
      stdDev: stdDev ?? Array.from(scales),
      noiseType,
    } as Record<string, JsonValue>,
  };
}
