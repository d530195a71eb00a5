// Loss options from PyTorch: per-class weight for (sparse) categorical cross-entropy, ignoreIndex, and
// posWeight for binary cross-entropy; values and gradients against PyTorch 1.13
// (test/fixtures/torch/losses.json, written by tools/torch-fixtures-ops.py), configs and errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import {
  binaryCrossentropy,
  categoricalCrossentropy,
  getLoss,
  sparseCategoricalCrossentropy,
} from '../../src/nn/losses.js';
import { valueAndGrad } from '../../src/autograd/grad.js';
import { assertClose } from '../helpers.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  logits: Arr;
  target: Arr;
  options: Record<string, number | number[]>;
  value: number;
  grad: Arr;
}

const FIXTURE = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'torch', 'losses.json');
const CASES = (JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases;
const t64 = (a: Arr) => c.tensor(Float64Array.from(a.data), a.shape, 'float64');

const LOSS_OF: Record<string, typeof categoricalCrossentropy> = {
  categoricalWeight: categoricalCrossentropy,
  binaryPosWeight: binaryCrossentropy as unknown as typeof categoricalCrossentropy,
  binaryPosWeightScalar: binaryCrossentropy as unknown as typeof categoricalCrossentropy,
};

describe('losses against PyTorch 1.13', () => {
  for (const k of CASES) {
    test(`${k.name} ${JSON.stringify(k.options)}`, () => {
      const base = LOSS_OF[k.name] ?? sparseCategoricalCrossentropy;
      const loss = (base as (o: object) => (t: c.Tensor, p: c.Tensor) => c.Tensor)({ fromLogits: true, ...k.options });
      const target = k.name.startsWith('sparse') ? c.tensor(Int32Array.from(k.target.data)) : t64(k.target);
      const { value, grads } = valueAndGrad((x: c.Tensor) => loss(target, x))(t64(k.logits));
      assertClose([value.item()], [k.value], { rtol: 1e-12, atol: 1e-14 }, 'value');
      assertClose(grads, t64(k.grad), { rtol: 1e-10, atol: 1e-13 }, 'gradient');
    });
  }
});

describe('loss options', () => {
  test('reduction "none" (perSample) is the weighted loss, as PyTorch; ignored samples give 0', () => {
    const logits = c.tensor(
      [
        [2, 0, -1],
        [0.5, 0.5, 0],
        [1, -2, 3],
      ],
      [3, 3],
      'float64',
    );
    const labels = c.tensor(Int32Array.from([0, -1, 2]));
    const plain = sparseCategoricalCrossentropy({ fromLogits: true }).perSample(
      c.tensor(Int32Array.from([0, 0, 2])),
      logits,
    );
    const weighted = sparseCategoricalCrossentropy({ fromLogits: true, weight: [2, 1, 0.5], ignoreIndex: -1 });
    const p = plain.dataSync();
    assertClose(weighted.perSample(labels, logits), [2 * p[0], 0, 0.5 * p[2]], { rtol: 1e-14, atol: 0 });
    // The batch loss is the weighted mean over the kept samples.
    assertClose([weighted(labels, logits).item()], [(2 * p[0] + 0.5 * p[2]) / 2.5], { rtol: 1e-14, atol: 0 });
    // Every sample ignored: 0 (PyTorch gives NaN), and the gradient is 0, not NaN.
    const none = c.tensor(Int32Array.from([-1, -1, -1]));
    const { value, grads } = valueAndGrad((x: c.Tensor) => weighted(none, x))(logits);
    assert.equal(value.item(), 0);
    assert.ok(Array.from(grads.dataSync()).every((g) => g === 0));
  });

  test('probabilities (not logits) take the same weights', () => {
    const logits = c.tensor(
      [
        [1, -1, 0.5],
        [0, 2, -2],
      ],
      [2, 3],
      'float64',
    );
    const probs = c.softmax(logits, -1);
    const y = c.tensor(
      [
        [0, 1, 0],
        [1, 0, 0],
      ],
      [2, 3],
      'float64',
    );
    const options = { weight: [1, 3, 0.5] };
    const fromProbs = categoricalCrossentropy(options)(y, probs).item();
    const fromLogits = categoricalCrossentropy({ ...options, fromLogits: true })(y, logits).item();
    assertClose([fromProbs], [fromLogits], { rtol: 1e-9, atol: 0 });
    const b = c.tensor([[0.2, 0.9, 0.4]], [1, 3], 'float64');
    const by = c.tensor([[1, 0, 1]], [1, 3], 'float64');
    const bProbs = binaryCrossentropy({ posWeight: [2, 1, 3] })(by, b).item();
    const expected = -(2 * Math.log(0.2) + Math.log(1 - 0.9) + 3 * Math.log(0.4)) / 3;
    assertClose([bProbs], [expected], { rtol: 1e-12, atol: 0 });
  });

  test('configs keep the options that are set and round-trip through getLoss', () => {
    const l = sparseCategoricalCrossentropy({ fromLogits: true, ignoreIndex: -100, weight: [1, 2] });
    const config = JSON.parse(JSON.stringify(l.getConfig()));
    assert.deepEqual(config, {
      className: 'SparseCategoricalCrossentropy',
      config: { fromLogits: true, weight: [1, 2], ignoreIndex: -100 },
    });
    assert.deepEqual(getLoss(config).options, l.options);
    assert.deepEqual(binaryCrossentropy.getConfig(), {
      className: 'BinaryCrossentropy',
      config: { fromLogits: false, labelSmoothing: 0 },
    });
  });

  test('bad weights name the loss, the option and the shapes', () => {
    const p = c.tensor([[0.2, 0.8]], [1, 2]);
    assert.throws(
      () => categoricalCrossentropy({ weight: [1, 2, 3] })(c.tensor([[0, 1]]), p),
      (e: Error) =>
        e instanceof c.ShapeError &&
        /categoricalCrossentropy: weight has 3 values but yPred \[1, 2\] has 2/.test(e.message),
    );
    assert.throws(() => binaryCrossentropy({ posWeight: [NaN, 1] })(c.tensor([[0, 1]]), p), /posWeight must be finite/);
    assert.throws(
      () => sparseCategoricalCrossentropy({ ignoreIndex: 0.5 })(c.tensor([1]), p),
      /ignoreIndex must be an integer/,
    );
    // A label that is neither a class nor ignoreIndex still throws.
    assert.throws(() => sparseCategoricalCrossentropy({ ignoreIndex: -100 })(c.tensor([-1]), p), /label -1/);
  });
});
