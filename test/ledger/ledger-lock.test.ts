// The ledger's lock after crashes: a holder killed with SIGKILL leaves a lock the next append takes over;
// a live holder is waited for, never broken; several processes breaking one stale lock still append a
// single unforked chain.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { appendToLedger, readLedger, repairLedger, verifyLedger } from '../../src/ledger/ledger.js';
import { lockOwner, withFileLock } from '../../src/ledger/lock.js';
import { deadPid } from '../helpers.js';
import { LedgerError } from '../../src/ledger/errors.js';
import type { RunRecord } from '../../src/ledger/record.js';
import { tempDir } from './fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const moduleUrl = (name: string) => pathToFileURL(join(here, '..', '..', 'src', 'ledger', name)).href;

/** A small stand-in record: the ledger chains any JSON record. */
const fake = (id: string) => ({ format: 'candor-run-record', id }) as unknown as RunRecord;

/** A child process that takes the ledger's lock, prints 'locked', and holds it until it reads a line. */
function lockHolder(ledger: string): { child: ChildProcess; locked: Promise<void>; exited: Promise<number | null> } {
  const code =
    `const { withFileLock } = await import(${JSON.stringify(moduleUrl('lock.js'))});\n` +
    `await withFileLock(${JSON.stringify(ledger)}, () => new Promise((done) => {\n` +
    `  process.stdout.write('locked\\n');\n` +
    `  process.stdin.once('data', done);\n` +
    `}));\n` +
    `process.stdin.destroy();\n`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const locked = new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('locked') ? resolve() : undefined));
    child.once('exit', (c) => reject(new Error(`the lock holder exited (${c}) before locking`)));
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { child, locked, exited };
}

test('a lock left by a holder killed with SIGKILL is taken over; the next append succeeds and verifies', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    await appendToLedger(path, fake('before'));
    const holder = lockHolder(path);
    await holder.locked;
    const owner = await lockOwner(path);
    assert.deepEqual([owner?.pid, owner?.hostname], [holder.child.pid, hostname()], 'the lock names its owner');
    assert.match(owner!.time, /^\d{4}-\d\d-\d\dT/);
    holder.child.kill('SIGKILL');
    await holder.exited;
    assert.ok(existsSync(`${path}.lock`), 'the killed holder left its lock');

    const e = await appendToLedger(path, fake('after'));
    assert.equal(e.index, 1);
    const r = await verifyLedger(path);
    assert.deepEqual([r.ok, r.entries], [true, 2]);
    assert.deepEqual(
      (await readLedger(path)).map((x) => (x.record as { id: string }).id),
      ['before', 'after'],
    );
    assert.equal(existsSync(`${path}.lock`), false, 'the append released the lock');
  } finally {
    tmp.done();
  }
});

test('a live holder is waited for, not broken; the waiting append goes in after it', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const holder = lockHolder(path);
    await holder.locked;
    let done = false;
    const append = appendToLedger(path, fake('waited')).then((e) => ((done = true), e));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, 'the append must wait while the holder lives');
    assert.equal((await lockOwner(path))?.pid, holder.child.pid, 'the holder still owns the lock');
    holder.child.stdin!.write('release\n');
    assert.equal(await holder.exited, 0);
    assert.equal((await append).index, 0);
    assert.equal((await verifyLedger(path)).ok, true);
    // Waiting has a limit, and the error names the live holder.
    const again = lockHolder(path);
    await again.locked;
    await assert.rejects(
      withFileLock(path, async () => 0, { timeoutMs: 100 }),
      (err: Error) =>
        err instanceof LedgerError && err.message.includes(`held by process ${again.child.pid} on ${hostname()}`),
    );
    again.child.stdin!.write('release\n');
    await again.exited;
  } finally {
    tmp.done();
  }
});

