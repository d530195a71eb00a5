// The PRV accountant: an upper bound on the exact epsilon (checked against the Gaussian mechanism's closed form
// and a quadrature of one subsampled step's hockey-stick divergence), within epsilonError of it, and never
// looser than the RDP accountant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privacy, ArgumentError } from '../../src/index.js';
import { erf } from '../../src/backends/js/math.js';
import { epsilonOneDirection } from '../../src/privacy/prv.js';

const { computeEpsilonPrv, PrvAccountant, RdpAccountant, computeEpsilon } = privacy;

const normalCdf = (x: number) => 0.5 * (1 + erf(x / Math.SQRT2));

/**
 * delta(epsilon) of the Gaussian mechanism with sensitivity/sigma = mu, exactly (Balle and Wang 2018, theorem 8):
 * Phi(mu/2 - epsilon/mu) - e^epsilon Phi(-mu/2 - epsilon/mu). k steps of noise sigma compose to
 * mu = sqrt(k) / sigma, and steps of different sigmas to mu^2 = sum k_i / sigma_i^2.
 */
function gaussianDelta(epsilon: number, mu: number): number {
  return normalCdf(mu / 2 - epsilon / mu) - Math.exp(epsilon) * normalCdf(-mu / 2 - epsilon / mu);
}

test('unsampled steps (q = 1): the bound holds and is within epsilonError of the exact Gaussian epsilon', () => {
  for (const [sigma, steps, delta] of [
    [1, 1, 1e-5],
    [2, 10, 1e-5],
    [5, 100, 1e-6],
    [0.8, 3, 1e-3],
  ]) {
    const { epsilon, order } = computeEpsilonPrv({ sampleRate: 1, noiseMultiplier: sigma, steps, delta });
    assert.equal(order, null);
    const mu = Math.sqrt(steps) / sigma;
    // An upper bound: the exact delta at this epsilon is within the target...
    assert.ok(gaussianDelta(epsilon, mu) <= delta, `sigma ${sigma}, ${steps} steps: ${epsilon} is below exact`);
    // ...and a tight one: 0.02 less would not be (epsilonError 0.01, plus what delta spends on error bounds).
    assert.ok(gaussianDelta(epsilon - 0.02, mu) > delta, `sigma ${sigma}, ${steps} steps: ${epsilon} is loose`);
  }
});

test('changing noise composes: q = 1 steps of two sigmas are one Gaussian with mu^2 = sum k / sigma^2', () => {
  const acc = new PrvAccountant();
  acc.step({ noiseMultiplier: 2, sampleRate: 1 }, 10);
  acc.step({ noiseMultiplier: 4, sampleRate: 1 }, 40);
  assert.equal(acc.steps, 50);
  const { epsilon } = acc.getEpsilon(1e-5);
  const mu = Math.sqrt(10 / 4 + 40 / 16);
  assert.ok(gaussianDelta(epsilon, mu) <= 1e-5 && gaussianDelta(epsilon - 0.02, mu) > 1e-5, `${epsilon}`);
  assert.deepEqual(acc.getEpsilon(1e-5), { epsilon, order: null }); // cached, same answer
});

/**
 * The exact delta(epsilon) of one Poisson-subsampled Gaussian step, by the trapezoid rule in z of the hockey-stick
 * divergences of P = N(0, sigma^2) and Q = (1 - q) P + q N(1, sigma^2) in each direction:
 * remove = integral (Q - e^eps P)_+, add = integral (P - e^eps Q)_+.
 */
