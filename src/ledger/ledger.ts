// The ledger: an append-only JSONL file of run records, hash-chained. Each line is the canonical JSON of
// { index, timestamp, prevHash, recordHash, record, entryHash [, keyId, publicKey, signature] } where
// recordHash = SHA-256(canonical record), entryHash = SHA-256(canonical {index, timestamp, prevHash,
// recordHash}) and prevHash is the previous entry's entryHash (64 zeros for the first). Ed25519 signatures
// sign 'candor-ledger-entry-v1\n' + entryHash (signatureScheme says so; see signedMessage).
//
// What verify() catches: any byte edited (a line must be exactly the canonical form of what it holds, so
// even whitespace counts), entries deleted, inserted or reordered (index and prevHash break), and, with
// trusted public keys, entries re-signed by anyone else, unsigned (re-hashed) or stripped of their
// signatures. What no chain can catch alone: the newest entries cut off the end, or the whole file
// rewritten consistently; pass the head you saw earlier (expectedHead) and trust only keys you know.
import { open, readFile } from 'node:fs/promises';
import {
  KeyObject,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify as verifySignature,
} from 'node:crypto';
import { canonicalJson, hashJson, sha256Hex } from './canonical.js';
import { LedgerError } from './errors.js';
import { keyIdOf, publicKeyOf, spkiDer, type KeyInput } from './user-keys.js';
export { keyIdOf, type KeyInput };
import { withFileLock } from './lock.js';
import type { RunRecord } from './record.js';

export const GENESIS_HASH = '0'.repeat(64);

/**
 * The signature scheme of entries signed by this version: the signature is over
 * 'candor-ledger-entry-v1\n' + entryHash. The prefix separates the domain: a signature made for a ledger
 * entry can never be passed off as a signature over anything else the same key signs (a bare 64-hex
 * string is easy to meet elsewhere), and the version lets the message change later without ambiguity.
 */
export const SIGNATURE_SCHEME = 'candor-ledger-entry-v1';

/**
 * The bytes an entry's signature is over. Entries with no signatureScheme come from ledgers written before
 * it existed: their signatures are over the bare entryHash ('legacy'). They still verify, so old ledgers
 * stay checkable, but verify counts them (trust.legacyEntries) and the CLI says so: such a signature is
 * only as domain-separated as the key is single-purpose. A downgrade is not possible: removing an entry's
 * signatureScheme changes the message, so its v1 signature no longer verifies. Undefined for a scheme
 * this version does not know.
 */
export function signedMessage(entry: Pick<LedgerEntry, 'entryHash' | 'signatureScheme'>): Buffer | undefined {
  if (entry.signatureScheme === undefined) return Buffer.from(entry.entryHash, 'ascii');
  if (entry.signatureScheme === SIGNATURE_SCHEME) return Buffer.from(`${SIGNATURE_SCHEME}\n${entry.entryHash}`);
  return undefined;
}

export interface LedgerEntry {
  index: number;
  timestamp: string;
  prevHash: string;
  recordHash: string;
  record: RunRecord;
  entryHash: string;
  /** SHA-256 of the signer's public key (SPKI DER), when signed. */
  keyId?: string;
  /** The signer's public key, SPKI DER in base64, when signed (informative: trust comes from the verifier's key). */
  publicKey?: string;
  /** Ed25519 signature of signedMessage(entry), base64. */
  signature?: string;
  /** What the signature is over (SIGNATURE_SCHEME); absent in entries signed over the bare entryHash. */
  signatureScheme?: typeof SIGNATURE_SCHEME;
}

export interface AppendOptions {
  /** Ed25519 private key (KeyObject or PEM) to sign the entry with; without one the entry is unsigned. */
  privateKey?: KeyInput;
  /** Check the existing ledger before appending (default true): never extend a broken chain. */
  verifyFirst?: boolean;
  /** Timestamp to record (default now); for reproducible tests. */
  timestamp?: string;
}

export type Tampering =
  | 'unreadable'
  | 'incomplete'
  | 'not-json'
  | 'not-canonical'
  | 'malformed'
  | 'index'
  | 'prev-hash'
  | 'record-hash'
  | 'entry-hash'
  | 'signature'
  | 'head';

export interface BadEntry {
  /** 1-based line number in the file. */
  line: number;
  /** The index the entry claims, when it could be read. */
  index?: number;
  /** The index an entry at this line should have. */
  expectedIndex: number;
  kind: Tampering;
  reason: string;
}

