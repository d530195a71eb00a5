// CIFAR-10 binary reader: planes to channels-last pixels, labels, truncated files, and the folder loader.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import {
  datasets,
  parseCifar10,
  loadCifar10Batches,
  CIFAR10_CLASSES,
  CIFAR10_RECORD_BYTES,
  MissingDataError,
} from '../../src/data/index.js';
import { FormatError } from '../../src/io/safetensors.js';

/** Records whose pixel (row r, col q) in channel ch holds (seed + 3 r + 5 q + 7 ch) mod 256. */
function records(labels: number[], seed = 0): Uint8Array {
  const out = new Uint8Array(labels.length * CIFAR10_RECORD_BYTES);
  labels.forEach((label, i) => {
    const at = i * CIFAR10_RECORD_BYTES;
    out[at] = label;
    for (let ch = 0; ch < 3; ch++)
      for (let r = 0; r < 32; r++)
        for (let q = 0; q < 32; q++) {
          out[at + 1 + ch * 1024 + r * 32 + q] = (seed + i + 3 * r + 5 * q + 7 * ch) % 256;
        }
  });
  return out;
}

test('parseCifar10 turns R, G, B planes into channels-last pixels in [0, 1]', () => {
  assert.equal(CIFAR10_RECORD_BYTES, 3073);
  assert.equal(CIFAR10_CLASSES[3], 'cat');
  const { x, y } = parseCifar10(records([3, 9, 0]));
  assert.deepEqual([...x.shape], [3, 32, 32, 3]);
  assert.equal(x.dtype, 'float32');
  assert.deepEqual([y.dtype, Array.from(y.dataSync())], ['int32', [3, 9, 0]]);
  const d = x.dataSync();
  const at = (i: number, r: number, q: number, ch: number) => d[((i * 32 + r) * 32 + q) * 3 + ch];
  for (const [i, r, q, ch] of [
    [0, 0, 0, 0],
    [0, 0, 0, 2],
    [1, 31, 0, 1],
    [2, 7, 30, 2],
    [2, 31, 31, 0],
  ]) {
    assert.equal(
      at(i, r, q, ch),
      Math.fround(((i + 3 * r + 5 * q + 7 * ch) % 256) / 255),
      `image ${i} (${r}, ${q}) channel ${ch}`,
    );
  }
  c.dispose([x, y]);
});

test('parseCifar10 rejects truncated files and bad labels with FormatError', () => {
  const full = records([1, 2]);
  assert.throws(
    () => parseCifar10(full.subarray(0, full.length - 1), 'data_batch_1.bin'),
    (e: unknown) =>
      e instanceof FormatError &&
      /data_batch_1.bin is 6145 bytes, not a whole number of 3073-byte records \(1 records and 3072 bytes over\)/.test(
        e.message,
      ),
  );
  assert.throws(() => parseCifar10(records([10])), /record 0 has label 10, expected 0-9/);
  const empty = parseCifar10(new Uint8Array(0));
  assert.deepEqual([...empty.x.shape], [0, 32, 32, 3]);
  c.dispose(empty);
});

test('loadCifar10Batches and datasets.cifar10 read the files a user downloaded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-cifar-'));
  try {
    for (let k = 1; k <= 5; k++) await writeFile(join(dir, `data_batch_${k}.bin`), records([k, k], k));
    await assert.rejects(
      datasets.cifar10({ dir }),
      (e: unknown) => e instanceof MissingDataError && /test_batch.bin not found.*cifar-10-binary/.test(e.message),
    );
    await assert.rejects(datasets.cifar10(), MissingDataError);
    await writeFile(join(dir, 'test_batch.bin'), records([0, 1, 2]));
    const { train, test: testSet } = await datasets.cifar10({ dir });
    assert.deepEqual([...train.x.shape], [10, 32, 32, 3]);
    assert.deepEqual(Array.from(train.y.dataSync()), [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]);
    assert.equal(train.x.dataSync()[2 * 32 * 32 * 3], Math.fround(2 / 255), 'batch 2 starts at image 2 (seed 2)');
    assert.deepEqual(Array.from(testSet.y.dataSync()), [0, 1, 2]);
    const one = await loadCifar10Batches(join(dir, 'test_batch.bin'));
    assert.deepEqual(one.x.dataSync(), testSet.x.dataSync());
    await writeFile(join(dir, 'short.bin'), records([1]).subarray(0, 3000));
    await assert.rejects(loadCifar10Batches(join(dir, 'short.bin')), /short.bin is 3000 bytes/);
    c.dispose([train, testSet, one]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
