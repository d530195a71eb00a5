// Runs a compiled example as a user would (its own process, --json, keys in a temporary config dir) and checks what
// a published run left behind: the record (valid), card, emissions.csv and signed ledger entry, verified together.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readRunRecord, validateRunRecord, readLedger } from '../../src/index.js';
import { verifyRun } from '../../src/ledger/verify-run.js';

const examples = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples');

/** Runs dist/examples/NAME.js with `args` in `cwd`, keys in a temporary config dir; returns its last JSON line. */
export function runExample(name: string, args: string[], cwd: string): Record<string, unknown> {
  const r = spawnSync(process.execPath, [join(examples, `${name}.js`), '--json', ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CANDOR_CONFIG_DIR: join(cwd, 'config') },
  });
  assert.equal(r.status, 0, `${name} failed:\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]) as Record<string, unknown>;
}

/** The record, card and ledger entry a run left in `dir` (its keys in cwd/config), checked together. */
export async function checkPublished(
  dir: string,
  name: string,
  figures: Record<string, unknown>,
  cwd: string,
): Promise<void> {
  const record = await readRunRecord(dir);
  validateRunRecord(record);
  assert.equal(record.name, name);
  for (const file of ['card.md', 'card.html', 'emissions.csv', 'ledger.jsonl'])
    assert.ok(existsSync(join(dir, file)), file);
  const ledger = join(dir, 'ledger.jsonl');
  const v = await verifyRun(dir, { env: { CANDOR_CONFIG_DIR: join(cwd, 'config') } });
  assert.ok(v.ok, JSON.stringify(v.checks, null, 1));
  const entries = await readLedger(ledger);
  assert.equal(entries.length, 1);
  assert.equal(entries[0].record.id, record.id);
  assert.equal(figures.runRecord, join(dir, 'run.json'));
  assert.equal(figures.card, join(dir, 'card.html'));
}
