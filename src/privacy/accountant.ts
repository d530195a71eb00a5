// The RDP privacy accountant of DP-SGD: the Renyi DP of its steps, converted to (epsilon, delta), and the
// noise multiplier that meets a target epsilon. Names and defaults follow Opacus' RDPAccountant.
import { ArgumentError } from '../errors.js';
import { rdpPerStep } from './rdp.js';

/** How an RDP curve becomes (epsilon, delta). */
export type Conversion = 'classic' | 'improved';

/** Opacus' default orders: 1.1, 1.2, ..., 10.9, then 12, 13, ..., 63. */
export const DEFAULT_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 52 }, (_, x) => 12 + x),
]);

/** The Poisson-subsampled Gaussian mechanism run for some steps: q, sigma and the step count. */
export interface MechanismSteps {
  /** q: the probability that an example is in a step's batch, in [0, 1]. */
  sampleRate: number;
  /** sigma: the noise's standard deviation over the L2 sensitivity (the clipping norm), >= 0. */
  noiseMultiplier: number;
  /** A non-negative integer. */
  steps: number;
}

export interface EpsilonOptions extends MechanismSteps {
  delta: number;
  /** 'improved' (the default) or 'classic': see epsilonFromRdp. */
  conversion?: Conversion;
  orders?: readonly number[];
}

/** An epsilon and the RDP order at which it is attained. */
export interface EpsilonAtOrder {
  epsilon: number;
  order: number;
}

export function fail(fn: string, arg: string, expected: string, got: unknown): never {
  throw new ArgumentError(`${fn}: ${arg} must be ${expected}, got ${String(got)}`);
}

export function checkSampleRate(fn: string, q: unknown): void {
  if (typeof q !== 'number' || !(q >= 0 && q <= 1)) fail(fn, 'sampleRate', 'a number in [0, 1]', q);
}

export function checkNoiseMultiplier(fn: string, sigma: unknown): void {
  if (typeof sigma !== 'number' || !(sigma >= 0) || sigma === Infinity) {
    fail(fn, 'noiseMultiplier', 'a finite number >= 0', sigma);
  }
}

export function checkSteps(fn: string, steps: unknown, arg = 'steps'): void {
  if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 0) {
    fail(fn, arg, 'a non-negative integer', steps);
  }
}

export function checkDelta(fn: string, delta: unknown): void {
  if (typeof delta !== 'number' || !(delta > 0 && delta < 1)) fail(fn, 'delta', 'a number in (0, 1)', delta);
}

function checkConversion(fn: string, conversion: unknown): void {
  if (conversion !== 'classic' && conversion !== 'improved') {
    fail(fn, 'conversion', "'classic' or 'improved'", JSON.stringify(conversion));
  }
}

function checkOrders(fn: string, orders: unknown): readonly number[] {
  if (!Array.isArray(orders) || orders.length === 0) fail(fn, 'orders', 'a non-empty array of numbers > 1', orders);
  for (const a of orders) {
    if (typeof a !== 'number' || !(a > 1)) fail(fn, 'orders', 'numbers > 1 (orders <= 1 have no RDP bound)', a);
  }
  return orders as readonly number[];
}

/** The RDP of `steps` steps at each order (composition adds RDP, so it is steps times one step's). */
export function computeRdp(options: MechanismSteps & { orders?: readonly number[] }): number[] {
  const fn = 'computeRdp';
  const { sampleRate, noiseMultiplier, steps } = options;
  checkSampleRate(fn, sampleRate);
  checkNoiseMultiplier(fn, noiseMultiplier);
  checkSteps(fn, steps);
  const orders = checkOrders(fn, options.orders ?? DEFAULT_ORDERS);
  return orders.map((a) => (steps === 0 ? 0 : steps * rdpPerStep(sampleRate, noiseMultiplier, a)));
}

/**
 * The epsilon at which an RDP curve (rdp[i] at orders[i]) gives (epsilon, delta)-DP, minimised over the orders.
 * - 'classic' (Mironov 2017, "Renyi Differential Privacy", proposition 3): eps = rdp + log(1/delta) / (alpha - 1).
 *   TF Privacy's original compute_rdp / get_privacy_spent and older Opacus releases use it.
 * - 'improved' (Balle, Barthe, Gaboardi, Hsu and Sato 2020, "Hypothesis Testing Interpretations and Renyi
 *   Differential Privacy", theorem 21): eps = rdp + log1p(-1/alpha) - (log(delta) + log(alpha)) / (alpha - 1),
 *   never larger than classic for alpha > 1; what Opacus' privacy_analysis.get_privacy_spent and TF Privacy's
 *   rdp_privacy_accountant compute now.
 * Both: when delta^2 >= 1 - e^-rdp, the mechanisms are within total variation delta (the KL bound, RDP at any
 * order >= 1 bounding KL), so epsilon is 0 there, as TF Privacy has it; and epsilon is never below 0.
 * Ties go to the lower order.
 */
