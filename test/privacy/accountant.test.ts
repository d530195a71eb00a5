// The RDP accountant: the published MNIST tables of TF Privacy and Opacus, an independent quadrature of the
// Renyi divergence, the q = 1 closed form, noiseMultiplierFor as the inverse of computeEpsilon, and bad input.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privacy, ArgumentError } from '../../src/index.js';

const { computeRdp, computeEpsilon, noiseMultiplierFor, RdpAccountant, DEFAULT_ORDERS } = privacy;

const N = 60000;
const DELTA = 1e-5;

// The published figures, all with delta = 1e-5 and the classic conversion (eps = rdp + log(1/delta)/(alpha-1)).
// TF Privacy (tutorials/README.md, MNIST, batch 256): q = 256/60000 and steps = floor(epochs * 60000 / 256),
// i.e. 14062, 3515 and 10546. The orders are 1.1, 1.2, ..., 10.9, 12, ..., 63 (compute_dp_sgd_privacy's list,
// which Opacus took over as its default): with the coarser list of TF Privacy's later mnist_dpsgd_tutorial
// (1.25, 1.5, ..., 4.5, 5, 6, ..., 63, 128, 256, 512) sigma 0.7 gives 7.12, not 7.10, because its optimum
// (order 3.8) falls between two of those orders.
// Opacus (examples/mnist README, sampling rate 0.004): steps = epochs / q (= floor(epochs * N / 240) with
// the expected batch 240), i.e. 15000, 3750 and 11250, the default orders.
const PUBLISHED = [
  { source: 'TF Privacy', sigma: 1.1, epochs: 60, q: 256 / N, steps: Math.floor((60 * N) / 256), epsilon: 3.01 },
  { source: 'TF Privacy', sigma: 1.3, epochs: 15, q: 256 / N, steps: Math.floor((15 * N) / 256), epsilon: 1.19 },
  { source: 'TF Privacy', sigma: 0.7, epochs: 45, q: 256 / N, steps: Math.floor((45 * N) / 256), epsilon: 7.1 },
  { source: 'Opacus', sigma: 1.1, epochs: 60, q: 0.004, steps: Math.round(60 / 0.004), epsilon: 2.91 },
  { source: 'Opacus', sigma: 1.3, epochs: 15, q: 0.004, steps: Math.round(15 / 0.004), epsilon: 1.16 },
  { source: 'Opacus', sigma: 0.7, epochs: 45, q: 0.004, steps: Math.round(45 / 0.004), epsilon: 6.86 },
];

test('the published MNIST epsilons of TF Privacy and Opacus, to the two decimals they print', () => {
  for (const p of PUBLISHED) {
    const { epsilon } = computeEpsilon({
      sampleRate: p.q,
      noiseMultiplier: p.sigma,
      steps: p.steps,
      delta: DELTA,
      conversion: 'classic',
    });
    // Rounds to the published figure: within half a unit of the last printed digit.
    assert.ok(
      Math.abs(epsilon - p.epsilon) <= 0.005,
      `${p.source} sigma ${p.sigma}, ${p.epochs} epochs: ${epsilon}, published ${p.epsilon}`,
    );
  }
});

test("Opacus' own RDPAccountant test: sigma 1.5, q 0.04, 2250 steps, delta 1e-5 gives 7.32911117143", () => {
  // opacus/tests/accountants_test.py, test_rdp_accountant (improved conversion, default orders).
  const { epsilon } = computeEpsilon({ sampleRate: 0.04, noiseMultiplier: 1.5, steps: 2250, delta: DELTA });
  assert.ok(Math.abs(epsilon - 7.32911117143) < 1e-10, `${epsilon}`);
});

