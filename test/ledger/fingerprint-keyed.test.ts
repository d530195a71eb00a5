// Keyed data fingerprints: an attacker who knows all but 16 binary labels recovers them by enumeration from a
// plain SHA-256, and from the HMAC with the key, but not under a guessed key; the HMAC message is checked against
// node:crypto by hand; label counts only on request; fit's validation data on the test set says sameAs 'test'.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import * as c from '../../src/index.js';
import {
  FINGERPRINT_DOMAIN,
  fingerprintDataset,
  fingerprintTensor,
  type DatasetFingerprint,
  type FingerprintKeyLike,
} from '../../src/ledger/fingerprint.js';
import { userFingerprintKey } from '../../src/ledger/user-keys.js';
import { validateRunRecord } from '../../src/ledger/record.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { RunFingerprints } from '../../src/ledger/run-fingerprints.js';
import { blobs, tinyRun } from './fixtures.js';

const BITS = 16;
const key: FingerprintKeyLike = { key: randomBytes(32), keyId: '0123456789abcdef' };

/** The label vector numbered `v`: bit i of v is label i, as int32 (the dtype fit's labels have). */
function labelsOf(v: number): Int32Array {
  return Int32Array.from({ length: BITS }, (_, i) => (v >>> i) & 1);
}

/** Every one of the 2^BITS label vectors whose `digest` equals `target`. */
function enumerate(target: string, digest: (bytes: Uint8Array) => string): number[] {
  const found: number[] = [];
  for (let v = 0; v < 1 << BITS; v++) {
    const l = labelsOf(v);
    if (digest(new Uint8Array(l.buffer)) === target) found.push(v);
  }
  return found;
}

test('enumerating 2^16 label vectors inverts a plain SHA-256 but not the keyed fingerprint', () => {
  const secret = 0b1011_0010_0111_0101;
  const y = c.tensor(labelsOf(secret), [BITS]);
  const x = c.tensor(
    Float32Array.from({ length: BITS * 3 }, (_, i) => i / 7),
    [BITS, 3],
  );
  const fp = fingerprintDataset('sensitive', x, y, { key, plainHashes: true });
  const plain = fp.y![0].sha256!;
  // The attacker knows x, the dtype and the shape: only the label bits are secret.
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  assert.deepEqual(enumerate(plain, sha), [secret], 'the plain hash gives the labels away');
  const keyed = fp.y![0].hmacSha256;
  assert.deepEqual(enumerate(keyed, sha), [], 'the HMAC matches no plain hash of any label vector');
  // The same enumeration of HMACs: under the right key it finds the labels (so the search can succeed), under
  // guessed keys (random, all zeros, the key id as key) it finds nothing.
  const head = `${FINGERPRINT_DOMAIN}\0int32\0${BITS}\0`;
  const hmacUnder = (k: Uint8Array) => (b: Uint8Array) => createHmac('sha256', k).update(head).update(b).digest('hex');
  assert.deepEqual(enumerate(keyed, hmacUnder(key.key)), [secret], 'with the key, enumeration finds the labels');
  for (const guess of [randomBytes(32), new Uint8Array(32), Buffer.from(key.keyId)])
    assert.deepEqual(enumerate(keyed, hmacUnder(guess)), [], 'without the key, no label vector matches');
  // The owner, holding the key, re-checks the fingerprint from the labels it kept.
  assert.equal(fingerprintTensor(c.tensor(labelsOf(secret), [BITS]), { key }).hmacSha256, keyed);
  const withKey = createHmac('sha256', key.key)
    .update(head)
    .update(new Uint8Array(labelsOf(secret).buffer));
  assert.equal(withKey.digest('hex'), keyed);
  // By default there is no plain hash and no label count to test guesses against.
  const quiet = fingerprintDataset('sensitive', x, y, { key });
  assert.equal(quiet.y![0].sha256, undefined);
  assert.equal(quiet.labelDistribution, undefined);
  assert.equal(quiet.labelDistributionWithheld, true);
  c.dispose([x, y]);
});

test('the HMAC covers the domain, dtype, shape and elements, computed independently with node:crypto', () => {
  const values = Float32Array.from([0.5, -1, 2, 3.25, 0, 7]);
  const t = c.tensor(values, [2, 3]);
  const expected = createHmac('sha256', key.key)
    .update(Buffer.concat([Buffer.from('candor-tensor-fingerprint-v1\0float32\x002,3\0'), Buffer.from(values.buffer)]))
    .digest('hex');
  const fp = fingerprintTensor(t, { key, plainHashes: true });
  assert.equal(fp.hmacSha256, expected);
  assert.equal(fp.keyId, key.keyId);
  assert.equal(fp.sha256, createHash('sha256').update(Buffer.from(values.buffer)).digest('hex'));
  assert.equal(fp.bytes, 24);
  // The same bytes in another shape or dtype are another fingerprint (the plain hash of the bytes is not).
  const reshaped = c.reshape(t, [3, 2]);
  const other = fingerprintTensor(reshaped, { key, plainHashes: true });
  assert.notEqual(other.hmacSha256, fp.hmacSha256);
  assert.equal(other.sha256, fp.sha256);
  const asInt = c.tensor(new Int32Array(values.buffer.slice(0)), [2, 3]);
  assert.notEqual(fingerprintTensor(asInt, { key }).hmacSha256, fp.hmacSha256);
  // Another key, another fingerprint.
  assert.notEqual(
    fingerprintTensor(t, { key: { key: randomBytes(32), keyId: 'fedcba9876543210' } }).hmacSha256,
    expected,
  );
  c.dispose([t, reshaped, asInt]);
});

