// The epoch iterator against a slow reference: every sample once per epoch, in a seeded order, in
// batches of batchSize; class weights times sample weights; batch tensors freed, also on an early exit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { EpochIterator, type StepBatch } from '../../src/train/epoch-iterator.js';
import { flat } from '../helpers.js';

async function collect(batches: Iterable<StepBatch> | AsyncIterable<StepBatch>): Promise<number[][]> {
  const rows: number[][] = [];
  for await (const b of batches) rows.push(flat(b.x[0] as c.Tensor));
  return rows;
}

test('tensors: each epoch covers every sample once, in batches of batchSize, seeded per epoch', async () => {
  const x = c.tensor(
      Array.from({ length: 7 }, (_, i) => i),
      [7],
    ),
    y = c.tensor([0, 1, 0, 1, 0, 1, 0], [7], 'int32');
  const live = c.memory().tensors;
  const shuffled = new EpochIterator(
    { x: [x], y: [y] },
    { op: 'fit', batchSize: 3, shuffle: true, seed: 5, labels: true },
  );
  assert.equal(shuffled.steps, 3);
  assert.equal(shuffled.samples, 7);
  const e0 = await collect(shuffled.epoch(0));
  assert.deepEqual(
    e0.map((b) => b.length),
    [3, 3, 1],
  );
  assert.deepEqual(e0.flat().sort(), [0, 1, 2, 3, 4, 5, 6], 'a permutation of the samples');
  assert.deepEqual(await collect(shuffled.epoch(0)), e0, 'the same epoch, the same order');
  assert.notDeepEqual(await collect(shuffled.epoch(1)), e0, 'another epoch, another order');
  const ordered = new EpochIterator({ x: [x], y: [y] }, { op: 'evaluate', batchSize: 3, labels: true });
  assert.deepEqual(await collect(ordered.epoch(0)), [[0, 1, 2], [3, 4, 5], [6]]);
  assert.equal(c.memory().tensors, live, 'every batch freed');
  // Leaving early frees the batch in hand; a batch covering the whole tensor is the caller's tensor, kept.
  for await (const b of shuffled.epoch(2)) {
    assert.equal(b.x[0].shape[0], 3);
    break;
  }
  for (const b of new EpochIterator({ x: [x] }, { op: 'predict', batchSize: 10, labels: false }).arrays())
    assert.equal(b.x[0], x);
  assert.equal(c.memory().tensors, live);
  assert.equal(x.isDisposed, false);
  c.dispose([x, y]);
});

test('class weights multiply the sample weights of each batch (tensors and datasets)', async () => {
  const x = c.zeros([4, 2]),
    y = c.tensor([0, 1, 2, 1], [4], 'int32'),
    w = c.tensor([1, 2, 3, 4]);
  const classWeight = { 0: 10, 1: 0.5 }; // class 2 unlisted: weight 1
  const expected = [10 * 1, 0.5 * 2, 1 * 3, 0.5 * 4];
  const weights: number[] = [];
  const it = new EpochIterator(
    { x: [x], y: [y], sampleWeight: w },
    { op: 'fit', batchSize: 3, classWeight, labels: true },
  );
  for await (const b of it.epoch(0)) weights.push(...flat(b.sampleWeight!));
  assert.deepEqual(weights, expected);
  const ds = c.Dataset.fromArrays(x, y).batch(2);
  const fromDataset = new EpochIterator(ds, { op: 'fit', batchSize: 32, classWeight, labels: true });
  assert.equal(fromDataset.steps, 2, 'the dataset cardinality');
  const dsWeights: number[] = [];
  for await (const b of fromDataset.epoch(0)) dsWeights.push(...flat(b.sampleWeight!));
  assert.deepEqual(dsWeights, [10, 0.5, 1, 0.5]);
  c.dispose([x, y, w]);
});