export interface VerifyResult {
  ok: boolean;
  /** Entries that verified before the first bad one (all of them when ok). */
  entries: number;
  head?: { index: number; entryHash: string };
  firstBad?: BadEntry;
  signatures: { signed: number; unsigned: number; checkedWith: 'trusted key' | 'trusted keys' | 'embedded keys' };
  /** Who signed what, over the entries that verified. */
  trust: {
    /**
     * True only when the chain verifies, trusted keys were given (publicKey or trustedKeys) and every entry
     * is signed by one of them: the only state in which the ledger vouches for its records.
     */
    trusted: boolean;
    /** keyIds of the keys that signed entries, in order of first appearance. */
    signers: string[];
    /** Indices of the entries that carry no signature. */
    unsignedEntries: number[];
    /** Indices of the entries signed over the bare entryHash (the scheme before SIGNATURE_SCHEME). */
    legacyEntries: number[];
  };
}

export interface VerifyOptions {
  /** The signer's public key you trust; every entry must then carry a valid signature by it. */
  publicKey?: KeyInput;
  /**
   * The public keys you trust (e.g. trustedKeys() of user-keys.ts); every signed entry must be signed by one
   * of them, and (unless allowUnsigned) every entry must be signed. An empty list trusts no one.
   */
  trustedKeys?: KeyInput[];
  /** With publicKey or trustedKeys: let unsigned entries pass (trust.trusted is then false when there are any). */
  allowUnsigned?: boolean;
  /** The entryHash (or index) of the newest entry you saw before: detects entries cut off the end. */
  expectedHead?: { entryHash?: string; index?: number };
}

