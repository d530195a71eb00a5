// The ledger: a valid chain verifies; every kind of tampering (any byte edited, entries deleted, inserted,
// duplicated, reordered, truncated, re-signed) is detected and the first bad entry is named; signatures
// fail with the wrong key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  appendToLedger,
  entryLine,
  generateSigningKeys,
  makeEntry,
  readLedger,
  verifyLedger,
  verifyLedgerText,
  GENESIS_HASH,
  type LedgerEntry,
} from '../../src/ledger/ledger.js';
import { hashJson } from '../../src/ledger/canonical.js';
import { LedgerError } from '../../src/ledger/errors.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { tempDir, tinyRun } from './fixtures.js';

/** Small stand-in records: the ledger chains any JSON record, and small ones keep the byte sweep fast. */
const fake = (i: number) =>
  ({ format: 'candor-run-record', id: `run-${i}`, loss: 0.5 / (i + 1), tags: ['a', 'é'] }) as unknown as RunRecord;

function chain(n: number, privateKey?: string): string {
  let prev: LedgerEntry | undefined;
  let text = '';
  for (let i = 0; i < n; i++) {
    prev = makeEntry(fake(i), prev, { privateKey, timestamp: `2024-01-0${i + 1}T00:00:00.000Z` });
    text += entryLine(prev);
  }
  return text;
}

const lines = (text: string) => text.split('\n').slice(0, -1);
const join_ = (ls: string[]) => ls.map((l) => l + '\n').join('');

test('a valid chain verifies; entries carry index, timestamp, prevHash, recordHash and entryHash', () => {
  const text = chain(4);
  const r = verifyLedgerText(text);
  assert.equal(r.ok, true);
  assert.equal(r.entries, 4);
  const entries = lines(text).map((l) => JSON.parse(l) as LedgerEntry);
  assert.equal(entries[0].prevHash, GENESIS_HASH);
  entries.forEach((e, i) => {
    assert.equal(e.index, i);
    assert.equal(e.recordHash, hashJson(e.record));
    if (i > 0) assert.equal(e.prevHash, entries[i - 1].entryHash);
  });
  assert.deepEqual(r.head, { index: 3, entryHash: entries[3].entryHash });
  assert.deepEqual(r.signatures, { signed: 0, unsigned: 4, checkedWith: 'embedded keys' });
  assert.deepEqual(verifyLedgerText(''), {
    ok: true,
    entries: 0,
    signatures: { signed: 0, unsigned: 0, checkedWith: 'embedded keys' },
    trust: { trusted: false, signers: [], unsignedEntries: [], legacyEntries: [] },
  });
});

test('editing any single byte of a ledger (signed or not) is detected', () => {
  const { privateKey } = generateSigningKeys();
  for (const text of [chain(3), chain(2, privateKey)]) {
    const bytes = Buffer.from(text, 'utf8');
    let checked = 0;
    for (let i = 0; i < bytes.length; i++) {
      for (const replacement of [0x41, 0x30, 0x20]) {
        // 'A', '0', ' '
        if (bytes[i] === replacement) continue;
        const edited = Buffer.from(bytes);
        edited[i] = replacement;
        const r = verifyLedgerText(edited.toString('utf8'));
        assert.equal(
          r.ok,
          false,
          `byte ${i} ('${String.fromCharCode(bytes[i])}' -> '${String.fromCharCode(replacement)}') went unnoticed`,
        );
        checked++;
      }
    }
    assert.ok(checked > 2 * bytes.length);
  }
});

test('edits name the entry: record, header, whitespace', () => {
  const ls = lines(chain(4));
  const edit = (i: number, from: string | RegExp, to: string) => {
    const c = [...ls];
    c[i] = c[i].replace(from, to);
    return verifyLedgerText(join_(c));
  };
  let r = edit(2, 'run-2', 'run-X');
  assert.deepEqual(
    [r.ok, r.firstBad?.line, r.firstBad?.index, r.firstBad?.kind, r.entries],
    [false, 3, 2, 'record-hash', 2],
  );
  assert.match(r.firstBad!.reason, /entry 2 \(line 3\): the record does not match its recordHash/);
  r = edit(1, '2024-01-02', '2024-01-09');
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [2, 'entry-hash']);
  r = edit(3, '"index":3', '"index": 3');
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [4, 'not-canonical']);
  r = edit(0, /"recordHash":"[0-9a-f]{64}"/, `"recordHash":"${'1'.repeat(64)}"`);
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [1, 'record-hash']);
});

test('deleting, inserting, duplicating and reordering entries are detected at the first entry out of place', () => {
  const ls = lines(chain(5));
  let r = verifyLedgerText(join_([ls[0], ls[1], ls[3], ls[4]]));
  assert.deepEqual(
    [r.ok, r.firstBad?.line, r.firstBad?.index, r.firstBad?.expectedIndex, r.firstBad?.kind],
    [false, 3, 3, 2, 'index'],
  );
  assert.match(r.firstBad!.reason, /deleted before it/);
  r = verifyLedgerText(join_([ls[0], ls[2], ls[1], ls[3], ls[4]]));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.index, r.firstBad?.kind], [2, 2, 'index']);
  r = verifyLedgerText(join_([ls[0], ls[1], ls[1], ls[2], ls[3], ls[4]]));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [3, 'index']);
  assert.match(r.firstBad!.reason, /inserted before it or duplicated/);
  // A forged entry that chains correctly to its predecessor: the entry after it no longer fits.
  const forged = entryLine(makeEntry(fake(99), JSON.parse(ls[1]) as LedgerEntry)).trimEnd();
  r = verifyLedgerText(join_([ls[0], ls[1], forged, ls[2], ls[3], ls[4]]));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.index, r.firstBad?.kind], [4, 2, 'index']);
  // The same forgery renumbering everything after it: prevHash breaks there.
  const renumbered = ls.slice(2).map((l) => {
    const e = JSON.parse(l) as LedgerEntry;
    e.index++;
    return JSON.stringify(e);
  });
  r = verifyLedgerText(join_([ls[0], ls[1], forged, ...renumbered]));
  assert.equal(r.firstBad?.line, 4);
  assert.ok(['prev-hash', 'not-canonical', 'entry-hash'].includes(r.firstBad!.kind));
  // Deleting the first entry.
  r = verifyLedgerText(join_(ls.slice(1)));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [1, 'index']);
});

