// Tests Masking (mask made from maskValue, honoured by LSTM and GRU), the noise layers (GaussianNoise,
// GaussianDropout, SpatialDropout1D/2D: inference identity, training statistics, seeding) and Lambda (registered
// functions, serialisation, the error for an unregistered one).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, Sequential, Tensor, add, input, Model, mul, ones, tensor, tidy } from '../../src/index.js';
import { layerFromConfig } from '../../src/nn/layer.js';
import {
  GRU,
  GaussianDropout,
  GaussianNoise,
  LSTM,
  Lambda,
  Masking,
  SpatialDropout1D,
  SpatialDropout2D,
  layers,
  registerLambda,
} from '../../src/nn/layers/index.js';
import { getMask } from '../../src/nn/masking.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

describe('Masking', () => {
  test('through the harness', () =>
    runLayerTest({
      make: () => new Masking({ maskValue: -1 }),
      inputShape: [2, 3, 4],
      expectedOutputShape: [2, 3, 4],
    }));

  test('marks timesteps whose features all equal maskValue, and zeroes them', () =>
    tidy(() => {
      const x = tensor(
        [
          [
            [1, 2],
            [-1, -1],
            [-1, 3],
          ],
          [
            [-1, -1],
            [0, 0],
            [5, -1],
          ],
        ],
        [2, 3, 2],
        'float64',
      );
      const y = new Masking({ maskValue: -1, dtype: 'float64' }).apply(x) as Tensor;
      assertClose(y, [1, 2, 0, 0, -1, 3, 0, 0, 0, 0, 5, -1], { rtol: 0, atol: 0 });
      assert.deepEqual(flat(getMask(y)!), [1, 0, 1, 0, 1, 1]);
      // maskValue 0 (the default) masks the all-zero step instead.
      assert.deepEqual(flat(getMask(new Masking().apply(x) as Tensor)!), [1, 1, 1, 1, 0, 1]);
    }));

  for (const rnn of ['lstm', 'gru'] as const) {
    test(`Sequential Masking -> ${rnn.toUpperCase()}: padded rows give the unpadded rows' outputs`, () =>
      tidy(() => {
        const cell =
          rnn === 'lstm' ? new LSTM({ units: 3, dtype: 'float64' }) : new GRU({ units: 3, dtype: 'float64' });
        const model = new Sequential([new Masking({ maskValue: 0, dtype: 'float64' }), cell]);
        const a = rand([1, 3, 2], 1),
          b = rand([1, 2, 2], 2);
        const zeros = (n: number) => new Array<number>(n * 2).fill(0);
        // a padded at the end, b at the start (masked steps are skipped wherever they are).
        const padded = tensor([...flat(a), ...zeros(1), ...zeros(2), ...flat(b)], [2, 4, 2], 'float64');
        const out = model.apply(padded) as Tensor;
        assertClose(out, [...flat(model.apply(a) as Tensor), ...flat(model.apply(b) as Tensor)], {
          rtol: 1e-10,
          atol: 1e-12,
        });
      }));
  }

  test('in a functional model the mask reaches the LSTM', () =>
    tidy(() => {
      const x = input({ shape: [null, 2], dtype: 'float64' });
      const lstm = new LSTM({ units: 2, dtype: 'float64' });
      const model = new Model({ inputs: x, outputs: lstm.apply(new Masking({ dtype: 'float64' }).apply(x)) });
      const seq = rand([1, 2, 2], 3);
      const padded = tensor([...flat(seq), 0, 0, 0, 0], [1, 4, 2], 'float64');
      assertClose(model.apply(padded) as Tensor, model.apply(seq) as Tensor, { rtol: 1e-10, atol: 1e-12 });
    }));

  test('rank 1 inputs are ShapeErrors', () => {
    assert.throws(() => new Masking().apply(tensor([1, 2])), /Masking '.*' expects input \(None, \.\.\., features\)/);
  });
});

describe('noise layers through the harness (inference: the identity)', () => {
  const shape = { inputShape: [2, 3, 4], expectedOutputShape: [2, 3, 4] };
  test('GaussianNoise', () => runLayerTest({ make: () => new GaussianNoise({ stddev: 0.5, seed: 1 }), ...shape }));
  test('GaussianDropout', () => runLayerTest({ make: () => new GaussianDropout({ rate: 0.3, seed: 1 }), ...shape }));
  test('SpatialDropout1D', () => runLayerTest({ make: () => new SpatialDropout1D({ rate: 0.3, seed: 1 }), ...shape }));
  test('SpatialDropout2D', () =>
    runLayerTest({
      make: () => new SpatialDropout2D({ rate: 0.3, seed: 1, dataFormat: 'channelsFirst' }),
      inputShape: [2, 3, 2, 2],
      expectedOutputShape: [2, 3, 2, 2],
    }));
});

