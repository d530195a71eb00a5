// Renyi DP of the Poisson-subsampled Gaussian mechanism (Mironov, Talwar and Zhang 2019, "Renyi Differential
// Privacy of the Sampled Gaussian Mechanism", section 3.3), per step, computed in log space.
import { logAdd, logErfc, logSub } from './log-math.js';

/**
 * The RDP of one step at order alpha: log(A_alpha) / (alpha - 1), where for mu0 = N(0, sigma^2),
 * mu1 = N(1, sigma^2) and mu = (1 - q) mu0 + q mu1, A_alpha = E_{z ~ mu0}[(mu(z) / mu0(z))^alpha]
 * (the larger of the two directions for alpha >= 1, by the paper's theorem 4).
 * q = 0 gives 0, sigma = 0 gives Infinity, q = 1 the Gaussian mechanism's alpha / (2 sigma^2).
 */
export function rdpPerStep(q: number, sigma: number, alpha: number): number {
  if (q === 0) return 0;
  if (sigma === 0 || alpha === Infinity) return Infinity;
  if (q === 1) return alpha / (2 * sigma * sigma);
  const logA = Number.isInteger(alpha) ? logAInteger(q, sigma, alpha) : logAFractional(q, sigma, alpha);
  return logA / (alpha - 1);
}

/**
 * Integer alpha: expand ((1 - q) + q mu1/mu0)^alpha by the binomial theorem; E_{mu0}[(mu1/mu0)^i] =
 * e^{(i^2 - i) / (2 sigma^2)}, so log A = logsumexp_i [log C(alpha, i) + i log q + (alpha - i) log(1 - q) +
 * (i^2 - i) / (2 sigma^2)]. All terms are positive: no cancellation.
 */
function logAInteger(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  let logA = -Infinity;
  let logBinom = 0; // log C(alpha, i), updated as C(alpha, i + 1) = C(alpha, i) (alpha - i) / (i + 1)
  for (let i = 0; i <= alpha; i++) {
    logA = logAdd(logA, logBinom + i * logQ + (alpha - i) * log1mQ + (i * i - i) / twoVar);
    logBinom += Math.log(alpha - i) - Math.log(i + 1);
  }
  return logA;
}

/**
 * Fractional alpha: split the integral at z0 = sigma^2 log(1/q - 1) + 1/2, where q mu1 = (1 - q) mu0. Below
 * z0 the generalised binomial series in q mu1 / ((1 - q) mu0) converges, above it the series in
 * (1 - q) mu0 / (q mu1); each term integrates a Gaussian over a half line,
 * giving an erfc. The coefficients C(alpha, i) change sign for i > alpha, so the sums run in log space with
 * logSub, until both terms fall below e^-30 (the paper's and TF Privacy's stopping rule) and, where A is so
 * close to 1 that e^-30 would be a large part of log A (q = 1e-7: log A = 4e-8), below 2e-9 log A or e^-40,
 * unless that takes over 1e5 terms: for q near 1/2 the terms decay only as i^-(alpha + 1).
 */
function logAFractional(q: number, sigma: number, alpha: number): number {
  const logQ = Math.log(q);
  const log1mQ = Math.log1p(-q);
  const twoVar = 2 * sigma * sigma;
  const sqrt2Sigma = Math.SQRT2 * sigma;
  const z0 = sigma * sigma * Math.log(1 / q - 1) + 0.5;
  let logA0 = -Infinity;
  let logA1 = -Infinity;
  let logBinom = 0; // log |C(alpha, i)|
  let positive = true; // sign of C(alpha, i)
  for (let i = 0; ; i++) {
    const j = alpha - i;
    const logT0 = logBinom + i * logQ + j * log1mQ;
    const logT1 = logBinom + j * logQ + i * log1mQ;
    const logE0 = Math.log(0.5) + logErfc((i - z0) / sqrt2Sigma);
    const logE1 = Math.log(0.5) + logErfc((z0 - j) / sqrt2Sigma);
    const logS0 = logT0 + (i * i - i) / twoVar + logE0;
    const logS1 = logT1 + (j * j - j) / twoVar + logE1;
    if (positive) {
      logA0 = logAdd(logA0, logS0);
      logA1 = logAdd(logA1, logS1);
    } else {
      logA0 = logSub(logA0, logS0);
      logA1 = logSub(logA1, logS1);
    }
    const logS = Math.max(logS0, logS1);
    if (logS < -30 && (logS < -40 || i > 1e5 || logS < Math.log(Math.abs(logAdd(logA0, logA1))) - 20)) break;
    const ratio = (alpha - i) / (i + 1);
    if (ratio < 0) positive = !positive;
    logBinom += Math.log(Math.abs(ratio));
  }
  return logAdd(logA0, logA1);
}
