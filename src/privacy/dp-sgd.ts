// DP-SGD (Abadi et al. 2016) as fit() runs it: the privacy options of compile() and fit(), the noise added to
// the clipped gradient sum, the RDP accounting of every step and the run record's privacy section.
import { randomBytes } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { RandomStream } from '../ops/random.js';
import { checkOptions, optionKeys } from '../registry.js';
import type { DpSgdRecord } from '../ledger/privacy.js';
import type { DpSgdOptions, PrivateStepArgs, PrivateSteps, PrivateTraining } from '../train/private-training.js';
import type { StepBatch } from '../train/epoch-iterator.js';
import { dpSgdStep } from './dp-sgd-step.js';
import { transformation, type GradientTransformation, type OptState } from '../optim/transforms.js';
import { RdpAccountant, noiseMultiplierFor, type Conversion } from './accountant.js';
import { PrvAccountant } from './prv.js';

export type { DpSgdOptions } from '../train/private-training.js';

const DP_SGD_OPTIONS = optionKeys<DpSgdOptions>({
  l2NormClip: true,
  noiseMultiplier: true,
  targetEpsilon: true,
  delta: true,
  sampling: true,
  noiseSeed: true,
  conversion: true,
  accountant: true,
});

export const DEFAULT_DELTA = 1e-5;

function bad(op: string, key: string, expected: string, got: unknown): never {
  const shown = typeof got === 'string' ? `'${got}'` : typeof got === 'number' ? String(got) : typeof got;
  throw new ArgumentError(`${op}: privacy.${key} must be ${expected}, got ${shown}`);
}

/** compile's or fit's privacy options checked: unknown keys and bad values are typed errors naming them. */
export function checkPrivacyOptions(op: 'compile' | 'fit', options: unknown): DpSgdOptions {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new ArgumentError(
      `${op}: privacy must be an options object (e.g. { l2NormClip: 1, noiseMultiplier: 1.1 }), got ` +
        (options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options),
    );
  checkOptions(`${op}: privacy`, options, DP_SGD_OPTIONS);
  const p = options as DpSgdOptions;
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (p.l2NormClip !== undefined && !(finite(p.l2NormClip) && p.l2NormClip > 0))
    bad(op, 'l2NormClip', 'a finite number > 0', p.l2NormClip);
  if (p.noiseMultiplier !== undefined && !(finite(p.noiseMultiplier) && p.noiseMultiplier >= 0))
    bad(op, 'noiseMultiplier', 'a finite number >= 0', p.noiseMultiplier);
  if (p.targetEpsilon !== undefined && !(finite(p.targetEpsilon) && p.targetEpsilon > 0))
    bad(op, 'targetEpsilon', 'a finite number > 0', p.targetEpsilon);
  if (p.delta !== undefined && !(finite(p.delta) && p.delta > 0 && p.delta < 1))
    bad(op, 'delta', 'a number in (0, 1)', p.delta);
  if (p.sampling !== undefined && p.sampling !== 'poisson' && p.sampling !== 'fixed')
    bad(op, 'sampling', "'poisson' or 'fixed'", p.sampling);
  if (p.noiseSeed !== undefined && !(Number.isSafeInteger(p.noiseSeed) && p.noiseSeed >= 0))
    bad(op, 'noiseSeed', 'a non-negative integer', p.noiseSeed);
  if (p.conversion !== undefined && p.conversion !== 'improved' && p.conversion !== 'classic')
    bad(op, 'conversion', "'improved' or 'classic'", p.conversion);
  if (p.accountant !== undefined && p.accountant !== 'rdp' && p.accountant !== 'prv')
    bad(op, 'accountant', "'rdp' or 'prv'", p.accountant);
  return p;
}

/** What one fit of DP-SGD runs with, resolved from the options and the data. */
export interface DpSgdPlan {
  l2NormClip: number;
  noiseMultiplier: number;
  delta: number;
  sampling: 'poisson' | 'fixed';
  /** q = batchSize / samples. */
  sampleRate: number;
  /** The divisor of the noisy sum: q * samples (Poisson) or the batch size (fixed). */
  expectedBatchSize: number;
  conversion: Conversion;
  accountant: 'rdp' | 'prv';
  targetEpsilon?: number;
  secureNoise: boolean;
}

/** fit's facts that the plan needs. */
export interface DpSgdFit {
  samples: number;
  batchSize: number;
  /** Steps this fit will take if no budget stops it. */
  plannedSteps: number;
}

/** The DP-SGD state of a model while a fit runs, for the budget callback (see budget.ts). */
const running = new WeakMap<object, DpSgd>();

/** The DP-SGD run of `model`'s current fit (undefined when it does not train privately). */
export function dpSgdOf(model: object): DpSgd | undefined {
  return running.get(model);
}

