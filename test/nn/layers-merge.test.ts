// Tests the merge layers beside Add/Concatenate (Subtract, Multiply, Average, Maximum, Minimum, Dot) and the
// axis layers RepeatVector and Permute: the harness, slow elementwise / nested-loop references, shape errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, ShapeError, Tensor, tensor, tidy } from '../../src/index.js';
import { getMask, setMask } from '../../src/nn/masking.js';
import { SymbolicTensor } from '../../src/nn/layer.js';
import {
  Add,
  Average,
  Concatenate,
  Dot,
  Maximum,
  Minimum,
  Multiply,
  Permute,
  RepeatVector,
  Subtract,
  layers,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-12, atol: 1e-12 };

describe('merge layers through the harness', () => {
  const three = {
    inputShapes: [
      [2, 3, 4],
      [2, 3, 4],
      [2, 1, 4],
    ],
    expectedOutputShape: [2, 3, 4],
  };
  test('Multiply (with a broadcast input)', () => runLayerTest({ make: () => new Multiply(), ...three }));
  test('Average', () => runLayerTest({ make: () => new Average(), ...three }));
  test('Maximum', () => runLayerTest({ make: () => new Maximum(), ...three }));
  test('Minimum', () => runLayerTest({ make: () => new Minimum(), ...three }));
  test('Subtract', () =>
    runLayerTest({
      make: () => new Subtract(),
      inputShapes: [
        [2, 3],
        [2, 3],
      ],
      expectedOutputShape: [2, 3],
    }));
  test('Dot over the feature axis of [B, T, D] and [B, S, D]', () =>
    runLayerTest({
      make: () => new Dot({ axes: 2 }),
      inputShapes: [
        [2, 3, 4],
        [2, 5, 4],
      ],
      expectedOutputShape: [2, 3, 5],
    }));
  test('Dot with axes [1, 2] and normalize', () =>
    runLayerTest({
      make: () => new Dot({ axes: [1, 2], normalize: true }),
      inputShapes: [
        [2, 4, 3],
        [2, 5, 4],
      ],
      expectedOutputShape: [2, 3, 5],
    }));
  test('Dot of two vectors per sample gives [B, 1]', () =>
    runLayerTest({
      make: () => new Dot({ axes: -1 }),
      inputShapes: [
        [3, 4],
        [3, 4],
      ],
      expectedOutputShape: [3, 1],
    }));
  test('RepeatVector', () =>
    runLayerTest({ make: () => new RepeatVector({ n: 3 }), inputShape: [2, 4], expectedOutputShape: [2, 3, 4] }));
  test('Permute', () =>
    runLayerTest({
      make: () => new Permute({ dims: [3, 1, 2] }),
      inputShape: [2, 3, 4, 5],
      expectedOutputShape: [2, 5, 3, 4],
    }));
});

describe('elementwise merges match elementwise references', () => {
  const cases: [string, () => { apply(x: Tensor[]): unknown }, (v: number[]) => number][] = [
    ['Subtract', () => new Subtract({ dtype: 'float64' }), ([a, b]) => a - b],
    ['Multiply', () => new Multiply({ dtype: 'float64' }), (v) => v.reduce((p, x) => p * x, 1)],
    ['Average', () => new Average({ dtype: 'float64' }), (v) => v.reduce((s, x) => s + x, 0) / v.length],
    ['Maximum', () => new Maximum({ dtype: 'float64' }), (v) => Math.max(...v)],
    ['Minimum', () => new Minimum({ dtype: 'float64' }), (v) => Math.min(...v)],
  ];
  for (const [name, make, ref] of cases) {
    test(name, () =>
      tidy(() => {
        const n = name === 'Subtract' ? 2 : 3;
        const xs = Array.from({ length: n }, (_, i) => rand([2, 5], 10 + i));
        const data = xs.map(flat);
        assertClose(
          make().apply(xs) as Tensor,
          data[0].map((_, j) => ref(data.map((d) => d[j]))),
          TIGHT,
        );
      }),
    );
  }

  test('Subtract takes exactly two inputs; shapes that do not broadcast are ShapeErrors', () => {
    const s = (shape: number[]) => new SymbolicTensor([null, ...shape], 'float32', 'x');
    assert.throws(() => new Subtract().apply([s([3]), s([3]), s([3])]), /Subtract '.*' takes exactly 2 inputs, got 3/);
    assert.throws(
      () => new Multiply().apply([s([3]), s([4])]),
      (e: Error) =>
        e instanceof ShapeError &&
        /Multiply '.*' expects inputs of one shape.*\(None, 3\), \(None, 4\)/.test(e.message),
    );
    assert.throws(() => new Average().apply(s([3])), /Average '.*' must be called on a list of at least 2 inputs/);
  });
});

