// The encrypted-file format (src/io/encryption.ts): the documented layout decrypted by an independent reader
// built on node:crypto, every flipped bit, truncation and appended byte rejected, keys and roles checked, and
// hostile headers (absurd scrypt parameters, role lengths past the end) refused before any key is derived.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, scryptSync } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { withDir } from '../helpers.js';

const { FileCipher, DecryptionError } = c.privacy;
const KEY = new Uint8Array(32).map((_, i) => i * 7 + 1);
const CHEAP = { cost: 2 ** 10, blockSize: 8, parallelization: 1 }; // the lowest scrypt cost the format accepts
const PLAIN = new TextEncoder().encode('{"secret": "the weights of a model", "n": [1, 2, 3]}\n');

/** An independent reader of the documented layout: header fields by offset, AES-256-GCM with the header as AAD. */
function referenceDecrypt(data: Uint8Array, key: Uint8Array | string): { role: string; plain: Buffer } {
  assert.equal(Buffer.from(data.subarray(0, 16)).toString('latin1'), 'CANDOR-ENCRYPTED');
  assert.equal(data[16], 1, 'format version');
  const roleEnd = 52 + data[21];
  const salt = data.subarray(24, 40);
  const k =
    typeof key === 'string'
      ? scryptSync(key, salt, 32, { N: 2 ** data[18], r: data[19], p: data[20], maxmem: 2 ** 28 })
      : key;
  assert.equal(data[17], typeof key === 'string' ? 1 : 0, 'key derivation: 1 scrypt, 0 raw');
  const d = createDecipheriv('aes-256-gcm', k, data.subarray(40, 52), { authTagLength: 16 });
  d.setAAD(data.subarray(0, roleEnd));
  d.setAuthTag(data.subarray(data.length - 16));
  const plain = Buffer.concat([d.update(data.subarray(roleEnd, data.length - 16)), d.final()]);
  return { role: Buffer.from(data.subarray(52, roleEnd)).toString('utf8'), plain };
}

/** Asserts `p` rejects with a DecryptionError or FormatError whose message names `what`. */
async function rejectsNaming(p: Promise<unknown>, what: string, note: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof c.FormatError, `${note}: expected a FormatError or DecryptionError, got ${e.name}`);
    assert.ok(e.message.includes(what), `${note}: the message names ${what}: ${e.message}`);
    return true;
  });
}

test('the documented layout: an independent reader decrypts raw-key and passphrase files', async () => {
  const raw = await new FileCipher(KEY).encrypt(PLAIN, 'weights');
  assert.equal(raw.length, 52 + 'weights'.length + PLAIN.length + 16, 'header, role, ciphertext, tag');
  assert.deepEqual(referenceDecrypt(raw, KEY), { role: 'weights', plain: Buffer.from(PLAIN) });
  assert.ok(
    [...raw.subarray(18, 21), ...raw.subarray(24, 40)].every((b) => b === 0),
    'no scrypt fields for a raw key',
  );
  assert.equal(raw[21], 'weights'.length, 'the role length');

  const pass = await new FileCipher('correct horse battery staple', { scrypt: CHEAP }).encrypt(PLAIN, 'run.json');
  assert.deepEqual([pass[18], pass[19], pass[20]], [10, 8, 1], 'log2(N), r, p in the header');
  assert.deepEqual(referenceDecrypt(pass, 'correct horse battery staple'), {
    role: 'run.json',
    plain: Buffer.from(PLAIN),
  });
  assert.ok(!Buffer.from(pass).includes(Buffer.from('secret')), 'the plaintext does not show');
});

test('a fresh IV for every file; one random salt per cipher (per save), a new one for the next', async () => {
  const a = new FileCipher('pw', { scrypt: CHEAP });
  const [x, y] = [await a.encrypt(PLAIN, 'r'), await a.encrypt(PLAIN, 'r')];
  const z = await new FileCipher('pw', { scrypt: CHEAP }).encrypt(PLAIN, 'r');
  const iv = (d: Uint8Array) => Buffer.from(d.subarray(40, 52)).toString('hex');
  const salt = (d: Uint8Array) => Buffer.from(d.subarray(24, 40)).toString('hex');
  assert.notEqual(iv(x), iv(y));
  assert.equal(salt(x), salt(y), 'one key derivation per cipher');
  assert.notEqual(salt(x), salt(z));
  assert.deepEqual(await new FileCipher('pw').decrypt(z, 'r', 'z'), PLAIN, 'the reader takes the cost the file names');
});

