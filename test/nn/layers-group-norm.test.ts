// Tests GroupNormalization: the harness, against torch.nn.GroupNorm (fixtures, output and gradients), the
// identities groups = 1 == LayerNormalization over all non-batch axes and groups = channels == InstanceNorm,
// a channels-first axis, and shape errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ShapeError,
  Tensor,
  add,
  div,
  grad,
  mean,
  mul,
  permute,
  sqrt,
  sub,
  sum,
  tensor,
  tidy,
  variance,
} from '../../src/index.js';
import { GroupNormalization, LayerNormalization, layers } from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-10, atol: 1e-12 };
const random = { gammaInitializer: 'randomNormal', betaInitializer: 'randomNormal' } as const;

describe('GroupNormalization through the harness', () => {
  test('[N, H, W, C] in 2 groups', () =>
    runLayerTest({
      make: () => new GroupNormalization({ groups: 2, ...random }),
      inputShape: [2, 2, 3, 4],
      expectedOutputShape: [2, 2, 3, 4],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));
  test('channels first (axis 1), no center', () =>
    runLayerTest({
      make: () => new GroupNormalization({ groups: 3, axis: 1, center: false, gammaInitializer: 'randomNormal' }),
      inputShape: [2, 6, 3],
      expectedOutputShape: [2, 6, 3],
      expectedWeights: { trainable: 1, nonTrainable: 0 },
    }));
});

describe('GroupNormalization', () => {
  for (const name of ['group-norm-2d', 'group-norm-1d']) {
    test(`matches torch.nn.GroupNorm (${name}: output, input / gamma / beta gradients to 1e-10)`, () =>
      tidy(() => {
        const dir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
        type Arr = { shape: number[]; data: number[] };
        const f = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as {
          config: { groups: number; epsilon: number };
          input: Arr;
          weights: { gamma: Arr; beta: Arr };
          output: Arr;
          projection: Arr;
          grads: { input: Arr; gamma: Arr; beta: Arr };
        };
        const t64 = (a: Arr) => tensor(Float64Array.from(a.data), a.shape, 'float64');
        const layer = new GroupNormalization({ ...f.config, dtype: 'float64' });
        const x = t64(f.input);
        layer.apply(x);
        layer.setWeights([t64(f.weights.gamma), t64(f.weights.beta)]);
        assertClose(layer.apply(x) as Tensor, f.output.data, { rtol: 0, atol: 1e-10 });
        const proj = t64(f.projection);
        const [gx, gg, gb] = grad(([xx, g, b]: Tensor[]) => {
          layer.gamma!.assign(g.clone());
          layer.beta!.assign(b.clone());
          return sum(mul(layer.apply(xx) as Tensor, proj));
        })([x, t64(f.weights.gamma), t64(f.weights.beta)]);
        assertClose(gx, f.grads.input.data, { rtol: 0, atol: 1e-10 }, 'input gradient');
        assertClose(gg, f.grads.gamma.data, { rtol: 0, atol: 1e-10 }, 'gamma gradient');
        assertClose(gb, f.grads.beta.data, { rtol: 0, atol: 1e-10 }, 'beta gradient');
      }));
  }

  test('groups = 1 equals LayerNormalization over all non-batch axes', () =>
    tidy(() => {
      const x = rand([3, 2, 2, 4], 1, { lo: -3, hi: 5 });
      const gn = new GroupNormalization({ groups: 1, epsilon: 1e-3, dtype: 'float64' });
      const ln = new LayerNormalization({ axis: [1, 2, 3], epsilon: 1e-3, dtype: 'float64' });
      gn.apply(x);
      ln.apply(x);
      // Per-channel gamma/beta in both ([C] broadcast vs [H, W, C] with equal rows).
      const g = rand([4], 2),
        b = rand([4], 3);
      gn.setWeights([g, b]);
      const ones = tensor(new Float64Array(16).fill(1), [2, 2, 4], 'float64');
      ln.setWeights([mul(ones, g), mul(ones, b)]);
      assertClose(gn.apply(x) as Tensor, ln.apply(x) as Tensor, TIGHT);
    }));

  test('groups = channels equals InstanceNorm (each sample and channel over its spatial positions)', () =>
    tidy(() => {
      const x = rand([2, 3, 5, 4], 4, { lo: -2, hi: 6 });
      const y = new GroupNormalization({ groups: 4, epsilon: 1e-3, dtype: 'float64' }).apply(x) as Tensor;
      const m = mean(x, [1, 2], true),
        v = variance(x, [1, 2], true);
      assertClose(y, div(sub(x, m), sqrt(add(v, 1e-3))), TIGHT);
    }));

  test('a channels-first axis equals channels last on the permuted input', () =>
    tidy(() => {
      const x = rand([2, 6, 3, 2], 5);
      const first = new GroupNormalization({ groups: 3, axis: 1, dtype: 'float64' }).apply(x) as Tensor;
      const last = new GroupNormalization({ groups: 3, dtype: 'float64' }).apply(permute(x, [0, 2, 3, 1])) as Tensor;
      assertClose(first, permute(last, [0, 3, 1, 2]), TIGHT);
    }));

  test('channels that do not split into the groups, and other channel counts later, are ShapeErrors', () => {
    assert.throws(
      () => new GroupNormalization({ groups: 4 }).apply(rand([2, 6], 1)),
      (e: Error) =>
        e instanceof ShapeError && /GroupNormalization '.*'.*6 channels do not split into 4 groups/.test(e.message),
    );
    const layer = new GroupNormalization({ groups: 2 });
    layer.apply(rand([2, 4], 1));
    assert.throws(() => layer.apply(rand([2, 6], 1)), /the layer was built for 4 channels/);
    assert.throws(() => new GroupNormalization({ groups: 0 }), /groups must be a positive integer/);
    assert.ok(layers.groupNormalization({ groups: 2 }) instanceof GroupNormalization);
  });
});