/**
 * A model's DP-SGD, made by compile() (or by the first private fit): its accountant composes every private
 * step the model takes, across fits, until compile() is called again. The noise comes from a generator keyed
 * with 64 bits from node:crypto, fresh for each fit and kept only in this object's memory (never written,
 * not derived from fit's seed); with noiseSeed, from a stream of that seed that continues across fits.
 */
export class DpSgd implements PrivateTraining {
  readonly accountant = new RdpAccountant();
  private readonly seeded?: RandomStream;
  private noise?: RandomStream;
  private current?: DpSgdPlan;
  /** Set by the budget callback (see budget.ts): its target, and whether spending it stopped this fit. */
  budget?: { targetEpsilon: number };
  stoppedByBudget = false;
  /** The per-example gradient rules used (from the first step of a fit). */
  perExampleGradients?: { fast: string[]; fallback: string[] };
  /** Steps taken in the current fit. */
  stepsThisFit = 0;

  constructor(readonly compileOptions: DpSgdOptions = {}) {
    if (compileOptions.noiseSeed !== undefined) this.seeded = new RandomStream(compileOptions.noiseSeed);
  }

  history(): PrivateSteps[] {
    return this.accountant.history;
  }

  restore(steps: readonly PrivateSteps[]): void {
    for (const s of steps) this.accountant.step(s, s.steps);
  }

  sampling(fitOptions: DpSgdOptions | undefined): 'poisson' | 'fixed' {
    return fitOptions?.sampling ?? this.compileOptions.sampling ?? 'poisson';
  }

  step(batch: StepBatch, args: PrivateStepArgs): { loss: number; preds: Tensor[] } {
    return dpSgdStep(this, batch, args);
  }

  /** The plan of the fit under way. */
  get plan(): DpSgdPlan {
    if (!this.current) throw new ArgumentError('DP-SGD: no private fit is running');
    return this.current;
  }

  /**
   * Resolves the options for a fit (sigma picked for plannedSteps when only targetEpsilon is given), keys
   * the noise and makes this the model's running DP-SGD.
   */
  begin(model: object, fitOptions: DpSgdOptions | undefined, fit: DpSgdFit): DpSgdPlan {
    const opts = { ...this.compileOptions, ...fitOptions };
    const where = fitOptions && Object.keys(fitOptions).length ? 'fit' : 'compile';
    const { l2NormClip, targetEpsilon, delta = DEFAULT_DELTA, sampling = 'poisson', conversion = 'improved' } = opts;
    const { accountant = 'rdp' } = opts;
    if (l2NormClip === undefined)
      throw new ArgumentError(`${where}: privacy.l2NormClip is required (the clipping norm C, e.g. 1)`);
    if (opts.noiseMultiplier === undefined && targetEpsilon === undefined)
      throw new ArgumentError(
        `${where}: privacy needs noiseMultiplier (sigma, e.g. 1.1) or targetEpsilon (e.g. 3), to pick sigma`,
      );
    if (fitOptions?.noiseSeed !== undefined && fitOptions.noiseSeed !== this.compileOptions.noiseSeed)
      throw new ArgumentError('fit: privacy.noiseSeed is set at compile(), where the seeded noise stream starts');
    const { samples, batchSize, plannedSteps } = fit;
    if (sampling === 'fixed' && batchSize > samples)
      throw new ArgumentError(
        `fit: privacy.sampling 'fixed' needs batchSize (${batchSize}) <= the number of samples (${samples})`,
      );
    const sampleRate = Math.min(1, batchSize / samples);
    if (opts.noiseMultiplier === undefined && this.accountant.steps > 0)
      throw new ArgumentError(
        `fit: privacy.targetEpsilon alone picks sigma for a fresh model, but this one already took ` +
          `${this.accountant.steps} private steps; give privacy.noiseMultiplier too (the budget still stops ` +
          'training), or compile() again',
      );
    // Opacus' make_private_with_epsilon: the smallest sigma (to 0.01 in epsilon) whose planned steps fit.
    const noiseMultiplier =
      opts.noiseMultiplier ??
      noiseMultiplierFor({ targetEpsilon: targetEpsilon!, delta, sampleRate, steps: plannedSteps, conversion });
    this.noise = this.seeded ?? secureStream();
    this.stoppedByBudget = false;
    this.budget = undefined;
    this.stepsThisFit = 0;
    this.perExampleGradients = undefined;
    this.current = {
      l2NormClip,
      noiseMultiplier,
      delta,
      sampling,
      sampleRate,
      expectedBatchSize: sampling === 'poisson' ? sampleRate * samples : batchSize,
      conversion,
      accountant,
      targetEpsilon,
      secureNoise: !this.seeded,
    };
    running.set(model, this);
    return this.current;
  }

  /** Ends the fit: the model has no running DP-SGD, and the noise key is dropped. */
  end(model: object): void {
    running.delete(model);
    this.noise = undefined;
  }

