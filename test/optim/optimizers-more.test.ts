// AMSGrad, Nadam, Adamax, Adadelta and SGD dampening against torch.optim 1.13 trajectories
// (test/fixtures/torch/optimizers.json, written by tools/torch-fixtures-ops.py), Lion against the paper's
// update written out plainly, and their configs, state round trips and errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { getOptimizer, lion, nadam, sgd, type Optimizer } from '../../src/optim/index.js';
import { assertClose } from '../helpers.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface Fixture {
  params: Arr[];
  grads: Arr[][];
  cases: { name: string; optimizer: string; options: Record<string, number | boolean>; trajectory: Arr[][] }[];
}

const FIXTURE = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'torch', 'optimizers.json');
const { cases: fixture } = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Fixture };
const t64 = (a: Arr) => c.tensor(Float64Array.from(a.data), a.shape, 'float64');

/** Applies the fixture's gradients step by step; returns the parameters' values after each step. */
function run(opt: Optimizer, steps = fixture.grads.length): number[][][] {
  let params = fixture.params.map(t64);
  const out: number[][][] = [];
  for (const step of fixture.grads.slice(0, steps)) {
    const grads = step.map(t64);
    const next = opt.apply(params, grads);
    c.dispose([...params, ...grads]);
    params = next;
    out.push(params.map((p) => Array.from(p.dataSync())));
  }
  c.dispose(params);
  return out;
}

describe('optimizers against torch.optim 1.13', () => {
  for (const k of fixture.cases) {
    test(`${k.name}: ${k.optimizer}(${JSON.stringify(k.options)})`, () => {
      const opt = getOptimizer({ className: k.optimizer, config: k.options });
      const got = run(opt);
      k.trajectory.forEach((step, t) =>
        step.forEach((p, i) =>
          assertClose(got[t][i], p.data, { rtol: 1e-12, atol: 1e-14 }, `step ${t + 1} param ${i}`),
        ),
      );
      opt.dispose();
    });
  }
});

describe('Lion against the paper (Chen et al. 2023, Algorithm 2)', () => {
  /** The update written out elementwise: c = b1 m + (1 - b1) g; p -= lr (sign(c) + wd p); m = b2 m + (1 - b2) g. */
  function reference(lr: number, b1: number, b2: number, wd: number): number[][][] {
    const params = fixture.params.map((p) => [...p.data]);
    const m = params.map((p) => p.map(() => 0));
    return fixture.grads.map((step) => {
      step.forEach((g, i) =>
        g.data.forEach((gj, j) => {
          const update = Math.sign(b1 * m[i][j] + (1 - b1) * gj);
          params[i][j] -= lr * (update + wd * params[i][j]);
          m[i][j] = b2 * m[i][j] + (1 - b2) * gj;
        }),
      );
      return params.map((p) => [...p]);
    });
  }
  for (const [name, options, wd] of [
    ['defaults', {}, 0],
    ['betas and weight decay', { learningRate: 0.03, beta1: 0.8, beta2: 0.95, weightDecay: 0.2 }, 0.2],
  ] as const) {
    test(name, () => {
      const lr = 'learningRate' in options ? options.learningRate : 0.001;
      const b1 = 'beta1' in options ? options.beta1 : 0.9;
      const b2 = 'beta2' in options ? options.beta2 : 0.99;
      const expected = reference(lr, b1, b2, wd);
      const got = run(lion(options));
      expected.forEach((step, t) =>
        step.forEach((p, i) => assertClose(got[t][i], p, { rtol: 1e-13, atol: 1e-15 }, `step ${t + 1} param ${i}`)),
      );
    });
  }
});

describe('optimizer options', () => {
  test('names resolve, configs round-trip and a resumed state continues the trajectory', () => {
    for (const name of ['nadam', 'Adamax', 'adadelta', 'lion'])
      assert.equal(typeof getOptimizer(name).apply, 'function');
    const made = getOptimizer({ className: 'adam', config: { learningRate: 0.01, epsilon: 0, amsgrad: true } });
    const config = made.getConfig();
    assert.equal(config.config?.amsgrad, true);
    const whole = run(getOptimizer(JSON.parse(JSON.stringify(config))));
    // Two steps, save, then three more on a fresh optimizer from the saved state.
    const first = getOptimizer(config);
    let params = fixture.params.map(t64);
    for (const step of fixture.grads.slice(0, 2)) params = first.apply(params, step.map(t64));
    const saved = first.getState();
    assert.ok(saved.slotNames!.some((n) => n.includes('nuMax')));
    const resumed = getOptimizer(config);
    resumed.setState(saved, params);
    for (const step of fixture.grads.slice(2)) params = resumed.apply(params, step.map(t64));
    params.forEach((p, i) => assertClose(p, whole[whole.length - 1][i], { rtol: 1e-14, atol: 0 }, `param ${i}`));
  });

  test('Nadam resumed mid-run keeps its momentum product', () => {
    const whole = run(nadam({ learningRate: 0.01 }));
    const first = nadam({ learningRate: 0.01 });
    let params = fixture.params.map(t64);
    for (const step of fixture.grads.slice(0, 3)) params = first.apply(params, step.map(t64));
    const resumed = nadam({ learningRate: 0.01 });
    resumed.setState(first.getState(), params);
    for (const step of fixture.grads.slice(3)) params = resumed.apply(params, step.map(t64));
    params.forEach((p, i) => assertClose(p, whole[whole.length - 1][i], { rtol: 1e-14, atol: 0 }, `param ${i}`));
  });

  test('bad options name the optimizer and the option', () => {
    assert.throws(() => sgd({ dampening: 0.5 }), /SGD: dampening 0.5 needs momentum > 0 and nesterov false/);
    assert.throws(() => sgd({ momentum: 0.9, nesterov: true, dampening: 0.1 }), c.ArgumentError);
    assert.throws(() => getOptimizer({ className: 'lion', config: { epsilon: 1e-7 } }), /epsilon/);
    assert.throws(() => getOptimizer({ className: 'adadelta', config: { rho: 2 } }), /Adadelta: rho must be/);
    assert.throws(() => c.optimizers.adam({ amsgrad: 1 as unknown as boolean }), /amsgrad must be a boolean/);
  });
});
