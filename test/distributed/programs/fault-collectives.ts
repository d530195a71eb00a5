// Under mpirun (test/distributed/faults.test.ts): every rank allreduces in a loop, as training steps would, and at
// step 3 rank 1 writes its pid to <dir>/rank1.pid, then 'hang': stops itself (SIGSTOP), as a hung process would;
// 'kill': goes on until the test kills it (kill -9). Each rank reports how its loop ended.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../../src/index.js';
import { emitResult } from '../results.js';

const [mode, dir] = process.argv.slice(2);
const w = c.distributed.init();
const started = Date.now();
try {
  for (let step = 0; step < 100_000; step++) {
    if (w.rank === 1 && step === 3) {
      writeFileSync(join(dir, 'rank1.pid'), String(process.pid));
      if (mode === 'hang') process.kill(process.pid, 'SIGSTOP');
    }
    const x = new Float32Array([w.rank + step]);
    w.comm.allreduceArray(x, 'sum');
    if (x[0] !== 2 * step + 1) throw new Error(`step ${step}: allreduce gave ${x[0]}, expected ${2 * step + 1}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  emitResult(w.rank, { rank: w.rank, finished: true });
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