test('the improved conversion is never looser than the classic one, and is what computeEpsilon defaults to', () => {
  for (const p of PUBLISHED) {
    const args = { sampleRate: p.q, noiseMultiplier: p.sigma, steps: p.steps, delta: DELTA };
    const classic = computeEpsilon({ ...args, conversion: 'classic' });
    const improved = computeEpsilon({ ...args, conversion: 'improved' });
    assert.ok(improved.epsilon < classic.epsilon);
    assert.deepEqual(computeEpsilon(args), improved);
    // Recomputed from the RDP curve by the formula, at the order returned.
    const rdp = computeRdp(args);
    const i = DEFAULT_ORDERS.indexOf(improved.order);
    const a = improved.order;
    const expected = rdp[i] + Math.log1p(-1 / a) - (Math.log(DELTA) + Math.log(a)) / (a - 1);
    assert.ok(Math.abs(improved.epsilon - expected) < 1e-12);
    assert.ok(Math.min(...rdp.map((r, k) => r - Math.log(DELTA) / (DEFAULT_ORDERS[k] - 1))) === classic.epsilon);
  }
});

/** The trapezoid rule of f over [lo, hi] with n steps. */
function trapezoid(f: (z: number) => number, lo: number, hi: number, n: number): number {
  const h = (hi - lo) / n;
  let sum = 0;
  for (let k = 0; k <= n; k++) sum += (k === 0 || k === n ? 0.5 : 1) * f(lo + k * h);
  return sum * h;
}

/** log of the trapezoid rule of e^g over [lo, hi], scaled by the largest e^g so that nothing overflows. */
function logIntegral(g: (z: number) => number, lo: number, hi: number, n: number): number {
  let m = -Infinity;
  for (let k = 0; k <= n; k++) m = Math.max(m, g(lo + ((hi - lo) * k) / n));
  return m + Math.log(trapezoid((z) => Math.exp(g(z) - m), lo, hi, n));
}

/**
 * The RDP of one step by quadrature of its definition, in both directions: with mu0 = N(0, sigma^2),
 * mu1 = N(1, sigma^2) and mu = (1 - q) mu0 + q mu1, D_alpha(mu || mu0) = log integral mu0 (mu/mu0)^alpha /
 * (alpha - 1) and D_alpha(mu0 || mu) = log integral mu0 (mu/mu0)^(1 - alpha) / (alpha - 1), where
 * mu/mu0 = (1 - q) + q e^{(2z - 1) / (2 sigma^2)}. The integrands are Gaussian-like, for which the trapezoid
 * rule on a wide enough interval converges geometrically in the step. Where the integral A is near 1 (tiny
 * RDP), A - 1 = integral mu0 ((mu/mu0)^beta - 1) is integrated instead, so that log1p keeps its digits.
 */
function rdpByQuadrature(q: number, sigma: number, alpha: number): { forward: number; backward: number } {
  const twoVar = 2 * sigma * sigma;
  const logMu0 = (z: number) => -(z * z) / twoVar - Math.log(sigma * Math.sqrt(2 * Math.PI));
  const logRatio = (z: number) => {
    const a = Math.log1p(-q);
    const b = Math.log(q) + (2 * z - 1) / twoVar;
    return Math.max(a, b) + Math.log1p(Math.exp(Math.min(a, b) - Math.max(a, b)));
  };
  const lo = -14 * sigma - 2;
  const hi = alpha + 14 * sigma + 2;
  const n = Math.ceil(((hi - lo) / sigma) * 100);
  const divergence = (beta: number): number => {
    const logA = logIntegral((z) => logMu0(z) + beta * logRatio(z), lo, hi, n);
    if (logA > 1) return logA / (alpha - 1);
    // mu0 (e^t - 1) with t = beta log(mu/mu0), as exp of a log so that 0 * Infinity never arises.
    const integrand = (z: number) => {
      const t = beta * logRatio(z);
      return t >= 0
        ? Math.exp(logMu0(z) + t + Math.log1p(-Math.exp(-t)))
        : -Math.exp(logMu0(z) + Math.log(-Math.expm1(t)));
    };
    const aMinus1 = trapezoid(integrand, lo, hi, n);
    return Math.log1p(aMinus1) / (alpha - 1);
  };
  return { forward: divergence(alpha), backward: divergence(1 - alpha) };
}

