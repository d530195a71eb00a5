// Trust by default: ledger signatures are domain-separated (and old bare-entryHash ones are recognised as
// such), verify trusts only the keys it is given, publishRun signs with the user's key and records the card
// files' hashes, and verifyRun names each forgery: a re-hashed unsigned chain, stripped signatures, a chain
// re-signed by another key, an edited run.json, swapped weights and an edited card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createPublicKey, sign, verify } from 'node:crypto';
import {
  entryLine,
  generateSigningKeys,
  keyIdOf,
  makeEntry,
  signedMessage,
  verifyLedgerText,
  SIGNATURE_SCHEME,
  type LedgerEntry,
} from '../../src/ledger/ledger.js';
import { hashJson, sha256Hex } from '../../src/ledger/canonical.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { trustKeys, trustedKeys, userSigningKey, publicKeyPem } from '../../src/ledger/user-keys.js';
import { verifyRun, type RunVerification } from '../../src/ledger/verify-run.js';
import { publishRecord, publishRun } from '../../src/cards/publish.js';
import { writeCard } from '../../src/cards/card.js';
import { tempDir, tinyRun } from './fixtures.js';
import { forgeries } from './forgery.js';

const fake = (i: number) => ({ format: 'candor-run-record', id: `run-${i}` }) as unknown as RunRecord;

function chain(n: number, privateKey?: string): LedgerEntry[] {
  const out: LedgerEntry[] = [];
  for (let i = 0; i < n; i++)
    out.push(makeEntry(fake(i), out[i - 1], { privateKey, timestamp: `2024-01-0${i + 1}T00:00:00.000Z` }));
  return out;
}
const text = (es: LedgerEntry[]) => es.map(entryLine).join('');

test('signatures are over the domain-separated message, not the bare entryHash', () => {
  const keys = generateSigningKeys();
  const [e] = chain(1, keys.privateKey);
  assert.equal(e.signatureScheme, SIGNATURE_SCHEME);
  const sig = Buffer.from(e.signature!, 'base64');
  const pub = createPublicKey(keys.publicKey);
  assert.ok(verify(null, Buffer.from(`candor-ledger-entry-v1\n${e.entryHash}`), pub, sig));
  assert.ok(!verify(null, Buffer.from(e.entryHash, 'ascii'), pub, sig), 'the bare entryHash is not what was signed');
  assert.equal(e.keyId, keyIdOf(keys.publicKey));
  assert.equal(e.keyId, sha256Hex(pub.export({ type: 'spki', format: 'der' })));
});

test('an old entry signed over the bare entryHash verifies and is reported as the legacy scheme', () => {
  const keys = generateSigningKeys();
  const es = chain(2, keys.privateKey);
  // Entry 0 as a ledger written before the scheme existed holds it: no signatureScheme, bare entryHash signed.
  delete es[0].signatureScheme;
  es[0].signature = sign(null, Buffer.from(es[0].entryHash, 'ascii'), keys.privateKey).toString('base64');
  let r = verifyLedgerText(text(es), { trustedKeys: [keys.publicKey] });
  assert.deepEqual([r.ok, r.trust.trusted, r.trust.legacyEntries], [true, true, [0]]);
  // Downgrade: dropping the scheme of a v1 entry changes the message, so its signature fails.
  delete es[1].signatureScheme;
  r = verifyLedgerText(text(es), { trustedKeys: [keys.publicKey] });
  assert.deepEqual([r.ok, r.firstBad?.line, r.firstBad?.kind], [false, 2, 'signature']);
  // A scheme this version does not know is refused, not guessed.
  es[1].signatureScheme = 'candor-ledger-entry-v9' as typeof SIGNATURE_SCHEME;
  r = verifyLedgerText(text(es));
  assert.match(r.firstBad!.reason, /signatureScheme "candor-ledger-entry-v9" is not one this version knows/);
  assert.equal(signedMessage({ entryHash: 'ab', signatureScheme: undefined })!.toString(), 'ab');
});

test('trusted keys: any of them may sign; others, unsigned entries and an empty trust list fail', () => {
  const a = generateSigningKeys(),
    b = generateSigningKeys(),
    c = generateSigningKeys();
  const es = [...chain(1, a.privateKey)];
  es.push(makeEntry(fake(1), es[0], { privateKey: b.privateKey }));
  let r = verifyLedgerText(text(es), { trustedKeys: [a.publicKey, b.publicKey] });
  assert.deepEqual(
    [r.ok, r.trust.trusted, r.trust.signers],
    [true, true, [keyIdOf(a.publicKey), keyIdOf(b.publicKey)]],
  );
  r = verifyLedgerText(text(es), { trustedKeys: [a.publicKey, c.publicKey] });
  assert.deepEqual([r.ok, r.firstBad?.line, r.firstBad?.kind], [false, 2, 'signature']);
  assert.match(r.firstBad!.reason, /signed by key [0-9a-f]{12}\.\.\., which is not trusted/);
  r = verifyLedgerText(text(es), { trustedKeys: [] });
  assert.match(r.firstBad!.reason, /no key is trusted/);
  // Without trusted keys the chain verifies but vouches for nothing.
  r = verifyLedgerText(text(es));
  assert.deepEqual([r.ok, r.trust.trusted], [true, false]);
  // Unsigned entries: refused with trusted keys, passed (and listed) with allowUnsigned.
  const mixed = [...chain(1, a.privateKey)];
  mixed.push(makeEntry(fake(1), mixed[0]));
  r = verifyLedgerText(text(mixed), { trustedKeys: [a.publicKey] });
  assert.deepEqual([r.ok, r.firstBad?.line], [false, 2]);
  assert.match(r.firstBad!.reason, /is not signed/);
  r = verifyLedgerText(text(mixed), { trustedKeys: [a.publicKey], allowUnsigned: true });
  assert.deepEqual([r.ok, r.trust.trusted, r.trust.unsignedEntries], [true, false, [1]]);
});

