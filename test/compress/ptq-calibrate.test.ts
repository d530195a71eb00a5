// Tests calibration against closed forms on known distributions: min-max gives the sample's extremes, percentile
// clips planted outliers, the expected-MSE integral matches s^2 / 12 and the sample, and the MSE-optimal range is
// narrower than min-max on a heavy-tailed sample with a lower real quantisation error.
import '../config-dir.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError, Sequential, tensor, type Tensor } from '../../src/index.js';
import { Dense } from '../../src/nn/layers/index.js';
import { calibrate, inputQuantization } from '../../src/compress/index.js';
import { Histogram, mseRange, quantizationMse } from '../../src/compress/calibrate.js';
import type { InputQuantization } from '../../src/compress/index.js';

/** mulberry32: a small seeded generator of uniforms in [0, 1). */
function uniforms(n: number, seed: number): number[] {
  let a = seed >>> 0;
  return Array.from({ length: n }, () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  });
}

/** Laplace(0, 1) by inversion: heavy (exponential) tails. */
const laplace = (n: number, seed: number) =>
  uniforms(n, seed).map((u) => (u < 0.5 ? Math.log(2 * u + 1e-12) : -Math.log(2 - 2 * u + 1e-12)));

/** A model whose Dense layer sees the samples themselves: its input range is the sample's. */
function probe(): Sequential {
  return new Sequential([new Dense({ units: 2, inputShape: [1] })]);
}

const column = (values: readonly number[]): Tensor => tensor(Float32Array.from(values), [values.length, 1]);

/** The real mean squared error of quantising `values` as the int8 op does (round half even, clip to uint8). */
function sampleMse(values: readonly number[], q: InputQuantization): number {
  const inv = Math.fround(1 / q.inputScale);
  let sum = 0;
  for (const v of values) {
    const x = Math.fround(Math.fround(v) * inv);
    let r = Math.round(x);
    if (r - x === 0.5 && r % 2 !== 0) r -= 1;
    const code = Math.min(255, Math.max(0, r + q.inputZeroPoint));
    const d = Math.fround(v) - (code - q.inputZeroPoint) * q.inputScale;
    sum += d * d;
  }
  return sum / values.length;
}