  /**
   * The noisy mean of a clipped gradient sum: (sum + N(0, (sigma C)^2 I)) / expectedBatchSize, one tensor
   * per weight (the sums are the caller's). The noise is drawn through the backend's philox primitive, so
   * the ledger meters it.
   */
  privatize(sums: readonly Tensor[]): Tensor[] {
    const { noiseMultiplier, l2NormClip, expectedBatchSize } = this.plan;
    const noise = gaussianNoise({
      stddev: noiseMultiplier * l2NormClip,
      divisor: expectedBatchSize,
      generator: this.noise!,
    });
    return tidy(() => noise.update(sums, [], sums).updates);
  }

  /** Accounts one step (an empty Poisson batch is a step too: it released noise). */
  account(): void {
    const { noiseMultiplier, sampleRate } = this.plan;
    this.accountant.step({ noiseMultiplier, sampleRate });
    this.stepsThisFit++;
  }

  /** The (epsilon, delta) spent so far, at the plan's delta, by the plan's accountant (PRV has no order). */
  epsilon(): { epsilon: number; order: number | null } {
    const { delta, conversion, accountant } = this.plan;
    return accountant === 'prv'
      ? this.accountedAfter(0).getEpsilon(delta)
      : this.accountant.getEpsilon(delta, conversion);
  }

  /** The epsilon (at `delta`) after `extra` more steps of this fit's plan. */
  epsilonAfter(extra: number, delta = this.plan.delta): number {
    const a = this.accountedAfter(extra);
    return a instanceof PrvAccountant ? a.getEpsilon(delta).epsilon : a.getEpsilon(delta, this.plan.conversion).epsilon;
  }

  /** A fresh accountant of the plan's kind holding the steps so far and `extra` more of this fit's plan. */
  private accountedAfter(extra: number): RdpAccountant | PrvAccountant {
    const { noiseMultiplier, sampleRate, accountant } = this.plan;
    const a = accountant === 'prv' ? new PrvAccountant() : new RdpAccountant({ orders: this.accountant.orders });
    for (const h of this.accountant.history) a.step(h, h.steps);
    a.step({ noiseMultiplier, sampleRate }, extra);
    return a;
  }

  /** The run record's privacy section for the fit under way. */
  record(): DpSgdRecord {
    const p = this.plan;
    const { epsilon, order } = this.epsilon();
    const targetEpsilon = this.budget?.targetEpsilon ?? p.targetEpsilon;
    return {
      mechanism: 'dp-sgd',
      epsilon,
      delta: p.delta,
      noiseMultiplier: p.noiseMultiplier,
      l2NormClip: p.l2NormClip,
      sampleRate: p.sampleRate,
      sampling: p.sampling,
      expectedBatchSize: p.expectedBatchSize,
      steps: this.accountant.steps,
      accountant: p.accountant,
      conversion: p.conversion,
      order: order !== null && Number.isFinite(order) ? order : null,
      secureNoise: p.secureNoise,
      ...(targetEpsilon !== undefined ? { targetEpsilon, stoppedByBudget: this.stoppedByBudget } : {}),
      ...(this.perExampleGradients ? { perExampleGradients: this.perExampleGradients } : {}),
    };
  }
}

export interface GaussianNoiseOptions {
  /** The noise's standard deviation: sigma * C for DP-SGD. */
  stddev: number;
  /** What the noisy sums are divided by: DP-SGD's expected batch size. */
  divisor: number;
  /** Where the noise comes from (DP-SGD: a stream keyed from node:crypto). */
  generator: RandomStream;
}

/**
 * DP-SGD's noise as a gradient transformation (optax style, stateless): each clipped gradient sum g becomes
 * (g + N(0, stddev^2 I)) / divisor. fit() applies it before the optimizer's own chain, so momentum, moments
 * and fused updates see only noisy gradients; a custom loop may chain it first: chain(gaussianNoise(...), ...).
 */
export function gaussianNoise({ stddev, divisor, generator }: GaussianNoiseOptions): GradientTransformation {
  if (!(stddev >= 0 && stddev < Infinity))
    throw new ArgumentError(`gaussianNoise: stddev must be a finite number >= 0, got ${stddev}`);
  if (!(divisor > 0 && divisor < Infinity))
    throw new ArgumentError(`gaussianNoise: divisor must be a finite number > 0, got ${divisor}`);
  return transformation<OptState[]>({
    init: () => [],
    update: (grads, state) => ({
      updates: grads.map((g) =>
        o.mul(stddev > 0 ? o.add(g, generator.normal(g.shape, 0, stddev, g.dtype)) : g, 1 / divisor),
      ),
      state,
    }),
  });
}

/** A noise stream under 64 bits from node:crypto: nothing records the key, and no seed can name it. */
function secureStream(): RandomStream {
  const key = randomBytes(8);
  return RandomStream.fromKey(key.readUInt32LE(0), key.readUInt32LE(4));
}
