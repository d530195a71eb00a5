// Only rank 0 writes files in a distributed world (distributed.writesFiles): the rule in-process, and under mpirun on
// 2 ranks a fit({ distributed: true, record: false }) whose CSV log has each epoch once and whose checkpoints,
// TensorBoard events and saved model are rank 0's alone.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import '../config-dir.js';
import * as c from '../../src/index.js';
import { tempDir } from '../ledger/fixtures.js';
import { assertMpiSucceeded, mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';

test('writesFiles: rank 0 or a world of size 1 writes, another rank of a larger world does not', () => {
  assert.equal(c.distributed.writesFiles(), true, 'a process not started by mpirun');
  assert.equal(c.distributed.writesFiles({ rank: 0, size: 1 }), true);
  assert.equal(c.distributed.writesFiles({ rank: 0, size: 4 }), true);
  assert.equal(c.distributed.writesFiles({ rank: 1, size: 2 }), false);
  assert.equal(c.distributed.writesFiles({ rank: 3, size: 4 }), false);
});

test(
  '2 ranks, record: false: one CSV line per epoch, and checkpoints, events and the model from rank 0 alone',
  { skip: mpirunMissing() },
  async () => {
    const tmp = tempDir();
    try {
      const r = await runMpiRows(2, program('chief-writes'), [tmp.dir], { timeoutMs: 60_000 });
      assertMpiSucceeded(r);
      const [r0, r1] = r.rows as unknown as { rank: number; writesFiles: boolean; files: string[] }[];
      assert.deepEqual(r0.files, ['ckpt-1.safetensors', 'ckpt-2.safetensors', 'model', 'tb']);
      assert.deepEqual(r1.files, [], `rank 1 wrote ${r1.files.join(', ')}`);
      const lines = readFileSync(`${tmp.dir}/log.csv`, 'utf8').trim().split('\n');
      assert.deepEqual(
        lines.map((l) => l.split(',')[0]),
        ['epoch', '0', '1'],
        lines.join('\n'),
      );
      assert.deepEqual([r0.rank, r0.writesFiles, r1.rank, r1.writesFiles], [0, true, 1, false]);
    } finally {
      tmp.done();
    }
  },
);
