// Quadrature rules on [0, 1] for Integrated Gradients' path integral: Riemann sums and Gauss-Legendre.
import { ArgumentError } from '../errors.js';
import type { IntegrationRule } from './types.js';

export const INTEGRATION_RULES: readonly IntegrationRule[] = [
  'riemannLeft',
  'riemannRight',
  'riemannMiddle',
  'riemannTrapezoid',
  'gaussLegendre',
];

/** Points alphas in [0, 1] and weights with sum_k weights[k] g(alphas[k]) ~ integral of g over [0, 1]. */
export interface PathRule {
  alphas: Float64Array;
  weights: Float64Array;
}

/**
 * The n-point Gauss-Legendre rule on [0, 1] (exact for polynomials of degree 2n - 1): the roots of the
 * Legendre polynomial P_n by Newton's method from Tricomi's first guess, weights 2 / ((1 - x^2) P_n'(x)^2),
 * both mapped from [-1, 1]. Ascending alphas.
 */
export function gaussLegendre(n: number): PathRule {
  const alphas = new Float64Array(n);
  const weights = new Float64Array(n);
  for (let i = 0; i < Math.ceil(n / 2); i++) {
    let z = Math.cos((Math.PI * (i + 0.75)) / (n + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      // P_n(z) by the three-term recurrence j P_j = (2j - 1) z P_{j-1} - (j - 1) P_{j-2}; P_n' from P_n, P_{n-1}.
      let p = 1,
        previous = 0;
      for (let j = 1; j <= n; j++) {
        const older = previous;
        previous = p;
        p = ((2 * j - 1) * z * previous - (j - 1) * older) / j;
      }
      derivative = (n * (z * p - previous)) / (z * z - 1);
      const step = p / derivative;
      z -= step;
      if (Math.abs(step) <= 1e-16) break;
    }
    const w = 1 / ((1 - z * z) * derivative * derivative); // half of the [-1, 1] weight 2 / ((1 - z^2) P'^2)
    alphas[i] = (1 - z) / 2;
    alphas[n - 1 - i] = (1 + z) / 2;
    weights[i] = weights[n - 1 - i] = w;
  }
  return { alphas, weights };
}

/**
 * The rule's points and weights for `steps` points. Riemann sums use steps of 1/steps at the left ends,
 * right ends or midpoints; the trapezoid rule puts `steps` points from 0 to 1 inclusive (weights 1/(steps-1),
 * halved at the ends: Captum keeps 1/steps there, so its weights sum to (steps - 1)/steps).
 */
export function pathRule(rule: IntegrationRule, steps: number, op: string): PathRule {
  if (!Number.isInteger(steps) || steps < 1)
    throw new ArgumentError(`${op}: steps must be a positive integer, got ${String(steps)}`);
  if (!INTEGRATION_RULES.includes(rule))
    throw new ArgumentError(`${op}: rule must be one of ${INTEGRATION_RULES.join(', ')}, got ${String(rule)}`);
  if (rule === 'gaussLegendre') return gaussLegendre(steps);
  if (rule === 'riemannTrapezoid') {
    if (steps < 2) throw new ArgumentError(`${op}: riemannTrapezoid needs steps >= 2 (both ends), got ${steps}`);
    const h = 1 / (steps - 1);
    const alphas = Float64Array.from({ length: steps }, (_, k) => k * h);
    const weights = new Float64Array(steps).fill(h);
    weights[0] = weights[steps - 1] = h / 2;
    return { alphas, weights };
  }
  const offset = rule === 'riemannLeft' ? 0 : rule === 'riemannRight' ? 1 : 0.5;
  return {
    alphas: Float64Array.from({ length: steps }, (_, k) => (k + offset) / steps),
    weights: new Float64Array(steps).fill(1 / steps),
  };
}