describe('masks through elementwise merges (Keras: kept where every masked input keeps the step)', () => {
  test('Add / Multiply AND their inputs masks; unmasked inputs do not count; none masked, no mask', () =>
    tidy(() => {
      const a = rand([2, 3, 2], 1),
        b = rand([2, 3, 2], 2),
        c = rand([2, 3, 2], 3);
      setMask(a, tensor([1, 1, 0, 1, 0, 1], [2, 3], 'bool'));
      setMask(b, tensor([1, 0, 0, 1, 1, 1], [2, 3], 'bool'));
      assert.deepEqual(flat(getMask(new Add().apply([a, b]) as Tensor)!), [1, 0, 0, 1, 0, 1]);
      assert.deepEqual(flat(getMask(new Multiply().apply([a, c]) as Tensor)!), [1, 1, 0, 1, 0, 1]);
      assert.equal(getMask(new Maximum().apply([c, rand([2, 3, 2], 4)]) as Tensor), null);
    }));
});

describe('masks through Concatenate (Keras 3: widened to each input, joined, any over the last axis)', () => {
  test('along time the steps of each input keep their mask; along features a step is kept if any input keeps it', () =>
    tidy(() => {
      const a = rand([2, 3, 2], 1),
        b = rand([2, 2, 2], 2),
        c = rand([2, 3, 4], 3);
      setMask(a, tensor([1, 1, 0, 1, 0, 1], [2, 3], 'bool'));
      // An unmasked input counts as all kept.
      assert.deepEqual(
        flat(getMask(new Concatenate({ axis: 1 }).apply([a, b]) as Tensor)!),
        [1, 1, 0, 1, 1, 1, 0, 1, 1, 1],
      );
      setMask(c, tensor([0, 1, 0, 0, 0, 1], [2, 3], 'bool'));
      assert.deepEqual(flat(getMask(new Concatenate().apply([a, c]) as Tensor)!), [1, 1, 0, 1, 0, 1]);
      assert.deepEqual(flat(getMask(new Concatenate().apply([a, rand([2, 3, 1], 4)]) as Tensor)!), [1, 1, 1, 1, 1, 1]);
      assert.equal(getMask(new Concatenate().apply([rand([2, 3, 1], 5), rand([2, 3, 1], 6)]) as Tensor), null);
    }));
});