function subsampledDelta(q: number, sigma: number, epsilon: number): { remove: number; add: number } {
  const lo = -14 * sigma - 2;
  const hi = 14 * sigma + 3;
  const n = 400000;
  const h = (hi - lo) / n;
  let remove = 0;
  let add = 0;
  for (let k = 0; k <= n; k++) {
    const z = lo + k * h;
    const p = Math.exp(-(z * z) / (2 * sigma * sigma));
    const qz = (1 - q) * p + q * Math.exp(-((z - 1) * (z - 1)) / (2 * sigma * sigma));
    const weight = k === 0 || k === n ? 0.5 : 1;
    remove += weight * Math.max(0, qz - Math.exp(epsilon) * p);
    add += weight * Math.max(0, p - Math.exp(epsilon) * qz);
  }
  const scale = h / (sigma * Math.sqrt(2 * Math.PI));
  return { remove: remove * scale, add: add * scale };
}

test('one subsampled step: the bound holds and is within epsilonError of the exact epsilon (quadrature)', () => {
  for (const [q, sigma, delta] of [
    [0.5, 1, 1e-5],
    [0.1, 0.5, 1e-5],
    [0.9, 2, 1e-3],
    [0.01, 0.3, 1e-6],
  ]) {
    const exact = (eps: number) => subsampledDelta(q, sigma, eps);
    const { epsilon } = computeEpsilonPrv({ sampleRate: q, noiseMultiplier: sigma, steps: 1, delta });
    const at = exact(epsilon);
    const below = exact(epsilon - 0.025);
    assert.ok(Math.max(at.remove, at.add) <= delta, `q ${q} sigma ${sigma}: ${epsilon} is below exact`);
    assert.ok(Math.max(below.remove, below.add) > delta, `q ${q} sigma ${sigma}: ${epsilon} is loose`);
    // Each direction on its own (the add direction never dominates here, so the above does not test it).
    const history = [{ sampleRate: q, noiseMultiplier: sigma, steps: 1 }];
    for (const direction of ['remove', 'add'] as const) {
      const eps = epsilonOneDirection(history, direction, delta, 0.01);
      assert.ok(exact(eps)[direction] <= delta, `${direction} q ${q} sigma ${sigma}: ${eps} is below exact`);
      if (eps > 0.025) {
        assert.ok(exact(eps - 0.025)[direction] > delta, `${direction} q ${q} sigma ${sigma}: ${eps} is loose`);
      }
    }
  }
});

/**
 * The exact delta(epsilon) of two subsampled steps, by the trapezoid rule on a 2-D grid: the hockey-stick
 * divergences of the product distributions Q x Q and P x P, in both directions (the larger).
 */
function twoStepDelta(q: number, sigma: number, epsilon: number): number {
  const n = 2000;
  const lo = -12 * sigma - 2;
  const h = (12 * sigma + 3 - lo) / n;
  const p = new Float64Array(n + 1);
  const qz = new Float64Array(n + 1);
  for (let k = 0; k <= n; k++) {
    const z = lo + k * h;
    const weight = k === 0 || k === n ? 0.5 : 1;
    p[k] = weight * Math.exp(-(z * z) / (2 * sigma * sigma));
    qz[k] = (1 - q) * p[k] + q * weight * Math.exp(-((z - 1) * (z - 1)) / (2 * sigma * sigma));
  }
  const e = Math.exp(epsilon);
  let remove = 0;
  let add = 0;
  for (let i = 0; i <= n; i++) {
    for (let j = 0; j <= n; j++) {
      remove += Math.max(0, qz[i] * qz[j] - e * p[i] * p[j]);
      add += Math.max(0, p[i] * p[j] - e * qz[i] * qz[j]);
    }
  }
  return (Math.max(remove, add) * h * h) / (2 * Math.PI * sigma * sigma);
}

test('two subsampled steps compose: the bound holds and is within epsilonError of the exact epsilon', () => {
  for (const [q, sigma, delta] of [
    [0.5, 1, 1e-3],
    [0.3, 1, 1e-5],
  ]) {
    const { epsilon } = computeEpsilonPrv({ sampleRate: q, noiseMultiplier: sigma, steps: 2, delta });
    assert.ok(twoStepDelta(q, sigma, epsilon) <= delta, `q ${q} sigma ${sigma}: ${epsilon} is below exact`);
    assert.ok(twoStepDelta(q, sigma, epsilon - 0.025) > delta, `q ${q} sigma ${sigma}: ${epsilon} is loose`);
  }
});

