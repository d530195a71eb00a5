// What init and the collectives do when things go wrong under mpirun, for test/distributed/collectives.test.ts.
// argv[2] 'missing-addon': init with CANDOR_MPI_ADDON naming a missing file; each rank emits the error it got.
// argv[2] 'skip-collective': rank 1 skips an allreduce and hangs; rank 0 emits the timeout error and rethrows it.
// argv[2] 'rank-throws': rank 1 throws an Error after init; rank 0 waits in an allreduce until the job ends.
// Without argv[2] it does nothing: `node --test dist/test/` runs every .js file under a test/ folder, this one too.
// The modules it needs, not the whole package: half the start-up time of each rank.
import '../../../src/backends/js/index.js';
import '../../../src/backends/native/index.js';
import * as distributed from '../../../src/distributed/index.js';
import * as ops from '../../../src/ops/index.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { emitResult } from '../results.js';

const mode = process.argv[2];
const rank = Number(process.env.OMPI_COMM_WORLD_RANK ?? process.env.PMI_RANK ?? 0);
const described = (e: unknown) => ({
  rank,
  name: (e as Error).name,
  code: (e as { code?: string }).code,
  message: (e as Error).message,
  typed: e instanceof distributed.DistributedError,
});

if (mode === 'missing-addon') {
  try {
    distributed.init();
    emitResult(rank, { rank, joined: true });
  } catch (e) {
    emitResult(rank, described(e));
  }
} else if (mode === 'skip-collective') {
  const w = distributed.init({ timeoutMs: 1000 });
  w.comm.barrier();
  if (w.rank === 1) {
    emitResult(w.rank, { rank: w.rank, hanging: true });
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000); // hangs until mpirun ends the job
  } else {
    try {
      w.comm.allreduce(ops.tensor([1, 2, 3]));
      emitResult(w.rank, { rank: w.rank, done: true });
    } catch (e) {
      emitResult(w.rank, described(e));
      throw e;
    }
  }
} else if (mode === 'rank-throws') {
  const w = distributed.init({ timeoutMs: 30_000 });
  w.comm.barrier();
  if (w.rank === 1) throw new Error('rank 1 fails on purpose before its allreduce');
  w.comm.allreduce(ops.tensor([1, 2, 3]));
} else if (mode !== undefined) throw new Error(`init-faults: unknown mode '${mode}'`);