describe('Dot', () => {
  /** out[b, i, j] = sum_k x[b, k, i] * y[b, j, k] over axes [1, 2] of x [B, K, I] and y [B, J, K]. */
  test('matches a nested-loop batch dot (axes [1, 2]), and normalize gives cosine similarities', () =>
    tidy(() => {
      const [B, K, I, J] = [2, 4, 3, 5];
      const x = rand([B, K, I], 1),
        y = rand([B, J, K], 2);
      const xd = flat(x),
        yd = flat(y);
      const ref = (norm: boolean) => {
        const out: number[] = [];
        for (let b = 0; b < B; b++)
          for (let i = 0; i < I; i++)
            for (let j = 0; j < J; j++) {
              let dot = 0,
                nx = 0,
                ny = 0;
              for (let k = 0; k < K; k++) {
                const a = xd[b * K * I + k * I + i],
                  c = yd[b * J * K + j * K + k];
                dot += a * c;
                nx += a * a;
                ny += c * c;
              }
              out.push(norm ? dot / Math.sqrt(nx * ny) : dot);
            }
        return out;
      };
      assertClose(new Dot({ axes: [1, 2], dtype: 'float64' }).apply([x, y]) as Tensor, ref(false), TIGHT);
      assertClose(
        new Dot({ axes: [1, 2], normalize: true, dtype: 'float64' }).apply([x, y]) as Tensor,
        ref(true),
        TIGHT,
      );
    }));

  test('bad axes and mismatched sizes are typed errors naming the layer', () => {
    const s = (shape: number[]) => new SymbolicTensor([null, ...shape], 'float32', 'x');
    assert.throws(() => new Dot({ axes: [1, 2, 3] as never }), ArgumentError);
    assert.throws(() => new Dot({ axes: 0 }).apply([s([3]), s([3])]), /Dot '.*' expects two inputs of rank >= 2/);
    assert.throws(
      () => new Dot({ axes: 1 }).apply([s([3]), s([4])]),
      /Dot '.*' expects one batch size and equal sizes on the summed axes 1 and 1/,
    );
    assert.throws(() => new Dot({ axes: 1 }).apply([s([3]), s([3]), s([3])]), /Dot '.*' takes exactly 2 inputs/);
  });
});

describe('RepeatVector and Permute', () => {
  test('RepeatVector repeats each sample n times', () =>
    tidy(() => {
      const x = rand([2, 3], 3);
      const d = flat(x);
      const y = new RepeatVector({ n: 4, dtype: 'float64' }).apply(x) as Tensor;
      assert.deepEqual(y.shape, [2, 4, 3]);
      const expected: number[] = [];
      for (let b = 0; b < 2; b++) for (let r = 0; r < 4; r++) expected.push(...d.slice(b * 3, b * 3 + 3));
      assert.deepEqual(flat(y), expected);
      assert.throws(
        () => new RepeatVector({ n: 2 }).apply(rand([2, 3, 1], 1)),
        /RepeatVector '.*' expects input \(None, features\)/,
      );
      assert.throws(() => new RepeatVector({ n: 0 }), /RepeatVector '.*': n must be a positive integer/);
    }));

  test('Permute moves input axis dims[i] to output axis i + 1', () =>
    tidy(() => {
      const x = rand([2, 3, 4], 4);
      const d = flat(x);
      const y = flat(new Permute({ dims: [2, 1] }).apply(x) as Tensor);
      for (let b = 0; b < 2; b++)
        for (let i = 0; i < 3; i++)
          for (let j = 0; j < 4; j++) assert.equal(y[b * 12 + j * 3 + i], d[b * 12 + i * 4 + j]);
      assert.throws(() => new Permute({ dims: [0, 1] }), /Permute '.*': dims must be a permutation of 1 \.\. 2/);
      assert.throws(() => new Permute({ dims: [1, 1] }), ArgumentError);
      assert.throws(() => new Permute({ dims: [2, 1] }).apply(rand([2, 3], 1)), ShapeError);
    }));

  test('the layers factory makes each', () => {
    assert.ok(layers.subtract() instanceof Subtract);
    assert.ok(layers.multiply() instanceof Multiply);
    assert.ok(layers.average() instanceof Average);
    assert.ok(layers.maximum() instanceof Maximum);
    assert.ok(layers.minimum() instanceof Minimum);
    assert.ok(layers.dot({ axes: 1 }) instanceof Dot);
    assert.ok(layers.repeatVector({ n: 2 }) instanceof RepeatVector);
    assert.ok(layers.permute({ dims: [1] }) instanceof Permute);
  });
});