test('views hash their own elements: a row slice (offset) and a transpose equal fresh copies', () => {
  const t = c.tensor(
    Float32Array.from({ length: 24 }, (_, i) => i * 1.5 - 4),
    [6, 4],
  );
  const fresh = (v: c.Tensor) => {
    const copy = c.tensor(v.dataSync(), [...v.shape]);
    const fp = fingerprintTensor(copy, { key, plainHashes: true });
    copy.dispose();
    return fp;
  };
  const rows = c.slice(t, [2, 0], [3, 4]);
  const turned = c.transpose(t);
  for (const v of [rows, turned, t]) assert.deepEqual(fingerprintTensor(v, { key, plainHashes: true }), fresh(v));
  // Asking again (cached per storage view) gives the same answer.
  assert.deepEqual(fingerprintTensor(rows, { key }), fingerprintTensor(rows, { key }));
  c.dispose([t, rows, turned]);
});

test("RunRecorder keys fingerprints with the user's key and records label counts only when allowed", async () => {
  const withheld = await tinyRun({ epochs: 1, evaluate: false });
  const train = withheld.record.data.find((d) => d.name === 'train')!;
  assert.equal(train.x[0].keyId, userFingerprintKey().keyId);
  assert.match(train.x[0].hmacSha256, /^[0-9a-f]{64}$/);
  assert.equal(train.x[0].sha256, undefined);
  assert.equal(train.labelDistribution, undefined);
  assert.equal(train.labelDistributionWithheld, true);
  assert.ok(withheld.record.notes.some((n) => /Label distributions were withheld/.test(n)));
  validateRunRecord(withheld.record);
  withheld.dispose();

  const allowed = await tinyRun({
    epochs: 1,
    evaluate: false,
    options: { labelDistribution: true, plainHashes: true },
  });
  const counted = allowed.record.data.find((d) => d.name === 'train')!;
  assert.deepEqual(counted.labelDistribution, { 0: 10, 1: 10, 2: 10 });
  assert.equal(counted.labelDistributionWithheld, undefined);
  assert.match(counted.x[0].sha256!, /^[0-9a-f]{64}$/);
  validateRunRecord(allowed.record);
  allowed.dispose();
});

test("fit's validationData is fingerprinted as 'validation', sameAs 'test' when it is the test set", async () => {
  const { x, y } = blobs(30, 3);
  const test = blobs(12, 5);
  const model = new c.Sequential([c.layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = new RunRecorder({ energy: false, fingerprintKey: key });
  await model.fit(x, y, {
    epochs: 1,
    batchSize: 10,
    verbose: 0,
    validationData: [test.x, test.y],
    callbacks: [recorder],
  });
  const validation = (): DatasetFingerprint => recorder.record.data.find((d) => d.name === 'validation')!;
  assert.equal(validation().samples, 12);
  assert.equal(validation().sameAs, undefined, 'no test dataset in the record yet');
  await recorder.evaluate('test', model, test.x, test.y);
  assert.equal(validation().sameAs, 'test');
  assert.ok(
    recorder.record.notes.some((n) => /'validation' holds the same data as 'test'.*figures on the test set/.test(n)),
  );
  assert.equal(recorder.record.data.find((d) => d.name === 'train')!.sameAs, undefined);
  validateRunRecord(recorder.record);

  // A validation split holds other samples than the test set: no sameAs.
  const split = new RunRecorder({ energy: false, fingerprintKey: key, data: { test: { x: test.x, y: test.y } } });
  await model.fit(x, y, { epochs: 1, batchSize: 10, verbose: 0, validationSplit: 0.2, callbacks: [split] });
  const part = split.record.data.find((d) => d.name === 'validation')!;
  assert.equal(part.samples, 6);
  assert.equal(part.sameAs, undefined);
  // The test set given as data up front is recognised at once; 'test' itself points nowhere.
  const upFront = new RunRecorder({ energy: false, fingerprintKey: key, data: { test: { x: test.x, y: test.y } } });
  await model.fit(x, y, {
    epochs: 1,
    batchSize: 10,
    verbose: 0,
    validationData: [test.x, test.y],
    callbacks: [upFront],
  });
  assert.equal(upFront.record.data.find((d) => d.name === 'validation')!.sameAs, 'test');
  assert.equal(upFront.record.data.find((d) => d.name === 'test')!.sameAs, undefined);
  c.dispose([x, y, test.x, test.y]);
  model.dispose();
});

test('records from before keyed fingerprints (plain sha256 only) still validate', async () => {
  const run = await tinyRun({ epochs: 1, evaluate: false });
  const record = structuredClone(run.record);
  for (const d of record.data)
    for (const t of [...d.x, ...(d.y ?? [])]) {
      const old = t as unknown as Record<string, unknown>;
      old.sha256 = 'a'.repeat(64);
      delete old.hmacSha256;
      delete old.keyId;
    }
  validateRunRecord(record);
  delete (record.data[0].x[0] as unknown as Record<string, unknown>).sha256;
  assert.throws(() => validateRunRecord(record), /anyOf/);
  run.dispose();
});

test('where no key can be stored, a one-off key fingerprints the run and a note says so', () => {
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = '/dev/null/candor'; // mkdir fails: not a directory
  try {
    const notes: string[] = [];
    const run = new RunFingerprints({}, notes);
    const { x, y } = blobs(6, 1);
    const [a, b] = run.datasets({ train: { x, y }, test: { x, y } });
    assert.match(a.x[0].keyId, /^[0-9a-f]{16}$/);
    assert.equal(b.sameAs, undefined);
    assert.equal(a.sameAs, 'test', 'one key for the whole run: the same data compares equal');
    assert.ok(notes.some((n) => /could not be stored.*one-off key/.test(n)));
    c.dispose([x, y]);
  } finally {
    process.env.CANDOR_CONFIG_DIR = saved;
  }
});
