// publishRun: the end of a recorded run, in the one order that lets `candor verify` check everything
// together: run.json, then the card rendered from it, then the card files' hashes into the record, then
// the record appended to the ledger, signed by default with the user's key (user-keys.ts).
import { join } from 'node:path';
import type { EncryptionKey } from '../io/encryption.js';
import { CARD_FILES, hashFiles } from '../ledger/file-hashes.js';
import { writeRunFiles } from '../ledger/emissions-csv.js';
import { appendToLedger, type KeyInput, type LedgerEntry } from '../ledger/ledger.js';
import { writeRunRecord, type RunRecord } from '../ledger/record.js';
import type { RunRecording } from '../ledger/recording.js';
import { userSigningKey } from '../ledger/user-keys.js';
import { writeCard, type WrittenCard } from './card.js';

/** The ledger file publishRun appends to when none is named: beside run.json, where `candor verify` looks. */
export const LEDGER_FILE = 'ledger.jsonl';

export interface PublishOptions {
  /** The run directory: run.json, the card files and (by default) ledger.jsonl go here. */
  dir: string;
  /** The ledger to append to (default DIR/ledger.jsonl); false for none. */
  ledger?: string | false;
  /** Write card.md and card.html and record their hashes (default true). */
  card?: boolean;
  /**
   * Sign the ledger entry (default true) with `privateKey`, or else the user's key (userSigningKey: made on
   * first use in the config directory, CANDOR_KEY overrides). false writes an unsigned entry and says so in
   * the record's notes: `candor verify` then reports the ledger UNSIGNED.
   */
  sign?: boolean;
  privateKey?: KeyInput;
  /** Where the user's key is looked up (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** run.json is encrypted with this key (the ledger and the card are written in plain, to be published). */
  encryptionKey?: EncryptionKey;
}

export interface PublishedRun {
  record: RunRecord;
  /** Where run.json was written; absent on a distributed run's ranks other than 0, which write nothing. */
  file?: string;
  /** The ledger entry, when a ledger was written. */
  entry?: LedgerEntry;
  /** The card, unless card was false. */
  card?: WrittenCard;
}

/**
 * Publishes a finished run: writes run.json, writes the card from it, records the card files' hashes in
 * record.card and rewrites run.json (its createdAt unchanged, so the card shows the record as published),
 * then appends the record to the ledger, signed by default. Returns the record, the entry and the card. On a
 * distributed run's ranks other than 0 it writes nothing and returns the record only.
 */
export async function publishRun(recording: RunRecording, options: PublishOptions): Promise<PublishedRun> {
  // A distributed run is published by rank 0 alone; the other ranks keep the record (the same sums) in memory.
  if (!recording.chief) return { record: (await recording.finish()).record };
  const key = signingKey(options);
  const { record } = await recording.finish({ dir: options.dir, encryptionKey: options.encryptionKey });
  return publishRecord(record, options, key);
}

/**
 * The key publishing signs with: options.privateKey, else the user's (read or made before anything is written,
 * so a bad CANDOR_KEY stops the run first); undefined for sign: false.
 */
function signingKey(options: PublishOptions): KeyInput | undefined {
  if (options.sign === false) return undefined;
  return options.privateKey ?? userSigningKey(options.env ?? process.env).privateKey;
}

/**
 * Publishes a record that is already in DIR/run.json (e.g. after `candor explain` rewrote it): the card, its
 * hashes in the record, run.json rewritten, and a new (signed) ledger entry for it. `candor publish` runs it.
 */
export async function publishRecord(
  record: RunRecord,
  options: PublishOptions,
  key: KeyInput | undefined = signingKey(options),
): Promise<PublishedRun> {
  const { dir, encryptionKey } = options;
  const ledger = options.ledger === false ? undefined : (options.ledger ?? join(dir, LEDGER_FILE));
  const note = 'The ledger entry of this run is not signed (published with sign: false)';
  if (ledger && !key && !record.notes.includes(note)) record.notes.push(note);
  let card: WrittenCard | undefined;
  if (options.card ?? true) {
    await writeRunRecord(record, dir, { encryptionKey }); // the card is rendered from run.json as it is now
    card = await writeCard(dir, { encryptionKey });
    record.card = { files: await hashFiles(dir, CARD_FILES) };
  }
  // With the emissions.csv row of the record as published (`candor verify` compares them): run.json may have changed
  // since finish() wrote the row (a renamed run, `candor explain`).
  const { file } = await writeRunFiles(record, dir, { encryptionKey });
  const entry = ledger ? await appendToLedger(ledger, record, { privateKey: key }) : undefined;
  return { record, file, ...(entry ? { entry } : {}), ...(card ? { card } : {}) };
}