/** Mean and (population) standard deviation. */
function stats(v: number[]): { mean: number; std: number } {
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  return { mean, std: Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length) };
}

describe('noise layers in training', () => {
  test('GaussianNoise adds N(0, stddev); inference is the identity; the call seed fixes the draw', () =>
    tidy(() => {
      const layer = new GaussianNoise({ stddev: 0.5, seed: 4, dtype: 'float64' });
      const x = rand([40, 50], 1);
      assert.equal(layer.apply(x), x);
      const y = layer.apply(x, { training: true, seed: 9 }) as Tensor;
      const noise = flat(y).map((v, i) => v - flat(x)[i]);
      const s = stats(noise);
      assert.ok(Math.abs(s.mean) < 0.03 && Math.abs(s.std - 0.5) < 0.03, `mean ${s.mean}, std ${s.std}`);
      assert.deepEqual(flat(layer.apply(x, { training: true, seed: 9 }) as Tensor), flat(y));
      assert.notDeepEqual(flat(layer.apply(x, { training: true, seed: 10 }) as Tensor), flat(y));
      // A layer rebuilt from its config (same seed) draws the same noise for the same call seed.
      const rebuilt = layerFromConfig({ className: 'GaussianNoise', config: layer.getConfig() });
      assert.deepEqual(flat(rebuilt.apply(x, { training: true, seed: 9 }) as Tensor), flat(y));
    }));

  test('GaussianDropout multiplies by N(1, sqrt(rate / (1 - rate)))', () =>
    tidy(() => {
      const layer = new GaussianDropout({ rate: 0.2, seed: 5, dtype: 'float64' });
      const s = stats(flat(layer.apply(ones([50, 40], 'float64'), { training: true, seed: 1 }) as Tensor));
      assert.ok(Math.abs(s.mean - 1) < 0.03 && Math.abs(s.std - 0.5) < 0.03, `mean ${s.mean}, std ${s.std}`);
    }));

  test('SpatialDropout1D drops whole channels: each (sample, channel) is 0 or 1 / (1 - rate) at every step', () =>
    tidy(() => {
      const [n, t, c] = [20, 6, 10];
      const y = flat(new SpatialDropout1D({ rate: 0.5, seed: 2 }).apply(ones([n, t, c]), { training: true }) as Tensor);
      let dropped = 0;
      for (let b = 0; b < n; b++)
        for (let ch = 0; ch < c; ch++) {
          const column = Array.from({ length: t }, (_, s) => y[(b * t + s) * c + ch]);
          assert.ok(column.every((v) => v === column[0]) && (column[0] === 0 || column[0] === 2), `${column}`);
          if (column[0] === 0) dropped++;
        }
      assert.ok(dropped > 0.35 * n * c && dropped < 0.65 * n * c, `dropped ${dropped} of ${n * c}`);
    }));

  test('SpatialDropout2D drops whole feature maps (channels last and first)', () =>
    tidy(() => {
      const last = flat(
        new SpatialDropout2D({ rate: 0.5, seed: 3 }).apply(ones([4, 3, 3, 5]), { training: true }) as Tensor,
      );
      for (let b = 0; b < 4; b++)
        for (let ch = 0; ch < 5; ch++) {
          const map = Array.from({ length: 9 }, (_, p) => last[(b * 9 + p) * 5 + ch]);
          assert.ok(
            map.every((v) => v === map[0]),
            `${map}`,
          );
        }
      const layer = new SpatialDropout2D({ rate: 0.5, seed: 3, dataFormat: 'channelsFirst' });
      const first = flat(layer.apply(ones([4, 5, 3, 3]), { training: true }) as Tensor);
      for (let m = 0; m < 20; m++) assert.ok(first.slice(m * 9, m * 9 + 9).every((v) => v === first[m * 9]));
      assert.equal(layer.getConfig().dataFormat, 'channelsFirst');
      assert.equal('noiseShape' in layer.getConfig(), false);
    }));

  test('bad arguments and ranks are typed errors naming the layer', () => {
    assert.throws(() => new GaussianNoise({ stddev: -1 }), /GaussianNoise '.*': stddev must be a number >= 0/);
    assert.throws(() => new GaussianDropout({ rate: 1 }), /GaussianDropout '.*': rate must be a number in \[0, 1\)/);
    assert.throws(() => new SpatialDropout1D({ rate: 0.1, noiseShape: [1] } as never), ArgumentError);
    assert.throws(() => new SpatialDropout2D({ rate: 0.1, dataFormat: 'nhwc' as never }), /dataFormat must be/);
    assert.throws(
      () => new SpatialDropout1D({ rate: 0.5 }).apply(ones([2, 3]), { training: true }),
      /SpatialDropout1D '.*' expects input rank 3/,
    );
    assert.ok(layers.gaussianNoise({ stddev: 1 }) instanceof GaussianNoise);
    assert.ok(layers.gaussianDropout({ rate: 0.1 }) instanceof GaussianDropout);
    assert.ok(layers.spatialDropout1d({ rate: 0.1 }) instanceof SpatialDropout1D);
    assert.ok(layers.spatialDropout2d({ rate: 0.1 }) instanceof SpatialDropout2D);
  });
});

