// One rank of a small data-parallel fit where the ranks could part ways (test/distributed/fit-agreement.test.ts):
// 'stop', a NaN label only rank 1 reads, with TerminateOnNaN; 'noinit', fit({ distributed: true }) without
// distributed.init(); 'init', the same with it; 'resume-a' / 'resume-b', a backup taken mid-epoch (30 rows: the last
// global batch is uneven) and the fit resumed from it; 'whole', the same fit uninterrupted.
// Usage: fit-agreement.js <mode> [backupDir]. Without arguments (the suite runs every compiled file) it does nothing.
import * as c from '../../../src/index.js';
import { emitResult } from '../results.js';

const [mode, dir] = process.argv.slice(2);
if (mode) {
  const rank = Number(process.env.OMPI_COMM_WORLD_RANK ?? 0);
  if (mode !== 'noinit') c.distributed.init({ timeoutMs: 20_000 });
  c.setSeed(5);
  const model = new c.Sequential([new c.Dense({ units: 3, inputShape: [2] }), new c.Dense({ units: 1 })]);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'mse' });
  const n = mode === 'stop' ? 16 : 30;
  const xs: number[] = [],
    ys: number[] = [];
  // Row 1 goes to rank 1 (strided shards, no shuffle): its loss alone becomes NaN.
  for (let i = 0; i < n; i++) (xs.push(i / n, 1 - i / n), ys.push(mode === 'stop' && i === 1 ? NaN : i / n));
  const x = c.tensor(xs, [n, 2]),
    y = c.tensor(ys, [n, 1]);
  const resuming = mode.startsWith('resume');
  const callbacks = resuming
    ? [new c.BackupAndRestore({ backupDir: dir, saveFreq: 3, deleteCheckpoint: false })]
    : mode === 'stop'
      ? [new c.TerminateOnNaN()]
      : [];
  try {
    const history = await model.fit(x, y, {
      epochs: mode === 'resume-a' ? 1 : 2,
      batchSize: 4,
      shuffle: mode !== 'stop',
      verbose: 0,
      record: false,
      distributed: true,
      callbacks,
      seed: 1,
    });
    const weights = model.getWeights().map((w) => Array.from(w.dataSync()));
    const { size } = c.distributed.world();
    emitResult(rank, { rank, size, epochs: history.epoch, steps: model.optimizer!.iterations, weights });
  } catch (e) {
    emitResult(rank, { rank, error: `${(e as Error).name}: ${(e as Error).message}` });
  }
  c.distributed.finalize();
}
