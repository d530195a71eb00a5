// Run under tools/netns-mpi.sh by test/distributed/netns.test.ts: each rank allreduces a typed array and a tensor
// (sum) and prints one JSON line with the results' largest error against the closed form, its host and the inode
// of its network namespace (so the test sees that the ranks ran in different namespaces).
import { readlinkSync } from 'node:fs';
import * as c from '../../../src/index.js';

const w = c.distributed.init({ timeoutMs: 30_000 });
const { rank, size } = w;
// 2^18 floats (1 MiB): element i of rank r is (r + 1) * (i % 7); the sum over ranks is (i % 7) * size(size+1)/2.
const n = 1 << 18;
const buf = new Float32Array(n).map((_, i) => (rank + 1) * (i % 7));
w.comm.allreduceArray(buf, 'sum');
const ranks = (size * (size + 1)) / 2;
let arrayError = 0;
for (let i = 0; i < n; i++) arrayError = Math.max(arrayError, Math.abs(buf[i] - (i % 7) * ranks));

const x = c.tensor(
  Array.from({ length: 64 }, (_, i) => rank * 64 + i),
  [8, 8],
);
const mean = w.comm.allreduce(x, 'mean');
const expected = Array.from({ length: 64 }, (_, i) => i + (64 * (size - 1)) / 2);
const got = mean.dataSync();
const tensorError = Math.max(...expected.map((e, i) => Math.abs(got[i] - e)));
c.dispose([x, mean]);

const line: Record<string, unknown> = {
  rank,
  size,
  host: w.host,
  hosts: w.hosts,
  transport: w.transport,
  netns: readlinkSync('/proc/self/ns/net'),
  arrayError,
  tensorError,
};

line.bytesSent = w.comm.stats.bytesSent;
console.log(JSON.stringify(line));
c.distributed.finalize();