test('one step of RDP equals a quadrature of the Renyi divergence, for integer and fractional orders', () => {
  const cases: [number, number, number][] = [
    [0.01, 1.1, 2],
    [0.01, 1.1, 2.5],
    [0.1, 0.8, 3.7],
    [0.004, 1.3, 17],
    [0.004, 1.3, 16.5],
    [0.3, 2, 1.5],
    [0.5, 1, 5.25],
    [0.9, 1.5, 4.4], // q > 1/2: the split point z0 is below 1/2
    [0.05, 0.5, 8],
    [0.05, 0.5, 7.9],
    [0.2, 4, 1.1],
    // TF Privacy's extreme cases (rdp_accountant_test's test_compute_log_a_equals_mp) and more.
    [1e-7, 0.1, 1.01],
    [1e-6, 0.1, 256],
    [1e-5, 0.1, 256.1],
    [1e-6, 1, 27],
    [1e-4, 1, 1.5],
    [1e-3, 1, 2],
    [0.01, 10, 20],
    [0.1, 100, 20.5],
    [0.99, 0.1, 256],
    [0.999, 100, 256.1],
    [1e-5, 0.3, 255.5],
  ];
  for (const [q, sigma, alpha] of cases) {
    const [rdp] = computeRdp({ sampleRate: q, noiseMultiplier: sigma, steps: 1, orders: [alpha] });
    const { forward, backward } = rdpByQuadrature(q, sigma, alpha);
    assert.ok(Math.abs(rdp - forward) <= 1e-7 * forward, `q ${q} sigma ${sigma} alpha ${alpha}: ${rdp} vs ${forward}`);
    // Mironov et al.'s theorem 4: the direction computed is the larger one.
    assert.ok(backward <= forward * (1 + 1e-9), `q ${q} sigma ${sigma} alpha ${alpha}: ${backward} > ${forward}`);
  }
});

test('the integer and fractional expansions agree where they meet', () => {
  for (const [q, sigma] of [
    [0.01, 1],
    [0.2, 0.7],
    [0.7, 3],
  ]) {
    for (const alpha of [2, 3, 10, 40]) {
      const [atInt, nearInt] = computeRdp({
        sampleRate: q,
        noiseMultiplier: sigma,
        steps: 1,
        orders: [alpha, alpha + 1e-9],
      });
      assert.ok(Math.abs(atInt - nearInt) <= 1e-6 * atInt, `q ${q} sigma ${sigma} alpha ${alpha}`);
    }
  }
});

test('q = 1 is the Gaussian mechanism alpha / (2 sigma^2); q = 0 costs nothing; sigma = 0 is not private', () => {
  const orders = [1.5, 2, 7.3, 64];
  assert.deepEqual(
    computeRdp({ sampleRate: 1, noiseMultiplier: 2, steps: 3, orders }),
    orders.map((a) => (3 * a) / 8),
  );
  assert.deepEqual(computeRdp({ sampleRate: 0, noiseMultiplier: 0, steps: 10, orders }), [0, 0, 0, 0]);
  assert.deepEqual(
    computeRdp({ sampleRate: 0.1, noiseMultiplier: 0, steps: 1, orders }),
    orders.map(() => Infinity),
  );
  assert.equal(computeEpsilon({ sampleRate: 0.1, noiseMultiplier: 0, steps: 1, delta: DELTA }).epsilon, Infinity);
  assert.equal(computeEpsilon({ sampleRate: 0, noiseMultiplier: 1, steps: 100, delta: DELTA }).epsilon, 0);
  assert.equal(computeEpsilon({ sampleRate: 0.1, noiseMultiplier: 1, steps: 0, delta: DELTA }).epsilon, 0);
});

test('epsilon grows with the steps and the sample rate and shrinks with the noise', () => {
  const base = { sampleRate: 0.01, noiseMultiplier: 1, steps: 1000, delta: DELTA };
  const eps = (o: Partial<typeof base>) => computeEpsilon({ ...base, ...o }).epsilon;
  let prev = 0;
  for (const steps of [1, 10, 100, 1000, 10000]) {
    const e = eps({ steps });
    assert.ok(e > prev, `steps ${steps}`);
    prev = e;
  }
  prev = Infinity;
  for (const noiseMultiplier of [0.5, 0.7, 1, 1.5, 3, 10]) {
    const e = eps({ noiseMultiplier });
    assert.ok(e < prev, `sigma ${noiseMultiplier}`);
    prev = e;
  }
  prev = 0;
  for (const sampleRate of [0.001, 0.01, 0.1, 0.5, 1]) {
    const e = eps({ sampleRate });
    assert.ok(e > prev, `q ${sampleRate}`);
    prev = e;
  }
});

