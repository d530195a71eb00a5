// Data helpers: toCategorical, standardize / minMaxScale with reusable stats, and trainTestSplit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { toCategorical, standardize, minMaxScale, trainTestSplit } from '../../src/data/index.js';
import { assertClose } from '../helpers.js';

test('toCategorical: one-hot rows, inferred or given class count, [N, 1] labels, range checks', () => {
  assert.deepEqual(toCategorical([0, 2, 1]).toArray(), [
    [1, 0, 0],
    [0, 0, 1],
    [0, 1, 0],
  ]);
  const t = toCategorical(c.tensor([[1], [0]], undefined, 'int32'), 4);
  assert.deepEqual(
    [t.dtype, [...t.shape], t.toArray()],
    [
      'float32',
      [2, 4],
      [
        [0, 1, 0, 0],
        [1, 0, 0, 0],
      ],
    ],
  );
  assert.deepEqual(
    [
      ...toCategorical(
        c.tensor(
          [
            [1, 2],
            [0, 0],
          ],
          undefined,
          'int32',
        ),
      ).shape,
    ],
    [2, 2, 3],
  );
  assert.throws(
    () => toCategorical([0, 3], 3),
    (e: unknown) => e instanceof c.ArgumentError && /label 1 is 3; expected an integer in \[0, 3\)/.test(e.message),
  );
  assert.throws(() => toCategorical([0.5]), /label 0 is 0.5/);
  assert.throws(() => toCategorical([-1], 2), c.ArgumentError);
  assert.throws(() => toCategorical([0], 0), /numClasses must be a positive integer/);
});

test('standardize fits per-feature mean/std, reuses them on test data, and centres constant features', () => {
  const train = c.tensor([
    [1, 10, 5],
    [3, 30, 5],
    [5, 50, 5],
  ]);
  const { x, stats } = standardize(train);
  assertClose(stats.mean, [3, 30, 5]);
  assertClose(stats.std, [Math.sqrt(8 / 3), Math.sqrt(800 / 3), 0], { rtol: 1e-6 });
  const z = Math.sqrt(3 / 2);
  assertClose(
    x,
    [
      [-z, -z, 0],
      [0, 0, 0],
      [z, z, 0],
    ],
    { rtol: 1e-5 },
  );
  const before = c.memory().tensors;
  const applied = standardize(c.tensor([[3, 50, 6]]), { stats });
  assertClose(applied.x, [[0, z, 1]], { rtol: 1e-5 });
  assert.equal(applied.stats, stats);
  assert.equal(c.memory().tensors - before, 2, 'only the input and the result remain');
  assert.throws(() => standardize(c.zeros([0, 3])), c.ShapeError);
  c.dispose([train, x, stats, applied]);
});

test('minMaxScale maps the fitted min/max to the range and reuses stats', () => {
  const train = c.tensor(
    [
      [0, -1, 7],
      [10, 1, 7],
    ],
    undefined,
    'int32',
  );
  const { x, stats } = minMaxScale(train);
  assert.equal(x.dtype, 'float32');
  assertClose(x, [
    [0, 0, 0],
    [1, 1, 0],
  ]);
  const wide = minMaxScale(c.tensor([[5, 0, 8]]), { stats, range: [-1, 1] });
  assertClose(wide.x, [[0, 0, 1]]);
  assert.throws(() => minMaxScale(train, { range: [1, 0] }), c.ArgumentError);
  c.dispose([train, x, stats, wide]);
});

test('trainTestSplit: sizes, disjoint and complete, rows stay paired, seeded', () => {
  const x = c.tensor(
    Float32Array.from({ length: 20 }, (_, i) => i),
    [10, 2],
  );
  const y = c.tensor(Int32Array.from({ length: 10 }, (_, i) => i));
  const { train, test: held } = trainTestSplit(x, y, { testSize: 0.25, seed: 3 });
  assert.deepEqual([[...train.x.shape], [...held.x.shape], [...held.y!.shape]], [[7, 2], [3, 2], [3]]);
  const ids = [...train.y!.dataSync(), ...held.y!.dataSync()];
  assert.deepEqual(
    [...ids].sort((a, b) => a - b),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  assert.notDeepEqual(ids, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const tx = train.x.dataSync(),
    ty = train.y!.dataSync();
  ty.forEach((v, i) => assert.deepEqual([tx[2 * i], tx[2 * i + 1]], [2 * v, 2 * v + 1]));
  const again = trainTestSplit(x, y, { testSize: 0.25, seed: 3 });
  assert.deepEqual(again.test.y!.dataSync(), held.y!.dataSync());
  const ordered = trainTestSplit(x, undefined, { testSize: 2, shuffle: false });
  assert.deepEqual(
    [ordered.test.x.toArray(), 'y' in ordered.test],
    [
      [
        [16, 17],
        [18, 19],
      ],
      false,
    ],
  );
  assert.throws(() => trainTestSplit(x, y, { testSize: 10 }), c.ArgumentError);
  assert.throws(() => trainTestSplit(x, c.zeros([9])), c.ShapeError);
  c.dispose([x, y, train, held, again, ordered]);
});
