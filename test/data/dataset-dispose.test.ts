// Tests the Dataset helpers that free elements themselves: autoDispose (each element freed when the
// consumer moves on or leaves), forEach, and filter (rejected elements freed), with the memory counter.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Dataset, Tensor, memory, sum, tensor } from '../../src/index.js';
import { flat } from '../helpers.js';

const xs = () =>
  tensor(
    Float32Array.from({ length: 20 }, (_, i) => i),
    [10, 2],
  );

describe('Dataset helpers that free their elements', () => {
  test('autoDispose frees each batch when the next is requested, and the last when the loop ends', async () => {
    const x = xs();
    const before = memory().tensors;
    const seen: Tensor[] = [];
    for await (const b of Dataset.fromArrays(x).batch(3).autoDispose()) {
      if (seen.length > 0) assert.ok(seen[seen.length - 1].isDisposed, 'the previous batch is freed by now');
      assert.ok(!b.x.isDisposed, 'the current batch is alive');
      seen.push(b.x);
    }
    assert.equal(seen.length, 4);
    assert.ok(seen.every((t) => t.isDisposed));
    assert.equal(memory().tensors, before);
    x.dispose();
  });

  test('autoDispose frees the current element on break, and keeps the cardinality', async () => {
    const x = xs();
    const ds = Dataset.fromArrays(x).batch(4).autoDispose();
    assert.equal(ds.cardinality(), 3);
    const before = memory().tensors;
    let held: Tensor | undefined;
    for await (const b of ds) {
      held = b.x;
      break;
    }
    assert.ok(held!.isDisposed);
    assert.equal(memory().tensors, before);
    x.dispose();
  });

  test('forEach awaits fn on every element and frees them all', async () => {
    const x = xs();
    const before = memory().tensors;
    const totals: number[] = [];
    await Dataset.fromArrays(x)
      .batch(5)
      .forEach(async (b, i) => {
        await new Promise((r) => setImmediate(r));
        const s = sum(b.x);
        totals[i] = s.item();
        s.dispose();
      });
    assert.deepEqual(totals, [45, 145]);
    assert.equal(memory().tensors, before);
    x.dispose();
  });

  test('filter keeps matching elements and frees the rest', async () => {
    const x = xs();
    const before = memory().tensors;
    const kept = await Dataset.fromArrays(x)
      .filter((e) => e.x.dataSync()[0] % 4 === 0)
      .toArray();
    assert.deepEqual(
      kept.map((e) => flat(e.x)),
      [
        [0, 1],
        [4, 5],
        [8, 9],
        [12, 13],
        [16, 17],
      ],
    );
    assert.equal(memory().tensors, before + kept.length, 'only the kept elements are alive');
    for (const e of kept) e.x.dispose();
    assert.equal(
      Dataset.fromArrays(x)
        .filter(() => true)
        .cardinality(),
      undefined,
    );
    x.dispose();
  });
});
