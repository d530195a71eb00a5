// Tests the weight initializers: Keras limits and scales on large draws, fan rules for conv kernels,
// orthogonality, constants, seeds, configs, and names in either case with suggestions for typos.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, matmul, transpose, eye, type Tensor } from '../../src/index.js';
import {
  computeFans,
  constant,
  getInitializer,
  glorotNormal,
  glorotUniform,
  heNormal,
  heUniform,
  lecunNormal,
  ones,
  orthogonal,
  zeros,
} from '../../src/nn/initializers.js';
import { assertClose, flat } from '../helpers.js';

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const d = flat(t);
  const mean = d.reduce((s, v) => s + v, 0) / d.length;
  const std = Math.sqrt(d.reduce((s, v) => s + (v - mean) ** 2, 0) / d.length);
  return { mean, std, min: d.reduce((a, b) => Math.min(a, b)), max: d.reduce((a, b) => Math.max(a, b)) };
}

describe('initializers', () => {
  test('computeFans: dense [in, out]; conv [kh, kw, cin, cout] multiplies by the receptive field', () => {
    assert.deepEqual(computeFans([784, 10]), { fanIn: 784, fanOut: 10 });
    assert.deepEqual(computeFans([3, 3, 4, 8]), { fanIn: 36, fanOut: 72 });
    assert.deepEqual(computeFans([5, 2, 6]), { fanIn: 10, fanOut: 30 });
    assert.deepEqual(computeFans([7]), { fanIn: 7, fanOut: 7 });
  });

  test('glorotUniform stays within sqrt(6 / (fanIn + fanOut)) and reaches near it', () => {
    const t = glorotUniform({ seed: 1 })([3, 3, 16, 32]);
    const limit = Math.sqrt(6 / (9 * 16 + 9 * 32));
    const s = stats(t);
    assert.ok(s.max <= limit && s.min >= -limit, `range [${s.min}, ${s.max}] within ${limit}`);
    assert.ok(s.max > 0.99 * limit && s.min < -0.99 * limit);
    // Uniform on [-l, l] has std l / sqrt(3).
    assert.ok(Math.abs(s.std - limit / Math.sqrt(3)) < 0.02 * limit);
  });

  test('heNormal has std sqrt(2 / fanIn) (truncated normal rescaled) and is cut at two stddevs', () => {
    const t = heNormal({ seed: 2 })([400, 500]);
    const s = stats(t);
    const target = Math.sqrt(2 / 400);
    assert.ok(Math.abs(s.std - target) < 0.02 * target, `std ${s.std} vs ${target}`);
    assert.ok(Math.abs(s.mean) < 0.01 * target);
    const cut = (2 * target) / 0.87962566103423978;
    assert.ok(s.max <= cut && s.min >= -cut);
  });

  test('other variance-scaling members: heUniform, glorotNormal, lecunNormal scales', () => {
    assert.ok(stats(heUniform({ seed: 3 })([200, 300])).max <= Math.sqrt(6 / 200));
    const g = stats(glorotNormal({ seed: 4 })([300, 100]));
    assert.ok(Math.abs(g.std - Math.sqrt(2 / 400)) < 0.03 * Math.sqrt(2 / 400));
    const l = stats(lecunNormal({ seed: 5 })([250, 200]));
    assert.ok(Math.abs(l.std - Math.sqrt(1 / 250)) < 0.03 * Math.sqrt(1 / 250));
  });

  test('orthogonal gives W^T W = I (tall) and W W^T = I (wide), times the gain', () => {
    const tall = orthogonal({ seed: 6 })([8, 5], 'float64');
    assertClose(matmul(transpose(tall), tall), eye(5, 5, 0, 'float64'), { rtol: 1e-10, atol: 1e-10 });
    const wide = orthogonal({ seed: 7, gain: 2 })([3, 6], 'float64');
    assertClose(matmul(wide, transpose(wide)), eye(3, 3, 0, 'float64').mul(4), { rtol: 1e-10, atol: 1e-10 });
    assert.throws(() => orthogonal()([4]), ArgumentError);
  });

  test('zeros, ones and constant', () => {
    assert.deepEqual(flat(zeros()([2, 2])), [0, 0, 0, 0]);
    assert.deepEqual(flat(ones()([3])), [1, 1, 1]);
    assert.deepEqual(flat(constant({ value: 0.5 })([2])), [0.5, 0.5]);
    assert.equal(zeros()([2], 'float64').dtype, 'float64');
  });

  test('a seed gives the same draw every call; no seed draws from the global stream', () => {
    const init = glorotUniform({ seed: 11 });
    assert.deepEqual(flat(init([4, 4])), flat(init([4, 4])));
    const free = glorotUniform();
    assert.notDeepEqual(flat(free([4, 4])), flat(free([4, 4])));
  });

  test('names in camelCase, snake_case or as class names; configs round trip', () => {
    for (const name of ['glorotUniform', 'glorot_uniform', 'GlorotUniform'])
      assert.equal(getInitializer(name).config.className, 'GlorotUniform');
    for (const name of [
      'he_normal',
      'heNormal',
      'random_normal',
      'truncated_normal',
      'lecun_uniform',
      'orthogonal',
      'variance_scaling',
    ]) {
      assert.equal(typeof getInitializer(name), 'function', name);
    }
    const init = getInitializer({ className: 'RandomUniform', config: { minval: 2, maxval: 3, seed: 4 } });
    assert.deepEqual(init.config, { className: 'RandomUniform', config: { minval: 2, maxval: 3, seed: 4 } });
    assert.deepEqual(flat(getInitializer(init.config)([5])), flat(init([5])));
    const s = stats(init([100]));
    assert.ok(s.min >= 2 && s.max < 3);
    assert.equal(getInitializer(init), init);
  });

  test('an unknown name is an ArgumentError with a suggestion and the known names', () => {
    assert.throws(
      () => getInitializer('glorot_unifrom'),
      (e: Error) =>
        e instanceof ArgumentError &&
        /did you mean 'glorotUniform'\?/.test(e.message) &&
        /Known: .*heNormal/.test(e.message),
    );
    assert.throws(() => getInitializer({ className: 'HeNormel', config: {} }), /did you mean 'heNormal'/);
  });
});
