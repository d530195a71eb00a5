// Infidelity and max-sensitivity (Yeh et al. 2019), as Captum's `infidelity` and `sensitivity_max`: how well the
// attributions predict the change of the score under random perturbations, and how much they move when the
// input moves a little (the method is run again on perturbed inputs, by name, through explain()).
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { DTypeError } from '../errors.js';
import { allocArray, isFloat } from '../tensor/dtype.js';
import { dispose } from '../tensor/storage.js';
import { RandomStream } from '../ops/random.js';
import * as o from '../ops/index.js';
import { identityRows, repeatedRows } from './context.js';
import { explain } from './explain.js';
import { measureContext, mean, positiveInteger, positiveNumber, targetOf } from './measure-context.js';
import type { ExplainOptions, Explanation, MethodName } from './types.js';
import type {
  InfidelityOptions,
  InfidelityResult,
  MaxSensitivityOptions,
  MaxSensitivityResult,
  MeasureTarget,
} from './faithfulness-types.js';

/** Methods whose attributions are global (they scale with the input: sum to a change of the score). */
const GLOBAL: Record<MethodName, boolean> = {
  saliency: false,
  gradientXInput: true,
  integratedGradients: true,
  smoothGrad: false,
  gradCam: false,
  occlusion: true,
  lime: true,
  kernelShap: true,
  shapley: true,
};

/** Captum's multiplies_by_inputs of the method that made the explanation (SmoothGrad: of the method it averages). */
export function multipliesByInputs(explanation: Explanation): boolean {
  if (explanation.method === 'smoothGrad') {
    const over = explanation.parameters.over;
    return typeof over === 'string' && GLOBAL[over as MethodName] === true;
  }
  return GLOBAL[explanation.method];
}

function floatInputs(op: string, inputs: Tensor): void {
  if (!isFloat(inputs.dtype))
    throw new DTypeError(`${op}: needs float inputs to perturb, got ${inputs.dtype} (token ids cannot take noise)`);
}

/**
 * Infidelity of an explanation (Captum's `infidelity` with Gaussian perturbations I ~ N(0, stdDev^2)):
 * per sample, the mean over perturbations of (I . attributions - (f(x) - f(x - I)))^2. For global attributions
 * (multiplyByInputs) I is divided by x elementwise (where x is not 0), as Captum's multiply_by_inputs does;
 * `normalize` first scales the attributions by the beta that minimises it. 0 is perfect. Seeded.
 */
export function infidelity(
  model: Model,
  inputs: Tensor,
  explanation: Explanation,
  options: InfidelityOptions & MeasureTarget = {},
): InfidelityResult {
  const op = `infidelity(${explanation.method})`;
  floatInputs(op, inputs);
  const { ctx, seed } = measureContext(op, model, inputs, explanation, options);
  const stdDev = positiveNumber(op, 'stdDev', options.stdDev, 0.1);
  const samples = positiveInteger(op, 'samples', options.samples, 10);
  const normalize = options.normalize ?? false;
  const multiplyByInputs = options.multiplyByInputs ?? multipliesByInputs(explanation);
  const shape = inputs.shape.slice(1);
  const size = shape.reduce((a, b) => a * b, 1);
  const x = inputs.dataSync(),
    attributions = explanation.attributions.dataSync();
  const fx = ctx.predictScores(inputs, identityRows(ctx.n));
  const stream = new RandomStream(seed);
  // Per sample: sums of (I.a)^2, (I.a) df, df^2 (Captum's terms, for beta) and of (I.a - df)^2 (no cancellation).
  const [aa, ad, dd, sq] = [0, 1, 2, 3].map(() => new Float64Array(ctx.n));
  const perChunk = Math.max(1, Math.floor(ctx.batchSize / samples));
  for (let start = 0; start < ctx.n; start += perChunk) {
    const count = Math.min(perChunk, ctx.n - start);
    const rows = count * samples;
    const sampleOf = repeatedRows(
      Array.from({ length: count }, (_, i) => start + i),
      samples,
    );
    const noise = stream.normal([rows, ...shape], 0, stdDev, inputs.dtype);
    const draws = noise.dataSync();
    noise.dispose();
    const perturbed = allocArray(inputs.dtype, rows * size) as Float32Array | Float64Array;
    for (let r = 0; r < rows; r++)
      for (let j = 0; j < size; j++) perturbed[r * size + j] = x[sampleOf[r] * size + j] - draws[r * size + j];
    const batch = o.tensor(perturbed, [rows, ...shape], inputs.dtype);
    const fp = ctx.predictScores(batch, sampleOf);
    dispose(batch);
    for (let r = 0; r < rows; r++) {
      const s = sampleOf[r];
      let dot = 0;
      for (let j = 0; j < size; j++) {
        const xj = x[s * size + j];
        // The perturbation as applied (x minus the stored perturbed value), so rounding does not count against it.
        const step = xj - perturbed[r * size + j];
        dot += (multiplyByInputs && xj !== 0 ? step / xj : step) * attributions[s * size + j];
      }
      const df = fx[s] - fp[r];
      aa[s] += dot * dot;
      ad[s] += dot * df;
      dd[s] += df * df;
      sq[s] += (dot - df) ** 2;
    }
  }
  ctx.dispose();
  const values = Array.from({ length: ctx.n }, (_, s) => {
    if (!normalize) return sq[s] / samples;
    const beta = aa[s] !== 0 ? ad[s] / aa[s] : ad[s];
    return Math.max(0, beta * beta * aa[s] - 2 * beta * ad[s] + dd[s]) / samples;
  });
  return { values, mean: mean(values), stdDev, samples, normalize, multiplyByInputs };
}

