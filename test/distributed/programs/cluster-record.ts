// A tiny recorded fit on every rank for test/distributed/cluster-record.test.ts: each rank records into its own
// DIR/rank<r>, saves the model and publishes the run (card, signed ledger entry); rank 0 verifies its directory.
// fit({ distributed: true }) where fit has it (distributed.DataParallel); else a stand-in: a minimal FitStrategy handed
// to the recorder through fit's params, and a callback that averages the weights over the ranks after every step.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../../src/index.js';
import { publishRun } from '../../../src/cards/publish.js';
import { verifyRun } from '../../../src/ledger/verify-run.js';
import { RunRecorder } from '../../../src/train/run-record-callback.js';
import type { FitParams } from '../../../src/train/callbacks.js';
import type { FitStrategy } from '../../../src/train/strategy.js';
import { emitResult } from '../results.js';

const w = c.distributed.init({ timeoutMs: 30_000 });
const dir = join(process.argv[2], `rank${w.rank}`);
const strategy = {
  name: 'data-parallel',
  rank: w.rank,
  worldSize: w.size,
  chief: w.rank === 0,
  shard: { index: w.rank, count: w.size },
} as FitStrategy;

class ClusterRecorder extends RunRecorder {
  override setParams(params: FitParams): void {
    super.setParams({ ...params, strategy });
  }
}

const g = new c.RandomStream(7);
const x = g.normal([24, 4], 0, 1, 'float32');
const y = c.tensor(
  Int32Array.from({ length: 24 }, (_, i) => i % 3),
  [24],
);
const model = new c.Sequential([
  c.layers.dense({ units: 6, activation: 'relu', inputShape: [4] }),
  c.layers.dense({ units: 3, activation: 'softmax' }),
]);
model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
const wired = 'DataParallel' in c.distributed;
const options = { dir, energy: { method: 'estimate' } } as const;
const recorder = wired ? new RunRecorder(options) : new ClusterRecorder(options);
const average = {
  onBatchEnd: () => {
    for (const v of model.trainableWeights) v.assign(w.comm.allreduce(v.value, 'mean'));
  },
};
const args = { epochs: 1, batchSize: 8, verbose: 0, seed: 5 };
await model.fit(
  x,
  y,
  (wired
    ? { ...args, callbacks: [recorder], distributed: true }
    : { ...args, callbacks: [recorder, average] }) as Parameters<typeof model.fit>[2],
);
await model.save(dir);
await publishRun(recorder, { dir });
const r = recorder.record;
const v = w.rank === 0 ? await verifyRun(dir) : undefined;
emitResult(w.rank, {
  rank: w.rank,
  wired,
  chief: recorder.chief,
  files: existsSync(dir) ? readdirSync(dir).sort() : [],
  distributed: r.distributed,
  flops: r.compute.total.flops,
  cpuSeconds: r.training.cpuSeconds,
  joules: r.energy?.joules,
  ...(v ? { verify: { ok: v.ok, checks: v.checks.map((ch) => `${ch.check} ${ch.ok}: ${ch.detail}`) } } : {}),
});
c.distributed.finalize();