test('DP-SGD settings: tighter than the RDP accountant, never looser, also where epsilon is tiny', () => {
  for (const [sampleRate, noiseMultiplier, steps] of [
    [0.01, 1, 1000],
    [0.004, 1.3, 3750],
    [0.02, 0.8, 500],
    [0.001, 20, 100], // epsilon about 0.01: the RDP bound is the better one there
  ]) {
    const args = { sampleRate, noiseMultiplier, steps, delta: 1e-5 };
    const rdp = computeEpsilon(args).epsilon;
    const prv = computeEpsilonPrv({ ...args, epsilonError: 0.02 }).epsilon;
    assert.ok(prv <= rdp, `q ${sampleRate} sigma ${noiseMultiplier}: prv ${prv} > rdp ${rdp}`);
    if (rdp > 0.5) assert.ok(prv < 0.95 * rdp, `q ${sampleRate} sigma ${noiseMultiplier}: ${prv} vs ${rdp}`);
  }
  // A history of two settings is bounded by the RDP accountant of the same history.
  const prvAcc = new PrvAccountant();
  const rdpAcc = new RdpAccountant();
  for (const acc of [prvAcc, rdpAcc]) {
    acc.step({ noiseMultiplier: 1.1, sampleRate: 0.01 }, 300);
    acc.step({ noiseMultiplier: 0.9, sampleRate: 0.02 }, 100);
  }
  assert.ok(prvAcc.getEpsilon(1e-5, 0.02).epsilon < rdpAcc.getEpsilon(1e-5).epsilon);
});

test('no sampling or no steps cost nothing; no noise is not private', () => {
  assert.equal(computeEpsilonPrv({ sampleRate: 0, noiseMultiplier: 1, steps: 10, delta: 1e-5 }).epsilon, 0);
  assert.equal(computeEpsilonPrv({ sampleRate: 0.1, noiseMultiplier: 1, steps: 0, delta: 1e-5 }).epsilon, 0);
  assert.equal(computeEpsilonPrv({ sampleRate: 0.1, noiseMultiplier: 0, steps: 1, delta: 1e-5 }).epsilon, Infinity);
  assert.deepEqual(new PrvAccountant().getEpsilon(1e-5), { epsilon: 0, order: null });
});

test('PRV bad arguments are ArgumentErrors naming the function and the argument', () => {
  const ok = { sampleRate: 0.01, noiseMultiplier: 1, steps: 10, delta: 1e-5 };
  const cases: [() => unknown, RegExp][] = [
    [() => computeEpsilonPrv({ ...ok, epsilonError: 0 }), /computeEpsilonPrv: epsilonError must be a finite/],
    [() => computeEpsilonPrv({ ...ok, delta: 0 }), /computeEpsilonPrv: delta must be a number in \(0, 1\)/],
    [() => computeEpsilonPrv({ ...ok, sampleRate: -0.1 }), /computeEpsilonPrv: sampleRate must be/],
    [() => computeEpsilonPrv({ ...ok, steps: 1.5 }), /computeEpsilonPrv: steps must be a non-negative integer/],
    [() => new PrvAccountant().step({ noiseMultiplier: -1, sampleRate: 0.1 }), /PrvAccountant.step: noiseMult/],
    [() => new PrvAccountant().getEpsilon(1e-5, -1), /PrvAccountant.getEpsilon: epsilonError must be/],
    [
      () => computeEpsilonPrv({ ...ok, steps: 100000, epsilonError: 1e-5 }),
      /PrvAccountant: epsilonError 0.00001 needs a grid of \d+ points, over the 4194304/,
    ],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, (e: Error) => e instanceof ArgumentError && message.test(e.message), String(message));
  }
});