test('every flipped bit of every byte, every truncation and an appended byte: typed errors', async () => {
  const cipher = new FileCipher(KEY);
  const good = await cipher.encrypt(PLAIN, 'weights');
  for (let i = 0; i < good.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const bad = good.slice();
      bad[i] ^= 1 << bit;
      await rejectsNaming(cipher.decrypt(bad, 'weights', 'file.bin'), 'file.bin', `byte ${i} bit ${bit}`);
    }
  }
  for (let n = 0; n < good.length; n++)
    await rejectsNaming(cipher.decrypt(good.subarray(0, n), 'weights', 'file.bin'), 'file.bin', `cut to ${n}`);
  for (const extra of [[0], [1, 2, 3]]) {
    const longer = Uint8Array.from([...good, ...extra]);
    await rejectsNaming(cipher.decrypt(longer, 'weights', 'file.bin'), 'file.bin', 'appended bytes');
  }
  assert.deepEqual(await cipher.decrypt(good, 'weights', 'file.bin'), PLAIN, 'the untouched file still opens');
});

test('wrong key, wrong kind of key, another role or a plain file: DecryptionError naming the file', async () => {
  const raw = await new FileCipher(KEY).encrypt(PLAIN, 'weights');
  const pass = await new FileCipher('pw', { scrypt: CHEAP }).encrypt(PLAIN, 'weights');
  const cases: [() => Promise<unknown>, RegExp][] = [
    [
      () => new FileCipher(KEY.map((b) => b ^ 1)).decrypt(raw, 'weights', 'f'),
      /f cannot be decrypted: the key is wrong/,
    ],
    [() => new FileCipher('pW').decrypt(pass, 'weights', 'f'), /f cannot be decrypted: the key is wrong/],
    [
      () => new FileCipher('pw').decrypt(raw, 'weights', 'f'),
      /f was encrypted with a raw 32-byte key, but a passphrase/,
    ],
    [() => new FileCipher(KEY).decrypt(pass, 'weights', 'f'), /f was encrypted with a passphrase, but a raw key/],
    [() => new FileCipher(KEY).decrypt(raw, 'optimizer', 'f'), /f says it was encrypted as "weights", not "optimizer"/],
    [() => new FileCipher(KEY).decrypt(PLAIN, 'weights', 'f'), /f is not encrypted/],
  ];
  for (const [call, message] of cases)
    await assert.rejects(call(), (e: Error) => e instanceof DecryptionError && message.test(e.message));
});

test('keys: a non-empty passphrase or exactly 32 bytes; anything else is an ArgumentError', async () => {
  for (const bad of [new Uint8Array(31), new Uint8Array(33), new Uint8Array(0), '', 42, null, [1, 2]])
    assert.throws(() => new FileCipher(bad as never), c.ArgumentError, `key ${String(bad)}`);
  const data = await new FileCipher(Buffer.from(KEY)).encrypt(PLAIN, 'r');
  assert.deepEqual(await new FileCipher(KEY).decrypt(data, 'r', 'f'), PLAIN, 'a Buffer and a Uint8Array are one key');
  // A passphrase is normalised (NFC): 'é' typed as one code point or as e + combining accent is one key.
  const nfc = await new FileCipher('caf\u00e9', { scrypt: CHEAP }).encrypt(PLAIN, 'r');
  assert.deepEqual(await new FileCipher('cafe\u0301').decrypt(nfc, 'r', 'f'), PLAIN);
  await assert.rejects(new FileCipher(KEY).encrypt(PLAIN, ''), c.ArgumentError, 'an empty role');
  await assert.rejects(new FileCipher(KEY).encrypt(PLAIN, 'x'.repeat(256)), c.ArgumentError, 'a role over 255 bytes');
});

