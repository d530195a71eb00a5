// redactPII and PIIRedactor: type tags, keyed pseudonyms (stable, key-dependent, HMAC-SHA256 recomputed here),
// counts, typed errors for missing or short keys, redaction as a Dataset map over strings, StringTensors and
// { x, y } text batches, and the run record holding the counts but none of the values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { privacy, ArgumentError, Dataset } from '../../src/index.js';
import { StringTensor } from '../../src/nn/preprocessing/string-tensor.js';
import { withDir } from '../helpers.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';

const { redactPII, PIIRedactor, scanPII } = privacy;
const KEY = 'a test key, 16+ bytes long';

const VALUES = {
  email: 'alice@example.com',
  phone: '+44 20 7946 0958',
  creditCard: '4111 1111 1111 1111',
  iban: 'GB82 WEST 1234 5698 7654 32',
  ipv4: '66.187.233.211',
  ipv6: '2001:db8::1',
  prcId: '11010519491231002X',
  usSsn: '123-45-6789',
  secret: 'AKIAIOSFODNN7EXAMPLE',
};
const TEXT = Object.entries(VALUES)
  .map(([k, v]) => `${k}: ${v};`)
  .join('\n');

test('tag mode: every value replaced by its type tag, counts per type', () => {
  const { text, counts } = redactPII(TEXT + ' again alice@example.com');
  assert.equal(
    text,
    'email: [EMAIL];\nphone: [PHONE];\ncreditCard: [CREDIT_CARD];\niban: [IBAN];\nipv4: [IPV4];\nipv6: [IPV6];\n' +
      'prcId: [PRC_ID];\nusSsn: [US_SSN];\nsecret: [SECRET]; again [EMAIL]',
  );
  assert.deepEqual(counts, {
    email: 2,
    phone: 1,
    creditCard: 1,
    iban: 1,
    ipv4: 1,
    ipv6: 1,
    prcId: 1,
    usSsn: 1,
    secret: 1,
  });
  for (const v of Object.values(VALUES)) assert.ok(!text.includes(v));
  // types limits what is looked for, and counts list those types only.
  const only = redactPII(TEXT, { types: ['email', 'usSsn'] });
  assert.deepEqual(only.counts, { email: 1, usSsn: 1 });
  assert.ok(only.text.includes(VALUES.ipv4));
});

test('pseudonym mode: HMAC-SHA256 of the normalised value, stable, key-dependent, not the value', () => {
  const a = redactPII(TEXT, { mode: 'pseudonym', key: KEY });
  for (const v of Object.values(VALUES)) assert.ok(!a.text.includes(v), v);
  const hmac = (key: string, s: string) => createHmac('sha256', key).update(s).digest('hex').slice(0, 12);
  assert.ok(a.text.includes(`email: <EMAIL_${hmac(KEY, 'email\u0000alice@example.com')}>;`));
  assert.ok(a.text.includes(`usSsn: <US_SSN_${hmac(KEY, 'usSsn\u0000123456789')}>;`));
  // Stable: the same value (written another way) gets the same token; another value another token.
  const same = redactPII('ALICE@example.com, 4111-1111-1111-1111, +44 (0)20 7946 0958', {
    mode: 'pseudonym',
    key: KEY,
  });
  const tokens = same.text.split(', ');
  assert.ok(a.text.includes(tokens[0]) && a.text.includes(tokens[1]) && a.text.includes(tokens[2]), same.text);
  const v6 = new PIIRedactor({ mode: 'pseudonym', key: KEY });
  assert.equal(v6.token('ipv6', '2001:0DB8:0:0:0:0:0:1'), v6.token('ipv6', '2001:db8::1'));
  assert.match(v6.token('ipv6', 'not an address'), /^<IPV6_[0-9a-f]{12}>$/);
  const other = redactPII('bob@example.com', { mode: 'pseudonym', key: KEY }).text;
  assert.notEqual(other, tokens[0]);
  // Another key, other tokens; a key given as bytes is the same key.
  const b = redactPII(TEXT, { mode: 'pseudonym', key: KEY + '!' });
  assert.notEqual(a.text, b.text);
  assert.equal(redactPII(TEXT, { mode: 'pseudonym', key: new TextEncoder().encode(KEY) }).text, a.text);
  assert.deepEqual(a.counts, redactPII(TEXT).counts);
});