/** Frobenius norm of rows s of a [N, size] array. */
function rowNorm(values: ArrayLike<number>, s: number, size: number, minus?: ArrayLike<number>): number {
  let sum = 0;
  for (let j = s * size; j < (s + 1) * size; j++) sum += (values[j] - (minus ? minus[j] : 0)) ** 2;
  return Math.sqrt(sum);
}

/**
 * Max-sensitivity of a method (Captum's `sensitivity_max`): per sample, the largest relative change
 * ||attr(x + d) - attr(x)|| / ||attr(x)|| over `samples` perturbations d drawn uniformly from the L-infinity
 * ball of `radius`, running the method (by name, with `options`) on each perturbed batch for the same target.
 * `explanation` is the explanation of `inputs` with these options (computed when not given). 0 is perfect.
 */
export function maxSensitivity(
  model: Model,
  inputs: Tensor,
  options: ExplainOptions,
  sensitivity: MaxSensitivityOptions & { seed?: number; explanation?: Explanation } = {},
): MaxSensitivityResult {
  const op = `maxSensitivity(${options.method})`;
  floatInputs(op, inputs);
  const radius = positiveNumber(op, 'radius', sensitivity.radius, 0.02);
  const samples = positiveInteger(op, 'samples', sensitivity.samples, 10);
  const inner: ExplainOptions = { ...options, faithfulness: undefined };
  const explanation = sensitivity.explanation ?? explain(model, inputs, inner);
  const target = targetOf(op, explanation, options.target);
  const seed = sensitivity.seed ?? (explanation.parameters.seed as number);
  const n = inputs.shape[0],
    size = inputs.size / n;
  const original = Float64Array.from(explanation.attributions.dataSync());
  // An explanation made here is this function's to free.
  if (!sensitivity.explanation) explanation.attributions.dispose();
  const norms = Array.from({ length: n }, (_, s) => rowNorm(original, s, size));
  const values = new Array<number>(n).fill(0);
  const stream = new RandomStream(seed);
  for (let k = 0; k < samples; k++) {
    const noise = stream.uniform(inputs.shape, -radius, radius, inputs.dtype);
    const moved = o.add(inputs, noise);
    noise.dispose();
    const again = explain(model, moved, { ...inner, target, seed: explanation.parameters.seed as number });
    moved.dispose();
    const changed = again.attributions.dataSync();
    again.attributions.dispose();
    for (let s = 0; s < n; s++) {
      const d = rowNorm(changed, s, size, original);
      values[s] = Math.max(values[s], norms[s] !== 0 ? d / norms[s] : d);
    }
  }
  return { values, mean: mean(values), radius, samples };
}
