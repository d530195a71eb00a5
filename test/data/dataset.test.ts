// The Dataset pipeline: order, seeded per-epoch shuffles, batching, map, take/skip/repeat/prefetch, ownership.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { Dataset } from '../../src/data/index.js';

/** x rows [i, 10 i] (float32 [n, 2]) and labels i (int32 [n]), so every element names its source row. */
function rows(n: number): { x: c.Tensor; y: c.Tensor } {
  const x = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = 10 * i;
  }
  return { x: c.tensor(x, [n, 2]), y: c.tensor(Int32Array.from({ length: n }, (_, i) => i)) };
}

/** The labels of every batch of one pass, disposing the batches. */
async function labels(ds: Dataset<{ x: c.Tensor; y?: c.Tensor }>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of ds) {
    out.push(Array.from(b.y!.dataSync()));
    c.dispose(b);
  }
  return out;
}

const flatLabels = async (ds: Dataset<{ x: c.Tensor; y?: c.Tensor }>) => (await labels(ds)).flat();

test('fromArrays yields rows in order; batch gathers them with a leading axis', async () => {
  const { x, y } = rows(5);
  const ds = Dataset.fromArrays(x, y);
  assert.equal(ds.cardinality(), 5);
  const elements = await ds.toArray();
  assert.deepEqual(
    elements.map((e) => e.x.toArray()),
    [
      [0, 0],
      [1, 10],
      [2, 20],
      [3, 30],
      [4, 40],
    ],
  );
  assert.deepEqual(
    elements.map((e) => e.y!.shape.length),
    [0, 0, 0, 0, 0],
  );
  c.dispose(elements);

  const batched = ds.batch(2);
  assert.equal(batched.cardinality(), 3);
  const bs = await batched.toArray();
  assert.deepEqual(
    bs.map((b) => [...b.x.shape]),
    [
      [2, 2],
      [2, 2],
      [1, 2],
    ],
  );
  assert.deepEqual(bs[1].x.toArray(), [
    [2, 20],
    [3, 30],
  ]);
  assert.equal(bs[1].y!.dtype, 'int32');
  assert.deepEqual(
    bs.map((b) => Array.from(b.y!.dataSync())),
    [[0, 1], [2, 3], [4]],
  );
  c.dispose(bs);

  const dropped = ds.batch(2, { dropRemainder: true });
  assert.equal(dropped.cardinality(), 2);
  assert.deepEqual(await labels(dropped), [
    [0, 1],
    [2, 3],
  ]);
  // A typed array is a column of scalars; x alone gives elements without y.
  const only = await Dataset.fromArrays(Float64Array.from([1.5, 2.5, 3.5]))
    .batch(2)
    .toArray();
  assert.deepEqual(
    only.map((b) => [b.x.dtype, b.x.toArray(), 'y' in b]),
    [
      ['float64', [1.5, 2.5], false],
      ['float64', [3.5], false],
    ],
  );
  c.dispose([x, y, only]);
});

test('fromArrays checks its inputs', () => {
  assert.throws(
    () => Dataset.fromArrays(c.zeros([3, 2]), c.zeros([4])),
    (e: unknown) => e instanceof c.ShapeError && /x has 3 rows but y has 4/.test(e.message),
  );
  assert.throws(() => Dataset.fromArrays(c.scalar(1)), c.ShapeError);
  assert.throws(() => Dataset.fromArrays(new Int16Array(3) as unknown as Int32Array), c.DTypeError);
  assert.throws(() => Dataset.fromArrays(c.zeros([2])).batch(0), c.ArgumentError);
});

test('shuffle: a permutation, reproducible by seed, different every epoch, replayed by a fresh dataset', async () => {
  const { x, y } = rows(100);
  const make = (seed: number) => Dataset.fromArrays(x, y).shuffle('all', { seed }).batch(100);
  const ds = make(7);
  const e1 = await flatLabels(ds),
    e2 = await flatLabels(ds);
  const sorted = Array.from({ length: 100 }, (_, i) => i);
  assert.deepEqual(
    [...e1].sort((a, b) => a - b),
    sorted,
  );
  assert.deepEqual(
    [...e2].sort((a, b) => a - b),
    sorted,
  );
  assert.notDeepEqual(e1, sorted);
  assert.notDeepEqual(e1, e2, 'each epoch is reshuffled');
  const again = make(7);
  assert.deepEqual(await flatLabels(again), e1, 'same seed, same first epoch');
  assert.deepEqual(await flatLabels(again), e2, 'same seed, same second epoch');
  assert.notDeepEqual(await flatLabels(make(8)), e1, 'another seed, another order');
  // x and y rows stay paired through the shuffle.
  for await (const b of make(3)) {
    const xs = b.x.dataSync(),
      ys = b.y!.dataSync();
    for (let i = 0; i < ys.length; i++) assert.deepEqual([xs[2 * i], xs[2 * i + 1]], [ys[i], 10 * ys[i]]);
    c.dispose(b);
  }
  const fixed = Dataset.fromArrays(x, y).shuffle('all', { seed: 7, reshuffleEachIteration: false }).batch(100);
  assert.deepEqual(await flatLabels(fixed), await flatLabels(fixed));
  // Repeat passes count as epochs too.
  const twice = await flatLabels(Dataset.fromArrays(x, y).shuffle('all', { seed: 7 }).repeat(2).batch(100));
  assert.deepEqual(twice, [...e1, ...e2]);
  // Without a seed, setSeed makes the order reproducible.
  c.setSeed(11);
  const g1 = await flatLabels(Dataset.fromArrays(x, y).shuffle('all').batch(100));
  c.setSeed(11);
  assert.deepEqual(await flatLabels(Dataset.fromArrays(x, y).shuffle('all').batch(100)), g1);
  c.dispose([x, y]);
});

