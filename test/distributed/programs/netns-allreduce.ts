// Run under tools/netns-mpi.sh by test/distributed/netns.test.ts: each rank allreduces a typed array and a tensor
// (sum) and prints one JSON line with the results' largest error against the closed form, its host and the inode
// of its network namespace (so the test sees that the ranks ran in different namespaces). With --fit, a few
// data-parallel fit steps of a small dense model follow, and the line gains the trained weights' checksum
// (equal on every rank when the ranks stayed in step).
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

if (process.argv.includes('--fit')) {
  c.setSeed(rank + 1); // different on each rank: rank 0's initial weights must win the broadcast
  const model = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'tanh', inputShape: [4] }),
    c.layers.dense({ units: 1 }),
  ]);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
  const xs = c.randomUniform([64, 4], { seed: 3 });
  const ys = c.tidy(() => c.sum(xs, -1, true));
  await model.fit(xs, ys, { epochs: 1, batchSize: 8, seed: 5, verbose: 0, distributed: true });
  line.weightsChecksum = model
    .getWeights()
    .reduce((s, t) => s + Array.from(t.dataSync() as Float32Array).reduce((a, v, i) => a + v * (i + 1), 0), 0);
  c.dispose([xs, ys]);
}
line.bytesSent = w.comm.stats.bytesSent;
console.log(JSON.stringify(line));
c.distributed.finalize();