export function epsilonFromRdp(
  rdp: readonly number[],
  orders: readonly number[],
  delta: number,
  conversion: Conversion,
): EpsilonAtOrder {
  let best: EpsilonAtOrder = { epsilon: Infinity, order: orders[0] };
  const logDelta = Math.log(delta);
  for (let i = 0; i < orders.length; i++) {
    const a = orders[i];
    const r = rdp[i];
    let eps: number;
    if (delta * delta + Math.expm1(-r) >= 0) eps = 0;
    else if (conversion === 'classic') eps = r - logDelta / (a - 1);
    else eps = r + Math.log1p(-1 / a) - (logDelta + Math.log(a)) / (a - 1);
    eps = Math.max(0, eps);
    if (eps < best.epsilon) best = { epsilon: eps, order: a };
  }
  return best;
}

/** The (epsilon, delta) of DP-SGD's steps: { epsilon, order } with the order where the minimum is attained. */
export function computeEpsilon(options: EpsilonOptions): EpsilonAtOrder {
  const fn = 'computeEpsilon';
  const conversion = options.conversion ?? 'improved';
  checkDelta(fn, options.delta);
  checkConversion(fn, conversion);
  checkSampleRate(fn, options.sampleRate);
  checkNoiseMultiplier(fn, options.noiseMultiplier);
  checkSteps(fn, options.steps);
  const orders = checkOrders(fn, options.orders ?? DEFAULT_ORDERS);
  return epsilonFromRdp(computeRdp({ ...options, orders }), orders, options.delta, conversion);
}

/** Above this sigma noiseMultiplierFor gives up, as Opacus' get_noise_multiplier does. */
const MAX_NOISE_MULTIPLIER = 1e6;

export interface NoiseMultiplierOptions {
  targetEpsilon: number;
  delta: number;
  sampleRate: number;
  steps: number;
  conversion?: Conversion;
  /** The epsilon reached is within this of the target, and never above it (default 0.01). */
  epsilonTolerance?: number;
  orders?: readonly number[];
}

/**
 * The noise multiplier whose epsilon after `steps` steps is at most targetEpsilon and at least
 * targetEpsilon - epsilonTolerance (so the smallest such sigma, up to the tolerance): Opacus'
 * get_noise_multiplier, doubling sigma from 10 until the target is met, then bisecting.
 * Throws ArgumentError when no sigma up to 1e6 meets the target (e.g. a target below the conversion's
 * floor at zero RDP, log(1/delta) / (max order - 1) for 'classic').
 */
export function noiseMultiplierFor(options: NoiseMultiplierOptions): number {
  const fn = 'noiseMultiplierFor';
  const { targetEpsilon, delta, sampleRate, steps } = options;
  const conversion = options.conversion ?? 'improved';
  const tolerance = options.epsilonTolerance ?? 0.01;
  if (typeof targetEpsilon !== 'number' || !(targetEpsilon > 0) || targetEpsilon === Infinity) {
    fail(fn, 'targetEpsilon', 'a finite number > 0', targetEpsilon);
  }
  if (typeof tolerance !== 'number' || !(tolerance > 0) || tolerance === Infinity) {
    fail(fn, 'epsilonTolerance', 'a finite number > 0', tolerance);
  }
  checkDelta(fn, delta);
  checkConversion(fn, conversion);
  checkSampleRate(fn, sampleRate);
  checkSteps(fn, steps);
  const orders = checkOrders(fn, options.orders ?? DEFAULT_ORDERS);
  const epsilonAt = (noiseMultiplier: number): number =>
    epsilonFromRdp(computeRdp({ sampleRate, noiseMultiplier, steps, orders }), orders, delta, conversion).epsilon;
  // No sampling or no steps: no privacy is spent whatever the noise.
  if (epsilonAt(0) <= targetEpsilon) return 0;
  let low = 0;
  let high = 10;
  let epsHigh = Infinity;
  while (epsHigh > targetEpsilon) {
    high *= 2;
    if (high > MAX_NOISE_MULTIPLIER) {
      throw new ArgumentError(
        `${fn}: no noise multiplier up to ${MAX_NOISE_MULTIPLIER} gives epsilon <= ${targetEpsilon} ` +
          `(delta ${delta}, sampleRate ${sampleRate}, ${steps} steps, ${conversion} conversion); ` +
          `at ${high / 2} epsilon is ${epsHigh}: ask for a larger targetEpsilon or delta`,
      );
    }
    epsHigh = epsilonAt(high);
  }
  // Invariant: epsilonAt(high) = epsHigh <= target < epsilonAt(low). 200 halvings exhaust double precision.
  for (let it = 0; it < 200 && targetEpsilon - epsHigh > tolerance; it++) {
    const mid = (low + high) / 2;
    if (mid === low || mid === high) break;
    const eps = epsilonAt(mid);
    if (eps <= targetEpsilon) {
      high = mid;
      epsHigh = eps;
    } else {
      low = mid;
    }
  }
  return high;
}

