// The PRV accountant (Gopi, Lee and Wutschitz 2021, "Numerical Composition of Differential Privacy"): the
// privacy loss of each step as a random variable, discretised, composed by FFT, read off as (epsilon, delta).
import { ArgumentError } from '../errors.js';
import {
  DEFAULT_ORDERS,
  StepHistory,
  checkDelta,
  checkNoiseMultiplier,
  checkSampleRate,
  checkSteps,
  computeRdp,
  epsilonFromRdp,
  fail,
} from './accountant.js';
import type { MechanismSteps } from './accountant.js';
import { fft } from './fft.js';
import { logErfc } from './log-math.js';

// Results of normalTails and of a LossDistribution, in variables rather than fresh arrays: the discretisation
// evaluates them a million times, and allocating a pair each time made it mostly garbage collection.
let normalCdf = 0;
let normalSf = 0;

/** Sets normalCdf = P[N(0, 1) <= x], normalSf = P[N(0, 1) > x]: the smaller from erfc, the other as 1 - it. */
function normalTails(x: number): void {
  const small = 0.5 * Math.exp(logErfc(Math.abs(x) / Math.SQRT2));
  normalCdf = x >= 0 ? 1 - small : small;
  normalSf = x >= 0 ? small : 1 - small;
}

/** One step's privacy loss L: eval(t) sets cdf = P[L <= t] and sf = P[L > t], each accurate where it is small. */
interface LossDistribution {
  cdf: number;
  sf: number;
  eval(t: number): void;
}

/**
 * One step of the Poisson-subsampled Gaussian mechanism (sensitivity 1, noise sigma): P = N(0, sigma^2) without
 * the example, Q = (1 - q) N(0, sigma^2) + q N(1, sigma^2) with it. On the line, Q/P(z) = 1 - q + q e^{(2z-1)/(2
 * sigma^2)} =: e^{g(z)}, g increasing; g(z) <= t iff z <= w(t) = sigma^2 log((e^t - 1 + q) / q) + 1/2.
 * 'remove': L = g(z), z ~ Q (support above log(1 - q)); 'add': L = -g(z), z ~ P (support below -log(1 - q)).
 * Neighbouring datasets are one or the other for every step, so each direction composes on its own.
 */
function lossDistribution(q: number, sigma: number, direction: 'remove' | 'add'): LossDistribution {
  const w = (t: number): number => {
    const u = Math.expm1(t) + q;
    return u <= 0 ? -Infinity : sigma * sigma * (Math.log(u) - Math.log(q)) + 0.5;
  };
  const dist: LossDistribution = {
    cdf: 0,
    sf: 0,
    eval:
      direction === 'remove'
        ? (t) => {
            const wt = w(t);
            normalTails(wt / sigma);
            const cdf0 = normalCdf;
            const sf0 = normalSf;
            normalTails((wt - 1) / sigma);
            dist.cdf = (1 - q) * cdf0 + q * normalCdf;
            dist.sf = (1 - q) * sf0 + q * normalSf;
          }
        : (t) => {
            normalTails(w(-t) / sigma);
            dist.cdf = normalSf;
            dist.sf = normalCdf;
          },
  };
  return dist;
}

/** The t where a decreasing (increasing) tail function falls to `level`, by bracketing then bisection. */
function tailPoint(tail: (t: number) => number, level: number, upper: boolean): number {
  let inner = 0;
  let outer = upper ? 1 : -1;
  while (tail(outer) > level) {
    inner = outer;
    outer *= 2;
    if (Math.abs(outer) > 1e6) break;
  }
  for (let i = 0; i < 100; i++) {
    const mid = (inner + outer) / 2;
    if (tail(mid) > level) inner = mid;
    else outer = mid;
  }
  return outer;
}

/**
 * One step's loss on the grid y_j = j h, j in [lo, lo + p.length), by randomised rounding: a loss between y_j and
 * y_{j+1} goes to either with probabilities that keep its value on average (p_j = E[hat_j(L)], hat_j the unit
 * tent at y_j), so the rounding errors are independent, zero-mean and within an interval of length h. Losses
 * below y_lo are rounded up to it, those above y_hi become +Infinity (mass pInf): both can only overstate delta.
 * With C(m) = integral of the cdf over [y_m, y_{m+1}]: p_j = (C(j) - C(j - 1)) / h, by parts; the same in the sf
 * where that is the small one. The cell integrals are Simpson's (error ~ h^5, negligible at these h).
 */
