// The user's own secrets, kept outside every run directory: the Ed25519 key that signs ledger entries and the
// HMAC key that fingerprints data. Both are made on first use in the user's config directory
// ($CANDOR_CONFIG_DIR, else $XDG_CONFIG_HOME/candor, else ~/.config/candor), readable by the owner only.
// CANDOR_KEY (a PEM file path) overrides the signing key and CANDOR_FINGERPRINT_KEY (a file path) the
// fingerprint key; nothing is made then.
import {
  appendFileSync,
  chmodSync,
  existsSync,
  linkSync,
  mkdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
import { sha256Hex } from './canonical.js';

/** A key as the ledger accepts it: a KeyObject, or PEM / DER. */
export type KeyInput = KeyObject | string | Buffer;

/** The Ed25519 public key of `key` (a public or private key); LedgerError otherwise. */
export function publicKeyOf(key: KeyInput): KeyObject {
  try {
    let k = key instanceof KeyObject ? key : createPublicKey(key);
    if (k.type === 'private') k = createPublicKey(k);
    if (k.asymmetricKeyType !== 'ed25519') throw new Error(`expected an Ed25519 key, got ${k.asymmetricKeyType}`);
    return k;
  } catch (e) {
    throw new LedgerError(`ledger: cannot use the public key: ${(e as Error).message}`);
  }
}

export const spkiDer = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });

/** The id ledger entries carry for a key: SHA-256 (hex) of its public key's SPKI DER. */
export function keyIdOf(key: KeyInput): string {
  return sha256Hex(spkiDer(publicKeyOf(key)));
}

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

/**
 * A secret's text: the file the environment variable `override` names (never made), or `file` in the config
 * directory, made with `make()` on first use.
 */
function userSecret(
  env: NodeJS.ProcessEnv,
  override: string,
  file: string,
  make: () => string,
): { path: string; text: string; created: boolean } {
  const given = env[override];
  if (!given) {
    const dir = candorConfigDir(env);
    const path = join(dir, file);
    return { path, ...readOrMake(path, dir, make) };
  }
  try {
    return { path: given, text: readFileSync(given, 'utf8'), created: false };
  } catch (e) {
    throw new LedgerError(`${override}=${given}: cannot read the key: ${(e as Error).message}`);
  }
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
  const { path, text, created } = userSecret(env, 'CANDOR_KEY', SIGNING_KEY_FILE, () =>
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(text);
  } catch (e) {
    throw new LedgerError(`${path} is not a PEM private key: ${(e as Error).message}`);
  }
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new LedgerError(`${path} holds a ${privateKey.asymmetricKeyType} key; Candor signs with Ed25519`);
  const publicKey = createPublicKey(privateKey);
  const keyId = keyIdOf(publicKey);
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

/** A fingerprint key's public id: SHA-256 (hex, first 16) of 'candor-fingerprint-key-id\0' + key; reveals nothing. */
export function fingerprintKeyId(key: Uint8Array): string {
  return createHash('sha256').update('candor-fingerprint-key-id\0').update(key).digest('hex').slice(0, 16);
}

/** The user's HMAC key for data fingerprints: CANDOR_FINGERPRINT_KEY's file, or the config directory's. */
export function userFingerprintKey(env: NodeJS.ProcessEnv = process.env): FingerprintKey {
  const { path, text, created } = userSecret(
    env,
    'CANDOR_FINGERPRINT_KEY',
    FINGERPRINT_KEY_FILE,
    () => randomBytes(32).toString('hex') + '\n',
  );
  const hex = text.trim();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new LedgerError(`${path} must hold 64 hex digits (a 32-byte key)`);
  const key = Buffer.from(hex, 'hex');
  return { key, keyId: fingerprintKeyId(key), path, created };
}

/** The public keys in the user's trusted-keys file (none when it does not exist). */
export function trustedKeysPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(candorConfigDir(env), TRUSTED_KEYS_FILE);
}

/** A public key a verifier trusts, and where that trust comes from. */
export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
  /** 'your own key (PATH)', 'PATH' of the trusted-keys file, or what the caller names. */
  source: string;
}

/** The Ed25519 public keys in PEM `text` (every PUBLIC KEY block); `what` names the text in errors. */
export function parsePublicKeys(text: string, what: string): KeyObject[] {
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  return blocks.map((pem, i) => {
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch (e) {
      throw new LedgerError(`${what}: public key ${i + 1} cannot be read: ${(e as Error).message}`);
    }
    if (key.asymmetricKeyType !== 'ed25519')
      throw new LedgerError(`${what}: public key ${i + 1} is ${key.asymmetricKeyType}; ledger keys are Ed25519`);
    return key;
  });
}

/** The public half of a key as PEM (SPKI). */
export function publicKeyPem(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString();
}

/**
 * The keys this user trusts: every key in the trusted-keys file, and the user's own signing key when it
 * already exists (it is never made here: verifying must not create keys). The own key counts because an
 * entry it signed was made by someone holding this user's private key, that is by the user; on any other
 * machine the verifier's own key is a different key, so a verifier elsewhere trusts exactly what its
 * trusted-keys file lists (`candor key export` there, `candor key trust FILE` here).
 */
export function trustedKeys(
  env: NodeJS.ProcessEnv = process.env,
  { own = true }: { own?: boolean } = {},
): TrustedKey[] {
  const keys: TrustedKey[] = [];
  const add = (publicKey: KeyObject, source: string): void => {
    const keyId = keyIdOf(publicKey);
    if (!keys.some((k) => k.keyId === keyId)) keys.push({ keyId, publicKey, source });
  };
  if (own) {
    const path = env.CANDOR_KEY || join(candorConfigDir(env), SIGNING_KEY_FILE);
    if (existsSync(path)) add(userSigningKey(env).publicKey, `your own key (${path})`);
  }
  const file = trustedKeysPath(env);
  if (existsSync(file)) for (const k of parsePublicKeys(readFileSync(file, 'utf8'), file)) add(k, file);
  return keys;
}

/**
 * Adds the public keys in PEM `text` to the trusted-keys file (made, mode 0600, when missing); keys already
 * there are left alone. Returns each key's id and whether it was added.
 */
export function trustKeys(
  text: string,
  what: string,
  env: NodeJS.ProcessEnv = process.env,
): { keyId: string; added: boolean }[] {
  const keys = parsePublicKeys(text, what);
  if (keys.length === 0) throw new LedgerError(`${what} holds no PEM public key (-----BEGIN PUBLIC KEY-----)`);
  const file = trustedKeysPath(env);
  const have = new Set(
    existsSync(file) ? parsePublicKeys(readFileSync(file, 'utf8'), file).map((k) => keyIdOf(k)) : [],
  );
  const result = keys.map((k) => {
    const keyId = keyIdOf(k);
    const added = !have.has(keyId);
    if (added) {
      mkdirSync(candorConfigDir(env), { recursive: true, mode: 0o700 });
      appendFileSync(file, publicKeyPem(k), { mode: 0o600 });
      have.add(keyId);
    }
    return { keyId, added };
  });
  return result;
}