test('truncation: a cut-off last line is caught; removed newest entries need the head seen before', () => {
  const text = chain(4);
  const ls = lines(text);
  const head = (JSON.parse(ls[3]) as LedgerEntry).entryHash;
  let r = verifyLedgerText(text.slice(0, -40));
  assert.deepEqual([r.ok, r.firstBad?.line, r.entries], [false, 4, 3]);
  assert.ok(['incomplete', 'not-json'].includes(r.firstBad!.kind));
  r = verifyLedgerText(text.slice(0, -1));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [4, 'incomplete']);
  const shorter = join_(ls.slice(0, 3));
  assert.equal(verifyLedgerText(shorter).ok, true, 'a chain alone cannot tell it lost its tail');
  r = verifyLedgerText(shorter, { expectedHead: { entryHash: head } });
  assert.deepEqual([r.ok, r.firstBad?.kind, r.firstBad?.line], [false, 'head', 4]);
  assert.equal(verifyLedgerText(shorter, { expectedHead: { index: 3 } }).ok, false);
  assert.equal(verifyLedgerText(text, { expectedHead: { entryHash: head } }).ok, true);
  assert.equal(
    verifyLedgerText(text + entryLine(makeEntry(fake(4), JSON.parse(ls[3]) as LedgerEntry)), {
      expectedHead: { entryHash: head },
    }).ok,
    true,
    'the ledger may have grown since',
  );
});

test('signatures: valid with the signer key, fail with a wrong key, no signature, or a re-signed rewrite', () => {
  const signer = generateSigningKeys(),
    other = generateSigningKeys();
  const text = chain(3, signer.privateKey);
  let r = verifyLedgerText(text, { publicKey: signer.publicKey });
  assert.deepEqual([r.ok, r.signatures], [true, { signed: 3, unsigned: 0, checkedWith: 'trusted key' }]);
  assert.equal(verifyLedgerText(text).ok, true, 'embedded keys verify too');
  r = verifyLedgerText(text, { publicKey: other.publicKey });
  assert.deepEqual([r.ok, r.firstBad?.line, r.firstBad?.kind], [false, 1, 'signature']);
  assert.match(r.firstBad!.reason, /which is not trusted \(the trusted key is [0-9a-f]{12}\.\.\.\)/);
  // An attacker rewrites the whole chain consistently and signs it with their own key.
  const forged = chain(3, other.privateKey);
  assert.equal(verifyLedgerText(forged).ok, true);
  assert.equal(verifyLedgerText(forged, { publicKey: signer.publicKey }).ok, false);
  // Unsigned entries are refused once a trusted key is given.
  r = verifyLedgerText(chain(2), { publicKey: signer.publicKey });
  assert.deepEqual([r.ok, r.firstBad?.kind], [false, 'signature']);
  // A signature swapped in from another entry does not verify.
  const ls = lines(text).map((l) => JSON.parse(l) as LedgerEntry);
  ls[2].signature = ls[1].signature;
  r = verifyLedgerText(join_(ls.map((e) => entryLine(e).trimEnd())));
  assert.deepEqual([r.firstBad?.line, r.firstBad?.kind], [3, 'signature']);
  assert.throws(() => verifyLedgerText(text, { publicKey: 'not a key' }), LedgerError);
  assert.throws(
    () => makeEntry(fake(0), undefined, { privateKey: signer.publicKey }),
    /Ed25519 private key|cannot use the signing key/,
  );
});

test('appendToLedger: creates, chains, signs, locks concurrent appenders, and refuses a broken ledger', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const keys = generateSigningKeys();
    const run = await tinyRun({ evaluate: false, options: { energy: false } });
    const first = await appendToLedger(path, run.record, { privateKey: keys.privateKey });
    assert.equal(first.index, 0);
    await Promise.all([1, 2, 3, 4].map(() => appendToLedger(path, run.record, { privateKey: keys.privateKey })));
    const r = await verifyLedger(path, { publicKey: keys.publicKey });
    assert.deepEqual([r.ok, r.entries], [true, 5]);
    assert.deepEqual(
      (await readLedger(path)).map((e) => e.index),
      [0, 1, 2, 3, 4],
    );
    assert.equal((await readLedger(path))[0].recordHash, hashJson(JSON.parse(JSON.stringify(run.record))));
    writeFileSync(path, readFileSync(path, 'utf8').replace('tiny-blobs', 'tiny-blobz'));
    await assert.rejects(
      appendToLedger(path, run.record),
      (e: Error) => e instanceof LedgerError && /not appending to a broken chain/.test(e.message),
    );
    assert.deepEqual((await verifyLedger(join(tmp.dir, 'none.jsonl'))).entries, 0);
    run.dispose();
  } finally {
    tmp.done();
  }
});
