// Encrypted files: AES-256-GCM (node:crypto) under a raw 32-byte key or a passphrase stretched by scrypt.
// One implementation for every encrypted file Candor writes: saved models, weights files, run records, data.
//
// Layout (all integers unsigned, one byte each):
//   0..16   magic 'CANDOR-ENCRYPTED'
//   16      format version (1)
//   17      key derivation: 0 raw key, 1 scrypt
//   18..21  scrypt log2(cost), blockSize, parallelization (zero for a raw key)
//   21      role length L (1..255)
//   22..24  reserved, zero
//   24..40  scrypt salt (zero for a raw key)
//   40..52  IV: 96 random bits, fresh for every file
//   52..    role (UTF-8, L bytes): what the file is ('weights', 'run.json', ...)
//   then    ciphertext, then the 16-byte GCM tag.
// The whole header, role included, is the GCM additional data: a changed KDF parameter, salt, IV or role
// fails authentication. Every field has a fixed size or a one-byte length, so a hostile header can demand
// no allocation; the scrypt parameters are bounded before any key is derived.
import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  scrypt,
  type BinaryLike,
  type ScryptOptions,
} from 'node:crypto';
import { basename } from 'node:path';
import { ArgumentError, fmtValue } from '../errors.js';
import { FormatError } from './safetensors.js';
import { readFileBytes, writeFileAtomic } from './atomic.js';

/**
 * Encrypted bytes that cannot be opened as asked: a wrong or missing key, a key given for a file that is
 * not encrypted, a file altered, truncated or extended, or a file in another role than expected.
 */
export class DecryptionError extends FormatError {}

/** A passphrase (stretched with scrypt, a random salt per save) or a raw 32-byte AES-256 key. */
export type EncryptionKey = string | Uint8Array;

/** scrypt's parameters, with node:crypto's names: cost N (a power of two), blockSize r, parallelization p. */
export interface ScryptParams {
  cost: number;
  blockSize: number;
  parallelization: number;
}

/** OWASP's recommended minimum (2024): N = 2^17, r = 8, p = 1: 128 MiB and a few hundred ms per derivation. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = { cost: 2 ** 17, blockSize: 8, parallelization: 1 };
/**
 * What a file may ask of scrypt (checked on write and, before deriving anything, on read): N from 2^10 to
 * 2^20, at most 256 MiB of memory (128 N r bytes) and 8 times the default's work (N r p).
 */
export const SCRYPT_LIMITS = { minLog2Cost: 10, maxLog2Cost: 20, maxMemoryBytes: 256 * 2 ** 20, maxWork: 2 ** 23 };

const MAGIC = new TextEncoder().encode('CANDOR-ENCRYPTED');
const VERSION = 1;
const KDF_RAW = 0;
const KDF_SCRYPT = 1;
const SALT_AT = 24;
const IV_AT = 40;
const ROLE_AT = 52;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Whether `bytes` start like a file written by this module (its magic). */
export function isEncrypted(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && MAGIC.every((b, i) => bytes[i] === b);
}

/** The key as given, checked: a non-empty passphrase or exactly 32 bytes. */
function checkKey(key: unknown, op: string): EncryptionKey {
  if (typeof key === 'string') {
    if (key.length === 0) throw new ArgumentError(`${op}: the passphrase is empty`);
    return key.normalize('NFC'); // the same typed passphrase gives the same key whatever the input method
  }
  if (key instanceof Uint8Array) {
    if (key.length !== KEY_BYTES)
      throw new ArgumentError(`${op}: a raw encryption key must be ${KEY_BYTES} bytes (AES-256), got ${key.length}`);
    return key;
  }
  throw new ArgumentError(`${op}: encryptionKey must be a passphrase (string) or 32 bytes, got ${fmtValue(key)}`);
}

/** Checks scrypt parameters against SCRYPT_LIMITS; returns log2(cost). `where` names the file or option. */
function checkScrypt(p: ScryptParams, where: string, error: new (m: string) => Error): number {
  const log2 = Math.log2(p.cost);
  const { minLog2Cost, maxLog2Cost, maxMemoryBytes, maxWork } = SCRYPT_LIMITS;
  const bad = (why: string) => new error(`${where}: scrypt ${fmtValue(p)} ${why}`);
  if (!Number.isInteger(log2) || log2 < minLog2Cost || log2 > maxLog2Cost)
    throw bad(`cost must be a power of two from 2^${minLog2Cost} to 2^${maxLog2Cost}`);
  if (!Number.isInteger(p.blockSize) || p.blockSize < 1 || p.blockSize > 255)
    throw bad('blockSize must be an integer from 1 to 255');
  if (!Number.isInteger(p.parallelization) || p.parallelization < 1 || p.parallelization > 255)
    throw bad('parallelization must be an integer from 1 to 255');
  if (128 * p.cost * p.blockSize > maxMemoryBytes)
    throw bad(`needs ${(128 * p.cost * p.blockSize) / 2 ** 20} MiB, over the limit of ${maxMemoryBytes / 2 ** 20} MiB`);
  if (p.cost * p.blockSize * p.parallelization > maxWork)
    throw bad(`asks for more work (N r p = ${p.cost * p.blockSize * p.parallelization}) than the limit of ${maxWork}`);
  return log2;
}