/** One entry of an accountant's history: `steps` consecutive steps with the same noise and sampling. */
export interface AccountedSteps extends MechanismSteps {}

/** The steps an accountant has recorded, consecutive steps with equal parameters merged into one entry. */
export class StepHistory {
  protected readonly entries: AccountedSteps[] = [];

  constructor(private readonly accountant: string) {}

  /** Checks and records `count` steps; false (nothing recorded) when count is 0. */
  protected record(params: { noiseMultiplier: number; sampleRate: number }, count: number): boolean {
    const fn = `${this.accountant}.step`;
    const { noiseMultiplier, sampleRate } = params;
    checkSampleRate(fn, sampleRate);
    checkNoiseMultiplier(fn, noiseMultiplier);
    checkSteps(fn, count, 'count');
    if (count === 0) return false;
    const last = this.entries[this.entries.length - 1];
    if (last && last.noiseMultiplier === noiseMultiplier && last.sampleRate === sampleRate) last.steps += count;
    else this.entries.push({ noiseMultiplier, sampleRate, steps: count });
    return true;
  }

  /** The number of steps recorded. */
  get steps(): number {
    let n = 0;
    for (const e of this.entries) n += e.steps;
    return n;
  }

  /** The steps recorded, consecutive steps with equal parameters merged into one entry (a copy). */
  get history(): AccountedSteps[] {
    return this.entries.map((e) => ({ ...e }));
  }
}

/**
 * Accumulates DP-SGD steps whose noise multiplier or sample rate may change over a run; RDP composes by
 * addition at each order, so the epsilon of the whole history comes from the summed curve.
 */
export class RdpAccountant extends StepHistory {
  readonly orders: readonly number[];
  /** The summed RDP of all steps, at each order (kept up to date, so getEpsilon costs one conversion). */
  private readonly rdp: number[];
  /** One step's RDP curve for the last (noiseMultiplier, sampleRate) seen: a training run repeats them. */
  private lastStep: { noiseMultiplier: number; sampleRate: number; rdp: number[] } | null = null;

  constructor(options: { orders?: readonly number[] } = {}) {
    super('RdpAccountant');
    this.orders = Object.freeze([...checkOrders('RdpAccountant', options.orders ?? DEFAULT_ORDERS)]);
    this.rdp = this.orders.map(() => 0);
  }

  /** Records `count` steps with this noise multiplier and sample rate. */
  step(params: { noiseMultiplier: number; sampleRate: number }, count = 1): void {
    if (!this.record(params, count)) return;
    const { noiseMultiplier, sampleRate } = params;
    let one = this.lastStep;
    if (!one || one.noiseMultiplier !== noiseMultiplier || one.sampleRate !== sampleRate) {
      const rdp = computeRdp({ sampleRate, noiseMultiplier, steps: 1, orders: this.orders });
      one = this.lastStep = { noiseMultiplier, sampleRate, rdp };
    }
    for (let i = 0; i < one.rdp.length; i++) this.rdp[i] += count * one.rdp[i];
  }

  /** The (epsilon, delta) spent so far ({ epsilon: 0 } before any step). */
  getEpsilon(delta: number, conversion: Conversion = 'improved'): EpsilonAtOrder {
    const fn = 'RdpAccountant.getEpsilon';
    checkDelta(fn, delta);
    checkConversion(fn, conversion);
    return epsilonFromRdp(this.rdp, this.orders, delta, conversion);
  }
}
