// `candor ledger repair` run as a child process: a torn last line (a crash during an append) is cut off and
// kept in FILE.torn, after which `candor ledger verify` passes and appends work; damage anywhere else is
// refused with exit status 1 and the file left as it was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appendToLedger, entryLine, makeEntry, type LedgerEntry } from '../../src/ledger/ledger.js';
import { LedgerError } from '../../src/ledger/errors.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { candor } from './run.js';
import { tempDir } from '../ledger/fixtures.js';

const fake = (i: number) => ({ format: 'candor-run-record', id: `run-${i}`, note: 'é' }) as unknown as RunRecord;

/** The lines of a valid ledger of n entries (each with its newline). */
function chainLines(n: number): string[] {
  const out: string[] = [];
  let prev: LedgerEntry | undefined;
  for (let i = 0; i < n; i++) {
    prev = makeEntry(fake(i), prev, { timestamp: `2024-01-0${i + 1}T00:00:00.000Z` });
    out.push(entryLine(prev));
  }
  return out;
}

test('ledger repair cuts off a torn last line, keeps it in FILE.torn, and verify then passes', async () => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = join(tmp.dir, 'config'); // the children's key store: never the real home
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const lines = chainLines(4);
    const good = lines.slice(0, 3).join('');
    // The fourth append was killed in the middle of the two bytes of its 'é': the cut is in bytes, not text.
    const fourth = Buffer.from(lines[3]);
    const torn = fourth.subarray(0, fourth.indexOf(Buffer.from('é')) + 1);
    writeFileSync(path, Buffer.concat([Buffer.from(good), torn]));
    let v = candor('ledger', 'verify', path);
    assert.equal(v.code, 1);
    assert.match(v.err, /first bad entry at line 4/);
    await assert.rejects(
      appendToLedger(path, fake(9)),
      (e: Error) => e instanceof LedgerError && /`candor ledger repair .*` cuts it off/.test(e.message),
    );

    const r = candor('ledger', 'repair', path);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out.trim(),
      `repaired ${path}: cut off a torn last line of ${torn.length} bytes (saved in ${path}.torn); 3 entries verify`,
    );
    assert.equal(readFileSync(path, 'utf8'), good, 'the ledger is its complete entries, byte for byte');
    assert.deepEqual(readFileSync(`${path}.torn`), torn, 'what was cut off is kept');
    // The chain is unsigned (these tests are about its bytes): verify says so and accepts it on request.
    v = candor('ledger', 'verify', path, '--allow-unsigned');
    assert.equal(v.code, 0, v.err);
    assert.match(v.out, /^UNSIGNED: .*: 3 of 3 entries carry no signature .*\(allowed by --allow-unsigned\)/);
    assert.equal((await appendToLedger(path, fake(3))).index, 3, 'appends work again');

    // Nothing to repair now; a second torn line goes to FILE.torn.1, never over the first.
    const again = candor('ledger', 'repair', path);
    assert.deepEqual([again.code, again.out.trim()], [0, `OK: ${path} verifies (4 entries); nothing to repair`]);
    writeFileSync(path, readFileSync(path, 'utf8') + '{"index":4,"tim');
    assert.equal(candor('ledger', 'repair', path).code, 0);
    assert.equal(readFileSync(`${path}.torn.1`, 'utf8'), '{"index":4,"tim');
    assert.equal(candor('ledger', 'verify', path, '--allow-unsigned').code, 0);
  } finally {
    tmp.done();
  }
});

test('ledger repair gives a whole last entry its missing newline instead of cutting it', () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const text = chainLines(3).join('');
    writeFileSync(path, text.slice(0, -1));
    const r = candor('ledger', 'repair', path);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /added the last entry's missing newline; 3 entries verify/);
    assert.equal(readFileSync(path, 'utf8'), text);
    assert.equal(existsSync(`${path}.torn`), false);
  } finally {
    tmp.done();
  }
});

test('ledger repair refuses damage that is not a torn last line, and changes nothing', () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const lines = chainLines(4);
    const cases: [string, string, RegExp][] = [
      [
        'an edited middle entry, then a torn line',
        [lines[0], lines[1].replace('run-1', 'run-X'), lines[2], lines[3].slice(0, 30)].join(''),
        /line 2 \[record-hash\]/,
      ],
      ['a torn line in the middle', [lines[0], lines[1].slice(0, 40) + '\n', lines[2]].join(''), /line 2 \[not-json\]/],
      ['a deleted entry', [lines[0], lines[2]].join(''), /line 2 \[index\]/],
      ['a complete last line that does not verify', [lines[0], lines[1], '{"index": 2}\n'].join(''), /line 3/],
    ];
    for (const [what, text, where] of cases) {
      writeFileSync(path, text);
      const r = candor('ledger', 'repair', path);
      assert.equal(r.code, 1, `${what}: ${r.out}`);
      assert.match(r.err, where, what);
      assert.match(
        r.err,
        /only a torn last line.*is repaired: this is tampering or corruption, so nothing was changed/,
      );
      assert.equal(readFileSync(path, 'utf8'), text, `${what}: the file is unchanged`);
      assert.equal(existsSync(`${path}.torn`), false, what);
    }
    assert.equal(candor('ledger', 'repair', join(tmp.dir, 'none.jsonl')).code, 1);
    assert.equal(candor('ledger', 'repair').code, 2);
  } finally {
    tmp.done();
  }
});