/** A new Ed25519 key pair as PEM (PKCS#8 private, SPKI public). */
export function generateSigningKeys(): { privateKey: string; publicKey: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function privateKeyOf(key: KeyInput): KeyObject {
  try {
    const k = key instanceof KeyObject ? key : createPrivateKey(key);
    if (k.type !== 'private' || k.asymmetricKeyType !== 'ed25519')
      throw new Error(`expected an Ed25519 private key, got a ${k.asymmetricKeyType} ${k.type} key`);
    return k;
  } catch (e) {
    throw new LedgerError(`ledger: cannot use the signing key: ${(e as Error).message}`);
  }
}

/** The hash the entry's header is chained and signed by. */
export function entryHashOf(e: Pick<LedgerEntry, 'index' | 'timestamp' | 'prevHash' | 'recordHash'>): string {
  return hashJson({ index: e.index, timestamp: e.timestamp, prevHash: e.prevHash, recordHash: e.recordHash });
}

/** Builds (and optionally signs) the entry that follows `prev` (undefined for the first entry). */
export function makeEntry(
  record: RunRecord,
  prev: Pick<LedgerEntry, 'index' | 'entryHash'> | undefined,
  options: AppendOptions = {},
): LedgerEntry {
  const header = {
    index: prev ? prev.index + 1 : 0,
    timestamp: options.timestamp ?? new Date().toISOString(),
    prevHash: prev ? prev.entryHash : GENESIS_HASH,
    recordHash: hashJson(record),
  };
  const entry: LedgerEntry = { ...header, record, entryHash: entryHashOf(header) };
  if (options.privateKey !== undefined) {
    const key = privateKeyOf(options.privateKey);
    const pub = spkiDer(createPublicKey(key));
    entry.keyId = sha256Hex(pub);
    entry.publicKey = pub.toString('base64');
    entry.signatureScheme = SIGNATURE_SCHEME;
    entry.signature = sign(null, signedMessage(entry)!, key).toString('base64');
  }
  return entry;
}

/** The line a ledger stores for an entry (canonical JSON + newline). */
export function entryLine(entry: LedgerEntry): string {
  return canonicalJson(entry) + '\n';
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new LedgerError(`ledger: cannot read ${path}: ${(e as Error).message}`);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The bytes of a base64 string, only if it is the canonical encoding of them: Node's decoder ignores
 * stray padding bits, so without this check a changed last character could leave the bytes unchanged.
 */
function base64Strict(s: unknown): Buffer | undefined {
  if (typeof s !== 'string') return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64') === s ? bytes : undefined;
}

/** Checks the chain in `text` (a ledger file's contents). */
export function verifyLedgerText(text: string, options: VerifyOptions = {}): VerifyResult {
  // keyId -> key, for every key trusted (none given: signatures are checked against the keys entries carry).
  const given =
    options.publicKey !== undefined
      ? [options.publicKey]
      : options.trustedKeys !== undefined
        ? options.trustedKeys
        : [];
  const trusted = new Map(given.map((k) => [keyIdOf(k), publicKeyOf(k)]));
  const checking = options.publicKey !== undefined || options.trustedKeys !== undefined;
  const signatures: VerifyResult['signatures'] = {
    signed: 0,
    unsigned: 0,
    checkedWith: options.publicKey !== undefined ? 'trusted key' : checking ? 'trusted keys' : 'embedded keys',
  };
  const trust: VerifyResult['trust'] = { trusted: false, signers: [], unsignedEntries: [], legacyEntries: [] };
  const trustedNames = (): string =>
    trusted.size === 0
      ? 'no key is trusted'
      : `the trusted key${trusted.size > 1 ? 's are' : ' is'} ` +
        [...trusted.keys()].map((id) => `${id.slice(0, 12)}...`).join(', ');
  const lines = text.split('\n');
  const complete = lines.pop(); // text after the last newline: '' for a well-formed file
  let prev: Pick<LedgerEntry, 'index' | 'entryHash'> | undefined;
  const seenHashes = new Set<string>();
  const fail = (line: number, kind: Tampering, reason: string, index?: number): VerifyResult => ({
    ok: false,
    entries: line - 1,
    ...(prev ? { head: { index: prev.index, entryHash: prev.entryHash } } : {}),
    firstBad: { line, ...(index !== undefined ? { index } : {}), expectedIndex: line - 1, kind, reason },
    signatures,
    trust,
  });
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1,
      expected = i,
      raw = lines[i];
    let e: LedgerEntry;
    try {
      e = JSON.parse(raw) as LedgerEntry;
    } catch {
      return fail(n, 'not-json', `line ${n} is not valid JSON (edited or corrupted)`);
    }
    const shapeOk =
      typeof e === 'object' &&
      e !== null &&
      Number.isInteger(e.index) &&
      typeof e.timestamp === 'string' &&
      HEX64.test(String(e.prevHash)) &&
      HEX64.test(String(e.recordHash)) &&
      HEX64.test(String(e.entryHash)) &&
      typeof e.record === 'object' &&
      e.record !== null;
    if (!shapeOk)
      return fail(
        n,
        'malformed',
        `line ${n} is not a ledger entry (missing or malformed index, timestamp, hashes or record)`,
      );
    let canonical: string;
    try {
      canonical = canonicalJson(e);
    } catch (err) {
      return fail(n, 'malformed', `line ${n}: ${(err as Error).message}`, e.index);
    }
    if (canonical !== raw)
      return fail(
        n,
        'not-canonical',
        `entry ${e.index} (line ${n}) is not byte-for-byte the canonical form of its content: the line was edited`,
        e.index,
      );
    if (e.index !== expected) {
      return fail(
        n,
        'index',
        `entry at line ${n} has index ${e.index}, expected ${expected}: an entry was ` +
          `${e.index > expected ? 'deleted before it' : 'inserted before it or duplicated'}, or entries were reordered`,
        e.index,
      );
    }
    const prevHash = prev ? prev.entryHash : GENESIS_HASH;
    if (e.prevHash !== prevHash)
      return fail(
        n,
        'prev-hash',
        `entry ${e.index} (line ${n}) does not chain to the entry before it (prevHash ${e.prevHash.slice(0, 12)}..., ` +
          `expected ${prevHash.slice(0, 12)}...): entries were inserted, deleted, reordered or rewritten`,
        e.index,
      );
    if (hashJson(e.record) !== e.recordHash)
      return fail(
        n,
        'record-hash',
        `entry ${e.index} (line ${n}): the record does not match its recordHash: the record was edited`,
        e.index,
      );
    if (entryHashOf(e) !== e.entryHash)
      return fail(
        n,
        'entry-hash',
        `entry ${e.index} (line ${n}): entryHash does not match the entry's header: ` +
          'the index, timestamp, prevHash or recordHash was edited',
        e.index,
      );
    const signed = e.signature !== undefined || e.publicKey !== undefined || e.keyId !== undefined;
    if (signed) {
      signatures.signed++;
      let ok = false;
      let why = 'the signature does not verify';
      try {
        const pub = base64Strict(e.publicKey),
          sig = base64Strict(e.signature),
          message = signedMessage(e);
        if (!pub || !sig) why = 'the public key or signature is not canonical base64';
        else if (sha256Hex(pub) !== e.keyId) why = 'keyId is not the SHA-256 of the embedded public key';
        else if (!message)
          why = `its signatureScheme ${JSON.stringify(e.signatureScheme)} is not one this version knows`;
        else if (checking && !trusted.has(e.keyId!))
          why =
            `it was signed by key ${String(e.keyId).slice(0, 12)}..., which is not trusted (${trustedNames()}): ` +
            're-signed by another key, or signed by a key you have not trusted';
        else
          ok = verifySignature(
            null,
            message,
            trusted.get(e.keyId!) ?? createPublicKey({ key: pub, format: 'der', type: 'spki' }),
            sig,
          );
      } catch (err) {
        why = `the signature or key cannot be read: ${(err as Error).message}`;
      }
      if (!ok) return fail(n, 'signature', `entry ${e.index} (line ${n}): ${why}`, e.index);
      if (!trust.signers.includes(e.keyId!)) trust.signers.push(e.keyId!);
      if (e.signatureScheme === undefined) trust.legacyEntries.push(e.index);
    } else {
      signatures.unsigned++;
      trust.unsignedEntries.push(e.index);
      if (checking && !options.allowUnsigned)
        return fail(
          n,
          'signature',
          `entry ${e.index} (line ${n}) is not signed, but signed entries were required: anyone who can write ` +
            'the file can make such an entry and recompute every hash (an unsigned chain re-hashed, or signatures ' +
            'stripped)',
          e.index,
        );
    }
    prev = { index: e.index, entryHash: e.entryHash };
    seenHashes.add(e.entryHash);
  }
  if (complete !== '')
    return fail(
      lines.length + 1,
      'incomplete',
      `line ${lines.length + 1} does not end with a newline: the last append was cut short or the file was edited`,
    );
  const head = prev ? { index: prev.index, entryHash: prev.entryHash } : undefined;
  const want = options.expectedHead;
  if (want) {
    // The ledger may have grown since: the expected head must still be in it (or, by index, reached).
    const seen =
      want.entryHash !== undefined ? seenHashes.has(want.entryHash) : (head?.index ?? -1) >= (want.index ?? -1);
    if (!seen) {
      return {
        ok: false,
        entries: lines.length,
        ...(head ? { head } : {}),
        signatures,
        trust,
        firstBad: {
          line: lines.length + 1,
          expectedIndex: lines.length,
          kind: 'head',
          reason:
            `the ledger ends at ${head ? `entry ${head.index}` : 'no entry'} and does not contain the expected head ` +
            `${want.entryHash ?? `index ${want.index}`}: entries were cut off the end`,
        },
      };
    }
  }
  trust.trusted = checking && signatures.unsigned === 0;
  return { ok: true, entries: lines.length, ...(head ? { head } : {}), signatures, trust };
}

/** Verifies a ledger file (a missing file is an empty, valid ledger). */
export async function verifyLedger(path: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  return verifyLedgerText(await readText(path), options);
}

/** The entries of a ledger, parsed without checking (use verifyLedger first when it matters). */
export async function readLedger(path: string): Promise<LedgerEntry[]> {
  const text = await readText(path);
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l, i) => {
      try {
        return JSON.parse(l) as LedgerEntry;
      } catch {
        throw new LedgerError(`readLedger: line ${i + 1} of ${path} is not valid JSON`);
      }
    });
}

