// Saliency, gradient x input and Integrated Gradients (every rule, tensor baselines, logit targets, token
// models through their embeddings) against PyTorch 1.13 on fixed weights (test/fixtures/explain/, written by
// tools/torch-fixtures-explain.py), in float32 and float64; and Gauss-Legendre nodes against numpy's.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import { gaussLegendre } from '../../src/explain/quadrature.js';
import type { IntegrationRule } from '../../src/explain/types.js';
import { maxAbsError, type Arr } from '../nn/torch-fixtures.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'explain');
const load = <T>(name: string) => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as T;

interface Results {
  saliency: Arr;
  gradientXInput: Arr;
  integratedGradients: { baseline: string; rule: IntegrationRule; steps: number; attributions: Arr; gap: number }[];
}
interface Fixture {
  weights: Arr[];
  inputs: Arr;
  targets: number[];
  baselines?: Record<string, Arr>;
  probability: Results;
  logit?: Results;
}

type Dtype = 'float32' | 'float64';
const DTYPES: Dtype[] = ['float32', 'float64'];
/** float32 within the suite's 1e-5 against torch's float64; float64 far tighter. */
const tolerance = (dtype: Dtype) => (dtype === 'float32' ? 1e-5 : 1e-10);

function install(model: c.Sequential, weights: Arr[], dtype: Dtype): void {
  assert.equal(model.weights.length, weights.length);
  model.weights.forEach((w, i) => w.assign(c.tensor(Float64Array.from(weights[i].data), weights[i].shape, dtype)));
}

/** Every method of `results` on the model, its errors against torch's by name. */
function compare(
  model: c.Sequential,
  inputs: c.Tensor,
  results: Results,
  target: c.explainability.Target,
  baseline: (label: string) => c.explainability.Baseline,
): Record<string, number> {
  const errors: Record<string, number> = {};
  const sal = c.explain(model, inputs, { method: 'saliency', target, absolute: false });
  errors.saliency = maxAbsError(sal.attributions, results.saliency, 'saliency');
  const gxi = c.explain(model, inputs, { method: 'gradientXInput', target });
  errors.gradientXInput = maxAbsError(gxi.attributions, results.gradientXInput, 'gradientXInput');
  for (const ig of results.integratedGradients) {
    const what = `IG ${ig.rule} ${ig.steps} baseline ${ig.baseline}`;
    const e = c.explain(model, inputs, {
      method: 'integratedGradients',
      target,
      rule: ig.rule,
      steps: ig.steps,
      baseline: baseline(ig.baseline),
    });
    errors[what] = maxAbsError(e.attributions, ig.attributions, what);
    // The gap is the quadrature's, the same in both: compare it where it is above float32 rounding.
    if (ig.gap > 1e-4) assert.ok(Math.abs(Math.max(...e.completenessGap!) - ig.gap) < 1e-5, `${what} gap`);
  }
  return errors;
}

/** Asserts every error is within the dtype's tolerance; reports the worst as a diagnostic. */
function within(t: TestContext, errors: Record<string, number>, dtype: Dtype): void {
  for (const [what, err] of Object.entries(errors))
    assert.ok(err <= tolerance(dtype), `${dtype} ${what}: max abs error ${err} > ${tolerance(dtype)}`);
  const [what, worst] = Object.entries(errors).reduce((a, b) => (b[1] > a[1] ? b : a));
  t.diagnostic(`${dtype}: max abs error vs torch ${worst.toExponential(2)} (${what})`);
}

test('a Dense-tanh-Dense-softmax model: saliency, gradient x input and IG (all rules) equal torch', (t) => {
  const f = load<Fixture>('mlp');
  for (const dtype of DTYPES) {
    const model = new c.Sequential([
      c.layers.dense({ units: 6, activation: 'tanh', inputShape: [4], dtype }),
      c.layers.dense({ units: 3, activation: 'softmax', dtype }),
    ]);
    model.build([null, 4]);
    install(model, f.weights, dtype);
    const x = c.tensor(Float64Array.from(f.inputs.data), f.inputs.shape, dtype);
    const baseline = (label: string) => {
      const b = f.baselines![label];
      return label === '0' ? 0 : c.tensor(Float64Array.from(b.data), b.shape, dtype);
    };
    within(t, compare(model, x, f.probability, f.targets, baseline), dtype);
    within(t, compare(model, x, f.logit!, { logit: f.targets }, baseline), dtype);
  }
});