function discretize(dist: LossDistribution, h: number, lo: number, hi: number): { p: Float64Array; pInf: number } {
  const n = hi - lo + 1;
  const cellCdf = new Float64Array(n);
  const cellSf = new Float64Array(n);
  const cdfAt = new Float64Array(n + 1); // at the grid points y_lo .. y_hi + 1
  dist.eval(lo * h);
  let cdfLeft = dist.cdf;
  let sfLeft = dist.sf;
  cdfAt[0] = cdfLeft;
  for (let m = 0; m < n; m++) {
    const y = (lo + m) * h;
    dist.eval(y + h / 2);
    const cdfMid = dist.cdf;
    const sfMid = dist.sf;
    dist.eval(y + h);
    cellCdf[m] = (h / 6) * (cdfLeft + 4 * cdfMid + dist.cdf);
    cellSf[m] = (h / 6) * (sfLeft + 4 * sfMid + dist.sf);
    cdfAt[m + 1] = cdfLeft = dist.cdf;
    sfLeft = dist.sf;
  }
  const p = new Float64Array(n);
  p[0] = cellCdf[0] / h;
  for (let j = 1; j < n - 1; j++) {
    p[j] = cdfAt[j] <= 0.5 ? (cellCdf[j] - cellCdf[j - 1]) / h : (cellSf[j - 1] - cellSf[j]) / h;
  }
  dist.eval(hi * h);
  const pInf = dist.sf;
  p[n - 1] = cellSf[n - 2] / h - pInf;
  for (let j = 0; j < n; j++) p[j] = Math.max(0, p[j]);
  return { p, pInf };
}

/** log sum_j p_j e^{lambda y_j}, y_j = (lo + j) h: the discretised loss's moment generating function. */
function logMgf(p: Float64Array, lo: number, h: number, lambda: number): number {
  let m = -Infinity;
  for (let j = 0; j < p.length; j++) if (p[j] > 0) m = Math.max(m, lambda * (lo + j) * h);
  let s = 0;
  for (let j = 0; j < p.length; j++) if (p[j] > 0) s += p[j] * Math.exp(lambda * (lo + j) * h - m);
  return m + Math.log(s);
}

/** The largest FFT the accountant runs (2^22 points: 64 MiB of work arrays). */
const MAX_POINTS = 1 << 22;

interface Discretized {
  p: Float64Array;
  lo: number;
  pInf: number;
  steps: number;
}

/**
 * The smallest epsilon with delta(epsilon) <= delta for one direction of the whole history. With the
 * discretised losses Lt_i: sum L_i <= sum Lt_i + eta except with probability deltaError (Hoeffding, eta =
 * h sqrt(K log(1/deltaError) / 2)), so delta(epsilon) <= deltaTilde(epsilon - eta) + deltaError, where
 * deltaTilde(e) = E[(1 - e^{e - sum Lt})_+], computed by FFT on a circular window [A, A + N h). Sums below A wrap
 * to larger values (overstating delta); the mass above the window, which wraps to smaller ones, is bounded by
 * Chernoff's inequality with the discretised moment generating function and added (wrapBudget).
 * Exported for the tests, which check each direction on its own (the package exports computeEpsilonPrv).
 */
