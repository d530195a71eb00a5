// verifyRun: the checks `candor verify RUN_DIR` makes together, each named and with its reason: run.json
// reads and validates, the ledger verifies with trusted keys, the run's newest ledger entry vouches for
// exactly this run.json, the model files, card files and emissions.csv match what that entry vouches for
// (files present that it does not vouch for fail too), and the entry's signing key is trusted.
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EncryptionKey } from '../io/encryption.js';
import { canonicalJson, hashJson } from './canonical.js';
import { parseCsvRecords } from '../data/csv.js';
import { CODECARBON_COLUMNS, EMISSIONS_CSV_FILE, csvField, emissionsRow } from './emissions-csv.js';
import { CARD_FILES, checkFiles, type FileHashes } from './file-hashes.js';
import { readLedger, verifyLedger, type LedgerEntry, type VerifyResult } from './ledger.js';
import { readRunRecord, type RunRecord } from './record.js';
import { trustedKeys, trustedKeysPath, type TrustedKey } from './user-keys.js';

/** The checks, in the order they are made and printed. */
export const RUN_CHECKS = ['record', 'ledger', 'ledger-entry', 'weights', 'card', 'emissions', 'key'] as const;
export type RunCheckName = (typeof RUN_CHECKS)[number];

export interface RunCheck {
  check: RunCheckName;
  ok: boolean;
  /** Why it passed or failed, in one sentence or two. */
  detail: string;
}

export interface RunVerification {
  /** True only when every check passed. */
  ok: boolean;
  dir: string;
  ledger: string;
  checks: RunCheck[];
}

export interface VerifyRunOptions {
  /** The ledger (default DIR/ledger.jsonl). */
  ledger?: string;
  /** The keys trusted (default trustedKeys(env): the trusted-keys file and the user's own key if it exists). */
  trustedKeys?: TrustedKey[];
  /** Let unsigned ledger entries pass the ledger check (the run's own entry must still be signed). */
  allowUnsigned?: boolean;
  /**
   * The entryHash (or index) of the newest ledger entry you saw before: without it, entries cut off the end
   * of the ledger (a rollback to an older signed version of the run) cannot be detected.
   */
  expectedHead?: { entryHash?: string; index?: number };
  /** The key of an encrypted run.json. */
  encryptionKey?: EncryptionKey;
  env?: NodeJS.ProcessEnv;
}

/** The top-level fields where two records differ, for a reason that says what was edited. */
function differingFields(a: RunRecord, b: RunRecord): string[] {
  const ra = a as unknown as Record<string, unknown>,
    rb = b as unknown as Record<string, unknown>;
  return [...new Set([...Object.keys(ra), ...Object.keys(rb)])]
    .filter(
      (k) => (ra[k] === undefined ? '' : canonicalJson(ra[k])) !== (rb[k] === undefined ? '' : canonicalJson(rb[k])),
    )
    .sort();
}

function ledgerCheck(
  r: VerifyResult,
  path: string,
  allowUnsigned: boolean,
  keys: TrustedKey[],
  headChecked: boolean,
): RunCheck {
  if (!r.ok) return { check: 'ledger', ok: false, detail: `${path}: ${r.firstBad!.reason}` };
  const n = r.entries;
  const unsigned = r.trust.unsignedEntries;
  if (unsigned.length > 0 && !allowUnsigned)
    return {
      check: 'ledger',
      ok: false,
      detail:
        `UNSIGNED: ${unsigned.length} of ${n} entries (index ${unsigned.join(', ')}) carry no signature: anyone who ` +
        'can write the file can edit them and recompute every hash, so nothing vouches for them',
    };
  const by = r.trust.signers.map((id) => `${id.slice(0, 12)}... (${keys.find((k) => k.keyId === id)?.source})`);
  return {
    check: 'ledger',
    ok: true,
    detail:
      `${n} entries, chain intact, ${r.signatures.signed} signed by trusted keys ${by.join(', ') || '(none)'}` +
      (unsigned.length ? `; ${unsigned.length} unsigned (allowed)` : '') +
      (r.trust.legacyEntries.length
        ? `; ${r.trust.legacyEntries.length} signed in the old scheme (bare entryHash)`
        : '') +
      (headChecked
        ? '; the expected head is in it'
        : `; head ${r.head ? r.head.entryHash.slice(0, 12) + '...' : 'none'}: entries cut off the end (a rollback ` +
          'to an older signed version) cannot be detected without the head you saw before (--head, expectedHead)'),
  };
}