test('scrypt parameters are bounded when writing (ArgumentError) and when reading (FormatError)', async () => {
  const bad = [
    { cost: 1000 }, // not a power of two
    { cost: 2 ** 9 }, // too cheap to be a passphrase's stretch
    { cost: 2 ** 21 }, // past 2^20
    { cost: 2 ** 18, blockSize: 16 }, // 512 MiB of memory
    { cost: 2 ** 17, blockSize: 8, parallelization: 16 }, // 16 times the default's work
    { blockSize: 0 },
    { parallelization: 1.5 },
  ];
  for (const scrypt of bad)
    assert.throws(() => new FileCipher('pw', { scrypt }), c.ArgumentError, JSON.stringify(scrypt));
  const good = await new FileCipher('pw', { scrypt: CHEAP }).encrypt(PLAIN, 'r');
  for (const [log2N, r, p] of [
    [9, 8, 1],
    [21, 1, 1],
    [40, 8, 1],
    [18, 16, 1],
    [17, 8, 16],
    [10, 0, 1],
    [10, 8, 0],
  ]) {
    const hostile = good.slice();
    hostile.set([log2N, r, p], 18);
    await assert.rejects(new FileCipher('pw').decrypt(hostile, 'r', 'hostile.bin'), (e: Error) => {
      assert.ok(e instanceof c.FormatError && !(e instanceof DecryptionError), `${e.name}: ${e.message}`);
      assert.match(e.message, /^hostile\.bin: scrypt /);
      return true;
    });
  }
});

test('a hostile header is refused before any large allocation', async () => {
  // 2^19 x 8 blocks of 128 bytes: scrypt would take 512 MiB (and seconds) were the bound not checked first.
  const good = await new FileCipher('pw', { scrypt: CHEAP }).encrypt(PLAIN, 'r');
  const hostile = good.slice();
  hostile.set([19, 8, 1], 18);
  const before = process.resourceUsage().maxRSS; // kilobytes
  await assert.rejects(new FileCipher('pw').decrypt(hostile, 'r', 'hostile.bin'), c.FormatError);
  assert.ok(process.resourceUsage().maxRSS - before < 100 * 1024, 'peak memory grew by less than 100 MiB');
  // A role length past the end of the file is a truncation, not a read past the buffer.
  const short = good.slice(0, 52 + 16);
  short[21] = 255;
  await assert.rejects(new FileCipher('pw').decrypt(short, 'r', 'short.bin'), /short\.bin is truncated: 68 bytes/);
  // Unknown version, key derivation or reserved bytes are format errors, named.
  for (const [at, value, message] of [
    [16, 2, /version 2 is not one this Candor reads/],
    [17, 7, /unknown key derivation 7/],
    [22, 1, /reserved bytes/],
  ] as const) {
    const bad = good.slice();
    bad[at] = value;
    await assert.rejects(
      new FileCipher('pw').decrypt(bad, 'r', 'f'),
      (e: Error) => e instanceof c.FormatError && message.test(e.message),
    );
  }
});

test('writeEncrypted / readEncrypted: atomic files whose role is their name by default', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'train.csv.enc');
    await c.privacy.writeEncrypted(file, 'a,b\n1,2\n', KEY);
    assert.ok(c.privacy.isEncrypted(new Uint8Array(readFileSync(file))));
    assert.equal(new TextDecoder().decode(await c.privacy.readEncrypted(file, KEY)), 'a,b\n1,2\n');
    // Swapping two data files (train for test) is caught: each is bound to its name.
    renameSync(file, join(dir, 'test.csv.enc'));
    await assert.rejects(
      c.privacy.readEncrypted(join(dir, 'test.csv.enc'), KEY),
      /test\.csv\.enc says it was encrypted as "train\.csv\.enc", not "test\.csv\.enc"/,
    );
    const moved = await c.privacy.readEncrypted(join(dir, 'test.csv.enc'), KEY, { role: 'train.csv.enc' });
    assert.equal(new TextDecoder().decode(moved), 'a,b\n1,2\n', 'the role named explicitly opens a renamed file');
    // loadCsv reads an encrypted data file with its key.
    const csv = join(dir, 'data.csv');
    await c.privacy.writeEncrypted(csv, 'x,label\n1.5,0\n-2,1\n', KEY);
    const { x, y } = await c.loadCsv(csv, { label: 'label', encryptionKey: KEY });
    assert.deepEqual(
      [Array.from(x.dataSync()), Array.from(y!.dataSync())],
      [
        [1.5, -2],
        [0, 1],
      ],
    );
    c.dispose([x, y!]);
    await assert.rejects(c.loadCsv(csv, { label: 'label', encryptionKey: KEY.map((b) => b + 1) }), DecryptionError);
    writeFileSync(join(dir, 'plain.csv'), 'a\n');
    await assert.rejects(c.privacy.readEncrypted(join(dir, 'plain.csv'), KEY), DecryptionError);
  });
});
