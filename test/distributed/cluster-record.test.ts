// The cost of a distributed run in one record, under mpirun on 2 ranks: a tiny recorded fit on each; only rank 0's
// directory holds run.json (and the card, ledger and model), its record has both ranks' figures, its FLOPs, CPU time
// and energy are their sums, bytes were communicated, and `candor verify` passes on it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { DistributedRecord } from '../../src/ledger/distributed.js';
import { tempDir } from '../ledger/fixtures.js';
import { assertMpiSucceeded, mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';

interface Row {
  rank: number;
  chief: boolean;
  files: string[];
  distributed: DistributedRecord;
  flops: number;
  cpuSeconds: number;
  joules: number;
  verify?: { ok: boolean; checks: string[] };
}

test(
  '2 ranks: one record at rank 0 with both ranks, the sums, bytes, and candor verify',
  { skip: mpirunMissing() },
  async () => {
    const tmp = tempDir();
    try {
      const r = await runMpiRows(2, program('cluster-record'), [tmp.dir], { timeoutMs: 60_000 });
      assertMpiSucceeded(r);
      const [r0, r1] = r.rows as unknown as Row[];
      assert.deepEqual([r0.rank, r1.rank, r0.chief, r1.chief], [0, 1, true, false]);
      assert.ok(r0.files.includes('run.json') && r0.files.includes('card.md') && r0.files.includes('ledger.jsonl'));
      assert.deepEqual(r1.files, [], `rank 1 wrote ${r1.files.join(', ')}`);
      const d = r0.distributed;
      assert.deepEqual([d.worldSize, d.strategy, d.transport.startsWith('mpi (')], [2, 'data-parallel', true]);
      assert.deepEqual(
        d.ranks.map((x) => [x.rank, x.role]),
        [
          [0, 'worker'],
          [1, 'worker'],
        ],
      );
      assert.equal(d.hosts.flatMap((h) => h.ranks).length, 2);
      // 24 rows, 8 per rank per step: 2 steps of a global batch of 16 (12 rows a rank).
      assert.ok(d.ranks.every((x) => x.flops > 0 && x.steps === 2));
      assert.deepEqual(
        d.ranks.map((x) => x.samples),
        [12, 12],
      );
      assert.equal(r0.flops, d.ranks[0].flops + d.ranks[1].flops);
      assert.ok(Math.abs(r0.cpuSeconds - d.ranks[0].cpuSeconds - d.ranks[1].cpuSeconds) < 1e-9);
      assert.ok(Math.abs(r0.joules - d.ranks[0].energyJoules! - d.ranks[1].energyJoules!) < 1e-9 * r0.joules);
      assert.ok(d.ranks.every((x) => x.bytesSent > 0 && x.bytesReceived > 0));
      assert.equal(d.bytesCommunicated.sent, d.ranks[0].bytesSent + d.ranks[1].bytesSent);
      // Every rank holds the cluster's figures in memory; only rank 0 wrote them. Energy differs: each rank's own
      // grows with what it does after fit (rank 0 saved and published), the others' are as of the end of fit.
      const noEnergy = (x: DistributedRecord) => x.ranks.map(({ energyJoules: _, ...f }) => f);
      assert.deepEqual(noEnergy(r1.distributed), noEnergy(d));
      assert.equal(r1.flops, r0.flops);
      assert.ok(r0.verify!.ok, r0.verify!.checks.join('\n'));
    } finally {
      tmp.done();
    }
  },
);
