// A tiny recorded fit({ distributed: true }) on every rank for test/distributed/cluster-record.test.ts: each rank
// records into its own DIR/rank<r>, saves the model and publishes the run (card, signed ledger entry); rank 0
// verifies its directory. Every rank reports what it wrote and the record it holds.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../../src/index.js';
import { publishRun } from '../../../src/cards/publish.js';
import { verifyRun } from '../../../src/ledger/verify-run.js';
import { RunRecorder } from '../../../src/train/run-record-callback.js';
import { emitResult } from '../results.js';

// Run without arguments (the suite's runner runs every compiled file under test/), it does nothing.
if (process.argv.length < 3) process.exit(0);
const w = c.distributed.init({ timeoutMs: 30_000 });
const dir = join(process.argv[2], `rank${w.rank}`);
const x = new c.RandomStream(7).normal([24, 4], 0, 1, 'float32');
const y = c.tensor(
  Int32Array.from({ length: 24 }, (_, i) => i % 3),
  [24],
);
const model = new c.Sequential([
  c.layers.dense({ units: 6, activation: 'relu', inputShape: [4] }),
  c.layers.dense({ units: 3, activation: 'softmax' }),
]);
model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
const recorder = new RunRecorder({ dir, energy: { method: 'estimate' } });
await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 5, callbacks: [recorder], distributed: true });
await model.save(dir);
await publishRun(recorder, { dir });
const r = recorder.record;
const v = w.rank === 0 ? await verifyRun(dir) : undefined;
emitResult(w.rank, {
  rank: w.rank,
  chief: recorder.chief,
  files: existsSync(dir) ? readdirSync(dir).sort() : [],
  distributed: r.distributed,
  flops: r.compute.total.flops,
  cpuSeconds: r.training.cpuSeconds,
  joules: r.energy?.joules,
  ...(v ? { verify: { ok: v.ok, checks: v.checks.map((ch) => `${ch.check} ${ch.ok}: ${ch.detail}`) } } : {}),
});
c.distributed.finalize();
