// `candor verify RUN_DIR`, `candor ledger verify` and `candor key`, run in-process: a trainer publishes a
// signed run, a verifier who trusts the trainer's exported key checks it; every forgery fails and the
// output names the check and the reason; unsigned chains are reported UNSIGNED.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../src/cli/main.js';
import { userSigningKey } from '../../src/ledger/user-keys.js';
import { publishRun } from '../../src/cards/publish.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';
import { forgeries, readEntries } from '../ledger/forgery.js';

/** Runs `candor ...args` with CANDOR_CONFIG_DIR = configDir; returns the exit status and both outputs. */
async function candor(configDir: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = configDir;
  const out: string[] = [],
    err: string[] = [];
  try {
    const code = await main(args, { log: (s) => out.push(s), error: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
  }
}

test('candor verify, ledger verify and key: trust by default, forgeries named', async (t) => {
  const tmp = tempDir();
  const trainer = join(tmp.dir, 'trainer'),
    verifier = join(tmp.dir, 'verifier');
  const honest = join(tmp.dir, 'run');
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = trainer;
  const run = await tinyRun({ dir: honest });
  try {
    await run.model.save(honest);
    writeFileSync(join(honest, 'card.json'), JSON.stringify({ intendedUse: 'Demonstration only.' }));
    const published = await publishRun(run.recorder, { dir: honest, env: { CANDOR_CONFIG_DIR: trainer } });
    const keyId = userSigningKey({ CANDOR_CONFIG_DIR: trainer }).keyId;

    await t.test('key export / trust / list: the verifier trusts what the trainer exported', async () => {
      const pub = join(tmp.dir, 'trainer.pub');
      const ex = await candor(trainer, 'key', 'export', '--out', pub);
      assert.equal(ex.code, 0, ex.err);
      assert.match(readFileSync(pub, 'utf8'), /^-----BEGIN PUBLIC KEY-----\n/);
      assert.match((await candor(trainer, 'key', 'export')).out, /^-----BEGIN PUBLIC KEY-----[^]*END PUBLIC KEY-----$/);
      assert.match((await candor(verifier, 'key', 'list')).out, /^no trusted keys/);
      const tr = await candor(verifier, 'key', 'trust', pub);
      assert.deepEqual([tr.code, tr.out], [0, `trusted: key ${keyId} (in ${join(verifier, 'trusted-keys.pem')})`]);
      assert.match((await candor(verifier, 'key', 'trust', pub)).out, /^already trusted: /);
      assert.equal((await candor(verifier, 'key', 'list')).out, `${keyId}  ${join(verifier, 'trusted-keys.pem')}`);
      assert.equal((await candor(verifier, 'key', 'sign')).code, 2);
    });

    await t.test('the honest run verifies: one OK line per check', async () => {
      const v = await candor(verifier, 'verify', honest);
      assert.equal(v.code, 0, v.err);
      const lines = v.out.split('\n');
      assert.deepEqual(
        lines.slice(0, 7).map((l) => /^(OK|FAIL)\s+(\S+)/.exec(l)!.slice(1).join(' ')),
        ['OK record', 'OK ledger', 'OK ledger-entry', 'OK weights', 'OK card', 'OK emissions', 'OK key'],
      );
      assert.match(lines[1], /cannot be detected without the head you saw before \(--head, expectedHead\)$/);
      assert.match(
        lines[6],
        new RegExp(`signed by trusted key ${keyId.slice(0, 12)}\\.\\.\\. \\(.*trusted-keys\\.pem\\)`),
      );
      assert.match(lines[7], /^VERIFIED: /);
      const json = JSON.parse((await candor(verifier, 'verify', honest, '--json')).out);
      assert.deepEqual([json.ok, json.checks.length], [true, 7]);
      const l = await candor(verifier, 'ledger', 'verify', join(honest, 'ledger.jsonl'));
      assert.equal(l.code, 0, l.err);
      assert.match(l.out, /^OK: .*: 1 entries, chain intact, every entry signed by a trusted key\n  signed by /);
    });

    // Each forgery of the one list: exit status 1, a FAIL line for each check it must fail, naming the reason.
    for (const f of forgeries(published.record, userSigningKey({ CANDOR_CONFIG_DIR: trainer })))
      await t.test(`forgery: ${f.name}`, async () => {
        const dir = join(tmp.dir, f.name.replace(/\W+/g, '-'));
        cpSync(honest, dir, { recursive: true });
        f.change(dir);
        const v = await candor(verifier, 'verify', dir);
        assert.equal(v.code, 1, v.out);
        const fails = [...v.err.matchAll(/^FAIL {2}(\S+)\s+(.*)$/gm)];
        assert.deepEqual(
          fails.map((m) => m[1]),
          f.fails,
        );
        assert.match(fails.map((m) => `${m[1]}: ${m[2]}`).join('\n'), f.why);
        assert.match(
          v.err,
          new RegExp(`\nFAILED: .*: ${f.fails.length} of 7 checks failed \\(${f.fails.join(', ')}\\)$`),
        );
      });

    await t.test('--head: a rollback (entries cut off the end) fails against the head seen before', async () => {
      const head = readEntries(honest)[0].entryHash;
      assert.equal((await candor(verifier, 'verify', honest, '--head', head)).code, 0);
      const v = await candor(verifier, 'verify', honest, '--head', 'ab'.repeat(32));
      assert.equal(v.code, 1);
      assert.match(
        v.err,
        /^FAIL {2}ledger\s+.*does not contain the expected head (ab)+: entries were cut off the end$/m,
      );
      assert.equal((await candor(verifier, 'verify', honest, '--head', 'nothex')).code, 2);
    });

    await t.test('ledger verify: UNSIGNED loudly, --allow-unsigned, a re-signed chain fails', async () => {
      const rehashed = join(tmp.dir, 're-hashed-unsigned-chain', 'ledger.jsonl');
      let v = await candor(verifier, 'ledger', 'verify', rehashed);
      assert.equal(v.code, 1);
      assert.match(v.err, /^UNSIGNED: .*: 1 of 1 entries carry no signature \(index 0\)/);
      v = await candor(verifier, 'ledger', 'verify', rehashed, '--allow-unsigned');
      assert.equal(v.code, 0);
      assert.match(v.out, /^UNSIGNED: .*\(allowed by --allow-unsigned\)/);
      assert.doesNotMatch(v.out, /^OK/m);
      v = await candor(verifier, 'ledger', 'verify', join(tmp.dir, 're-signed-with-another-key', 'ledger.jsonl'));
      assert.equal(v.code, 1);
      assert.match(
        v.err,
        /\[signature\]\n {2}entry 0 \(line 1\): it was signed by key [0-9a-f]{12}\.\.\., which is not trusted/,
      );
      assert.match(v.err, /candor key trust/);
      // The trainer's own key is trusted on the trainer's machine; a stranger trusts nothing.
      assert.equal((await candor(trainer, 'ledger', 'verify', join(honest, 'ledger.jsonl'))).code, 0);
      assert.equal((await candor(join(tmp.dir, 'stranger'), 'ledger', 'verify', join(honest, 'ledger.jsonl'))).code, 1);
    });

    await t.test('publish: a changed run.json is re-published, and the newest entry vouches for it', async () => {
      const dir = join(tmp.dir, 'edited-run-json'); // run.json edited by the forgery test above
      const p = await candor(trainer, 'publish', dir);
      assert.equal(p.code, 0, p.err);
      assert.match(p.out, new RegExp(`appended entry 1 \\([0-9a-f]{16}\\.\\.\\.\\) signed by key ${keyId}$`));
      const v = await candor(verifier, 'verify', dir);
      assert.equal(v.code, 0, v.err);
      assert.match(v.out, /^OK\s+ledger-entry\s+run\.json is the record of ledger entry 1 /m);
    });

    await t.test('ledger append signs with the user key by default; --no-sign does not', async () => {
      const ledger = join(tmp.dir, 'appended.jsonl');
      let a = await candor(trainer, 'ledger', 'append', ledger, honest);
      assert.equal(a.code, 0, a.err);
      assert.match(a.out, new RegExp(`signed by key ${keyId} \\(your key at `));
      a = await candor(trainer, 'ledger', 'append', ledger, honest, '--no-sign');
      assert.match(a.out, /UNSIGNED \(--no-sign\)/);
      const v = await candor(trainer, 'ledger', 'verify', ledger);
      assert.deepEqual([v.code, /1 of 2 entries carry no signature \(index 1\)/.test(v.err)], [1, true]);
      assert.equal((await candor(trainer, 'ledger', 'append', ledger, honest, '--no-sign', '--key', 'k')).code, 2);
    });
  } finally {
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
    run.dispose();
    tmp.done();
  }
});