test('trustedKeys: the trusted-keys file and the own key when it exists; never made by verifying', () => {
  const tmp = tempDir();
  try {
    const verifier = { CANDOR_CONFIG_DIR: join(tmp.dir, 'verifier') };
    const trainer = { CANDOR_CONFIG_DIR: join(tmp.dir, 'trainer') };
    assert.deepEqual(trustedKeys(verifier), []);
    assert.equal(existsSync(join(verifier.CANDOR_CONFIG_DIR, 'signing-key.pem')), false, 'no key made');
    const mine = userSigningKey(trainer);
    assert.deepEqual(
      trustedKeys(trainer).map((k) => k.keyId),
      [mine.keyId],
    );
    const pem = publicKeyPem(mine.publicKey);
    assert.deepEqual(trustKeys(pem, 'trainer.pub', verifier), [{ keyId: mine.keyId, added: true }]);
    assert.deepEqual(trustKeys(pem + generateSigningKeys().publicKey, 'two.pub', verifier)[0].added, false);
    const keys = trustedKeys(verifier);
    assert.equal(keys.length, 2);
    assert.equal(keys[0].keyId, mine.keyId);
    assert.match(keys[0].source, /trusted-keys\.pem$/);
    assert.throws(() => trustKeys('nothing here', 'empty.pub', verifier), /holds no PEM public key/);
  } finally {
    tmp.done();
  }
});

/** The names of the checks that failed. */
const failed = (v: RunVerification) => v.checks.filter((c) => !c.ok).map((c) => c.check);
const detail = (v: RunVerification, check: string) => v.checks.find((c) => c.check === check)!.detail;