test('a Conv2D-tanh-Flatten-Dense-softmax model on NHWC images equals torch', (t) => {
  const f = load<Fixture>('conv');
  for (const dtype of DTYPES) {
    const model = new c.Sequential([
      c.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh', inputShape: [6, 6, 2], dtype }),
      c.layers.flatten({ dtype }),
      c.layers.dense({ units: 3, activation: 'softmax', dtype }),
    ]);
    model.build([null, 6, 6, 2]);
    install(model, f.weights, dtype);
    const x = c.tensor(Float64Array.from(f.inputs.data), f.inputs.shape, dtype);
    within(
      t,
      compare(model, x, f.probability, f.targets, () => 0),
      dtype,
    );
  }
});

test('a token model (Embedding maskZero, LSTM) is attributed via its embeddings, per token, as torch', (t) => {
  const f = load<Fixture>('text');
  const ids = c.tensor(Int32Array.from(f.inputs.data), f.inputs.shape, 'int32');
  for (const dtype of DTYPES) {
    const model = new c.Sequential([
      c.layers.embedding({ inputDim: 12, outputDim: 4, maskZero: true, inputShape: [6], dtype }),
      c.layers.lstm({ units: 5, dtype }),
      c.layers.dense({ units: 2, activation: 'softmax', dtype }),
    ]);
    model.build([null, 6]);
    install(model, f.weights, dtype);
    const errors = compare(model, ids, f.probability, f.targets, () => 0);
    within(t, errors, dtype);
    // Padding (id 0, masked) gets nothing: the LSTM skips it.
    const sal = c.explain(model, ids, { method: 'saliency', target: f.targets });
    assert.deepEqual(Array.from(sal.attributions.dataSync().slice(0, 2)), [0, 0]);
    assert.equal(sal.attributions.dtype, dtype);
  }
});

test('Gauss-Legendre nodes and weights equal numpy leggauss and the closed forms', () => {
  const f = load<Record<string, { alphas: number[]; weights: number[] }>>('gauss-legendre');
  for (const [n, want] of Object.entries(f).filter(([key]) => /^\d+$/.test(key))) {
    const { alphas, weights } = gaussLegendre(Number(n));
    for (let k = 0; k < want.alphas.length; k++) {
      assert.ok(Math.abs(alphas[k] - want.alphas[k]) < 1e-14, `n ${n} node ${k}`);
      assert.ok(Math.abs(weights[k] - want.weights[k]) < 1e-14, `n ${n} weight ${k}`);
    }
  }
  // n = 2: (1 -+ 1/sqrt 3) / 2, weights 1/2; n = 3: 1/2 -+ sqrt(3/5)/2 with 5/18 and the midpoint with 8/18.
  const two = gaussLegendre(2);
  assert.ok(Math.abs(two.alphas[0] - (1 - 1 / Math.sqrt(3)) / 2) < 1e-15 && Math.abs(two.weights[1] - 0.5) < 1e-15);
  const three = gaussLegendre(3);
  assert.ok(Math.abs(three.alphas[2] - (1 + Math.sqrt(0.6)) / 2) < 1e-15 && Math.abs(three.alphas[1] - 0.5) < 1e-15);
  assert.ok(Math.abs(three.weights[0] - 5 / 18) < 1e-15 && Math.abs(three.weights[1] - 8 / 18) < 1e-15);
  // Exact for polynomials of degree 2n - 1: the integral of t^9 over [0, 1] with 5 points.
  const five = gaussLegendre(5);
  assert.ok(Math.abs(five.alphas.reduce((s, a, k) => s + five.weights[k] * a ** 9, 0) - 0.1) < 1e-15);
});
