// Pruning schedules against TF-MOT's closed forms (pruning_schedule.py): when the masks update, the sparsity
// at each step, the validation of the arguments and the config round trip.
import '../config-dir.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, compress } from '../../src/index.js';

const { ConstantSparsity, PolynomialDecay, pruningScheduleFromConfig, keptCount } = compress;

describe('PolynomialDecay', () => {
  const s = new PolynomialDecay({ initialSparsity: 0.2, finalSparsity: 0.8, beginStep: 100, endStep: 1100 });

  test('sparsity is final + (initial - final) (1 - p)^3, p clipped to [0, 1]', () => {
    // Values written out by hand from the formula.
    const cases: [number, number][] = [
      [0, 0.2], // before beginStep: p clipped to 0
      [100, 0.2],
      [350, 0.8 - 0.6 * 0.75 ** 3], // p = 0.25
      [600, 0.8 - 0.6 * 0.125], // p = 0.5
      [1100, 0.8],
      [5000, 0.8], // after endStep: p clipped to 1
    ];
    for (const [step, want] of cases) assert.ok(Math.abs(s.sparsity(step) - want) < 1e-12, `step ${step}`);
  });

  test('masks update every frequency steps in [beginStep, endStep] only', () => {
    const steps = [...Array(1300).keys()].filter((t) => s.call(t)[0]);
    assert.deepEqual(steps, [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100]);
    const odd = new PolynomialDecay({
      initialSparsity: 0,
      finalSparsity: 0.5,
      beginStep: 3,
      endStep: 10,
      frequency: 4,
    });
    assert.deepEqual(
      [...Array(20).keys()].filter((t) => odd.shouldPrune(t)),
      [3, 7],
    );
  });

  test('power and frequency options', () => {
    const lin = new PolynomialDecay({ initialSparsity: 0, finalSparsity: 0.5, beginStep: 0, endStep: 10, power: 1 });
    assert.ok(Math.abs(lin.sparsity(4) - 0.2) < 1e-12);
    assert.equal(lin.frequency, 100);
    assert.equal(lin.power, 1);
  });

  test('invalid arguments raise ArgumentError as TF-MOT refuses them', () => {
    const base = { initialSparsity: 0.1, finalSparsity: 0.5, beginStep: 0, endStep: 10 };
    for (const bad of [
      { ...base, finalSparsity: 1 },
      { ...base, initialSparsity: -0.1 },
      { ...base, finalSparsity: Number.NaN },
      { ...base, endStep: -1 },
      { ...base, beginStep: -1 },
      { ...base, beginStep: 11 },
      { ...base, beginStep: 10 }, // begin == end would divide by zero
      { ...base, frequency: 0 },
      { ...base, beginStep: 1.5 },
      { ...base, power: Number.POSITIVE_INFINITY },
      { ...base, final_sparsity: 0.5 },
    ])
      assert.throws(() => new PolynomialDecay(bad as never), ArgumentError, JSON.stringify(bad));
  });
});

describe('ConstantSparsity', () => {
  test('constant sparsity; endStep -1 prunes forever', () => {
    const s = new ConstantSparsity({ targetSparsity: 0.5, beginStep: 10, frequency: 5 });
    assert.deepEqual(s.call(12), [false, 0.5]);
    assert.deepEqual(s.call(15), [true, 0.5]);
    assert.deepEqual(s.call(1_000_000), [true, 0.5]);
    assert.deepEqual(s.call(5), [false, 0.5]);
    const bounded = new ConstantSparsity({ targetSparsity: 0.9, beginStep: 0, endStep: 200 });
    assert.deepEqual(
      [0, 100, 200, 300].map((t) => bounded.shouldPrune(t)),
      [true, true, true, false],
    );
  });

  test('invalid arguments', () => {
    assert.throws(() => new ConstantSparsity({ targetSparsity: 1, beginStep: 0 }), ArgumentError);
    assert.throws(() => new ConstantSparsity({ targetSparsity: 0.5, beginStep: 5, endStep: 4 }), ArgumentError);
    assert.throws(() => new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0, endStep: -2 }), ArgumentError);
    assert.throws(() => new ConstantSparsity({ targetSparsity: 0.5 } as never), /beginStep/);
    assert.throws(() => new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0 }).call(-1), ArgumentError);
  });
});

test('schedules round-trip through their configs', () => {
  const a = new PolynomialDecay({ initialSparsity: 0.1, finalSparsity: 0.7, beginStep: 2, endStep: 9, power: 2 });
  const b = new ConstantSparsity({ targetSparsity: 0.3, beginStep: 1, endStep: 50, frequency: 7 });
  for (const s of [a, b]) {
    const json = JSON.parse(JSON.stringify(s.getConfig()));
    const back = pruningScheduleFromConfig(json);
    assert.equal(back.constructor, s.constructor);
    assert.deepEqual(back.getConfig(), s.getConfig());
  }
  assert.throws(() => pruningScheduleFromConfig({ className: 'PolynomialDecayy', config: {} }), /did you mean/);
});

test('keptCount follows TF-MOT: max(round(n (1 - s)), 1), halves to even', () => {
  assert.equal(keptCount(10, 0.8), 2);
  assert.equal(keptCount(7, 0.5), 4); // 3.5 -> 4 (even)
  assert.equal(keptCount(5, 0.5), 2); // 2.5 -> 2 (even)
  assert.equal(keptCount(3, 0.99), 1); // never below 1
  assert.equal(keptCount(0, 0.5), 0);
  assert.equal(keptCount(9, 0), 9);
});
