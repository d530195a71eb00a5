// Runs every collective of the communicator on known per-rank inputs (test/distributed/rank-inputs.ts) and emits
// one row per rank (test/distributed/results.ts), for test/distributed/collectives.test.ts to compare with a reference.
// `node --test dist/test/` also runs it alone (every .js file under a test/ folder): then a world of size 1.
// The modules it needs, not the whole package: half the start-up time of each rank.
import '../../../src/backends/js/index.js';
import '../../../src/backends/native/index.js';
import * as distributed from '../../../src/distributed/index.js';
import * as ops from '../../../src/ops/index.js';
import type { Tensor } from '../../../src/tensor/tensor.js';
import { rankInput, REDUCE_DTYPES, VECTOR } from '../rank-inputs.js';
import { emitResult } from '../results.js';

const w = distributed.init({ timeoutMs: 30_000 });
const { rank, size, comm } = w;
const out: Record<string, unknown> = {
  rank,
  size,
  transport: w.transport,
  localRank: w.localRank,
  localSize: w.localSize,
  hosts: w.hosts,
};
const values = (t: Tensor) => Array.from(t.dataSync());

for (const dtype of REDUCE_DTYPES) {
  const x = ops.tensor(rankInput(rank, VECTOR, dtype, 1), [VECTOR], dtype);
  const reductions: distributed.ReduceOp[] = ['sum', 'max', 'min', ...(dtype === 'int32' ? [] : (['mean'] as const))];
  for (const op of reductions) {
    const y = comm.allreduce(x, op);
    out[`allreduce.${dtype}.${op}`] = values(y);
    out[`allreduce.${dtype}.${op}.dtype`] = y.dtype;
  }
  out[`broadcast.${dtype}`] = values(comm.broadcast(x, size - 1));
  const g = comm.allgather(ops.tensor(rankInput(rank, 21, dtype, 2), [3, 7], dtype));
  out[`allgather.${dtype}`] = { shape: g.shape, values: values(g) };
  const rs = comm.reduceScatter(ops.tensor(rankInput(rank, size * 15, dtype, 3), [size * 3, 5], dtype));
  out[`reduceScatter.${dtype}`] = { shape: rs.shape, values: values(rs) };
  const arr = x.dataSync() as Float32Array | Float64Array | Int32Array;
  comm.allreduceArray(arr, 'max');
  out[`allreduceArray.${dtype}.max`] = Array.from(arr);
}
// A non-contiguous input (a transposed view) is read in row-major order.
const t = ops.transpose(ops.tensor(rankInput(rank, 15, 'float64', 4), [3, 5], 'float64'));
out['allreduce.transposed'] = { shape: t.shape, values: values(comm.allreduce(t)) };

// Several reductions in flight at once, waited for in reverse order.
const inputs = [0, 1, 2, 3].map((i) =>
  ops.tensor(rankInput(rank, VECTOR + 2 * i, 'float32', 10 + i), undefined, 'float32'),
);
const pending = inputs.map((x) => comm.allreduceAsync(x, 'sum'));
out['allreduceAsync'] = pending
  .reverse()
  .map((p) => values(p.wait()))
  .reverse();
const arrays = [0, 1, 2].map((i) => new Float64Array(rankInput(rank, 5 + i, 'float64', 20 + i)));
const arrayPending = arrays.map((a) => comm.allreduceArrayAsync(a, 'mean'));
for (const p of arrayPending.reverse()) p.wait();
out['allreduceArrayAsync'] = arrays.map((a) => Array.from(a));

// A blocking allreduce while an async one is in flight: queued behind it (same order on every rank), not run at once
// on this thread; then blocking calls with nothing in flight (run on this thread) keep their results apart.
const early = new Float32Array(rankInput(rank, 9, 'float32', 50));
const inFlight = comm.allreduceArrayAsync(early, 'sum');
const late = new Float32Array(rankInput(rank, 6, 'float32', 51));
comm.allreduceArray(late, 'max');
inFlight.wait();
const direct = [52, 53].map((seed) => {
  const a = new Float32Array(rankInput(rank, 4, 'float32', seed));
  comm.allreduceArray(a, 'sum');
  return Array.from(a);
});
out['mixed'] = { early: Array.from(early), late: Array.from(late), direct };

// A ring of messages: to rank + 1 with tag 7, received from any rank.
const message = new Float64Array(rankInput(rank, 11, 'float64', 30));
const sent = comm.sendAsync(message, (rank + 1) % size, 7);
const inbox = new Float64Array(16);
const got = comm.recv(inbox, 'any', 7);
sent.wait();
out['ring'] = { ...got, values: Array.from(inbox.subarray(0, got.count)) };

// Every other rank sends rank 0 an Int32Array of rank + 2 elements with tag 100 + rank; rank 0 probes for their sizes.
if (rank === 0) {
  const probed = [];
  for (let k = 1; k < size; k++) {
    const p = comm.probe('any', 'any');
    const buf = new Int32Array(p.count / 4);
    const r = comm.recv(buf, p.source, p.tag);
    probed.push({ probe: p, recv: r, values: Array.from(buf) });
  }
  out['probed'] = probed.sort((a, b) => a.probe.source - b.probe.source);
} else comm.send(new Int32Array(rankInput(rank, rank + 2, 'int32', 40)), 0, 100 + rank);

// Calls the addon must refuse before touching memory or starting anything (so no rank waits on them).
const mpi = distributed.loadMpiAddon().addon!;
const refused = (call: () => unknown) => {
  try {
    call();
    return 'accepted';
  } catch (e) {
    return (e as Error).message;
  }
};
const f32 = (n: number) => new Float32Array(n);
out['refused'] = {
  allgather: refused(() => mpi.allgather(f32(3), f32(3 * size + 1))),
  types: refused(() => mpi.allreduce(f32(3), new Float64Array(3), 0)),
  lengths: refused(() => mpi.allreduce(f32(3), f32(4), 0)),
  notArray: refused(() => mpi.allreduce(null, [1, 2] as unknown as Float32Array, 0)),
  op: refused(() => mpi.allreduce(null, f32(2), 7)),
  dest: refused(() => mpi.send(f32(1), size, 0)),
  tag: refused(() => mpi.recv(f32(1), 0, 40_000)),
  root: refused(() => mpi.bcast(f32(1), -1)),
  rootNaN: refused(() => mpi.bcast(f32(1), NaN)),
  rootInfinity: refused(() => mpi.bcast(f32(1), Infinity)),
  reduceScatter: refused(() => mpi.reduceScatter(f32(2 * size + 1), f32(2), 0)),
  allgatherv: refused(() => mpi.allgatherv(new Uint8Array(2), new Uint8Array(1), new Int32Array(size).fill(2))),
  counts: refused(() => mpi.allgatherv(new Uint8Array(2), new Uint8Array(9), new Int32Array(size + 1).fill(2))),
  wait: refused(() => mpi.wait(999_999, 1)),
};

out['allgatherJson'] = comm.allgatherJson({ rank, word: `r${rank}`, nested: [rank, { deep: rank * 2 }] });
out['broadcastJson'] = comm.broadcastJson({ from: rank, text: 'héllo' }, 1 % size);
comm.barrier();
out['stats'] = comm.stats;
distributed.finalize();
try {
  comm.barrier();
  out['afterFinalize'] = 'accepted';
} catch (e) {
  out['afterFinalize'] = (e as { code?: string }).code;
}
emitResult(rank, out);