function deriveKey(passphrase: string, salt: Uint8Array, p: ScryptParams): Promise<Uint8Array> {
  const options: ScryptOptions = {
    cost: p.cost,
    blockSize: p.blockSize,
    parallelization: p.parallelization,
    maxmem: 128 * p.blockSize * (p.cost + p.parallelization + 2) + 2 ** 20,
  };
  return new Promise((resolve, reject) =>
    scrypt(passphrase as BinaryLike, salt, KEY_BYTES, options, (e, k) => (e ? reject(e) : resolve(k))),
  );
}

/** The parsed header of an encrypted file: where each part lies, and the bytes authenticated as AAD. */
interface Header {
  kdf: typeof KDF_RAW | typeof KDF_SCRYPT;
  scrypt: ScryptParams;
  salt: Uint8Array;
  iv: Uint8Array;
  role: string;
  /** Header length: the AAD is data[0, end), the ciphertext data[end, length - 16). */
  end: number;
}

/** Reads and checks the header of `data` (`what` names the file); throws before anything large is made. */
function parseHeader(data: Uint8Array, what: string): Header {
  if (!isEncrypted(data)) throw new DecryptionError(`${what} is not encrypted (it has no Candor encryption header)`);
  const short = () =>
    new DecryptionError(`${what} is truncated: ${data.length} bytes, shorter than its encryption header and tag`);
  if (data.length < ROLE_AT + TAG_BYTES) throw short();
  if (data[16] !== VERSION)
    throw new FormatError(`${what}: encryption format version ${data[16]} is not one this Candor reads (${VERSION})`);
  const kdf = data[17];
  const roleLength = data[21];
  if (kdf !== KDF_RAW && kdf !== KDF_SCRYPT) throw new FormatError(`${what}: unknown key derivation ${kdf}`);
  if (data[22] !== 0 || data[23] !== 0 || roleLength === 0)
    throw new FormatError(`${what}: malformed encryption header (reserved bytes or role length)`);
  const end = ROLE_AT + roleLength;
  if (data.length < end + TAG_BYTES) throw short();
  const salt = data.subarray(SALT_AT, SALT_AT + SALT_BYTES);
  const scryptParams = { cost: 2 ** data[18], blockSize: data[19], parallelization: data[20] };
  if (kdf === KDF_RAW) {
    if (data[18] | data[19] | data[20] || salt.some((b) => b !== 0))
      throw new FormatError(`${what}: malformed encryption header (scrypt fields set for a raw key)`);
  } else checkScrypt(scryptParams, what, FormatError);
  let role: string;
  try {
    role = new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(ROLE_AT, end));
  } catch {
    throw new FormatError(`${what}: malformed encryption header (the role is not UTF-8)`);
  }
  return { kdf, scrypt: scryptParams, salt, iv: data.subarray(IV_AT, IV_AT + IV_BYTES), role, end };
}

/**
 * A key ready for use on many files: a passphrase is stretched once per salt, not once per file. Encrypting
 * uses one random salt per FileCipher (make one per save); decrypting derives the key each file's header
 * names, remembering the last. Every file gets a fresh random IV.
 */
export class FileCipher {
  private readonly key: EncryptionKey;
  private readonly scrypt: ScryptParams;
  private readonly log2Cost: number;
  private readonly salt = randomBytes(SALT_BYTES);
  private derived?: { id: string; key: Promise<Uint8Array> };

  constructor(key: EncryptionKey, options: { scrypt?: Partial<ScryptParams> } = {}) {
    this.key = checkKey(key, 'encryption');
    this.scrypt = { ...DEFAULT_SCRYPT, ...options.scrypt };
    this.log2Cost = checkScrypt(this.scrypt, 'encryption options', ArgumentError);
  }

  /** A cipher for `key`, or none when no key is given (a plain save or load). */
  static optional(key: EncryptionKey | undefined, scrypt?: Partial<ScryptParams>): FileCipher | undefined {
    return key === undefined ? undefined : new FileCipher(key, { scrypt });
  }

  private keyFor(salt: Uint8Array, p: ScryptParams): Promise<Uint8Array> {
    if (typeof this.key !== 'string') return Promise.resolve(this.key);
    const id = `${Buffer.from(salt).toString('hex')}/${p.cost}/${p.blockSize}/${p.parallelization}`;
    if (this.derived?.id !== id) this.derived = { id, key: deriveKey(this.key, salt, p) };
    return this.derived.key;
  }