describe('calibration methods', () => {
  test('minmax gives the extremes of the sample, for every call of the layer', () => {
    const values = uniforms(5000, 1).map((u) => -1 + 4 * u);
    const x = column(values);
    const model = probe();
    const c = calibrate(model, x, { method: 'minmax', batchSize: 700 });
    assert.equal(c.layers.length, 1);
    const [entry] = c.layers;
    const f32 = Float32Array.from(values);
    assert.deepEqual(entry.range, { min: Math.min(...f32), max: Math.max(...f32) });
    assert.deepEqual(entry.observed, entry.range);
    assert.equal(entry.count, 5000);
    assert.equal(entry.className, 'Dense');
    assert.equal(c.byLayer.get(model.layers[0]), entry);
    x.dispose();
  });

  test('percentile clips planted outliers and keeps the body of a uniform sample', () => {
    const values = [...uniforms(100_000, 2), 50, 49, 48, 47, 46, -30];
    const x = column(values);
    const c = calibrate(probe(), x, { method: 'percentile', percentile: 99.99 });
    const { min, max } = c.layers[0].range;
    assert.deepEqual(c.layers[0].observed, { min: -30, max: 50 });
    // The top 0.01% (10 values) holds the 5 outliers and the 5 largest uniforms, all within a bin of 1.
    const bin = 80 / 2048;
    assert.ok(Math.abs(max - 1) < bin, `upper end ${max}`);
    assert.ok(Math.abs(min - 0) < bin, `lower end ${min}`);
    assert.throws(() => calibrate(probe(), x, { method: 'percentile', percentile: 40 }), ArgumentError);
    x.dispose();
  });

  test('the expected-MSE integral: uniform on one range gives s^2 / 12; it predicts the sample', () => {
    const q = inputQuantization({ min: 0, max: 1 });
    const s = q.inputScale;
    const uniform = quantizationMse([{ a: 0, b: 1, n: 1 }], q);
    assert.ok(Math.abs(uniform - (s * s) / 12) < 1e-3 * ((s * s) / 12), `${uniform} vs ${(s * s) / 12}`);
    // Clipping: mass at 2 on a [0, 1] range costs (2 - 255 s)^2 per value; zeros cost nothing.
    const clipped = quantizationMse(
      [
        { a: 2, b: 2, n: 3 },
        { a: 0, b: 0, n: 10 },
      ],
      q,
    );
    assert.ok(Math.abs(clipped - 3 * (2 - 255 * s) ** 2) < 1e-12);
    // Codes are the op's (w times the float32 reciprocal, half to even): w / s rounds to -69, the op to -68.
    const [w0, s0] = [-0.10838896781206131, 0.0015823206631466746];
    const tie = quantizationMse([{ a: w0, b: w0, n: 1 }], { inputScale: s0, inputZeroPoint: 128 });
    assert.equal(tie, (w0 + 68 * s0) ** 2);
    assert.notEqual(tie, (w0 + 69 * s0) ** 2);
    const values = laplace(20_000, 3);
    const h = new Histogram(Math.min(...values), Math.max(...values), 2048);
    h.add(Float32Array.from(values));
    const narrow = inputQuantization({ min: -3, max: 3 });
    const predicted = quantizationMse(h.segments(), narrow) / values.length;
    const real = sampleMse(values, narrow);
    assert.ok(Math.abs(predicted - real) < 0.05 * real, `predicted ${predicted}, sample ${real}`);
  });

  test('mse: about the full range for a uniform sample, a narrower one with lower error on a heavy tail', () => {
    const flat = uniforms(20_000, 4);
    const hu = new Histogram(Math.min(...flat), Math.max(...flat), 2048);
    hu.add(Float32Array.from(flat));
    assert.ok(mseRange(hu).max > 0.98 * hu.hi, `uniform: ${JSON.stringify(mseRange(hu))}`);

    // Laplace(0, 1): 200,000 samples reach about +-12, past the MSE-optimal 8-bit clipping of a Laplace
    // distribution, about 9.9 b (Banner et al., ACIQ, 2019).
    const values = laplace(200_000, 5);
    const x = column(values);
    const minmax = calibrate(probe(), x, { method: 'minmax', batchSize: 50_000 }).layers[0].range;
    const mse = calibrate(probe(), x, { method: 'mse', batchSize: 50_000 }).layers[0].range;
    for (const end of [-mse.min, mse.max]) assert.ok(end > 8 && end < 12, `mse ${JSON.stringify(mse)}`);
    assert.ok(mse.max - mse.min < 0.9 * (minmax.max - minmax.min), `min-max ${JSON.stringify(minmax)}`);
    const errMse = sampleMse(values, inputQuantization(mse));
    const errMinmax = sampleMse(values, inputQuantization(minmax));
    assert.ok(errMse < 0.9 * errMinmax, `mse range error ${errMse} vs min-max ${errMinmax}`);
    x.dispose();
  });
});

describe('calibration errors', () => {
  test('sample data of the wrong shape or dtype, bad options', () => {
    const model = probe();
    const wrong = tensor(new Float32Array(6), [3, 2]);
    assert.throws(
      () => calibrate(model, wrong),
      (e: Error) => e instanceof ShapeError && /calibrate/.test(e.message),
    );
    const ints = tensor(new Int32Array(3), [3, 1], 'int32');
    assert.throws(() => calibrate(model, ints), ShapeError);
    const x = column([1, 2, 3]);
    assert.throws(() => calibrate(model, x, { method: 'entropy' as never }), ArgumentError);
    assert.throws(() => calibrate(model, x, { batchSize: 0 }), ArgumentError);
    for (const t of [wrong, ints, x]) t.dispose();
  });

  test('a NaN input (which no uint8 code holds) is an ArgumentError naming the layer, with every method', () => {
    const model = probe();
    const x = column([1, NaN, 3]);
    for (const method of ['minmax', 'percentile', 'mse'] as const)
      assert.throws(
        () => calibrate(model, x, { method }),
        (e: Error) => e instanceof ArgumentError && /Dense '.+' contain NaN/.test(e.message),
      );
    x.dispose();
  });
});