test('shuffle with a small buffer is a local shuffle: every element, none before its window', async () => {
  const { x, y } = rows(200);
  const out = await flatLabels(Dataset.fromArrays(x, y).shuffle(10, { seed: 1 }).batch(50));
  assert.deepEqual(
    [...out].sort((a, b) => a - b),
    Array.from({ length: 200 }, (_, i) => i),
  );
  assert.notDeepEqual(
    out,
    [...out].sort((a, b) => a - b),
  );
  // Element e enters a 10-slot buffer after e - 9 outputs, so it cannot come out earlier than that.
  out.forEach((e, pos) => assert.ok(pos >= e - 10, `element ${e} at position ${pos}`));
  assert.throws(() => Dataset.fromArrays(x).repeat().shuffle('all'), c.ArgumentError);
  assert.throws(() => Dataset.fromArrays(x).shuffle(0), c.ArgumentError);
  c.dispose([x, y]);
});

test('take, skip, repeat: contents and cardinality', async () => {
  const { x, y } = rows(5);
  const ds = Dataset.fromArrays(x, y);
  const pass = async (d: Dataset) => flatLabels(d.batch(100));
  assert.deepEqual(await pass(ds.take(3)), [0, 1, 2]);
  assert.deepEqual(await pass(ds.skip(3)), [3, 4]);
  assert.deepEqual(await pass(ds.skip(1).take(2)), [1, 2]);
  assert.deepEqual(await pass(ds.take(0)), []);
  assert.deepEqual(await pass(ds.repeat(2)), [0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  assert.deepEqual(await pass(ds.repeat().take(7)), [0, 1, 2, 3, 4, 0, 1]);
  assert.equal(ds.take(3).cardinality(), 3);
  assert.equal(ds.take(9).cardinality(), 5);
  assert.equal(ds.skip(9).cardinality(), 0);
  assert.equal(ds.repeat(3).cardinality(), 15);
  assert.equal(ds.repeat().cardinality(), Infinity);
  assert.equal(ds.repeat().take(7).cardinality(), 7);
  assert.equal(ds.repeat().batch(2).cardinality(), Infinity);
  // An empty dataset repeated forever ends rather than spinning.
  assert.deepEqual(await pass(ds.take(0).repeat()), []);
  assert.equal(ds.take(0).repeat().cardinality(), 0);
  // take stops pulling upstream as soon as it has n elements.
  let made = 0;
  const gen = Dataset.fromGenerator(function* () {
    for (;;) {
      made++;
      yield { x: c.scalar(made) };
    }
  });
  assert.equal(gen.cardinality(), undefined);
  const got = await gen.take(3).toArray();
  assert.equal(made, 3);
  c.dispose([x, y, got]);
});

test('map: applies fn per element or batch, frees inputs and intermediates, batches any structure', async () => {
  const { x, y } = rows(6);
  const before = c.memory().tensors;
  const ds = Dataset.fromArrays(x, y)
    .map(({ x, y }) => ({ x: c.mul(c.add(x, 1), 2), y: y! }))
    .batch(3);
  const bs = await ds.toArray();
  assert.deepEqual(bs[0].x.toArray(), [
    [2, 2],
    [4, 22],
    [6, 42],
  ]);
  assert.deepEqual(Array.from(bs[1].y!.dataSync()), [3, 4, 5]);
  assert.equal(c.memory().tensors - before, 4, 'only the batches are alive');
  c.dispose(bs);
  // Batched map, and elements of any structure: arrays, nested objects, numbers.
  const pairs = await Dataset.fromArrays(x, y)
    .batch(4)
    .map((b) => [c.sum(b.x, 1), { n: b.x.shape[0] }] as const)
    .toArray();
  assert.deepEqual(
    pairs.map(([s, o]) => [s.toArray(), o.n]),
    [
      [[0, 11, 22, 33], 4],
      [[44, 55], 2],
    ],
  );
  c.dispose(pairs);
  const structured = await Dataset.fromGenerator(function* () {
    for (let i = 0; i < 3; i++)
      yield { a: [c.scalar(i), i], b: { c: c.tensor([i, i], undefined, 'int32'), f: i + 0.5 } };
  })
    .batch(3)
    .toArray();
  const s = structured[0];
  assert.deepEqual(
    [s.a[0].toArray(), s.a[1].toArray(), s.a[1].dtype, s.b.c.toArray(), s.b.f.toArray()],
    [
      [0, 1, 2],
      [0, 1, 2],
      'int32',
      [
        [0, 0],
        [1, 1],
        [2, 2],
      ],
      [0.5, 1.5, 2.5],
    ],
  );
  c.dispose(structured);
  // Mismatched element shapes cannot be stacked.
  const ragged = Dataset.fromGenerator(() => [{ x: c.zeros([2]) }, { x: c.zeros([3]) }]).batch(2);
  await assert.rejects(
    ragged.toArray(),
    (e: unknown) =>
      e instanceof c.ShapeError && /element.x shapes differ within a batch \(\[2\] and \[3\]\)/.test(e.message),
  );
  assert.equal(c.memory().tensors, before, 'nothing leaked, even on errors');
  c.dispose([x, y]);
});

test('batching gathers rows with one new tensor per column per batch, not one per element', async () => {
  const { x, y } = rows(1000);
  const probe = () => {
    const t = c.scalar(0);
    t.dispose();
    return t.id;
  };
  const ds = Dataset.fromArrays(x, y).shuffle('all', { seed: 2 }).batch(100).prefetch(2);
  const start = probe();
  let batches = 0;
  for await (const b of ds) {
    batches++;
    c.dispose(b);
  }
  const made = probe() - start - 1;
  assert.equal(batches, 10);
  assert.ok(made <= 2 * batches + 3, `${made} tensors for ${batches} batches`); // x, y per batch + a few random draws
  c.dispose([x, y]);
});

test("ownership: yielded tensors escape the consumer's scopes; early exits free buffered elements", async () => {
  const { x, y } = rows(50);
  const before = c.memory().tensors;
  const kept: c.Tensor[] = [];
  {
    using _scope = new c.TensorScope();
    for await (const b of Dataset.fromArrays(x, y).batch(10)) kept.push(b.x, b.y!);
  }
  assert.ok(
    kept.every((t) => !t.isDisposed),
    'batches belong to the consumer, not to a scope that was open',
  );
  c.dispose(kept);
  assert.equal(c.memory().tensors, before);
  // Break out of passes whose stages hold elements: a shuffle buffer, a prefetch queue, a partial batch.
  const busy = Dataset.fromArrays(x, y)
    .map((e) => e)
    .shuffle(20, { seed: 1 })
    .batch(3)
    .prefetch(4);
  for await (const b of busy) {
    c.dispose(b);
    break;
  }
  for await (const b of Dataset.fromArrays(x, y)
    .map((e) => e)
    .batch(7)
    .take(2))
    c.dispose(b);
  for await (const e of Dataset.fromArrays(x, y)
    .map((e) => e)
    .skip(45))
    c.dispose(e);
  assert.equal(c.memory().tensors, before, 'buffered elements were freed');
  c.dispose([x, y]);
});

test('prefetch: same elements in the same order; errors surface at the consumer', async () => {
  const { x, y } = rows(23);
  const base = Dataset.fromArrays(x, y).shuffle(5, { seed: 4 }).batch(4);
  assert.deepEqual(
    await labels(Dataset.fromArrays(x, y).shuffle(5, { seed: 4 }).batch(4).prefetch(3)),
    await labels(base),
  );
  assert.equal(base.prefetch(2).cardinality(), 6);
  let reads = 0;
  const failing = Dataset.fromGenerator(async function* () {
    for (let i = 0; i < 5; i++) {
      reads++;
      if (i === 3) throw new Error('disk on fire');
      yield { x: c.scalar(i) };
    }
  }).prefetch(2);
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (const e of failing) {
      seen.push(e.x.item());
      e.x.dispose();
    }
  }, /disk on fire/);
  assert.deepEqual(seen, [0, 1, 2]);
  assert.equal(reads, 4);
  assert.throws(() => base.prefetch(0), c.ArgumentError);
  c.dispose([x, y]);
});

