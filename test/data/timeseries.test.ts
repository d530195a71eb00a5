// Tests timeseriesDatasetFromArray against the three examples of Keras' timeseries_dataset_from_array
// docstring, start/end indices, unbatched windows, seeded shuffling, validation and memory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, dispose, memory, tensor, timeseriesDatasetFromArray, type Example } from '../../src/index.js';
import { flat } from '../helpers.js';

const range = (n: number, f = (i: number) => i) => Float32Array.from({ length: n }, (_, i) => f(i));
const rows = (t: { shape: readonly number[]; dataSync(): ArrayLike<number> }) => {
  const d = Array.from(t.dataSync());
  const w = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: t.shape[0] }, (_, i) => d.slice(i * w, (i + 1) * w));
};

async function all(ds: AsyncIterable<Example>): Promise<{ x: number[][]; y: number[] }> {
  const x: number[][] = [],
    y: number[] = [];
  for await (const b of ds) {
    x.push(...rows(b.x));
    if (b.y) y.push(...flat(b.y));
    dispose(b);
  }
  return { x, y };
}

describe('timeseriesDatasetFromArray (Keras docstring examples)', () => {
  test('example 1: indices 0..98, sequenceLength 10, samplingRate 2, sequenceStride 3', async () => {
    const ds = timeseriesDatasetFromArray(range(99), null, { sequenceLength: 10, samplingRate: 2, sequenceStride: 3 });
    const { x } = await all(ds);
    assert.deepEqual(x[0], [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    assert.deepEqual(x[1], [3, 5, 7, 9, 11, 13, 15, 17, 19, 21]);
    assert.deepEqual(x[2], [6, 8, 10, 12, 14, 16, 18, 20, 22, 24]);
    assert.deepEqual(x[x.length - 1], [78, 80, 82, 84, 86, 88, 90, 92, 94, 96]);
    assert.equal(x.length, 27);
    assert.equal(ds.cardinality(), 1); // one batch of 128
  });

  test('example 2: the past 10 steps predict the next', async () => {
    const data = range(50, (i) => i * i);
    const ds = timeseriesDatasetFromArray(data.slice(0, -10), data.slice(10), { sequenceLength: 10, batchSize: 4 });
    const first = (await ds.take(1).toArray())[0];
    assert.deepEqual(first.x.shape, [4, 10]);
    assert.deepEqual(rows(first.x)[0], Array.from(data.slice(0, 10)));
    assert.equal(flat(first.y!)[0], data[10]);
    dispose(first);
    const { x, y } = await all(ds);
    assert.equal(x.length, 31); // 40 inputs -> windows starting at 0..30
    x.forEach((w, i) => assert.equal(y[i], data[i + 10]));
  });

  test('example 3: non-overlapping windows for many-to-many', async () => {
    const X = range(100),
      Y = range(100, (i) => 2 * i);
    const opts = { sequenceLength: 20, sequenceStride: 20 };
    const inputs = (await all(timeseriesDatasetFromArray(X, null, opts))).x;
    const targets = (await all(timeseriesDatasetFromArray(Y, null, opts))).x;
    assert.deepEqual(inputs[0], Array.from(X.slice(0, 20)));
    assert.deepEqual(targets[1], Array.from(Y.slice(20, 40)));
    assert.equal(inputs.length, 5);
  });
});

describe('timeseriesDatasetFromArray', () => {
  test('rows keep their shape; startIndex / endIndex bound the windows and index the targets', async () => {
    const data = tensor(range(40), [20, 2]);
    const ds = timeseriesDatasetFromArray(
      data,
      range(20, (i) => 100 + i),
      {
        sequenceLength: 3,
        startIndex: 5,
        endIndex: 12,
        batchSize: 2,
      },
    );
    const batches = await ds.toArray();
    assert.deepEqual(batches[0].x.shape, [2, 3, 2]);
    // Windows start at 5..9 (9 + 2 = 11 < 12); targets[start].
    assert.deepEqual(batches.map((b) => flat(b.y!)).flat(), [105, 106, 107, 108, 109]);
    assert.deepEqual(flat(batches[0].x).slice(0, 6), [10, 11, 12, 13, 14, 15]);
    assert.equal(ds.cardinality(), 3);
    dispose(batches);
    data.dispose();
  });

  test('batchSize null yields single windows', async () => {
    const ds = timeseriesDatasetFromArray(range(6), range(6), { sequenceLength: 4, batchSize: null });
    const els = await ds.toArray();
    assert.equal(els.length, 3);
    assert.deepEqual(els[2].x.shape, [4]);
    assert.deepEqual(els[2].y!.shape, []);
    dispose(els);
  });

  test('shuffle: a permutation of the windows, fixed by the seed, new each pass', async () => {
    const make = () =>
      timeseriesDatasetFromArray(range(60), range(60), { sequenceLength: 5, batchSize: 7, shuffle: true, seed: 3 });
    const ds = make();
    const a = await all(ds),
      b = await all(ds),
      again = await all(make());
    assert.deepEqual(
      [...a.y].sort((p, q) => p - q),
      Array.from({ length: 56 }, (_, i) => i),
    );
    assert.notDeepEqual(
      a.y,
      Array.from({ length: 56 }, (_, i) => i),
    );
    assert.notDeepEqual(a.y, b.y, 'each pass is shuffled anew');
    assert.deepEqual(again.y, a.y, 'the same seed replays the same order');
    a.x.forEach((w, i) =>
      assert.deepEqual(
        w,
        [0, 1, 2, 3, 4].map((t) => a.y[i] + t),
      ),
    );
  });

  test('windows longer than the data give an empty dataset; bad options are typed errors', async () => {
    assert.equal((await timeseriesDatasetFromArray(range(5), null, { sequenceLength: 6 }).toArray()).length, 0);
    const bad = (o: object, re: RegExp) =>
      assert.throws(() => timeseriesDatasetFromArray(range(10), null, { sequenceLength: 2, ...o }), {
        name: 'ArgumentError',
        message: re,
      });
    bad({ sequenceLength: 0 }, /sequenceLength must be a positive integer/);
    bad({ samplingRate: 10 }, /samplingRate must be below/);
    bad({ sequenceStride: 0 }, /sequenceStride/);
    bad({ startIndex: 10 }, /startIndex/);
    bad({ startIndex: 4, endIndex: 4 }, /endIndex/);
    bad({ batchSize: 1.5 }, /batchSize/);
    assert.throws(() => timeseriesDatasetFromArray('abc' as never, null, { sequenceLength: 2 }), ArgumentError);
  });

  test('iterating leaves no tensor behind once batches are disposed', async () => {
    const ds = timeseriesDatasetFromArray(range(30), range(30), { sequenceLength: 4, batchSize: 5, shuffle: true });
    const before = memory().tensors;
    await all(ds);
    for await (const b of ds.take(2)) dispose(b);
    assert.equal(memory().tensors, before);
  });
});
