// Tests the activation layers (LeakyReLU, PReLU, ReLU, ELU, Softmax): the harness, each against its closed form
// element by element, PReLU against torch.nn.PReLU (fixture), bad options.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArgumentError, ShapeError, Tensor, grad, mul, sum, tensor, tidy } from '../../src/index.js';
import { ELU, LeakyReLU, PReLU, ReLU, Softmax, layers } from '../../src/nn/layers/index.js';
import { setMask } from '../../src/nn/masking.js';
import { logitsBehind } from '../../src/nn/logits.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-12, atol: 1e-12 };

/** Applies `layer` to a float64 input and compares with `ref` applied to each element. */
function elementwise(layer: { apply(x: Tensor): unknown }, ref: (v: number) => number, lo = -4, hi = 4): void {
  tidy(() => {
    const x = rand([3, 7], 5, { lo, hi });
    assertClose(layer.apply(x) as Tensor, flat(x).map(ref), TIGHT);
  });
}

describe('activation layers through the harness', () => {
  const shape = { inputShape: [2, 3, 4], expectedOutputShape: [2, 3, 4] };
  test('LeakyReLU', () => runLayerTest({ make: () => new LeakyReLU({ negativeSlope: 0.1 }), ...shape }));
  test('ReLU (maxValue, negativeSlope, threshold)', () =>
    runLayerTest({ make: () => new ReLU({ maxValue: 1.5, negativeSlope: 0.2, threshold: 0.5 }), ...shape }));
  test('ELU', () => runLayerTest({ make: () => new ELU({ alpha: 0.7 }), ...shape }));
  test('Softmax (axis 1)', () => runLayerTest({ make: () => new Softmax({ axis: 1 }), ...shape }));
  test('PReLU (one slope per element; random slopes)', () =>
    runLayerTest({
      make: () => new PReLU({ alphaInitializer: { className: 'randomUniform', config: { minval: 0, maxval: 1 } } }),
      ...shape,
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
  test('PReLU (sharedAxes [1])', () =>
    runLayerTest({
      make: () => new PReLU({ sharedAxes: [1], alphaInitializer: 'randomNormal' }),
      ...shape,
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
});

describe('activation layers match their closed forms', () => {
  test('LeakyReLU: x or negativeSlope * x; default slope 0.3 (Keras)', () => {
    elementwise(new LeakyReLU({ dtype: 'float64' }), (v) => (v > 0 ? v : 0.3 * v));
    elementwise(new LeakyReLU({ negativeSlope: 0.05, dtype: 'float64' }), (v) => (v > 0 ? v : 0.05 * v));
  });

  test('ReLU: max, identity above the threshold, negativeSlope * (x - threshold) below', () => {
    const keras = (v: number, max: number | null, slope: number, thr: number) => {
      if (max !== null && v >= max) return max;
      if (v > thr) return v;
      return slope * (v - thr);
    };
    for (const [max, slope, thr] of [
      [null, 0, 0],
      [6, 0, 0],
      [2, 0.1, 0],
      [null, 0.3, 1],
      [2.5, 0.2, 0.5],
    ] as const) {
      elementwise(new ReLU({ maxValue: max, negativeSlope: slope, threshold: thr, dtype: 'float64' }), (v) =>
        keras(v, max, slope, thr),
      );
    }
  });

  test('ELU: x or alpha * (e^x - 1)', () => {
    elementwise(new ELU({ alpha: 0.5, dtype: 'float64' }), (v) => (v > 0 ? v : 0.5 * Math.expm1(v)));
  });

  test('Softmax along an axis, and a mask pushes masked entries to 0 (Keras: -1e9 added)', () =>
    tidy(() => {
      const x = rand([2, 3, 4], 2);
      const d = flat(x);
      const y = flat(new Softmax({ axis: 1, dtype: 'float64' }).apply(x) as Tensor);
      for (let b = 0; b < 2; b++)
        for (let k = 0; k < 4; k++) {
          const at = (i: number) => b * 12 + i * 4 + k;
          const z = [0, 1, 2].reduce((s, i) => s + Math.exp(d[at(i)]), 0);
          for (let i = 0; i < 3; i++) assert.ok(Math.abs(y[at(i)] - Math.exp(d[at(i)]) / z) < 1e-12);
        }
      const mask = tensor([1, 1, 0, 1, 0, 0, 1, 1], [2, 4], 'bool');
      const m = new Softmax({ dtype: 'float64' }).apply(rand([2, 4], 3), { mask }) as Tensor;
      const md = flat(m);
      [2, 4, 5].forEach((i) => assert.ok(md[i] < 1e-300, `masked entry ${i} = ${md[i]}`));
      assertClose(sum(m, -1), [1, 1], TIGHT);
      // A mask attached by an earlier layer is honoured too.
      const x2 = rand([2, 4], 3);
      setMask(x2, mask);
      assertClose(new Softmax({ dtype: 'float64' }).apply(x2) as Tensor, m, TIGHT);
      assert.throws(
        () => new Softmax().apply(rand([2, 4], 3), { mask: tensor([1, 0, 1], [3], 'bool') }),
        (e: Error) =>
          e instanceof ShapeError &&
          /Softmax '.*': the mask \[3\] does not broadcast to the input \[2, 4\]/.test(e.message),
      );
    }));

  test('Softmax over the last axis remembers its logits (the stable cross-entropy path), as Activation does', () =>
    tidy(() => {
      const x = rand([2, 3], 1);
      assert.equal(logitsBehind(new Softmax({ dtype: 'float64' }).apply(x) as Tensor, 'softmax'), x);
      assert.equal(logitsBehind(new Softmax({ axis: 0 }).apply(x) as Tensor, 'softmax'), undefined);
    }));

  test('PReLU: x or alpha * x with alpha broadcast over sharedAxes; the slope gets its gradient', () =>
    tidy(() => {
      const layer = new PReLU({ sharedAxes: [1, 2], dtype: 'float64' });
      const x = rand([2, 3, 2, 4], 4);
      layer.apply(x);
      assert.deepEqual(layer.alpha!.shape, [1, 1, 4]);
      assert.deepEqual(flat(layer.alpha!.value), [0, 0, 0, 0], 'alpha starts at zeros: a ReLU');
      const alpha = [0.1, -0.2, 0.3, 0.5];
      layer.setWeights([tensor(alpha, [1, 1, 4], 'float64')]);
      const d = flat(x);
      assertClose(
        layer.apply(x) as Tensor,
        d.map((v, i) => (v > 0 ? v : alpha[i % 4] * v)),
        TIGHT,
      );
    }));

  test('PReLU matches torch.nn.PReLU(channels) (fixture, output and gradients to 1e-10)', () =>
    tidy(() => {
      const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
      type Arr = { shape: number[]; data: number[] };
      const f = JSON.parse(readFileSync(join(dir, 'prelu-2d.json'), 'utf8')) as {
        config: { sharedAxes: number[] };
        input: Arr;
        weights: { alpha: Arr };
        output: Arr;
        projection: Arr;
        grads: { input: Arr; alpha: Arr };
      };
      const t64 = (a: Arr, shape = a.shape) => tensor(Float64Array.from(a.data), shape, 'float64');
      const layer = new PReLU({ sharedAxes: f.config.sharedAxes, dtype: 'float64' });
      const x = t64(f.input);
      layer.apply(x);
      const c = f.weights.alpha.shape[0];
      const alpha = t64(f.weights.alpha, [1, 1, c]);
      layer.setWeights([alpha]);
      assertClose(layer.apply(x) as Tensor, f.output.data, { rtol: 0, atol: 1e-12 });
      const proj = t64(f.projection);
      const [gx, ga] = grad(([xx, a]: Tensor[]) => {
        layer.alpha!.assign(a.clone());
        return sum(mul(layer.apply(xx) as Tensor, proj));
      })([x, alpha]);
      assertClose(gx, f.grads.input.data, { rtol: 0, atol: 1e-10 });
      assertClose(ga, f.grads.alpha.data, { rtol: 0, atol: 1e-10 });
    }));
});

describe('activation layer options', () => {
  test('bad options are ArgumentErrors naming the layer', () => {
    assert.throws(() => new LeakyReLU({ negativeSlope: -1 }), /LeakyReLU '.*': negativeSlope must be a non-negative/);
    assert.throws(() => layers.leakyReLU({ alpha: 0.1 } as never), /alpha is Keras 2's name .* pass negativeSlope/);
    assert.throws(() => layers.reLU({ max_value: 6 } as never), /unknown option 'max_value'.*maxValue/);
    assert.throws(() => new ReLU({ maxValue: -1 }), /ReLU '.*': maxValue must be a non-negative/);
    assert.throws(() => new ReLU({ threshold: -0.5 }), ArgumentError);
    assert.throws(() => new PReLU({ sharedAxes: [0] }), /PReLU '.*': sharedAxes must be input axes >= 1/);
    assert.throws(() => new Softmax({ axis: 1.5 }), ArgumentError);
    assert.throws(() => new Softmax({ axis: 3 }).apply(tensor([1, 2], [1, 2])), ShapeError);
  });

  test('PReLU with an unknown unshared axis asks for sharedAxes', () => {
    assert.throws(
      () => new PReLU().build([null, null, 3]),
      (e: Error) => e instanceof ShapeError && /share unknown axes with sharedAxes/.test(e.message),
    );
    new PReLU({ sharedAxes: 1 }).build([null, null, 3]);
  });

  test('the layers factory makes each', () => {
    assert.ok(layers.leakyReLU() instanceof LeakyReLU);
    assert.ok(layers.prelu() instanceof PReLU);
    assert.ok(layers.reLU({ maxValue: 6 }) instanceof ReLU);
    assert.ok(layers.elu() instanceof ELU);
    assert.ok(layers.softmax() instanceof Softmax);
  });
});