test('pseudonym mode needs a key of 16 bytes or more; bad options are typed errors', () => {
  assert.throws(() => redactPII(TEXT, { mode: 'pseudonym' }), ArgumentError);
  assert.throws(() => redactPII(TEXT, { mode: 'pseudonym', key: 'short' }), /at least 16/);
  assert.throws(() => redactPII(TEXT, { mode: 'pseudonym', key: new Uint8Array(15) }), ArgumentError);
  assert.throws(() => redactPII(TEXT, { mode: 'hash' as 'tag' }), ArgumentError);
  assert.throws(() => redactPII(TEXT, { key: KEY }), /only used with mode 'pseudonym'/);
  assert.throws(() => new PIIRedactor({ types: ['ssn' as privacy.PIIType] }), /unknown PII type 'ssn'/);
});

test('PIIRedactor as a Dataset map: strings, StringTensors, { x, y } text batches; labels pass through', async () => {
  await withDir(async (dir) => {
    for (const [cls, texts] of [
      ['ham', ['meet at 10.0.0.1', 'no pii here']],
      ['spam', ['buy now: call 212-555-0199 or mail deals@example.com', 'card 4111111111111111']],
    ] as const) {
      mkdirSync(join(dir, cls));
      texts.forEach((t, i) => writeFileSync(join(dir, cls, `${i}.txt`), t));
    }
    const redactor = new PIIRedactor();
    const ds = (await c.textDatasetFromDirectory(dir, { batchSize: 4, shuffle: false })).map(redactor.map);
    const [batch] = await ds.toArray();
    assert.ok(batch.x instanceof StringTensor);
    assert.deepEqual(batch.x.values, [
      'meet at [IPV4]',
      'no pii here',
      'buy now: call [PHONE] or mail [EMAIL]',
      'card [CREDIT_CARD]',
    ]);
    assert.deepEqual(Array.from(batch.y!.dataSync()), [0, 0, 1, 1], 'labels untouched');
    c.dispose(batch.y!);
    assert.deepEqual(redactor.counts, {
      email: 1,
      phone: 1,
      creditCard: 1,
      iban: 0,
      ipv4: 1,
      ipv6: 0,
      prcId: 0,
      usSsn: 0,
      secret: 0,
    });
    redactor.reset();
    assert.equal(redactor.counts.email, 0);
  });
  // Plain strings and arrays of them, from a generator.
  const redactor = new PIIRedactor({ mode: 'pseudonym', key: KEY, types: ['email'] });
  const out = await Dataset.fromGenerator(() => ['x@example.org', ['y@example.org', 'none']])
    .map(redactor.map)
    .toArray();
  assert.match(out[0] as string, /^<EMAIL_[0-9a-f]{12}>$/);
  assert.match((out[1] as string[])[0], /^<EMAIL_[0-9a-f]{12}>$/);
  assert.deepEqual(redactor.counts, { email: 2 });
  assert.throws(() => redactor.map(new Map()), ArgumentError);
});

test('the run record keeps the counts and the redaction mode, never a matched value', async () => {
  const tmp = tempDir();
  const run = await tinyRun({ dir: tmp.dir, evaluate: false });
  try {
    const redactor = new PIIRedactor({ mode: 'pseudonym', key: KEY });
    const redacted = redactor.redact(TEXT);
    await redactor.record(run.recorder);
    const record = run.recorder.record;
    assert.deepEqual(record.privacy?.pii, { counts: { ...redactor.counts }, redaction: 'pseudonym' });
    const written = readFileSync(join(tmp.dir, 'run.json'), 'utf8');
    assert.deepEqual(JSON.parse(written).privacy.pii, record.privacy?.pii);
    for (const json of [JSON.stringify(record), written]) {
      for (const m of scanPII(TEXT)) assert.ok(!json.includes(m.value), `${m.type} value in the record`);
      for (const token of redacted.match(/<[A-Z_]+_[0-9a-f]{12}>/g)!) assert.ok(!json.includes(token.slice(1, -1)));
    }
  } finally {
    run.dispose();
    tmp.done();
  }
});
