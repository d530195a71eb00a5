// verifyRun: the checks `candor verify RUN_DIR` makes together, each named and with its reason: run.json
// reads and validates, the ledger verifies with trusted keys, the run's newest ledger entry vouches for
// exactly this run.json, the model files and card files match the hashes that entry vouches for, and the
// entry's signing key is trusted.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EncryptionKey } from '../io/encryption.js';
import { canonicalJson, hashJson } from './canonical.js';
import { checkFiles, type FileHashes } from './file-hashes.js';
import { readLedger, verifyLedger, type LedgerEntry, type VerifyResult } from './ledger.js';
import { readRunRecord, type RunRecord } from './record.js';
import { trustedKeys, trustedKeysPath, type TrustedKey } from './user-keys.js';

/** The checks, in the order they are made and printed. */
export const RUN_CHECKS = ['record', 'ledger', 'ledger-entry', 'weights', 'card', 'key'] as const;
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

function ledgerCheck(r: VerifyResult, path: string, allowUnsigned: boolean, keys: TrustedKey[]): RunCheck {
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
        : ''),
  };
}

/** No files recorded passes for weights (a run need not save a model) and fails for a card that is present. */
async function filesCheck(
  check: 'weights' | 'card',
  dir: string,
  files: FileHashes | undefined,
  against: string,
  none: string,
): Promise<RunCheck> {
  if (!files || Object.keys(files).length === 0) return { check, ok: check === 'weights', detail: none };
  const bad = await checkFiles(dir, files);
  return bad.length
    ? { check, ok: false, detail: `${bad.map((b) => b.detail).join('; ')} (${against})` }
    : { check, ok: true, detail: `${Object.keys(files).join(', ')} match ${against}` };
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
  if (!existsSync(ledgerPath)) {
    checks.push({ check: 'ledger', ok: false, detail: `no ledger at ${ledgerPath}: nothing vouches for this run` });
  } else {
    const r = await verifyLedger(ledgerPath, { trustedKeys: keys.map((k) => k.publicKey), allowUnsigned: true });
    checks.push(ledgerCheck(r, ledgerPath, options.allowUnsigned ?? false, keys));
    // The run's entry is looked for among the entries whose chain and signatures verify (an entry after the
    // first broken one vouches for nothing), whoever signed them: the key check then names the signer.
    const intact = r.ok || r.firstBad!.kind === 'signature' ? (await verifyLedger(ledgerPath)).entries : r.entries;
    if (record)
      entry = (await readLedger(ledgerPath))
        .slice(0, intact)
        .reverse()
        .find((e) => e.record?.id === record!.id);
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
    skip('weights', 'run.json could not be read');
    skip('card', 'run.json could not be read');
  } else {
    checks.push(
      await filesCheck(
        'weights',
        dir,
        vouched.model?.artifacts,
        against,
        'no model files are recorded: nothing to check',
      ),
    );
    const cardFiles = vouched.card?.files;
    const unvouched = ['card.md', 'card.html'].filter((f) => existsSync(join(dir, f)));
    checks.push(
      await filesCheck(
        'card',
        dir,
        cardFiles,
        against,
        unvouched.length
          ? `${unvouched.join(' and ')} ${unvouched.length > 1 ? 'are' : 'is'} in the run directory but the record ` +
              'holds no hash of the card: nothing vouches for it (publishRun records one)'
          : 'the record holds no hash of a card and there is none in the run directory',
      ),
    );
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
