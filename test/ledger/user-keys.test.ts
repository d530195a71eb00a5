// The user's key store: keys made once on first use, owner-only, overridable by environment variables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { candorConfigDir, userFingerprintKey, userSigningKey } from '../../src/ledger/user-keys.js';
import { LedgerError } from '../../src/ledger/errors.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'candor-keys-'));

test('the signing key is made on first use, mode 0600, and the same key is read back', () => {
  const env = { CANDOR_CONFIG_DIR: fresh() };
  const a = userSigningKey(env);
  assert.equal(a.created, true);
  assert.equal(statSync(a.path).mode & 0o777, 0o600);
  const b = userSigningKey(env);
  assert.equal(b.created, false);
  assert.equal(b.keyId, a.keyId);
  const sig = sign(null, Buffer.from('x'), a.privateKey);
  assert.ok(verify(null, Buffer.from('x'), b.publicKey, sig));
});

test('CANDOR_KEY overrides the signing key and is never created', () => {
  const dir = fresh();
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(join(dir, 'mine.pem'), pem);
  const k = userSigningKey({ CANDOR_CONFIG_DIR: dir, CANDOR_KEY: join(dir, 'mine.pem') });
  assert.equal(k.created, false);
  assert.throws(() => userSigningKey({ CANDOR_KEY: join(dir, 'missing.pem') }), LedgerError);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
  writeFileSync(join(dir, 'rsa.pem'), rsa);
  assert.throws(() => userSigningKey({ CANDOR_KEY: join(dir, 'rsa.pem') }), /Ed25519/);
});

test('the fingerprint key is 32 secret bytes with an id that is not the key', () => {
  const env = { CANDOR_CONFIG_DIR: fresh() };
  const a = userFingerprintKey(env);
  assert.equal(a.key.length, 32);
  assert.equal(a.keyId.length, 16);
  assert.ok(!a.key.toString('hex').includes(a.keyId));
  assert.deepEqual(userFingerprintKey(env).key, a.key);
  const other = userFingerprintKey({ CANDOR_CONFIG_DIR: fresh() });
  assert.notEqual(other.keyId, a.keyId);
});

test('the config directory follows CANDOR_CONFIG_DIR, then XDG_CONFIG_HOME', () => {
  assert.equal(candorConfigDir({ CANDOR_CONFIG_DIR: '/a', XDG_CONFIG_HOME: '/b' }), '/a');
  assert.equal(candorConfigDir({ XDG_CONFIG_HOME: '/b' }), join('/b', 'candor'));
});
