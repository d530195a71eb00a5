// For test/distributed/chief-writes.test.ts, under mpirun: a fit({ distributed: true, record: false }) on every rank
// with a CSVLogger into one shared file, ModelCheckpoint({ saveWeightsOnly: true }), TensorBoard and a final
// model.save into the rank's own DIR/rank<r>. Each rank reports writesFiles() and what its directory holds.
// Without arguments (node --test runs every compiled file under test/) it does nothing.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../../src/index.js';
import { emitResult } from '../results.js';

const root = process.argv[2];
if (root !== undefined) {
  const w = c.distributed.init({ timeoutMs: 30_000 });
  const dir = join(root, `rank${w.rank}`);
  mkdirSync(dir, { recursive: true });
  const x = new c.RandomStream(7).normal([16, 3], 0, 1, 'float32');
  const y = new c.RandomStream(8).normal([16, 1], 0, 1, 'float32');
  const model = new c.Sequential([c.layers.dense({ units: 1, inputShape: [3] })]);
  model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
  const callbacks = [
    new c.CSVLogger(join(root, 'log.csv')),
    new c.ModelCheckpoint({ filepath: join(dir, 'ckpt-{epoch}.safetensors'), saveWeightsOnly: true }),
    new c.TensorBoard({ logDir: join(dir, 'tb') }),
  ];
  const fit = { epochs: 2, batchSize: 4, verbose: 0, seed: 3, callbacks, distributed: true, record: false } as const;
  await model.fit(x, y, fit);
  await model.save(join(dir, 'model'));
  emitResult(w.rank, { rank: w.rank, writesFiles: c.distributed.writesFiles(), files: readdirSync(dir).sort() });
  c.distributed.finalize();
}