/** The model files in a run directory: model.json and the weights and optimizer files model.save writes. */
const isModelFile = (name: string): boolean => name === 'model.json' || name.endsWith('.safetensors');

/**
 * The recorded files must match their hashes, and the files of the kind (`present`: those in the directory)
 * that nothing records fail too: model files or a card copied in after publishing would otherwise pass.
 * Nothing recorded and nothing present passes (a run need not save a model, nor publish a card).
 */
async function filesCheck(
  check: 'weights' | 'card',
  dir: string,
  files: FileHashes | undefined,
  present: string[],
  against: string,
): Promise<RunCheck> {
  const recorded = files ?? {};
  const bad = (await checkFiles(dir, recorded)).map((b) => b.detail);
  const what = check === 'weights' ? 'model files' : 'card files';
  const unvouched = present.filter((f) => !Object.hasOwn(recorded, f));
  if (unvouched.length)
    bad.push(
      `${unvouched.join(', ')} ${unvouched.length > 1 ? 'are' : 'is'} in the run directory but not among the ` +
        `${what} recorded: nothing vouches for ${unvouched.length > 1 ? 'them' : 'it'}` +
        (check === 'card' ? ' (publishRun records the card files it finds)' : ''),
    );
  if (bad.length) return { check, ok: false, detail: `${bad.join('; ')} (${against})` };
  const names = Object.keys(recorded);
  return names.length
    ? { check, ok: true, detail: `${names.join(', ')} match ${against}` }
    : { check, ok: true, detail: `no ${what} are recorded and there are none in the run directory` };
}

/**
 * emissions.csv: the row of each run in it must be the row emissionsRow builds from the record the ledger
 * vouches for (this run's entry, or the newest verified entry of the row's run); rows no entry vouches for fail.
 */
async function emissionsCheck(dir: string, vouched: (id: string) => RunRecord | undefined): Promise<RunCheck> {
  const file = join(dir, EMISSIONS_CSV_FILE);
  if (!existsSync(file)) return { check: 'emissions', ok: true, detail: `no ${EMISSIONS_CSV_FILE}: nothing to check` };
  const fail = (why: string): RunCheck => ({ check: 'emissions', ok: false, detail: `${EMISSIONS_CSV_FILE}: ${why}` });
  let rows: string[][];
  try {
    rows = parseCsvRecords(await readFile(file, 'utf8')).map((r) => r.fields);
  } catch (e) {
    return fail((e as Error).message);
  }
  if (rows.length === 0) return { check: 'emissions', ok: true, detail: `${EMISSIONS_CSV_FILE} is empty` };
  if (rows[0].join(',') !== CODECARBON_COLUMNS.join(',')) return fail("the header is not CodeCarbon's columns");
  const idAt = CODECARBON_COLUMNS.indexOf('run_id');
  const bad: string[] = [];
  for (const row of rows.slice(1)) {
    const id = row[idAt] ?? '';
    const record = vouched(id);
    if (!record?.energy || !record.emissions) {
      bad.push(`the row of run ${id} is one no ledger entry vouches for (no verified entry with energy)`);
      continue;
    }
    const built = emissionsRow(record);
    // The fields as the file holds them: the row writeEmissionsCsv writes, read back by the same parser.
    const want = parseCsvRecords(CODECARBON_COLUMNS.map((c) => csvField(built[c])).join(','))[0].fields;
    const differ = CODECARBON_COLUMNS.filter((_, i) => (row[i] ?? '') !== (want[i] ?? ''));
    if (differ.length || row.length !== want.length)
      bad.push(
        `the row of run ${id} is not the one its vouched record gives (columns that differ: ${differ.join(', ')})`,
      );
  }
  return bad.length
    ? fail(bad.join('; '))
    : { check: 'emissions', ok: true, detail: `${rows.length - 1} rows match the records the ledger vouches for` };
}