describe('Lambda', () => {
  const double = (x: Tensor | Tensor[]) => mul(x as Tensor, 2);
  registerLambda('lambdaTestDouble', double);
  registerLambda('lambdaTestPairSum', (xs) => add((xs as Tensor[])[0], (xs as Tensor[])[1]));
  registerLambda('lambdaTestScaleBy', (x, args) => mul(x as Tensor, args.factor as number));

  test('through the harness: by name, by the registered function, on a list, with arguments', () => {
    const shape = { inputShape: [2, 3], expectedOutputShape: [2, 3] };
    runLayerTest({ make: () => new Lambda({ function: 'lambdaTestDouble' }), ...shape });
    runLayerTest({ make: () => new Lambda({ function: double }), ...shape });
    runLayerTest({ make: () => new Lambda({ function: 'lambdaTestScaleBy', arguments: { factor: -3 } }), ...shape });
    runLayerTest({
      make: () => new Lambda({ function: 'lambdaTestPairSum' }),
      inputShapes: [
        [2, 3],
        [2, 3],
      ],
      expectedOutputShape: [2, 3],
    });
  });

  test('computes the function; a registered function saves its name; outputShape overrides the probe', () =>
    tidy(() => {
      const layer = new Lambda({ function: double });
      assert.equal(layer.getConfig().function, 'lambdaTestDouble');
      assertClose(layer.apply(tensor([1, -2], [1, 2])) as Tensor, [2, -4]);
      const declared = new Lambda({ function: double, outputShape: [7] });
      assert.deepEqual(declared.computeOutputShape([null, 7]), [null, 7]);
    }));

  test('saving an unregistered function is an ArgumentError saying how to register it; it still runs', () =>
    tidy(() => {
      const layer = new Lambda({ function: (x) => mul(x as Tensor, 5) });
      assertClose(layer.apply(tensor([1], [1, 1])) as Tensor, [5]);
      const message = /Lambda '.*' cannot be saved: its function is not registered.*registerLambda\('someName', fn\)/;
      assert.throws(
        () => layer.getConfig(),
        (e: Error) => e instanceof ArgumentError && message.test(e.message),
      );
      const model = new Sequential([layers.dense({ units: 2, inputShape: [3] }), layer]);
      assert.throws(() => model.getConfig(), message);
    }));

  test('loading an unknown function name is an ArgumentError naming the nearest registered one', () => {
    assert.throws(
      () => layerFromConfig({ className: 'Lambda', config: { name: 'l', function: 'lambdaTestDoubel' } }),
      (e: Error) =>
        e instanceof ArgumentError && /unknown Lambda function 'lambdaTestDoubel'.*lambdaTestDouble/.test(e.message),
    );
    assert.throws(() => new Lambda({ function: 3 as never }), /Lambda '.*': function must be a function or a name/);
    assert.ok(layers.lambda({ function: double }) instanceof Lambda);
  });

  test('the factory takes an unregistered function (the error is for saving) and checks option keys', () => {
    assert.ok(layers.lambda({ function: (x) => x as Tensor }) instanceof Lambda);
    assert.throws(
      () => layers.lambda({ function: double, output_shape: [3] } as never),
      (e: Error) => e instanceof ArgumentError && /unknown option 'output_shape'.*outputShape/.test(e.message),
    );
  });
});
