// MNIST CNN trained data-parallel across MPI ranks (issue 17). `npm run example -- mnist-distributed [--np N]
// [--epochs E (4)] [--json] [--out DIR | --no-record] [--limit N] [--seed S]`. Started without mpirun, it runs itself
// again under `mpirun -np N` (default 2) and exits with mpirun's status; each rank trains on its share of every
// global batch of 128 (128 / N rows), rank 0 evaluates on the test set and publishes the run, whose record's
// `distributed` section shows every rank's work. --np 1 trains in this one process without MPI (the comparison).
// Threads per rank: CANDOR_NUM_THREADS, default the cores divided among the ranks.
import { spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as c from '../src/index.js';
import { firstSamples, mnistCnn, parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const NAME = 'mnist-distributed';
const GLOBAL_BATCH = 128;
const argv = process.argv.slice(2);
const npAt = argv.indexOf('--np');
const np = npAt >= 0 ? Number(argv[npAt + 1]) : 2;
if (!Number.isInteger(np) || np < 1 || GLOBAL_BATCH % np !== 0)
  throw new Error(`--np must be a positive integer dividing ${GLOBAL_BATCH} (the global batch), got ${argv[npAt + 1]}`);
/** Started by mpirun (or srun): then this process is one rank. */
const launched = c.distributed.launchedBy() !== undefined;

if (np > 1 && !launched) {
  // The launcher: this same script under mpirun. More ranks than cores need --oversubscribe and no core binding.
  const cores = availableParallelism();
  const mpirun = [
    ...(process.getuid?.() === 0 ? ['--allow-run-as-root'] : []),
    ...(np > cores ? ['--oversubscribe', '--bind-to', 'none'] : []),
    '-np',
    String(np),
    process.execPath,
    fileURLToPath(import.meta.url),
    ...argv,
  ];
  const threads = process.env.CANDOR_NUM_THREADS ?? String(Math.max(1, Math.floor(cores / np)));
  const r = spawnSync('mpirun', mpirun, { stdio: 'inherit', env: { ...process.env, CANDOR_NUM_THREADS: threads } });
  if (r.error) {
    console.error(
      `${NAME}: could not start mpirun (${r.error.message}). Install MPI (Debian: apt-get install openmpi-bin ` +
        'libopenmpi-dev, then rebuild with `npm run build:native`), or train in one process with --np 1.',
    );
    process.exit(1);
  }
  process.exit(r.status ?? 1);
}

const args = parseExampleArgs({ epochs: 4, name: NAME });
const world = c.distributed.init(); // without a launcher: the world of size 1, no MPI
if (GLOBAL_BATCH % world.size !== 0)
  throw new Error(`${NAME}: ${world.size} ranks do not divide the global batch of ${GLOBAL_BATCH} rows`);
const chief = c.distributed.isChief();
const { train, test } = await c.datasets.mnist({ flatten: false });
const part = firstSamples(train, args.limit);
const model = mnistCnn();
if (!args.json && chief) model.summary();
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
// Every rank records its own figures; at the end of fit they go to rank 0's recorder, which alone writes files.
const recorder = args.out ? new c.RunRecorder({ dir: args.out, name: NAME }) : undefined;
const start = performance.now();
await model.fit(part.x, part.y, {
  epochs: args.epochs,
  batchSize: GLOBAL_BATCH / world.size,
  verbose: chief ? args.verbose : 0,
  seed: args.seed,
  callbacks: recorder ? [recorder] : [],
  ...(world.size > 1 ? { distributed: true } : {}),
});
const seconds = (performance.now() - start) / 1000;

if (chief) {
  const figures = {
    example: NAME,
    worldSize: world.size,
    strategy: world.size > 1 ? 'data-parallel' : 'single-process',
    transport: world.transport,
    hosts: [...new Set(world.hosts)].length,
    threadsPerRank: c.getNumThreads(),
    globalBatch: GLOBAL_BATCH,
    epochs: args.epochs,
    seconds,
    samplesPerSec: (part.x.shape[0] * args.epochs) / seconds,
  };
  if (!recorder || !args.out) {
    const { loss, accuracy } = await model.evaluate(test.x, test.y, { batchSize: 256 });
    report(args.json, { ...figures, testAccuracy: accuracy, testLoss: loss });
  } else {
    const run = await recordRun(recorder, args.out, { model, test });
    const d = run.record.distributed;
    report(args.json, {
      ...figures,
      testAccuracy: run.test!.metrics.accuracy ?? NaN,
      testLoss: run.test!.metrics.loss ?? NaN,
      trainingFlops: run.record.compute.trainingFlops,
      energyJoules: run.record.energy!.joules,
      ...(d
        ? {
            rankSamples: d.ranks.map((r) => r.samples).join(','),
            bytesCommunicated: d.bytesCommunicated.sent + d.bytesCommunicated.received,
          }
        : {}),
      ...publishedFiles(run),
    });
  }
}
c.distributed.finalize();
