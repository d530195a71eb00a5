// The calibrated membership attack, in the spirit of LiRA (Carlini et al. 2022): shadow models trained
// like the target on random halves of a population give, for each audited example, the distribution of
// its logit-scaled confidence phi when it was IN a model's training data and when it was OUT; the score
// compares the target's phi with those two Gaussians.
import { ArgumentError } from '../errors.js';
import { RandomStream, drawSeed, mixSeeds } from '../ops/random.js';
import { dispose } from '../tensor/storage.js';
import { cloneModel } from '../train/clone.js';
import type { Model } from '../train/model.js';
import type { CompileArgs, FitArgs } from '../train/trainer.js';
import { logitConfidence, perExampleLoss, sampleCount, takeExamples, type Examples } from './example-loss.js';

/** How the calibrated attack trains its shadow models and scores. */
export interface ShadowOptions {
  /** Shadow models to train: even, at least 4 (each example is IN for half of them). Default 4. */
  count?: number;
  /** Epochs to train each shadow for: as the target was trained. Required. */
  epochs: number;
  /** Batch size of the shadows' fit (default 32, as fit's). */
  batchSize?: number;
  /**
   * Further examples for the shadows to train on, besides the audited members and non-members (which
   * are always in the population, so that each has IN and OUT shadows).
   */
  population?: Examples;
  /**
   * 'online' (default): the likelihood ratio of phi under the IN and OUT Gaussians. 'offline': the
   * one-sided test against the OUT Gaussian alone, (phi - mean_out) / std_out (LiRA's offline attack).
   */
  variant?: 'online' | 'offline';
  /**
   * One variance shared by all examples (pooled within examples), as LiRA does with few shadows; else
   * each example's own. Default: shared when count < 64.
   */
  globalVariance?: boolean;
  /** Seeds the IN / OUT split and the shadows' shuffling (default: drawn from the global stream). */
  seed?: number;
  /**
   * compile() arguments of the shadows; default: the target's (model.trainingConfig()), which a model
   * compiled with a custom loss or optimizer object cannot give. Pass the target's privacy settings here
   * (or in fit) to audit a DP model with DP shadows.
   */
  compile?: CompileArgs;
  /** Further fit() arguments for every shadow (epochs, batchSize and seed are set from the options above). */
  fit?: FitArgs;
}

const SHADOW_KEYS = [
  'count',
  'epochs',
  'batchSize',
  'population',
  'variant',
  'globalVariance',
  'seed',
  'compile',
  'fit',
];

/** The shadow options with their defaults, checked. */
export function shadowSettings(s: ShadowOptions): Required<Omit<ShadowOptions, 'population' | 'compile' | 'fit'>> {
  const op = 'membershipAudit';
  if (typeof s !== 'object' || s === null) throw new ArgumentError(`${op}: shadow must be an object of options`);
  for (const k of Object.keys(s))
    if (!SHADOW_KEYS.includes(k))
      throw new ArgumentError(`${op}: unknown shadow option '${k}'; expected one of ${SHADOW_KEYS.join(', ')}`);
  const { count = 4, epochs, batchSize = 32, variant = 'online', seed = drawSeed() } = s;
  if (!Number.isInteger(count) || count < 4 || count % 2 !== 0)
    throw new ArgumentError(
      `${op}: shadow.count must be an even integer >= 4 (each example needs 2 IN and 2 OUT shadows), got ${count}`,
    );
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new ArgumentError(
      `${op}: shadow.epochs must be a positive integer (as the target was trained), got ${epochs}`,
    );
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError(`${op}: shadow.batchSize must be a positive integer, got ${batchSize}`);
  if (variant !== 'online' && variant !== 'offline')
    throw new ArgumentError(`${op}: shadow.variant must be 'online' or 'offline', got ${String(variant)}`);
  if (!Number.isFinite(seed)) throw new ArgumentError(`${op}: shadow.seed must be a number, got ${seed}`);
  const globalVariance = s.globalVariance ?? count < 64;
  return { count, epochs, batchSize, variant, seed, globalVariance };
}

/**
 * in[s][i]: whether example i is in shadow s's training data. Each example is IN for exactly half the
 * shadows, chosen at random per example (LiRA's split), so each shadow sees about half the population.
 */