/** Checks a run directory against its ledger and the trusted keys; see RUN_CHECKS for what each check is. */
export async function verifyRun(dir: string, options: VerifyRunOptions = {}): Promise<RunVerification> {
  const env = options.env ?? process.env;
  const ledgerPath = options.ledger ?? join(dir, 'ledger.jsonl');
  const keys = options.trustedKeys ?? trustedKeys(env);
  const checks: RunCheck[] = [];
  const skip = (check: RunCheckName, why: string) => checks.push({ check, ok: false, detail: `not checked: ${why}` });

  let record: RunRecord | undefined;
  try {
    record = await readRunRecord(dir, { encryptionKey: options.encryptionKey });
    checks.push({ check: 'record', ok: true, detail: `run.json parses and validates (run ${record.id})` });
  } catch (e) {
    checks.push({ check: 'record', ok: false, detail: (e as Error).message });
  }

  let entry: LedgerEntry | undefined;
  // The entries whose chain and signatures verify, newest first (an entry after the first broken one vouches
  // for nothing), whoever signed them: the key check then names the signer.
  let intactEntries: LedgerEntry[] = [];
  if (!existsSync(ledgerPath)) {
    checks.push({ check: 'ledger', ok: false, detail: `no ledger at ${ledgerPath}: nothing vouches for this run` });
  } else {
    const r = await verifyLedger(ledgerPath, {
      trustedKeys: keys.map((k) => k.publicKey),
      allowUnsigned: true,
      expectedHead: options.expectedHead,
    });
    checks.push(ledgerCheck(r, ledgerPath, options.allowUnsigned ?? false, keys, options.expectedHead !== undefined));
    const intact = r.ok || r.firstBad!.kind === 'signature' ? (await verifyLedger(ledgerPath)).entries : r.entries;
    intactEntries = (await readLedger(ledgerPath)).slice(0, intact).reverse();
    if (record) entry = intactEntries.find((e) => e.record?.id === record!.id);
  }

  if (!record) skip('ledger-entry', 'run.json could not be read');
  else if (!entry) {
    const why = existsSync(ledgerPath) ? `no verified entry of ${ledgerPath} is for run ${record.id}` : 'no ledger';
    checks.push({ check: 'ledger-entry', ok: false, detail: why });
  } else if (entry.recordHash !== hashJson(record)) {
    const fields = differingFields(entry.record, record);
    checks.push({
      check: 'ledger-entry',
      ok: false,
      detail:
        `run.json is not the record ledger entry ${entry.index} vouches for (it hashes to ` +
        `${hashJson(record).slice(0, 12)}..., the entry's recordHash is ${entry.recordHash.slice(0, 12)}...): ` +
        `run.json was edited${fields.length ? ` (fields that differ: ${fields.join(', ')})` : ''}`,
    });
  } else
    checks.push({
      check: 'ledger-entry',
      ok: true,
      detail: `run.json is the record of ledger entry ${entry.index} (recordHash ${entry.recordHash.slice(0, 12)}...)`,
    });

  // The files are checked against the record the ledger vouches for when there is one (so that a forger who
  // swaps a file and edits run.json's hash to match fails here too), else against run.json.
  const vouched = entry?.record ?? record;
  const against = entry
    ? `the hashes ledger entry ${entry.index} vouches for`
    : 'the hashes in run.json (no ledger entry)';
  if (!vouched) {
    for (const c of ['weights', 'card', 'emissions'] as const) skip(c, 'run.json could not be read');
  } else {
    const names = existsSync(dir) ? readdirSync(dir) : [];
    checks.push(await filesCheck('weights', dir, vouched.model?.artifacts, names.filter(isModelFile), against));
    const cardFiles = CARD_FILES.filter((f) => names.includes(f));
    checks.push(await filesCheck('card', dir, vouched.card?.files, cardFiles, against));
    const byId = (id: string) => (id === vouched.id ? vouched : intactEntries.find((e) => e.record?.id === id)?.record);
    checks.push(await emissionsCheck(dir, byId));
  }

  if (!entry) skip('key', record ? 'no ledger entry for this run' : 'run.json could not be read');
  else if (!entry.signature)
    checks.push({ check: 'key', ok: false, detail: `ledger entry ${entry.index} of this run is not signed` });
  else {
    const key = keys.find((k) => k.keyId === entry!.keyId);
    checks.push(
      key
        ? { check: 'key', ok: true, detail: `signed by trusted key ${key.keyId.slice(0, 12)}... (${key.source})` }
        : {
            check: 'key',
            ok: false,
            detail:
              `ledger entry ${entry.index} is signed by key ${String(entry.keyId).slice(0, 12)}..., which is not ` +
              `trusted (trusted: ${keys.length ? keys.map((k) => `${k.keyId.slice(0, 12)}...`).join(', ') : 'none'}; ` +
              `add the signer's public key to ${trustedKeysPath(env)} with \`candor key trust FILE\` if you trust it)`,
          },
    );
  }
  const order = (c: RunCheck) => RUN_CHECKS.indexOf(c.check);
  checks.sort((a, b) => order(a) - order(b));
  return { ok: checks.every((c) => c.ok), dir, ledger: ledgerPath, checks };
}
