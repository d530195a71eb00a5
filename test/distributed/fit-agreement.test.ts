// Data-parallel fits where ranks could part ways: a stop asked by one rank's batch callback, a process started by
// mpirun without distributed.init(), and a resume from a mid-epoch backup with an uneven last global batch. Each
// must keep every rank in the same collectives, and end as the reference run does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';

const skip = mpirunMissing();
const script = program('fit-agreement');

interface Row {
  rank: number;
  size?: number;
  epochs?: number[];
  steps?: number;
  weights?: number[][];
  error?: string;
}

async function run(mode: string, dir?: string): Promise<Row[]> {
  const r = await runMpiRows(2, script, dir ? [mode, dir] : [mode], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${mode}: mpirun exited ${r.code} ${r.signal ?? ''}\n${r.stderr.slice(-2000)}`);
  const rows = r.rows as unknown as Row[];
  assert.equal(rows.length, 2, `${mode}: ${r.stdout}`);
  return rows;
}

test(
  'a stop asked by one rank (TerminateOnNaN on its own batch loss) stops every rank after the same step',
  { skip },
  async () => {
    const rows = await run('stop');
    for (const row of rows) assert.equal(row.error, undefined, row.error);
    // Rank 1 reads the NaN row in the first step: both ranks leave after that step, in epoch 0.
    assert.deepEqual(rows[0].epochs, [0]);
    assert.deepEqual(rows[1].epochs, rows[0].epochs);
    assert.equal(rows[0].steps, 1);
    assert.equal(rows[1].steps, 1);
  },
);

test(
  'fit({ distributed: true }) under mpirun without init() joins the world: the same run as with init()',
  { skip },
  async () => {
    const [without, withInit] = [await run('noinit'), await run('init')];
    for (const row of without) assert.equal(row.size, 2, 'each rank must be in a world of 2, not train alone');
    assert.deepEqual(without[0].weights, withInit[0].weights);
    assert.deepEqual(without[1].weights, withInit[0].weights);
  },
);

test(
  'a data-parallel fit resumed from a mid-epoch backup (uneven last batch) ends as the uninterrupted fit',
  { skip },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'candor-dp-resume-'));
    try {
      const first = await run('resume-a', dir);
      for (const row of first) assert.equal(row.error, undefined, row.error);
      const resumed = await run('resume-b', dir);
      for (const row of resumed) assert.equal(row.error, undefined, row.error);
      const whole = await run('whole');
      assert.deepEqual(resumed[0].weights, whole[0].weights);
      assert.deepEqual(resumed[1].weights, whole[0].weights);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
