// textDatasetFromDirectory against a small folder tree: Keras' class order and label modes, every file
// once, the seeded validation split (disjoint, reproducible), reshuffled passes, errors, and fit on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { ArgumentError } from '../../src/errors.js';
import { withDir } from '../helpers.js';

/** pos/ and neg/ with n files each (pos/ also holds a nested folder and a non-.txt file, which is skipped). */
function makeTree(dir: string, n = 5): void {
  for (const cls of ['pos', 'neg']) {
    mkdirSync(join(dir, cls, 'more'), { recursive: true });
    for (let i = 0; i < n; i++) writeFileSync(join(dir, cls, i === 0 ? 'more' : '', `${i}.txt`), `${cls} text ${i}`);
  }
  writeFileSync(join(dir, 'pos', 'notes.md'), 'not a sample');
}

async function all(ds: AsyncIterable<c.TextBatch>): Promise<{ texts: string[]; labels: number[][] }> {
  const texts: string[] = [],
    labels: number[][] = [];
  for await (const b of ds) {
    texts.push(...b.x.values);
    if (b.y) {
      const per = b.y.rank === 1 ? 1 : b.y.shape[1];
      const v = Array.from(b.y.dataSync());
      for (let i = 0; i < v.length; i += per) labels.push(v.slice(i, i + per));
      b.y.dispose();
    }
  }
  return { texts, labels };
}

test('class folders sorted, int / categorical / binary / no labels, every file once', async () => {
  await withDir(async (dir) => {
    makeTree(dir);
    const ds = await c.textDatasetFromDirectory(dir, { batchSize: 4, seed: 1 });
    assert.deepEqual(ds.classNames, ['neg', 'pos']);
    assert.equal(ds.cardinality(), 3);
    const { texts, labels } = await all(ds);
    assert.deepEqual([...texts].sort(), [0, 1, 2, 3, 4].flatMap((i) => [`neg text ${i}`, `pos text ${i}`]).sort());
    texts.forEach((t, i) => assert.equal(labels[i][0], t.startsWith('pos') ? 1 : 0));
    const cat = await all(await c.textDatasetFromDirectory(dir, { labelMode: 'categorical', shuffle: false }));
    assert.deepEqual(cat.labels[0], [1, 0]);
    assert.deepEqual(cat.labels[9], [0, 1]);
    const bin = await c.textDatasetFromDirectory(dir, { labelMode: 'binary', shuffle: false, batchSize: 100 });
    for await (const b of bin) {
      assert.deepEqual([...b.y!.shape], [10, 1]);
      b.y!.dispose();
    }
    const none = await all(await c.textDatasetFromDirectory(dir, { labelMode: null, classNames: ['pos'] }));
    assert.equal(none.texts.length, 5);
    assert.equal(none.labels.length, 0);
  });
});

test('seeded validation split: disjoint subsets covering every file, the same for the same seed', async () => {
  await withDir(async (dir) => {
    makeTree(dir);
    const [train, val] = await c.textDatasetFromDirectory(dir, { validationSplit: 0.2, subset: 'both', seed: 7 });
    const t = (await all(train)).texts,
      v = (await all(val)).texts;
    assert.equal(t.length, 8);
    assert.equal(v.length, 2);
    assert.equal(new Set([...t, ...v]).size, 10);
    const again = await c.textDatasetFromDirectory(dir, { validationSplit: 0.2, subset: 'validation', seed: 7 });
    assert.deepEqual((await all(again)).texts, v);
    // Each pass reshuffles (Keras' dataset.shuffle); the samples stay the same.
    const second = (await all(train)).texts;
    assert.deepEqual([...second].sort(), [...t].sort());
  });
});

test('typed errors: missing folder, unknown class, binary with 3 classes, split without a seed', async () => {
  await withDir(async (dir) => {
    makeTree(dir);
    await assert.rejects(c.textDatasetFromDirectory(join(dir, 'nope')), c.MissingDataError);
    await assert.rejects(c.textDatasetFromDirectory(dir, { classNames: ['pos', 'x'] }), /no folder for class x/);
    mkdirSync(join(dir, 'third'));
    await assert.rejects(c.textDatasetFromDirectory(dir, { labelMode: 'binary' }), /exactly 2 classes/);
    await assert.rejects(c.textDatasetFromDirectory(dir, { validationSplit: 0.2, subset: 'training' }), /needs a seed/);
    await assert.rejects(c.textDatasetFromDirectory(dir, { validationSplit: 0.2 }), ArgumentError);
  });
});

test('fit and evaluate a TextVectorization model on the dataset; no tensor leaks', async () => {
  await withDir(async (dir) => {
    makeTree(dir, 8);
    const ds = await c.textDatasetFromDirectory(dir, { batchSize: 4, seed: 2 });
    const tv = c.layers.textVectorization({ outputMode: 'multi_hot' });
    tv.adapt((await all(ds)).texts);
    const model = new c.Sequential([tv, c.layers.dense({ units: 2, activation: 'softmax' })]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    await model.fit(ds, { epochs: 1, verbose: 0, record: false }); // builds the weights and optimizer state
    const before = c.memory().tensors;
    await model.fit(ds, { epochs: 3, verbose: 0, record: false });
    const logs = await model.evaluate(ds);
    assert.ok(Number.isFinite(logs.loss));
    assert.equal(c.memory().tensors, before, 'the batches of the dataset are freed');
  });
});