  /** Encrypts `plain` as a file in `role` (what it is: checked when it is decrypted, 1 to 255 UTF-8 bytes). */
  async encrypt(plain: Uint8Array | string, role: string): Promise<Uint8Array> {
    const roleBytes = new TextEncoder().encode(role);
    if (roleBytes.length < 1 || roleBytes.length > 255)
      throw new ArgumentError(`encryption: the role must be 1 to 255 bytes of UTF-8, got ${fmtValue(role)}`);
    const passphrase = typeof this.key === 'string';
    const header = new Uint8Array(ROLE_AT + roleBytes.length);
    header.set(MAGIC, 0);
    header[16] = VERSION;
    header[17] = passphrase ? KDF_SCRYPT : KDF_RAW;
    if (passphrase) {
      header.set([this.log2Cost, this.scrypt.blockSize, this.scrypt.parallelization], 18);
      header.set(this.salt, SALT_AT);
    }
    header[21] = roleBytes.length;
    header.set(randomBytes(IV_BYTES), IV_AT);
    header.set(roleBytes, ROLE_AT);
    const key = await this.keyFor(this.salt, this.scrypt);
    const cipher = createCipheriv('aes-256-gcm', key, header.subarray(IV_AT, IV_AT + IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(header);
    const body = [cipher.update(typeof plain === 'string' ? new TextEncoder().encode(plain) : plain), cipher.final()];
    const out = new Uint8Array(header.length + body[0].length + body[1].length + TAG_BYTES);
    out.set(header, 0);
    out.set(body[0], header.length);
    out.set(body[1], header.length + body[0].length);
    out.set(cipher.getAuthTag(), out.length - TAG_BYTES);
    return out;
  }

  /**
   * Decrypts a file written by encrypt. `role` is what the caller expects the file to be (a file of another
   * role is refused: files cannot be swapped); `what` names the file in errors. Nothing is returned unless
   * the tag authenticates the header and every byte of the ciphertext.
   */
  async decrypt(data: Uint8Array, role: string, what: string): Promise<Uint8Array> {
    const h = parseHeader(data, what);
    if (h.role !== role)
      throw new DecryptionError(
        `${what} says it was encrypted as ${fmtValue(h.role)}, not ${fmtValue(role)} (moved, renamed or swapped?)`,
      );
    const passphrase = typeof this.key === 'string';
    if (passphrase !== (h.kdf === KDF_SCRYPT))
      throw new DecryptionError(
        `${what} was encrypted with ${h.kdf === KDF_SCRYPT ? 'a passphrase' : 'a raw 32-byte key'}, ` +
          `but ${passphrase ? 'a passphrase' : 'a raw key'} was given`,
      );
    const key = await this.keyFor(h.salt, h.scrypt);
    const decipher = createDecipheriv('aes-256-gcm', key, h.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(data.subarray(0, h.end));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    try {
      const parts = [decipher.update(data.subarray(h.end, data.length - TAG_BYTES)), decipher.final()];
      const out = Buffer.concat(parts);
      return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    } catch {
      throw new DecryptionError(
        `${what} cannot be decrypted: the key is wrong, or the file was altered, truncated or extended`,
      );
    }
  }
}

export interface EncryptOptions {
  /** What the file is, authenticated with it; decryption must name the same. Default: the file's base name. */
  role?: string;
  /** scrypt parameters for a passphrase (default DEFAULT_SCRYPT, bounded by SCRYPT_LIMITS). */
  scrypt?: Partial<ScryptParams>;
}

/** Encrypts `data` under `key` and writes it to `path` atomically (a crash leaves the previous file whole). */
export async function writeEncrypted(
  path: string,
  data: Uint8Array | string,
  key: EncryptionKey,
  options: EncryptOptions = {},
): Promise<void> {
  const cipher = new FileCipher(key, options);
  await writeFileAtomic(path, await cipher.encrypt(data, options.role ?? basename(path)));
}

/** Reads and decrypts a file written by writeEncrypted (with the same role: default the file's base name). */
export async function readEncrypted(
  path: string,
  key: EncryptionKey,
  options: { role?: string } = {},
): Promise<Uint8Array> {
  return new FileCipher(key).decrypt(await readFileBytes(path), options.role ?? basename(path), path);
}

/**
 * `bytes` as they are when no cipher is given and decrypted when one is; a key for a plain file, or no key
 * for an encrypted one, is a DecryptionError (so a plain file cannot stand in for an encrypted one). For
 * readers that take plain and encrypted files alike; `what` names the file in errors.
 */
export async function openMaybeEncrypted(
  bytes: Uint8Array,
  cipher: FileCipher | undefined,
  role: string,
  what: string,
): Promise<Uint8Array> {
  const encrypted = isEncrypted(bytes);
  if (encrypted && !cipher) throw new DecryptionError(`${what} is encrypted: pass its encryptionKey`);
  if (!encrypted && cipher)
    throw new DecryptionError(`${what} is not encrypted, but an encryptionKey was given (was it replaced?)`);
  return cipher ? cipher.decrypt(bytes, role, what) : bytes;
}
