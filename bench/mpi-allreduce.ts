// One rank of the allreduce bandwidth benchmark (run by bench/distributed.ts under mpirun): Candor's allreduce of
// float32 sums, as a typed array in place (comm.allreduceArray) and as a tensor (comm.allreduce), on the sizes
// that bench/mpi/allreduce.c times with plain MPI_Allreduce, timed the same way: a barrier, then one call; the
// median over repeats (as many on every rank: rank 0's count, broadcast); the slowest rank's median.
// Rank 0 prints RESULT_TAG + {"sizes":[{bytes, array: {seconds, repeats}, tensor: {seconds, repeats}}]}.
import * as c from '../src/index.js';
import { RESULT_TAG } from './spec.js';
import type { AllreduceBenchArgs } from './distributed.js';

const args = JSON.parse(process.argv[2]) as AllreduceBenchArgs;
const w = c.distributed.init();
const comm = w.comm;

/** The slowest rank's median seconds of `call`, timed as the C program times MPI_Allreduce. */
function time(call: () => void): { seconds: number; repeats: number } {
  const once = (): number => {
    comm.barrier();
    const t0 = performance.now();
    call();
    return (performance.now() - t0) / 1000;
  };
  // Warm-up (at least one call); the repeats come from rank 0's last warm-up call, as in the C program.
  let last = once();
  for (let i = 1; i < args.warmup; i++) last = once();
  const proposed = Math.min(10_000, Math.max(1, last > 0 ? Math.floor(args.budgetSeconds / last) : 1000));
  const repeats = comm.broadcastJson(proposed, 0);
  const runs = Array.from({ length: repeats }, once).sort((a, b) => a - b);
  const seconds = Math.max(...comm.allgatherJson(runs[Math.floor(repeats / 2)]));
  return { seconds, repeats };
}

const sizes = [];
for (let bytes = args.minBytes; bytes <= args.maxBytes; bytes *= args.factor) {
  const buf = new Float32Array(bytes / 4).fill(1);
  const array = time(() => comm.allreduceArray(buf, 'sum'));
  const x = c.ones([bytes / 4]);
  const tensor = time(() => comm.allreduce(x, 'sum').dispose());
  x.dispose();
  sizes.push({ bytes, array, tensor });
  if (w.rank === 0) process.stderr.write(`  candor allreduce ${bytes} B: ${(array.seconds * 1e6).toFixed(0)} us\n`);
}
if (w.rank === 0) console.log(RESULT_TAG + JSON.stringify({ transport: w.transport, sizes }));
c.distributed.finalize();