test('publishRun signs by default and verifyRun names every forgery', async (t) => {
  const tmp = tempDir();
  const saved = process.env.CANDOR_CONFIG_DIR;
  const trainer = { CANDOR_CONFIG_DIR: join(tmp.dir, 'trainer') };
  const verifier = { CANDOR_CONFIG_DIR: join(tmp.dir, 'verifier') };
  const stranger = { CANDOR_CONFIG_DIR: join(tmp.dir, 'stranger') };
  process.env.CANDOR_CONFIG_DIR = trainer.CANDOR_CONFIG_DIR; // fingerprint keys, if any, are the trainer's
  const honest = join(tmp.dir, 'run');
  const run = await tinyRun({ dir: honest });
  try {
    await run.model.save(honest);
    writeFileSync(join(honest, 'card.json'), JSON.stringify({ intendedUse: 'Demonstration only.' }));
    const published = await publishRun(run.recorder, { dir: honest, env: trainer });
    const key = userSigningKey(trainer);
    trustKeys(publicKeyPem(key.publicKey), 'trainer.pub', verifier);

    await t.test('the honest run: signed by the user key, card hashed, every check passes', async () => {
      assert.equal(published.entry!.keyId, key.keyId);
      assert.equal(published.entry!.signatureScheme, SIGNATURE_SCHEME);
      assert.deepEqual(Object.keys(published.record.card!.files).sort(), ['card.html', 'card.json', 'card.md']);
      const md = readFileSync(join(honest, 'card.md'));
      assert.deepEqual(published.record.card!.files['card.md'], { sha256: sha256Hex(md), bytes: md.length });
      const onDisk = JSON.parse(readFileSync(join(honest, 'run.json'), 'utf8'));
      assert.equal(hashJson(onDisk), published.entry!.recordHash, 'run.json is the record the ledger holds');
      assert.ok(Object.keys(onDisk.model.artifacts).length >= 2, 'model.json and the weights are recorded');
      for (const env of [verifier, trainer]) {
        const v = await verifyRun(honest, { env });
        assert.deepEqual(failed(v), [], JSON.stringify(v.checks));
        assert.equal(v.ok, true);
      }
      assert.match(detail(await verifyRun(honest, { env: trainer }), 'key'), /your own key/);
      // The card names the record it was rendered from (without record.card, which it cannot hold), so
      // rendering it again from the published run.json gives the same bytes and verify still passes.
      const { card: _hashes, ...rendered } = published.record;
      assert.ok(md.toString().includes(`SHA-256 ${hashJson(rendered)} (the record without its card field`));
      await writeCard(honest);
      assert.deepEqual(readFileSync(join(honest, 'card.md')), md);
      assert.deepEqual(failed(await verifyRun(honest, { env: verifier })), []);
      // A verifier who trusts no one: the ledger and the key fail, and say why.
      const v = await verifyRun(honest, { env: stranger });
      assert.deepEqual(failed(v), ['ledger', 'key']);
      assert.match(detail(v, 'key'), /which is not trusted \(trusted: none;/);
      assert.match(detail(v, 'emissions'), /^1 rows match the records the ledger vouches for$/);
    });

    for (const f of forgeries(published.record, key))
      await t.test(f.name, async () => {
        const dir = join(tmp.dir, f.name.replace(/\W+/g, '-'));
        cpSync(honest, dir, { recursive: true });
        f.change(dir);
        const v = await verifyRun(dir, { env: verifier });
        assert.equal(v.ok, false);
        assert.deepEqual(failed(v), f.fails, JSON.stringify(v.checks, null, 1));
        assert.match(
          v.checks
            .filter((c) => !c.ok)
            .map((c) => `${c.check}: ${c.detail}`)
            .join('\n'),
          f.why,
        );
      });

    await t.test('a rollback to an older signed version fails only against the head seen before', async () => {
      // v2: the run re-published (a changed record); the rollback restores v1's files and ledger (honest's).
      const v2 = join(tmp.dir, 'v2');
      cpSync(honest, v2, { recursive: true });
      const record = JSON.parse(readFileSync(join(v2, 'run.json'), 'utf8')) as RunRecord;
      record.name = 'tiny-blobs-v2'; // its emissions.csv row (project_name) changes with it
      const head = (await publishRecord(record, { dir: v2, env: trainer })).entry!;
      assert.equal(head.index, 1);
      assert.deepEqual(failed(await verifyRun(v2, { env: verifier, expectedHead: { entryHash: head.entryHash } })), []);
      let v = await verifyRun(honest, { env: verifier });
      assert.deepEqual(failed(v), [], 'without the head the rollback cannot be seen');
      assert.match(detail(v, 'ledger'), /entries cut off the end .* cannot be detected without the head you saw/);
      v = await verifyRun(honest, { env: verifier, expectedHead: { entryHash: head.entryHash } });
      assert.deepEqual(failed(v), ['ledger']);
      assert.match(
        detail(v, 'ledger'),
        /does not contain the expected head [0-9a-f]{64}: entries were cut off the end/,
      );
    });
  } finally {
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
    run.dispose();
    tmp.done();
  }
});

test('publishRun with sign: false writes an unsigned entry and says so in the record', async () => {
  const tmp = tempDir();
  const env = { CANDOR_CONFIG_DIR: join(tmp.dir, 'config') };
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = env.CANDOR_CONFIG_DIR;
  const run = await tinyRun({ dir: join(tmp.dir, 'run'), evaluate: false, options: { energy: false } });
  try {
    const p = await publishRun(run.recorder, { dir: join(tmp.dir, 'run'), sign: false, card: false, env });
    assert.equal(p.entry!.signature, undefined);
    assert.equal(p.record.card, undefined);
    assert.ok(p.record.notes.some((n) => /not signed \(published with sign: false\)/.test(n)));
    assert.equal(existsSync(join(env.CANDOR_CONFIG_DIR, 'signing-key.pem')), false, 'no key made for sign: false');
  } finally {
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
    run.dispose();
    tmp.done();
  }
});

test('a run published without a card or a model verifies; model files copied in later do not', async () => {
  const tmp = tempDir();
  const trainer = { CANDOR_CONFIG_DIR: join(tmp.dir, 'trainer') };
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = trainer.CANDOR_CONFIG_DIR;
  const dir = join(tmp.dir, 'run');
  const run = await tinyRun({ dir });
  try {
    await publishRun(run.recorder, { dir, card: false, env: trainer });
    let v = await verifyRun(dir, { env: trainer });
    assert.deepEqual(failed(v), [], JSON.stringify(v.checks));
    assert.match(detail(v, 'card'), /no card files are recorded and there are none in the run directory/);
    assert.match(detail(v, 'weights'), /no model files are recorded and there are none in the run directory/);
    // Saving the model elsewhere afterwards leaves the published run.json as it was.
    const elsewhere = join(tmp.dir, 'elsewhere');
    await run.model.save(elsewhere);
    assert.deepEqual(failed(await verifyRun(dir, { env: trainer })), []);
    assert.ok(JSON.parse(readFileSync(join(elsewhere, 'run.json'), 'utf8')).model.artifacts['model.json']);
    // Another model's files copied into the published run: nothing vouches for them.
    for (const f of readdirSync(elsewhere).filter((f) => f === 'model.json' || f.endsWith('.safetensors')))
      cpSync(join(elsewhere, f), join(dir, f));
    v = await verifyRun(dir, { env: trainer });
    assert.deepEqual(failed(v), ['weights']);
    assert.match(detail(v, 'weights'), /model\.json, .*\.safetensors are in the run directory but not among/);
  } finally {
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
    run.dispose();
    tmp.done();
  }
});
