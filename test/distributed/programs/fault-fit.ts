// Under mpirun (test/distributed/faults.test.ts): a small data-parallel fit with BackupAndRestore (a backup every 2
// global batches), in one of three modes. 'plain': no backup, the reference weights. 'crash': rank 1 writes its pid
// to <dir>/rank1.pid at epoch 2, batch 3 and waits there to be killed (kill -9 mid-epoch, after the backup of
// epoch 2's first 2 batches). 'resume': the same fit again, which must go on from that backup. 'hang': rank 1 stops
// itself (SIGSTOP) at epoch 1, batch 1, so rank 0's next collective times out. Rank 0 reports the final weights.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The modules it needs, not the whole package: half the start-up time of each rank.
import '../../../src/backends/js/index.js';
import '../../../src/backends/native/index.js';
import * as distributed from '../../../src/distributed/index.js';
import * as o from '../../../src/ops/index.js';
import { tidy } from '../../../src/tensor/storage.js';
import { adam } from '../../../src/optim/index.js';
import { Sequential } from '../../../src/train/sequential.js';
import { Dense } from '../../../src/nn/layers/dense.js';
import { Dropout } from '../../../src/nn/layers/dropout.js';
import { BackupAndRestore } from '../../../src/train/backup-and-restore.js';
import type { Callback } from '../../../src/train/callbacks.js';
import { emitResult } from '../results.js';

// Run without arguments (the suite's runner runs every compiled file under test/), it does nothing.
if (process.argv.length < 3) process.exit(0);
const [mode, dir] = process.argv.slice(2);
const w = distributed.init();
const started = Date.now();

/** Rank 1 stops at (epoch, batch): 'wait' to be killed, 'stop' as a hung process. */
function stopAt(epoch: number, batch: number, how: 'wait' | 'stop'): Callback {
  let current = -1;
  return {
    onEpochBegin: (e) => void (current = e),
    onBatchBegin: async (b) => {
      if (w.rank !== 1 || current !== epoch || b !== batch) return;
      writeFileSync(join(dir, 'rank1.pid'), String(process.pid));
      if (how === 'stop') process.kill(process.pid, 'SIGSTOP');
      await new Promise((resolve) => setTimeout(resolve, 120_000));
    },
  };
}

const x = new o.RandomStream(3).uniform([32, 3], -1, 1);
const y = tidy(() => o.sum(o.mul(x, o.tensor([1, -2, 0.5])), -1, true));
o.setSeed(1); // the same initial weights and dropout seed in every run of the job
const model = new Sequential([
  new Dense({ units: 8, activation: 'relu', inputShape: [3] }),
  new Dropout({ rate: 0.2 }),
  new Dense({ units: 1 }),
]);
model.compile({ optimizer: adam({ learningRate: 0.01 }), loss: 'mse' });
const callbacks: Callback[] = [];
if (mode !== 'plain') callbacks.push(new BackupAndRestore({ backupDir: join(dir, 'backup'), saveFreq: 2 }));
if (mode === 'crash') callbacks.push(stopAt(2, 3, 'wait'));
if (mode === 'hang') callbacks.push(stopAt(1, 1, 'stop'));
try {
  // 2 ranks x 4 rows: 4 global batches an epoch.
  const history = await model.fit(x, y, { epochs: 4, batchSize: 4, verbose: 0, distributed: true, callbacks });
  emitResult(w.rank, {
    rank: w.rank,
    epochs: history.epoch,
    weights: model.weights.map((v) => Array.from(v.value.dataSync())),
  });
} catch (e) {
  const error = e as Error & { code?: string };
  const seconds = (Date.now() - started) / 1000;
  emitResult(w.rank, {
    rank: w.rank,
    error: error.constructor.name,
    code: error.code,
    message: error.message,
    seconds,
  });
  process.exitCode = 1;
}
