// What a forger who controls a run directory (but not the signer's key) can do to it, for the trust tests:
// read and rewrite the ledger, edit the run's record and rebuild the whole chain around it, swap and add
// files; and the one list of these forgeries, with the checks each must fail.
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, sha256Hex } from '../../src/ledger/canonical.js';
import {
  entryLine,
  generateSigningKeys,
  keyIdOf,
  makeEntry,
  type KeyInput,
  type LedgerEntry,
} from '../../src/ledger/ledger.js';
import type { RunRecord } from '../../src/ledger/record.js';
import type { RunCheckName } from '../../src/ledger/verify-run.js';

export const readEntries = (dir: string): LedgerEntry[] =>
  readFileSync(join(dir, 'ledger.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l) as LedgerEntry);

/** Writes entries as canonical lines, as a forger who knows the format would. */
export const writeEntries = (dir: string, entries: LedgerEntry[]): void =>
  writeFileSync(join(dir, 'ledger.jsonl'), entries.map((e) => canonicalJson(e) + '\n').join(''));

/**
 * Edits the run's record (a better test accuracy) in run.json and in the ledger, and recomputes every hash of
 * the chain, signed with `privateKey` (the forger's own) or unsigned: every hash is then consistent.
 */
export function forge(dir: string, { privateKey }: { privateKey: string | undefined }): void {
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  record.evaluation[0].metrics.accuracy = 0.999;
  writeFileSync(join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
  const out: LedgerEntry[] = [];
  for (const e of readEntries(dir))
    out.push(
      makeEntry(e.record.id === record.id ? record : e.record, out.at(-1), { privateKey, timestamp: e.timestamp }),
    );
  writeFileSync(join(dir, 'ledger.jsonl'), out.map(entryLine).join(''));
}

/** One forgery of a published run directory and what `verifyRun` / `candor verify` must say of it. */
export interface Forgery {
  name: string;
  /** Changes a copy of the honest run directory. */
  change: (dir: string) => void;
  /** The checks that must fail, in RUN_CHECKS order. */
  fails: RunCheckName[];
  /** Matched against the failed checks, one line each: `check: detail`. */
  why: RegExp;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const edit = (path: string, f: (text: string) => string) => writeFileSync(path, f(readFileSync(path, 'utf8')));

/**
 * The forgeries of a run published (with a saved model, card.json and emissions.csv) and signed by `signer`,
 * whose key the verifier trusts, each as its own case; the trust and CLI tests both run every one.
 */
export function forgeries(record: RunRecord, signer: { privateKey: KeyInput }): Forgery[] {
  const attacker = generateSigningKeys();
  const weights = Object.keys(record.model.artifacts!).find((f) => f !== 'model.json')!;
  const flip = (dir: string, at: (w: Buffer) => number): Buffer => {
    const w = readFileSync(join(dir, weights));
    w[at(w)] ^= 1;
    writeFileSync(join(dir, weights), w);
    return w;
  };
  const cases: Forgery[] = [
    {
      name: 're-hashed unsigned chain',
      change: (dir) => forge(dir, { privateKey: undefined }),
      fails: ['ledger', 'key'],
      why: /ledger: UNSIGNED: 1 of 1 entries \(index 0\) carry no signature[^]*key: ledger entry 0 of this run is not/,
    },
    {
      name: 'stripped signatures',
      change: (dir) =>
        writeEntries(
          dir,
          readEntries(dir).map(({ signature, publicKey, keyId, signatureScheme, ...e }) => e) as LedgerEntry[],
        ),
      fails: ['ledger', 'key'],
      why: /UNSIGNED[^]*key: ledger entry 0 of this run is not signed/,
    },
    {
      name: 're-signed with another key',
      change: (dir) => forge(dir, { privateKey: attacker.privateKey }),
      fails: ['ledger', 'key'],
      why: new RegExp(
        `key: ledger entry 0 is signed by key ${keyIdOf(attacker.publicKey).slice(0, 12)}\\.\\.\\., which`,
      ),
    },
    {
      name: 'edited run.json',
      change: (dir) => {
        const r = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
        r.evaluation[0].metrics.accuracy = 0.999;
        writeFileSync(join(dir, 'run.json'), JSON.stringify(r, null, 2) + '\n');
      },
      fails: ['ledger-entry'],
      why: /not the record ledger entry 0 vouches for[^]*run\.json was edited \(fields that differ: evaluation\)/,
    },
    {
      name: 'swapped weights',
      change: (dir) => flip(dir, (w) => w.length - 1),
      fails: ['weights'],
      why: new RegExp(`weights: ${escape(weights)} has SHA-256 [0-9a-f]{12}\\.\\.\\. \\(\\d+ bytes\\), recorded`),
    },
    {
      name: 'swapped weights, run.json hash edited to match',
      change: (dir) => {
        const w = flip(dir, () => 0);
        const r = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8'));
        r.model.artifacts[weights].sha256 = sha256Hex(w);
        writeFileSync(join(dir, 'run.json'), JSON.stringify(r, null, 2) + '\n');
      },
      fails: ['ledger-entry', 'weights'],
      why: /fields that differ: model\)[^]*the hashes ledger entry 0 vouches for/,
    },
    {
      name: 'model file added',
      change: (dir) =>
        writeFileSync(join(dir, 'weights-0123456789abcdef.safetensors'), readFileSync(join(dir, weights))),
      fails: ['weights'],
      why: /weights: weights-0123456789abcdef\.safetensors is in the run directory but not among the model files/,
    },
    ...['card.md', 'card.html', 'card.json'].map((file): Forgery => ({
      name: `edited ${file}`,
      change: (dir) => edit(join(dir, file), (t) => t.replace(/Model card|Demonstration/, 'Fine print')),
      fails: ['card'],
      why: new RegExp(`card: ${escape(file)} has SHA-256`),
    })),
    {
      name: 'intended-use.md added after publishing',
      change: (dir) => writeFileSync(join(dir, 'intended-use.md'), 'Medical diagnosis.\n'),
      fails: ['card'],
      why: /card: intended-use\.md is in the run directory but not among the card files recorded/,
    },
    {
      name: 'edited emissions.csv',
      change: (dir) =>
        edit(join(dir, 'emissions.csv'), (t) => {
          const lines = t.split('\n');
          const fields = lines[1].split(','); // fields before cpu_model are never quoted
          fields[4] = '0.001'; // duration
          lines[1] = fields.join(',');
          return lines.join('\n');
        }),
      fails: ['emissions'],
      why: new RegExp(
        `emissions: emissions\\.csv: the row of run ${record.id} is not the one its [^]*` +
          '\\(columns that differ: duration\\)',
      ),
    },
    {
      name: 'emissions.csv row of an unknown run',
      change: (dir) => edit(join(dir, 'emissions.csv'), (t) => t + t.split('\n')[1].replace(record.id, 'other') + '\n'),
      fails: ['emissions'],
      why: /the row of run other is one no ledger entry vouches for/,
    },
    {
      name: 'deleted ledger',
      change: (dir) => writeFileSync(join(dir, 'ledger.jsonl'), ''),
      fails: ['ledger-entry', 'key'],
      why: /no verified entry of .* is for run/,
    },
    {
      name: 'signed entry for another run id',
      change: (dir) => {
        const other = { ...(readEntries(dir)[0].record as RunRecord), id: randomUUID() };
        writeFileSync(join(dir, 'ledger.jsonl'), entryLine(makeEntry(other, undefined, signer)));
      },
      fails: ['ledger-entry', 'key'],
      why: /ledger-entry: no verified entry of .* is for run [^]*key: not checked: no ledger entry for this run/,
    },
  ];
  return cases;
}