export function epsilonOneDirection(
  history: readonly MechanismSteps[],
  direction: 'remove' | 'add',
  delta: number,
  epsilonError: number,
): number {
  const totalSteps = history.reduce((s, e) => s + e.steps, 0);
  const deltaError = delta / 100;
  const wrapBudget = delta / 1000;
  const infBudget = delta / 1000;
  const h = epsilonError / Math.sqrt((totalSteps * Math.log(1 / deltaError)) / 2);
  const parts: Discretized[] = history.map((e) => {
    const dist = lossDistribution(e.sampleRate, e.noiseMultiplier, direction);
    // Rounding the losses below tLo up to it overstates delta by at most totalSteps * cdf(tLo) = delta / 1e4.
    const cdf = (t: number) => (dist.eval(t), dist.cdf);
    const sf = (t: number) => (dist.eval(t), dist.sf);
    const tLo = tailPoint(cdf, delta / 1e4 / totalSteps, false);
    const tHi = tailPoint(sf, infBudget / totalSteps, true);
    const lo = Math.floor(tLo / h);
    const hi = Math.max(lo + 2, Math.ceil(tHi / h));
    if (hi - lo + 1 > MAX_POINTS) tooFine(epsilonError, hi - lo + 1);
    return { ...discretize(dist, h, lo, hi), lo, steps: e.steps };
  });
  // The window: Chernoff bounds on both tails of the composed finite part.
  let upper = Infinity;
  let lower = -Infinity;
  for (let lambda = 0.5; lambda <= 512; lambda *= 1.5) {
    const up = parts.reduce((s, d) => s + d.steps * logMgf(d.p, d.lo, h, lambda), 0);
    const down = parts.reduce((s, d) => s + d.steps * logMgf(d.p, d.lo, h, -lambda), 0);
    upper = Math.min(upper, (up - Math.log(wrapBudget)) / lambda);
    lower = Math.max(lower, -(down - Math.log(wrapBudget)) / lambda);
  }
  const start = Math.floor(lower / h);
  const span = Math.ceil(upper / h) - start + 1;
  let n = 1;
  while (n < span || parts.some((d) => n < d.p.length)) n *= 2;
  if (n > MAX_POINTS) tooFine(epsilonError, n);
  // Compose: the product of the steps' transforms, each raised to its step count in polar form.
  const logMag = new Float64Array(n);
  const phase = new Float64Array(n);
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  for (const d of parts) {
    re.fill(0);
    im.fill(0);
    for (let j = 0; j < d.p.length; j++) re[(((d.lo + j) % n) + n) % n] += d.p[j];
    fft(re, im);
    for (let f = 0; f < n; f++) {
      logMag[f] += d.steps * Math.log(Math.hypot(re[f], im[f]));
      phase[f] += d.steps * Math.atan2(im[f], re[f]);
    }
  }
  for (let f = 0; f < n; f++) {
    const mag = Math.exp(logMag[f]);
    re[f] = mag * Math.cos(phase[f]);
    im[f] = mag * Math.sin(phase[f]);
  }
  fft(re, im, true);
  // In value order: index s holds the sum (start + s) h. Suffix sums give deltaTilde(e) in O(1) per e:
  // sum_{y > e} c (1 - e^{e - y}) = tailMass - e^e tailWeighted.
  const tailMass = new Float64Array(n + 1);
  const tailWeighted = new Float64Array(n + 1);
  for (let s = n - 1; s >= 0; s--) {
    const y = (start + s) * h;
    const c = Math.max(0, re[(((start + s) % n) + n) % n]);
    tailMass[s] = tailMass[s + 1] + (y > 0 ? c : 0);
    tailWeighted[s] = tailWeighted[s + 1] + (y > 0 ? c * Math.exp(-y) : 0);
  }
  const pInfAll = -Math.expm1(parts.reduce((s, d) => s + d.steps * Math.log1p(-d.pInf), 0));
  const deltaTilde = (e: number): number => {
    const s = Math.max(0, Math.min(n, Math.floor(e / h) - start + 1)); // first index with y > e
    return Math.max(0, tailMass[s] - Math.exp(e) * tailWeighted[s]) + pInfAll;
  };
  const target = delta - deltaError - wrapBudget;
  if (deltaTilde(0) <= target) return eta(h, totalSteps, deltaError);
  let a = 0;
  let b = (start + n) * h;
  if (deltaTilde(b) > target) return Infinity;
  for (let i = 0; i < 100; i++) {
    const mid = (a + b) / 2;
    if (deltaTilde(mid) > target) a = mid;
    else b = mid;
  }
  return b + eta(h, totalSteps, deltaError);
}

function eta(h: number, steps: number, deltaError: number): number {
  return h * Math.sqrt((steps * Math.log(1 / deltaError)) / 2);
}

