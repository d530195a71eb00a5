// What a forger who controls a run directory (but not the signer's key) can do to it, for the trust tests:
// read and rewrite the ledger, and edit the run's record and rebuild the whole chain around it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../../src/ledger/canonical.js';
import { entryLine, makeEntry, type LedgerEntry } from '../../src/ledger/ledger.js';
import type { RunRecord } from '../../src/ledger/record.js';

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
