// Gradient checking: analytic gradients from the tape against central finite differences.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/storage.js';
import { fmtShape } from '../errors.js';
import * as o from '../ops/index.js';
import { RandomStream } from '../ops/random.js';
import { grad } from './grad.js';

export interface GradCheckOptions {
  /** Finite-difference step (default 1e-6, suited to float64). */
  eps?: number;
  /** Allowed |analytic - numeric| <= atol + rtol * |numeric| (defaults 1e-6 and 1e-5). */
  atol?: number;
  rtol?: number;
  /** Seed of the random projection used for non-scalar outputs. */
  seed?: number;
}

export interface GradCheckResult {
  ok: boolean;
  maxError: number;
  /** Where the worst disagreement is: input index, flat element index, both values. */
  worst?: { input: number; element: number; analytic: number; numeric: number };
}

/**
 * Compares grad(f) with central differences for every element of every input. Non-scalar outputs are
 * reduced to a scalar by a fixed random projection sum(f(x) * r), which checks the full Jacobian
 * against r. Use float64 inputs.
 */
export function checkGradients(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradCheckOptions = {},
): GradCheckResult {
  const { eps = 1e-6, atol = 1e-6, rtol = 1e-5, seed = 1234 } = options;
  const probe = tidy(() => f(...inputs));
  const projection = new RandomStream(seed).normal(probe.shape, 0, 1, probe.dtype);
  if (!inputs.includes(probe)) probe.dispose();
  const scalarF = (xs: Tensor[]) => o.sum(o.mul(f(...xs), projection));
  const analytic = grad(scalarF)([...inputs]).map((g) => {
    const data = g.dataSync();
    g.dispose();
    return data;
  });
  const evaluate = (xs: Tensor[]) => tidy(() => scalarF(xs).item());

  let maxError = 0;
  let worst: GradCheckResult['worst'];
  let ok = true;
  inputs.forEach((x, i) => {
    const base = x.dataSync();
    for (let e = 0; e < base.length; e++) {
      const shifted = (delta: number) => {
        const data = base.slice();
        data[e] += delta;
        const moved = o.tensor(data, x.shape);
        const xs = inputs.map((t, j) => (j === i ? moved : t));
        try {
          return evaluate(xs);
        } finally {
          moved.dispose();
        }
      };
      const numeric = (shifted(eps) - shifted(-eps)) / (2 * eps);
      const a = analytic[i][e];
      const err = Math.abs(a - numeric);
      const bad = !(err <= atol + rtol * Math.abs(numeric));
      if (bad) ok = false;
      if (err > maxError || (bad && !worst) || Number.isNaN(err)) {
        maxError = Number.isNaN(err) ? Infinity : Math.max(maxError, err);
        worst = { input: i, element: e, analytic: a, numeric };
      }
    }
  });
  projection.dispose();
  return { ok, maxError, worst };
}

/** checkGradients that throws with a readable report when the check fails (for tests). */
export function assertGradients(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: GradCheckOptions = {},
): void {
  const r = checkGradients(f, inputs, options);
  if (!r.ok) {
    const w = r.worst!;
    throw new Error(
      `gradient check failed: input ${w.input} ${fmtShape(inputs[w.input].shape)} element ${w.element}: ` +
        `analytic ${w.analytic}, numeric ${w.numeric} (max error ${r.maxError})`,
    );
  }
}
