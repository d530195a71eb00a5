// Trains under the parameter server and emits each rank's weights and figures (a row per rank):
//   mpirun -np 3|4 ... parameter-server.js sync S     2 workers (5 and 3 of each 8 rows) + S servers, 20 Adam steps
//   mpirun -np 3 ... parameter-server.js async S K    2 workers + S servers, staleness K, on a small MNIST subset
// The ranks drive the strategy as fit does: begin; then serve (servers) or applyGradients each step; then end.
import * as c from '../../../src/index.js';
import * as distributed from '../../../src/distributed/index.js';
import { ParameterServer } from '../../../src/distributed/parameter-server.js';
import type { FitStrategyContext } from '../../../src/train/strategy.js';
import { emitResult } from '../results.js';
import { BATCH, FIRST, STEPS, problem, step, weightsOf } from '../ps-fixture.js';

const [mode = 'sync', servers = '1', staleness = '2'] = process.argv.slice(2);

type Batch = (t: number, worker: number) => { x: c.Tensor; y: c.Tensor };

/** fit's calls on the strategy: begin; serve on servers; steps on workers; end everywhere. Returns the losses. */
async function drive(
  strategy: ParameterServer,
  ctx: FitStrategyContext,
  steps: number,
  batch: Batch,
  pause?: () => void,
): Promise<number[]> {
  const losses: number[] = [];
  if ((await strategy.begin(ctx)) === 'serve') await strategy.serve();
  else
    for (let t = 0; t < steps; t++) {
      const { x, y } = batch(t, strategy.rank);
      losses.push(
        step(ctx.model as c.Sequential, x, y, (grads) =>
          strategy.applyGradients(grads, ctx.model.trainableWeights, ctx.optimizer, x.shape[0]),
        ),
      );
      c.dispose([x, y]);
      pause?.();
    }
  await strategy.end();
  return losses;
}

/** The fixture's 20 steps; the two workers take 5 and 3 rows of each global batch (rows-weighted averaging). */
async function sync(strategy: ParameterServer): Promise<Record<string, unknown>> {
  // Ranks other than 0 draw other initial weights: begin must give every worker rank 0's.
  const { model, optimizer, rows } = problem(strategy.rank === 0 ? 1 : 2);
  const ctx = { model, optimizer, epochs: 1, initialEpoch: 0, batchSize: FIRST, seed: 1 };
  await drive(strategy, ctx, STEPS, (t, w) => (w === 0 ? rows(t, 0, FIRST) : rows(t, FIRST, BATCH)));
  if (strategy.role === 'server') return {};
  return { weights: weightsOf(model), steps: strategy.steps, samples: strategy.samples };
}

/** Async training of a small MLP on 4,000 MNIST digits (2,000 per worker, batch 32); worker 1 is slowed down. */
async function mnistAsync(strategy: ParameterServer): Promise<Record<string, unknown>> {
  const STEPS = 60,
    BATCH = 32,
    PER_WORKER = 2000;
  c.setSeed(3);
  const model = new c.Sequential([
    c.layers.dense({ units: 64, activation: 'relu', inputShape: [784] }),
    c.layers.dense({ units: 10 }),
  ]);
  model.build([null, 784]);
  const optimizer = c.optimizers.adam({ learningRate: 0.002 });
  const ctx = { model, optimizer, epochs: 1, initialEpoch: 0, batchSize: BATCH, seed: 3 };
  // Servers read no data.
  const data = strategy.role === 'worker' ? await c.datasets.mnist() : undefined;
  const batch: Batch = (t, w) => {
    const from = w * PER_WORKER + ((t * BATCH) % PER_WORKER);
    return {
      x: c.sliceAxis(data!.train.x, 0, from, from + BATCH),
      y: c.sliceAxis(data!.train.y, 0, from, from + BATCH),
    };
  };
  // A slow worker, so that the fast one runs ahead until the staleness bound holds it back.
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const pause = strategy.rank === 1 ? () => void Atomics.wait(sleeper, 0, 0, 15) : undefined;
  const losses = await drive(strategy, ctx, STEPS, batch, pause);
  if (!data) return {};
  const accuracy = c.tidy(() => {
    const x = c.sliceAxis(data.test.x, 0, 0, 1000),
      y = c.sliceAxis(data.test.y, 0, 0, 1000);
    const predicted = c.argmax(model.apply(x) as c.Tensor, -1).dataSync();
    const labels = y.dataSync();
    let right = 0;
    for (let i = 0; i < 1000; i++) if (predicted[i] === labels[i]) right++;
    return right / 1000;
  });
  return { losses, accuracy, weights: weightsOf(model) };
}

const world = distributed.init({ timeoutMs: 60_000 });
const strategy = new ParameterServer({
  servers: Number(servers),
  mode: mode as 'sync' | 'async',
  staleness: Number(staleness),
});
const row = mode === 'sync' ? await sync(strategy) : await mnistAsync(strategy);
emitResult(world.rank, {
  ...row,
  rank: world.rank,
  role: strategy.role,
  stats: world.comm.stats,
  observed: strategy.observed,
});
distributed.finalize();