function tooFine(epsilonError: number, points: number): never {
  throw new ArgumentError(
    `PrvAccountant: epsilonError ${epsilonError} needs a grid of ${points} points, over the ${MAX_POINTS} ` +
      'the accountant allows: pass a larger epsilonError',
  );
}

/** An epsilon from the PRV accountant (which has no RDP order: order is null, as the run record has it). */
export interface PrvEpsilon {
  epsilon: number;
  order: null;
}

function checkEpsilonError(fn: string, epsilonError: unknown): void {
  if (typeof epsilonError !== 'number' || !(epsilonError > 0) || epsilonError === Infinity) {
    fail(fn, 'epsilonError', 'a finite number > 0', epsilonError);
  }
}

/**
 * An upper bound on the epsilon of the history's steps at this delta, at most about epsilonError above the exact
 * epsilon (delta loses 1.2% to the error bounds); the larger of the add and remove directions, and never above
 * the RDP accountant's (improved) bound. Rigorous but for floating-point rounding in the FFT (~1e-12 in delta).
 */
function prvEpsilon(history: readonly MechanismSteps[], delta: number, epsilonError: number): number {
  const active = history.filter((e) => e.steps > 0 && e.sampleRate > 0);
  if (active.length === 0) return 0;
  if (active.some((e) => e.noiseMultiplier === 0)) return Infinity;
  const prv = Math.max(
    epsilonOneDirection(active, 'remove', delta, epsilonError),
    epsilonOneDirection(active, 'add', delta, epsilonError),
  );
  // Both are upper bounds on the same epsilon; where the exact value is tiny, the discretisation's epsilonError
  // can exceed RDP's own slack, and the RDP bound is the better one.
  const rdp = active.map((e) => computeRdp(e)).reduce((sum, r) => sum.map((v, i) => v + r[i]));
  return Math.min(prv, epsilonFromRdp(rdp, DEFAULT_ORDERS, delta, 'improved').epsilon);
}

/**
 * The (epsilon, delta) of DP-SGD's steps by the PRV accountant: tighter than RDP (which bounds the same
 * mechanism through Renyi divergences), at about a second for 10^4 steps. epsilonError (default 0.01) bounds how
 * far above the exact epsilon the result may be; the result is never below it.
 */
export function computeEpsilonPrv(options: MechanismSteps & { delta: number; epsilonError?: number }): PrvEpsilon {
  const fn = 'computeEpsilonPrv';
  const { sampleRate, noiseMultiplier, steps, delta } = options;
  const epsilonError = options.epsilonError ?? 0.01;
  checkDelta(fn, delta);
  checkSampleRate(fn, sampleRate);
  checkNoiseMultiplier(fn, noiseMultiplier);
  checkSteps(fn, steps);
  checkEpsilonError(fn, epsilonError);
  return { epsilon: prvEpsilon([{ sampleRate, noiseMultiplier, steps }], delta, epsilonError), order: null };
}

/**
 * The PRV accountant over a run whose noise or sampling may change: the same interface as RdpAccountant, but
 * getEpsilon composes the whole history anew (about a second for 10^4 steps; the last answer is cached), so
 * call it per epoch or at the end rather than per step.
 */
export class PrvAccountant extends StepHistory {
  private cached: { delta: number; epsilonError: number; result: PrvEpsilon } | null = null;

  constructor() {
    super('PrvAccountant');
  }

  /** Records `count` steps with this noise multiplier and sample rate. */
  step(params: { noiseMultiplier: number; sampleRate: number }, count = 1): void {
    if (this.record(params, count)) this.cached = null;
  }

  /** The (epsilon, delta) spent so far (epsilon 0 before any step). */
  getEpsilon(delta: number, epsilonError = 0.01): PrvEpsilon {
    const fn = 'PrvAccountant.getEpsilon';
    checkDelta(fn, delta);
    checkEpsilonError(fn, epsilonError);
    const c = this.cached;
    if (c && c.delta === delta && c.epsilonError === epsilonError) return { ...c.result };
    const result: PrvEpsilon = { epsilon: prvEpsilon(this.entries, delta, epsilonError), order: null };
    this.cached = { delta, epsilonError, result };
    return { ...result };
  }
}
