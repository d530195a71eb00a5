// One rank of a fit under the parameter server (test/distributed/parameter-server.test.ts); emits its figures:
//   mpirun -np 3|4 ... parameter-server.js sync S      2 workers + S servers: the fixture's EPOCHS epochs, batch 4
//   mpirun -np 3 ... parameter-server.js async S K     2 workers + S servers, staleness K, on 4,000 MNIST digits
//   mpirun -np 3 ... parameter-server.js sync|async S K DIR   the fixture's fit, recorded (fit's own RunRecorder)
//                                                       into DIR/rank<r>; workers save and publish, rank 0 verifies
// Ranks other than 0 start from other weights and seeds: begin must replace them with rank 0's.
import * as c from '../../../src/index.js';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { publishRun } from '../../../src/cards/publish.js';
import { verifyRun } from '../../../src/ledger/verify-run.js';
import { emitResult } from '../results.js';
import { EPOCHS, SEED, problem, weightsOf } from '../ps-fixture.js';

// Run without arguments (the suite's runner runs every compiled file under test/), it does nothing.
if (process.argv.length < 3) process.exit(0);
const [mode = 'sync', servers = '1', staleness = '2', recordIn] = process.argv.slice(2);

/** The fixture's fit; with `dir`, recorded there by the RunRecorder fit adds. */
async function small(strategy: c.distributed.ParameterServer, dir?: string): Promise<Record<string, unknown>> {
  const rank = strategy.rank;
  const { model, x, y } = problem(rank === 0 ? 1 : 2);
  const history = await model.fit(x, y, {
    epochs: EPOCHS,
    batchSize: 4,
    seed: rank === 0 ? SEED : 77,
    verbose: 0,
    record: dir === undefined ? false : { dir, energy: { method: 'estimate' } },
    distributed: strategy,
  });
  if (dir !== undefined) return recorded(model, dir, strategy);
  if (strategy.role === 'server') return {};
  return {
    weights: weightsOf(model),
    loss: history.history.loss,
    iterations: model.optimizer!.iterations,
    samples: strategy.samples,
  };
}

/** What a recorded fit left: the files in its directory, the record each worker holds, rank 0's verification. */
async function recorded(model: c.Model, dir: string, strategy: c.distributed.ParameterServer) {
  const recorder = model.runRecorder;
  // What fit itself wrote, before publishing rewrites it.
  const fitWrote = existsSync(join(dir, 'run.json'));
  if (strategy.role === 'worker') {
    await model.save(dir);
    await publishRun(recorder!, { dir });
  }
  const r = strategy.role === 'worker' ? recorder!.record : undefined;
  const v = strategy.rank === 0 ? await verifyRun(dir) : undefined;
  return {
    fitWrote,
    files: existsSync(dir) ? readdirSync(dir).sort() : [],
    distributed: r?.distributed,
    flops: r?.compute.total.flops,
    ...(v ? { verify: { ok: v.ok, checks: v.checks.map((ch) => `${ch.check} ${ch.ok}: ${ch.detail}`) } } : {}),
  };
}

/** A small MLP on 4,000 MNIST digits (2,000 per worker, batch 32, one epoch); worker 1 is slowed down. */
async function mnistAsync(strategy: c.distributed.ParameterServer): Promise<Record<string, unknown>> {
  c.setSeed(3);
  const model = new c.Sequential([
    c.layers.dense({ units: 64, activation: 'relu', inputShape: [784] }),
    c.layers.dense({ units: 10 }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.002 }),
    loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
  });
  const { train, test } = await c.datasets.mnist();
  const x = c.sliceAxis(train.x, 0, 0, 4000),
    y = c.sliceAxis(train.y, 0, 0, 4000);
  const losses: number[] = [];
  // A slow worker, so that the fast one runs ahead until the staleness bound holds it back.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const callbacks = [
    {
      onBatchEnd: (_: number, logs: c.Logs) => {
        if (logs.batchLoss !== undefined) losses.push(logs.batchLoss);
        if (strategy.rank === 1) Atomics.wait(sleeper, 0, 0, 15);
      },
    },
  ];
  await model.fit(x, y, {
    epochs: 1,
    batchSize: 32,
    seed: 3,
    verbose: 0,
    record: false,
    callbacks,
    distributed: strategy,
  });
  if (strategy.role === 'server') return {};
  const accuracy = c.tidy(() => {
    const predicted = c.argmax(model.apply(c.sliceAxis(test.x, 0, 0, 1000)) as c.Tensor, -1).dataSync();
    const labels = c.sliceAxis(test.y, 0, 0, 1000).dataSync();
    let right = 0;
    for (let i = 0; i < 1000; i++) if (predicted[i] === labels[i]) right++;
    return right / 1000;
  });
  return { losses, accuracy, weights: weightsOf(model) };
}

const world = c.distributed.init({ timeoutMs: 60_000 });
const strategy = new c.distributed.ParameterServer({
  servers: Number(servers),
  mode: mode === 'async' ? 'async' : 'sync',
  staleness: Number(staleness),
});
const row =
  recordIn !== undefined
    ? await small(strategy, join(recordIn, `rank${world.rank}`))
    : mode === 'sync'
      ? await small(strategy)
      : await mnistAsync(strategy);
emitResult(world.rank, {
  ...row,
  rank: world.rank,
  role: strategy.role,
  stats: world.comm.stats,
  observed: strategy.observed,
});
c.distributed.finalize();