test('extreme inputs stay finite: small sigma, large orders, tiny sample rates', () => {
  const orders = [1.01, 1.5, 2, 2.5, 63, 128, 255.5, 256, 512.25];
  for (const [q, sigma] of [
    [1e-5, 0.3],
    [1e-7, 0.1],
    [0.99, 0.1],
    [0.5, 0.3],
    [1e-5, 50],
  ]) {
    const rdp = computeRdp({ sampleRate: q, noiseMultiplier: sigma, steps: 1, orders });
    for (const r of rdp) assert.ok(Number.isFinite(r) && r >= 0, `q ${q} sigma ${sigma}: ${rdp}`);
    // Never above the unsampled Gaussian mechanism's alpha / (2 sigma^2).
    rdp.forEach((r, i) => assert.ok(r <= (orders[i] / (2 * sigma * sigma)) * (1 + 1e-12)));
  }
});

test('noiseMultiplierFor inverts computeEpsilon: epsilon within the tolerance below the target', () => {
  for (const conversion of ['classic', 'improved'] as const) {
    for (const [targetEpsilon, sampleRate, steps] of [
      [3, 256 / N, 14062],
      [1, 0.004, 3750],
      [8, 0.01, 500],
    ]) {
      const sigma = noiseMultiplierFor({ targetEpsilon, delta: DELTA, sampleRate, steps, conversion });
      const { epsilon } = computeEpsilon({ sampleRate, noiseMultiplier: sigma, steps, delta: DELTA, conversion });
      assert.ok(epsilon <= targetEpsilon && epsilon >= targetEpsilon - 0.01, `${conversion}: ${epsilon}`);
      const tight = noiseMultiplierFor({
        targetEpsilon,
        delta: DELTA,
        sampleRate,
        steps,
        conversion,
        epsilonTolerance: 1e-4,
      });
      assert.ok(tight <= sigma);
    }
  }
  // The published point read backwards: epsilon 3.01 in TF Privacy's setting needs about sigma 1.1.
  const sigma = noiseMultiplierFor({
    targetEpsilon: 3.0083,
    delta: DELTA,
    sampleRate: 256 / N,
    steps: 14062,
    conversion: 'classic',
    epsilonTolerance: 1e-5,
  });
  assert.ok(Math.abs(sigma - 1.1) < 1e-4, `${sigma}`);
  // Nothing to pay for: no noise needed.
  assert.equal(noiseMultiplierFor({ targetEpsilon: 1, delta: DELTA, sampleRate: 0, steps: 100 }), 0);
});

test('noiseMultiplierFor: an unreachable target is an ArgumentError', () => {
  // With the classic conversion, even zero RDP leaves log(1/delta) / 62 = 0.186 at the largest default order;
  // RDP is zero only within the KL bound (rdp <= delta^2 about), which 1e8 unsampled steps at sigma 1e6 exceed.
  const args = { targetEpsilon: 0.1, delta: DELTA, sampleRate: 1, steps: 1e8, conversion: 'classic' as const };
  assert.throws(
    () => noiseMultiplierFor(args),
    (e: Error) => e instanceof ArgumentError && /noiseMultiplierFor: no noise multiplier up to/.test(e.message),
  );
});