/** Appends a run record to the ledger at `path` (created if missing) and returns the new entry. */
export async function appendToLedger(
  path: string,
  record: RunRecord,
  options: AppendOptions = {},
): Promise<LedgerEntry> {
  // The lock is held from reading the head to the fsync, so two appenders never chain to the same entry.
  return withFileLock(path, async () => {
    const text = await readText(path);
    let prev: Pick<LedgerEntry, 'index' | 'entryHash'> | undefined;
    if (options.verifyFirst ?? true) {
      const check = verifyLedgerText(text);
      if (!check.ok)
        throw new LedgerError(
          `appendToLedger: ${path} does not verify (${check.firstBad!.reason}); not appending to a broken chain` +
            (tornTail(text) ? `; the last line is torn: \`candor ledger repair ${path}\` cuts it off` : ''),
        );
      prev = check.head;
    } else if (text !== '') {
      const last = text.trimEnd().split('\n').pop()!;
      try {
        const e = JSON.parse(last) as LedgerEntry;
        prev = { index: e.index, entryHash: e.entryHash };
      } catch {
        throw new LedgerError(
          `appendToLedger: the last line of ${path} is not valid JSON` +
            (tornTail(text) ? `; it is torn: \`candor ledger repair ${path}\` cuts it off` : ''),
        );
      }
    }
    const entry = makeEntry(record, prev, options);
    const h = await open(path, 'a');
    try {
      await h.appendFile(entryLine(entry));
      await h.sync();
    } finally {
      await h.close();
    }
    return entry;
  });
}