export function inOutSplit(count: number, examples: number, seed: number): Uint8Array[] {
  const g = new RandomStream(seed);
  const draws = g.uniform([examples, count], 0, 1, 'float64');
  const u = draws.dataSync();
  draws.dispose();
  const membership = Array.from({ length: count }, () => new Uint8Array(examples));
  for (let i = 0; i < examples; i++) {
    const order = Array.from({ length: count }, (_, s) => s).sort((a, b) => u[i * count + a] - u[i * count + b]);
    for (let r = 0; r < count / 2; r++) membership[order[r]][i] = 1;
  }
  return membership;
}

/** Mean of each example's values over the shadows where `take` says so; and the squared deviations. */
function moments(phi: Float64Array[], inMask: Uint8Array[], want: 0 | 1, n: number) {
  const mean = new Float64Array(n),
    ss = new Float64Array(n),
    k = new Float64Array(n);
  for (let s = 0; s < phi.length; s++)
    for (let i = 0; i < n; i++) if (inMask[s][i] === want) ((mean[i] += phi[s][i]), k[i]++);
  for (let i = 0; i < n; i++) mean[i] /= k[i];
  for (let s = 0; s < phi.length; s++)
    for (let i = 0; i < n; i++) if (inMask[s][i] === want) ss[i] += (phi[s][i] - mean[i]) ** 2;
  return { mean, ss, k };
}

/** Standard deviations: per example (ss / (k - 1)), or one pooled over all examples; floored above 0. */
function deviations(m: { ss: Float64Array; k: Float64Array }, global: boolean): Float64Array {
  const n = m.ss.length;
  const floor = 1e-6;
  if (!global) return Float64Array.from(m.ss, (v, i) => Math.max(Math.sqrt(v / (m.k[i] - 1)), floor));
  let ss = 0,
    dof = 0;
  for (let i = 0; i < n; i++) ((ss += m.ss[i]), (dof += m.k[i] - 1));
  return new Float64Array(n).fill(Math.max(Math.sqrt(ss / dof), floor));
}

const logPdf = (x: number, mean: number, std: number) => -0.5 * ((x - mean) / std) ** 2 - Math.log(std);

/**
 * Scores of the audited examples (the first `audited` rows of `pool`) from their target phi and the
 * shadows' phi. Higher means more likely a member.
 */
export function calibratedScores(
  target: Float64Array,
  shadowPhi: Float64Array[],
  inMask: Uint8Array[],
  settings: { variant: 'online' | 'offline'; globalVariance: boolean },
): Float64Array {
  const n = target.length;
  const out = moments(shadowPhi, inMask, 0, n);
  const outStd = deviations(out, settings.globalVariance);
  if (settings.variant === 'offline') return Float64Array.from(target, (p, i) => (p - out.mean[i]) / outStd[i]);
  const inn = moments(shadowPhi, inMask, 1, n);
  const inStd = deviations(inn, settings.globalVariance);
  return Float64Array.from(target, (p, i) => logPdf(p, inn.mean[i], inStd[i]) - logPdf(p, out.mean[i], outStd[i]));
}

/**
 * Trains the shadows on their halves of `pool` and returns each shadow's phi of the `audited` examples
 * (the first rows of the pool), with the IN / OUT split restricted to them.
 */
export async function trainShadows(
  model: Model,
  pool: Examples,
  audited: Examples,
  shadow: ShadowOptions,
  settings: ReturnType<typeof shadowSettings>,
  batchSize: number,
): Promise<{ phi: Float64Array[]; inMask: Uint8Array[] }> {
  const compileArgs = shadow.compile ?? model.trainingConfig();
  if (!compileArgs)
    throw new ArgumentError(
      `membershipAudit: model '${model.name}' was compiled with a custom loss, optimizer or metric object, so ` +
        'its shadows cannot be compiled like it; pass shadow.compile',
    );
  const poolSize = sampleCount('membershipAudit', 'the shadow population', pool);
  const split = inOutSplit(settings.count, poolSize, settings.seed);
  const phi: Float64Array[] = [];
  for (let s = 0; s < settings.count; s++) {
    const rows: number[] = [];
    for (let i = 0; i < poolSize; i++) if (split[s][i]) rows.push(i);
    const shadowModel = cloneModel(model);
    const half = takeExamples(pool, rows);
    try {
      shadowModel.compile(compileArgs);
      await shadowModel.fit(half.x, half.y, {
        verbose: 0,
        record: false,
        ...shadow.fit,
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        seed: mixSeeds(settings.seed, s + 1),
      });
      phi.push(logitConfidence(perExampleLoss(shadowModel, audited, batchSize)));
    } finally {
      dispose(half);
      shadowModel.dispose();
    }
  }
  const n = phi[0].length;
  return { phi, inMask: split.map((m) => m.subarray(0, n)) };
}