test('RdpAccountant composes steps by adding RDP, with noise and sampling changing over the run', () => {
  const acc = new RdpAccountant();
  assert.deepEqual(acc.getEpsilon(DELTA), { epsilon: 0, order: DEFAULT_ORDERS[0] });
  for (let i = 0; i < 100; i++) acc.step({ noiseMultiplier: 1.1, sampleRate: 0.01 });
  acc.step({ noiseMultiplier: 0.8, sampleRate: 0.02 }, 50);
  acc.step({ noiseMultiplier: 0.8, sampleRate: 0.02 }, 0);
  acc.step({ noiseMultiplier: 0.8, sampleRate: 0.02 });
  assert.equal(acc.steps, 151);
  assert.deepEqual(acc.history, [
    { noiseMultiplier: 1.1, sampleRate: 0.01, steps: 100 },
    { noiseMultiplier: 0.8, sampleRate: 0.02, steps: 51 },
  ]);
  const a = computeRdp({ sampleRate: 0.01, noiseMultiplier: 1.1, steps: 100 });
  const b = computeRdp({ sampleRate: 0.02, noiseMultiplier: 0.8, steps: 51 });
  const expected = privacy.epsilonFromRdp(
    a.map((r, i) => r + b[i]),
    DEFAULT_ORDERS,
    DELTA,
    'classic',
  );
  const got = acc.getEpsilon(DELTA, 'classic');
  assert.equal(got.order, expected.order);
  assert.ok(Math.abs(got.epsilon - expected.epsilon) < 1e-12);
  // One schedule of constant parameters equals computeEpsilon.
  const one = new RdpAccountant();
  one.step({ noiseMultiplier: 1.1, sampleRate: 256 / N }, 14062);
  assert.deepEqual(
    one.getEpsilon(DELTA),
    computeEpsilon({ sampleRate: 256 / N, noiseMultiplier: 1.1, steps: 14062, delta: DELTA }),
  );
});

test('bad arguments are ArgumentErrors naming the function, the argument and what was expected', () => {
  const ok = { sampleRate: 0.01, noiseMultiplier: 1, steps: 10, delta: DELTA };
  const cases: [() => unknown, RegExp][] = [
    [() => computeEpsilon({ ...ok, sampleRate: 1.5 }), /computeEpsilon: sampleRate must be a number in \[0, 1\]/],
    [() => computeEpsilon({ ...ok, sampleRate: NaN }), /sampleRate must be a number in \[0, 1\], got NaN/],
    [() => computeRdp({ ...ok, noiseMultiplier: -1 }), /computeRdp: noiseMultiplier must be a finite number >= 0/],
    [() => computeEpsilon({ ...ok, delta: 0 }), /computeEpsilon: delta must be a number in \(0, 1\), got 0/],
    [() => computeEpsilon({ ...ok, delta: 1 }), /delta must be a number in \(0, 1\)/],
    [() => computeEpsilon({ ...ok, steps: 2.5 }), /computeEpsilon: steps must be a non-negative integer, got 2.5/],
    [() => computeRdp({ ...ok, steps: -1 }), /computeRdp: steps must be a non-negative integer/],
    [() => computeRdp({ ...ok, orders: [2, 1] }), /computeRdp: orders must be numbers > 1 .*got 1/],
    [() => computeRdp({ ...ok, orders: [] }), /computeRdp: orders must be a non-empty array/],
    [
      () => computeEpsilon({ ...ok, conversion: 'tight' as 'classic' }),
      /computeEpsilon: conversion must be 'classic' or 'improved', got "tight"/,
    ],
    [() => noiseMultiplierFor({ ...ok, targetEpsilon: 0 }), /noiseMultiplierFor: targetEpsilon must be a finite/],
    [
      () => noiseMultiplierFor({ ...ok, targetEpsilon: 1, epsilonTolerance: -1 }),
      /noiseMultiplierFor: epsilonTolerance must be a finite number > 0/,
    ],
    [() => new RdpAccountant({ orders: [0.5] }), /RdpAccountant: orders must be numbers > 1/],
    [() => new RdpAccountant().step({ noiseMultiplier: 1, sampleRate: 2 }), /RdpAccountant.step: sampleRate/],
    [() => new RdpAccountant().step({ noiseMultiplier: 1, sampleRate: 0.1 }, 1.5), /RdpAccountant.step: count/],
    [() => new RdpAccountant().getEpsilon(2), /RdpAccountant.getEpsilon: delta must be a number in \(0, 1\)/],
  ];
  for (const [fn, message] of cases) {
    assert.throws(fn, (e: Error) => e instanceof ArgumentError && message.test(e.message), String(message));
  }
});
