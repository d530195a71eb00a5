// Learning-rate schedules: values at chosen steps against Keras' formulas, config round trips, and
// argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { exponentialDecay, piecewiseConstant, cosineDecay, getSchedule } from '../../src/optim/index.js';
import { assertClose } from '../helpers.js';

test('exponentialDecay: lr0 * rate^(step / decaySteps), floored with staircase', () => {
  const smooth = exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5 });
  const stairs = exponentialDecay({ initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true });
  assertClose([0, 5, 10, 25].map(smooth), [0.1, 0.1 * Math.SQRT1_2, 0.05, 0.1 * 0.5 ** 2.5], { rtol: 1e-14 });
  assert.deepEqual([0, 9, 10, 19, 20, 25].map(stairs), [0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
});

test('piecewiseConstant: values[i] up to and including boundaries[i]', () => {
  const s = piecewiseConstant({ boundaries: [100, 200], values: [1, 0.5, 0.1] });
  assert.deepEqual([0, 100, 101, 200, 201, 1e6].map(s), [1, 1, 0.5, 0.5, 0.1, 0.1]);
});

test('cosineDecay: half cosine to alpha * lr0, clamped after decaySteps; optional linear warmup', () => {
  const s = cosineDecay({ initialLearningRate: 0.1, decaySteps: 100, alpha: 0.1 });
  const expected = (t: number) => 0.1 * ((1 - 0.1) * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, 100)) / 100)) + 0.1);
  assertClose([0, 25, 50, 100, 150].map(s), [0, 25, 50, 100, 150].map(expected), { rtol: 1e-14 });
  assertClose([s(0), s(50), s(100)], [0.1, 0.055, 0.01], { rtol: 1e-12 });

  const w = cosineDecay({ initialLearningRate: 0, decaySteps: 100, warmupTarget: 0.2, warmupSteps: 10 });
  assertClose([0, 5, 10, 60, 110, 500].map(w), [0, 0.1, 0.2, 0.1, 0, 0], { rtol: 1e-12, atol: 1e-15 });
});

test('schedules serialize to { className, config } and rebuild identically', () => {
  for (const s of [
    exponentialDecay({ initialLearningRate: 0.1, decaySteps: 7, decayRate: 0.9, staircase: true }),
    piecewiseConstant({ boundaries: [3, 8], values: [0.3, 0.2, 0.1] }),
    cosineDecay({ initialLearningRate: 0.01, decaySteps: 50, alpha: 0.05, warmupTarget: 0.1, warmupSteps: 5 }),
  ]) {
    const config = JSON.parse(JSON.stringify(s.getConfig()));
    const rebuilt = getSchedule(config);
    assert.deepEqual(rebuilt.getConfig(), s.getConfig());
    for (const t of [0, 1, 4, 5, 9, 30, 100]) assert.equal(rebuilt(t), s(t), `${config.className} at ${t}`);
  }
  assert.deepEqual(cosineDecay({ initialLearningRate: 1, decaySteps: 10 }).getConfig(), {
    className: 'CosineDecay',
    config: { initialLearningRate: 1, decaySteps: 10, alpha: 0, warmupTarget: null, warmupSteps: 0 },
  });
});

test('schedule arguments are checked', () => {
  assert.throws(() => piecewiseConstant({ boundaries: [1, 2], values: [1, 2] }), /one more entry than boundaries/);
  assert.throws(() => piecewiseConstant({ boundaries: [2, 1], values: [1, 2, 3] }), /boundaries must increase/);
  assert.throws(
    () => exponentialDecay({ initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5 }),
    /decaySteps must be a positive number/,
  );
  assert.throws(
    () => cosineDecay({ initialLearningRate: 0.1, decaySteps: 10, warmup_steps: 5 } as never),
    /unknown option 'warmup_steps'; did you mean 'warmupSteps'/,
  );
  assert.throws(
    () => getSchedule({ className: 'CosineDecy', config: {} }),
    (e: Error) => e instanceof c.ArgumentError && /did you mean 'CosineDecay'/.test(e.message),
  );
});