// Speed belongs in bench/; this checks that an MNIST-sized shuffled, batched, prefetched epoch yields every
// sample exactly once with its label.
test('an MNIST-sized shuffled epoch yields every sample once, with its label', async () => {
  const n = 60000;
  const ids = c.arange(0, n, 1, 'int32');
  const x = c.expand(c.reshape(c.cast(ids, 'float32'), [n, 1]), [n, 784]),
    y = ids;
  const ds = Dataset.fromArrays(x, y).shuffle('all', { seed: 0 }).batch(128).prefetch(2);
  c.dispose([x, y]); // the dataset holds its own copy
  const seen = new Uint8Array(n);
  let count = 0;
  let inOrder = 0;
  for await (const b of ds) {
    const xs = b.x.dataSync() as Float32Array;
    const ys = b.y!.dataSync() as Int32Array;
    for (let i = 0; i < ys.length; i++) {
      assert.equal(xs[i * 784 + 783], ys[i]);
      seen[ys[i]]++;
      if (ys[i] === count + i) inOrder++;
    }
    count += b.x.shape[0];
    c.dispose(b);
  }
  assert.equal(count, n);
  assert.ok(seen.every((s) => s === 1));
  assert.ok(inOrder < n / 100, `${inOrder} of ${n} samples kept their place: not shuffled`);
});
