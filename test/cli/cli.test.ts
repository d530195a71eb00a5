// The candor CLI run as a child process on fixtures made here: card, profile, ledger verify/show/append/
// keygen, schema, and usage errors with exit status 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { candor } from './run.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

test('CLI: card, profile, ledger append / show / verify (with tampering and keys), schema, usage', async (t) => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = join(tmp.dir, 'config'); // the children's key store: never the real home
  const runDir = join(tmp.dir, 'run');
  const ledger = join(tmp.dir, 'ledger.jsonl');
  const run = await tinyRun({ dir: runDir });
  try {
    await t.test('card writes card.md and card.html', () => {
      const r = candor('card', runDir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /wrote .*card\.md\nwrote .*card\.html/);
      assert.match(readFileSync(join(runDir, 'card.html'), 'utf8'), /<h1>Model card: sequential/);
      const other = join(tmp.dir, 'cards');
      assert.equal(candor('card', runDir, '--out', other).code, 0);
      assert.ok(existsSync(join(other, 'card.md')));
      const missing = candor('card', join(tmp.dir, 'nope'));
      assert.equal(missing.code, 1);
      assert.match(missing.err, /candor: readRunRecord: cannot read/);
    });

    await t.test('profile prints the table from the record', () => {
      const r = candor('profile', runDir);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /^Op\s+Family\s+Calls\s+Total ms/m);
      assert.match(r.out, /^matmul\s+matmul\s+\d+/m);
      assert.match(r.out, /^Total\s+\d+/m);
      const total = run.record.compute.total.calls;
      assert.match(r.out, new RegExp(`^Total\\s+${total}\\s`, 'm'));
      const byFamily = candor('profile', runDir, '--by', 'family', '--sort', 'flops', '--limit', '2');
      assert.equal(byFamily.code, 0);
      assert.match(byFamily.out, /^Family\s+Calls/m);
      assert.match(byFamily.out, /\.\.\. \d+ more/);
      const bad = candor('profile', runDir, '--by', 'colour');
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--by must be one of op, family, phase, layer/);
    });

    await t.test(
      'keygen, append (signed), show, verify; tampering is reported with the entry; a wrong key fails',
      () => {
        const keys = join(tmp.dir, 'signer'),
          other = join(tmp.dir, 'other');
        assert.equal(candor('ledger', 'keygen', keys).code, 0);
        assert.equal(candor('ledger', 'keygen', other).code, 0);
        assert.equal(statSync(`${keys}.key`).mode & 0o777, 0o600);
        assert.equal(candor('ledger', 'keygen', keys).code, 1, 'never overwrites a key');
        for (let i = 0; i < 3; i++) {
          const a = candor('ledger', 'append', ledger, runDir, '--key', `${keys}.key`);
          assert.equal(a.code, 0, a.err);
          assert.match(a.out, new RegExp(`appended entry ${i} `));
        }
        const show = candor('ledger', 'show', ledger);
        assert.equal(show.code, 0);
        assert.match(show.out, /^#\s+Time\s+Run\s+Model/m);
        assert.equal(show.out.split('\n').filter((l) => /^\d\s/.test(l)).length, 3);
        assert.match(show.out, /tiny-blobs\s+Sequential 67 params/);
        assert.equal(JSON.parse(candor('ledger', 'show', ledger, '--json').out).length, 3);
        let v = candor('ledger', 'verify', ledger, '--public-key', `${keys}.pub`);
        assert.equal(v.code, 0, v.err);
        assert.match(v.out, /^OK: .*: 3 entries, chain intact, every entry signed by a trusted key\n/);
        assert.match(v.out, /\n {2}signed by [0-9a-f]{16}\.\.\. \(--public-key /);
        const head = /head: entry 2 ([0-9a-f]{64})/.exec(v.out)![1];
        v = candor('ledger', 'verify', ledger, '--public-key', `${other}.pub`);
        assert.equal(v.code, 1);
        assert.match(v.err, /FAILED: .*first bad entry at line 1 \(claims index 0, expected 0\) \[signature\]/);
        // Edit one byte inside the second entry's record.
        const text = readFileSync(ledger, 'utf8');
        const lines = text.split('\n');
        lines[1] = lines[1].replace('"tiny-blobs"', '"tiny-blobz"');
        writeFileSync(ledger, lines.join('\n'));
        v = candor('ledger', 'verify', ledger, '--public-key', `${keys}.pub`);
        assert.equal(v.code, 1);
        assert.match(
          v.err,
          new RegExp(
            /first bad entry at line 2 \(claims index 1, expected 1\) \[record-hash\]/.source +
              /\n  entry 1 \(line 2\): the record does not match its recordHash/.source,
          ),
        );
        // Delete the last entry: only the head seen before reveals it.
        writeFileSync(ledger, text.split('\n').slice(0, 2).join('\n') + '\n');
        assert.equal(candor('ledger', 'verify', ledger, '--public-key', `${keys}.pub`).code, 0);
        v = candor('ledger', 'verify', ledger, '--public-key', `${keys}.pub`, '--head', head);
        assert.equal(v.code, 1);
        assert.match(v.err, /\[head\]/);
        assert.equal(candor('ledger', 'verify', ledger, '--head', 'abc').code, 2);
        const none = candor('ledger', 'verify', join(tmp.dir, 'no-such.jsonl'));
        assert.deepEqual([none.code, /no ledger at/.test(none.err)], [1, true]);
      },
    );

    await t.test('schema prints the published schema; usage errors exit 2', () => {
      const s = candor('schema');
      assert.equal(s.code, 0);
      assert.equal(s.out, readFileSync(join(repoRoot, 'schemas', 'run-record.schema.json'), 'utf8'));
      for (const args of [
        [],
        ['fly'],
        ['ledger'],
        ['ledger', 'sing'],
        ['card'],
        ['card', 'a', 'b'],
        ['profile', runDir, '--nope'],
      ]) {
        const r = candor(...args);
        assert.equal(r.code, 2, args.join(' '));
        assert.match(r.err, /usage: candor <command>/);
      }
      assert.equal(candor('--help').code, 0);
      assert.match(candor('--version').out, /^\d+\.\d+\.\d+/);
    });
  } finally {
    run.dispose();
    tmp.done();
  }
});