test('stale locks: a dead pid on this host, a very old lock from another host, an old ownerless lock', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const lock = `${path}.lock`;
    const dead = deadPid();
    const owner = (pid: number, host: string) =>
      JSON.stringify({ pid, hostname: host, time: new Date().toISOString(), token: 'x' });
    const hourAgo = new Date(Date.now() - 3600_000);

    writeFileSync(lock, owner(dead, hostname()));
    // Several appenders in this process see the same stale lock at once: one chain of 4, no fork.
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => appendToLedger(path, fake(id))));
    assert.deepEqual([(await verifyLedger(path)).ok, (await verifyLedger(path)).entries], [true, 4]);

    // Another host's lock: its pid means nothing here, so only age makes it stale.
    writeFileSync(lock, owner(dead, 'some-other-host'));
    await assert.rejects(
      withFileLock(path, async () => 0, { timeoutMs: 100 }),
      /held by process \d+ on some-other-host/,
    );
    utimesSync(lock, hourAgo, hourAgo);
    assert.equal(await withFileLock(path, async () => 'taken over', { timeoutMs: 100 }), 'taken over');

    // An empty lock (an older Candor's, or a holder killed before writing it): stale once it is not fresh.
    writeFileSync(lock, '');
    await assert.rejects(
      withFileLock(path, async () => 0, { timeoutMs: 100 }),
      /names no owner/,
    );
    utimesSync(lock, hourAgo, hourAgo);
    assert.equal(await withFileLock(path, async () => 'taken over', { timeoutMs: 100 }), 'taken over');
    assert.equal(existsSync(lock), false);
    assert.equal(existsSync(`${lock}.break`), false);
  } finally {
    tmp.done();
  }
});

test('processes racing to break one stale lock append one unforked chain', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const dead = deadPid();
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: dead, hostname: hostname(), time: '', token: 'x' }));
    const code =
      `const { appendToLedger } = await import(${JSON.stringify(moduleUrl('ledger.js'))});\n` +
      `for (let i = 0; i < 4; i++)\n` +
      `  await appendToLedger(${JSON.stringify(path)}, { format: 'candor-run-record', id: process.argv[1] + i });\n`;
    const children = ['p', 'q', 'r'].map(
      (name) =>
        new Promise<number | null>((resolve) =>
          spawn(process.execPath, ['--input-type=module', '-e', code, name], { stdio: 'inherit' }).once(
            'exit',
            resolve,
          ),
        ),
    );
    assert.deepEqual(await Promise.all(children), [0, 0, 0]);
    const r = await verifyLedger(path);
    assert.deepEqual([r.ok, r.entries], [true, 12]);
    const ids = (await readLedger(path)).map((x) => (x.record as { id: string }).id).sort();
    assert.deepEqual(ids, ['p', 'q', 'r'].flatMap((n) => [0, 1, 2, 3].map((i) => n + i)).sort());
  } finally {
    tmp.done();
  }
});

// One write() is not cut by SIGKILL, so what the kill leaves is mostly the lock (taken over here); repair is
// then a no-op. Torn lines (power loss, a full disk) are repaired in test/cli/ledger-repair.test.ts.
test('an appender killed with SIGKILL at any moment: repair, then the next append, always succeed', async () => {
  const tmp = tempDir();
  try {
    const path = join(tmp.dir, 'ledger.jsonl');
    const code =
      `const { appendToLedger } = await import(${JSON.stringify(moduleUrl('ledger.js'))});\n` +
      `const big = 'x'.repeat(20_000);\n` +
      `for (let i = 0; ; i++) {\n` +
      `  await appendToLedger(${JSON.stringify(path)}, { format: 'candor-run-record', id: 'k' + i, big });\n` +
      `  if (i === 2) process.stdout.write('going\\n');\n` +
      `}\n`;
    for (const wait of [0, 7, 23]) {
      const child = spawn(process.execPath, ['--input-type=module', '-e', code], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      await new Promise((r) => setTimeout(r, wait));
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await repairLedger(path);
      const before = (await verifyLedger(path)).entries;
      const e = await appendToLedger(path, fake(`after-${wait}`));
      assert.equal(e.index, before);
      assert.deepEqual([(await verifyLedger(path)).ok, (await verifyLedger(path)).entries], [true, before + 1]);
    }
  } finally {
    tmp.done();
  }
});
