// Faults under mpirun (2 ranks): kill -9 of one rank ends the whole job with a non-zero status within 60 s; a rank
// that hangs (SIGSTOP) makes the other fail with the DistributedError timeout and the job end in bounded time. The
// bounds are generous timeouts (a hung job would fail the test), not speed assertions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { processAlive } from '../../src/io/atomic.js';
import { mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';

const skip = mpirunMissing();
/** Generous: a job that a dead or hung rank left running would take the runner's timeout. */
const BOUND_S = 60;

type Row = { rank: number; epochs?: number[]; weights?: number[][]; error?: string; code?: string; message?: string };

/** The pid a program wrote to `path`, once it is there. */
async function pidIn(path: string, timeoutMs: number): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (existsSync(path)) {
      const pid = Number(readFileSync(path, 'utf8'));
      if (pid > 0) return pid;
    }
    await sleep(50);
  }
  throw new Error(`no pid in ${path} after ${timeoutMs} ms`);
}

/** Kills what a failed test may have left (never a process this test did not start through its programs). */
function cleanUp(pidFile: string): void {
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8'));
  if (pid > 0 && processAlive(pid)) process.kill(pid, 'SIGKILL');
}

test('kill -9 of a rank in a loop of collectives ends the job non-zero', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-faults-'));
  const pidFile = join(dir, 'rank1.pid');
  try {
    const running = runMpiRows(2, program('fault-collectives'), ['kill', dir], { timeoutMs: 120_000 });
    process.kill(await pidIn(pidFile, 60_000), 'SIGKILL');
    const killedAt = Date.now();
    const r = await running;
    const seconds = (Date.now() - killedAt) / 1000;
    assert.notEqual(r.code, 0, 'the job fails');
    assert.ok(seconds < BOUND_S, `the job ended ${seconds} s after the kill`);
    assert.match(r.stderr, /exited on signal 9/, 'mpirun says which rank died');
  } finally {
    cleanUp(pidFile);
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a rank that hangs makes the other fail with the DistributedError timeout, and the job ends',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'candor-faults-'));
    const pidFile = join(dir, 'rank1.pid');
    try {
      const r = await runMpiRows(2, program('fault-collectives'), ['hang', dir], {
        timeoutMs: 120_000,
        env: { CANDOR_DISTRIBUTED_TIMEOUT_MS: '3000' },
      });
      assert.notEqual(r.code, 0, 'the job fails');
      assert.ok(r.seconds < BOUND_S, `the job ended after ${r.seconds} s`);
      const row = r.rows.find((x) => x.rank === 0) as Row | undefined;
      assert.ok(row, `rank 0 reported its error:\n${r.stderr}`);
      assert.equal(row.error, 'DistributedError', row.message);
      assert.equal(row.code, 'CANDOR_DISTRIBUTED_TIMEOUT', row.message);
      assert.match(row.message!, /allreduceArray on rank 0 of 2 .* not done after 3\.0 s: a rank died or hangs/);
      assert.ok(!r.rows.some((x) => x.rank === 1), 'the hung rank never got further');
    } finally {
      cleanUp(pidFile);
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
