// The user's own secrets, kept outside every run directory: the Ed25519 key that signs ledger entries and the
// HMAC key that fingerprints data. Both are made on first use in the user's config directory
// ($CANDOR_CONFIG_DIR, else $XDG_CONFIG_HOME/candor, else ~/.config/candor), readable by the owner only.
// CANDOR_KEY (a PEM file path) overrides the signing key and CANDOR_FINGERPRINT_KEY (a file path) the
// fingerprint key; nothing is made then.
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  KeyObject,
} from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LedgerError } from './errors.js';

export const SIGNING_KEY_FILE = 'signing-key.pem';
export const FINGERPRINT_KEY_FILE = 'fingerprint.key';
/** One trusted signer's public key per PEM block; `ledger verify` and `candor verify` read it. */
export const TRUSTED_KEYS_FILE = 'trusted-keys.pem';

/** Where Candor keeps the user's keys. */
export function candorConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.CANDOR_CONFIG_DIR) return env.CANDOR_CONFIG_DIR;
  if (env.XDG_CONFIG_HOME) return join(env.XDG_CONFIG_HOME, 'candor');
  return join(homedir(), '.config', 'candor');
}

/**
 * Reads `file`, or makes it with `make()` when it does not exist. Creation is atomic and exclusive (a temp file
 * linked into place), so two processes starting at once agree on one key; the file is mode 0600.
 */
function readOrMake(file: string, dir: string, make: () => string): { text: string; created: boolean } {
  if (existsSync(file)) return { text: readFileSync(file, 'utf8'), created: false };
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(tmp, make(), { mode: 0o600, flag: 'wx' });
  chmodSync(tmp, 0o600);
  let created = true;
  try {
    linkSync(tmp, file); // fails with EEXIST when another process made it first: theirs wins
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    created = false;
  } finally {
    unlinkSync(tmp);
  }
  return { text: readFileSync(file, 'utf8'), created };
}

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** SHA-256 (hex) of the public key's SPKI DER: the id ledger entries carry. */
  keyId: string;
  /** Where the key came from. */
  path: string;
  /** True when this call made the key (first use). */
  created: boolean;
}

/** The user's Ed25519 signing key: CANDOR_KEY's file, or the config directory's, made on first use. */
export function userSigningKey(env: NodeJS.ProcessEnv = process.env): SigningKey {
  const dir = candorConfigDir(env);
  const path = env.CANDOR_KEY || join(dir, SIGNING_KEY_FILE);
  let text: string, created: boolean;
  if (env.CANDOR_KEY) {
    try {
      [text, created] = [readFileSync(path, 'utf8'), false];
    } catch (e) {
      throw new LedgerError(`CANDOR_KEY=${path}: cannot read the signing key: ${(e as Error).message}`);
    }
  } else {
    ({ text, created } = readOrMake(path, dir, () =>
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    ));
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (e) {
    throw new LedgerError(`${path} is not a PEM private key: ${(e as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new LedgerError(`${path} holds a ${privateKey.asymmetricKeyType} key; Candor signs with Ed25519`);
  const publicKey = createPublicKey(privateKey);
  const keyId = createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
  return { privateKey, publicKey, keyId, path, created };
}

export interface FingerprintKey {
  /** 32 secret bytes. */
  key: Buffer;
  /** SHA-256 (hex, first 16 characters) of 'candor-fingerprint-key-id\0' + key: names the key, reveals nothing. */
  keyId: string;
  path: string;
  created: boolean;
}

/** The user's HMAC key for data fingerprints: CANDOR_FINGERPRINT_KEY's file, or the config directory's. */
export function userFingerprintKey(env: NodeJS.ProcessEnv = process.env): FingerprintKey {
  const dir = candorConfigDir(env);
  const path = env.CANDOR_FINGERPRINT_KEY || join(dir, FINGERPRINT_KEY_FILE);
  let text: string, created: boolean;
  if (env.CANDOR_FINGERPRINT_KEY) {
    try {
      [text, created] = [readFileSync(path, 'utf8'), false];
    } catch (e) {
      throw new LedgerError(`CANDOR_FINGERPRINT_KEY=${path}: cannot read the key: ${(e as Error).message}`);
    }
  } else {
    ({ text, created } = readOrMake(path, dir, () => randomBytes(32).toString('hex') + '\n'));
  }
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new LedgerError(`${path} must hold 64 hex digits (a 32-byte key)`);
  const key = Buffer.from(hex, 'hex');
  const keyId = createHash('sha256').update('candor-fingerprint-key-id\0').update(key).digest('hex').slice(0, 16);
  return { key, keyId, path, created };
}

/** The public keys in the user's trusted-keys file (none when it does not exist). */
export function trustedKeysPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(candorConfigDir(env), TRUSTED_KEYS_FILE);
}
