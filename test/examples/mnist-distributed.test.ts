// The mnist-distributed example end to end with tiny settings (1 epoch on 256 images): started as a user would,
// it runs `mpirun -np 2` itself; rank 0 publishes one run whose record shows both ranks' work. Skips, with the
// reason, where mpirun or the MPI addon is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBackend, readRunRecord, readLedger } from '../../src/index.js';
import { loadMpiAddon } from '../../src/distributed/mpi.js';
import { mpirunMissing } from '../distributed/mpirun.js';
import { checkPublished, runExample } from './run-example.js';

const mpi = loadMpiAddon();
// The CNN's test evaluation takes minutes on the JS reference backend; what this test checks is the same on both.
const skip =
  mpirunMissing() ??
  (mpi.addon ? undefined : mpi.reason) ??
  (getBackend().name === 'native' ? undefined : 'the MNIST CNN example runs on the native backend only in tests');

test('mnist-distributed starts 2 ranks itself and publishes one record of both', { skip }, async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'candor-example-'));
  try {
    const out = join(cwd, 'run');
    const figures = runExample('mnist-distributed', ['--epochs', '1', '--limit', '256', '--out', out], cwd);
    assert.equal(figures.worldSize, 2);
    assert.equal(figures.strategy, 'data-parallel');
    await checkPublished(out, 'mnist-distributed', figures, cwd);
    const record = await readRunRecord(out);
    assert.equal(record.evaluation.find((e) => e.name === 'test')?.metrics.accuracy, figures.testAccuracy);
    const d = record.distributed!;
    assert.equal(d.worldSize, 2);
    assert.equal(d.strategy, 'data-parallel');
    // Each rank trained on its half of the 256 images, and sent its gradients to the other.
    assert.deepEqual(
      d.ranks.map((r) => [r.rank, r.samples]),
      [
        [0, 128],
        [1, 128],
      ],
    );
    for (const r of d.ranks) assert.ok(r.bytesSent > 0 && r.flops > 0, JSON.stringify(r));
    // Only rank 0 wrote: one ledger entry.
    assert.equal((await readLedger(join(out, 'ledger.jsonl'))).length, 1);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