/**
 * The byte offset where a torn last line starts, when the only damage in `bytes` is an unfinished last
 * line (what a crash during an append leaves); undefined otherwise. A line's canonical JSON never holds a
 * raw newline, so the torn part is exactly what follows the last newline.
 */
function tornTailAt(bytes: Buffer): number | undefined {
  const cut = bytes.lastIndexOf(0x0a) + 1;
  if (cut === bytes.length) return undefined;
  return verifyLedgerText(bytes.subarray(0, cut).toString('utf8')).ok ? cut : undefined;
}

const tornTail = (text: string): boolean => tornTailAt(Buffer.from(text, 'utf8')) !== undefined;

export interface RepairResult {
  /**
   * 'none': the ledger verified as it was. 'completed': the last entry was whole but lacked its newline,
   * which was added. 'truncated': a torn last line was cut off (its bytes are kept in tornPath).
   */
  action: 'none' | 'completed' | 'truncated';
  /** Entries in the ledger after the repair (all of them verify). */
  entries: number;
  /** Bytes cut off the end. */
  removedBytes: number;
  /** Where the cut-off bytes were saved. */
  tornPath?: string;
}

/** Writes `bytes` to `${path}.torn` (or .torn.1, .torn.2, ... when taken), fsynced; returns the name. */
async function saveAside(path: string, bytes: Uint8Array): Promise<string> {
  for (let i = 0; ; i++) {
    const name = i === 0 ? `${path}.torn` : `${path}.torn.${i}`;
    let h;
    try {
      h = await open(name, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new LedgerError(`repairLedger: cannot write ${name}: ${(e as Error).message}`);
    }
    try {
      await h.writeFile(bytes);
      await h.sync();
    } finally {
      await h.close();
    }
    return name;
  }
}

/**
 * Repairs what a crash during an append leaves: a torn last line. Under the ledger's lock (taking over a
 * stale one), it cuts the ledger back to its last complete entry, keeping the cut bytes in a .torn file;
 * a last entry that is whole but for its newline gets the newline. Any other damage (a bad line before
 * the last, a complete last line that does not verify) is tampering or corruption, not a crash: that is
 * a LedgerError and the file is left as it was.
 */
export async function repairLedger(path: string): Promise<RepairResult> {
  return withFileLock(path, async () => {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new LedgerError(`repairLedger: cannot read ${path}: ${(e as Error).message}`);
    }
    const text = bytes.toString('utf8');
    const check = verifyLedgerText(text);
    if (check.ok) return { action: 'none', entries: check.entries, removedBytes: 0 };
    const cut = tornTailAt(bytes);
    if (cut === undefined) {
      const bad = check.firstBad!;
      throw new LedgerError(
        `repairLedger: ${path} is damaged at line ${bad.line} [${bad.kind}] (${bad.reason}); only a torn last ` +
          'line, as a crash during an append leaves, is repaired: this is tampering or corruption, so nothing ' +
          'was changed',
      );
    }
    const h = await open(path, 'r+');
    try {
      const whole = verifyLedgerText(text + '\n');
      if (whole.ok) {
        await h.write('\n', bytes.length); // at the end: a handle's appendFile would write at its position
        await h.sync();
        return { action: 'completed', entries: whole.entries, removedBytes: 0 };
      }
      const tornPath = await saveAside(path, bytes.subarray(cut));
      await h.truncate(cut);
      await h.sync();
      return { action: 'truncated', entries: check.entries, removedBytes: bytes.length - cut, tornPath };
    } finally {
      await h.close();
    }
  });
}
