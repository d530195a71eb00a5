// One rank of a data-parallel fit (test/distributed/data-parallel.test.ts): each rank starts from its own weights
// and seed, which DataParallel replaces with rank 0's, trains EPOCHS epochs of `samples` rows at `batchSize` rows per
// rank, shuffled, and emits its final weights and epoch logs. Usage: data-parallel.js <samples> <batchSize>.
import * as c from '../../../src/index.js';
import { emitResult } from '../results.js';
import { EPOCHS, SEED, fixtureData, fixtureModel, summary } from '../data-parallel-fixture.js';

// Run without arguments (as the suite's runner does with every compiled file), a short one-process fit.
const [samples = 9, batchSize = 4] = process.argv.slice(2).map(Number);
const { rank, size } = c.distributed.init({ timeoutMs: 60_000 });
const model = fixtureModel(rank === 0 ? SEED : 1000 + rank);
const { x, y } = fixtureData(samples);
const history = await model.fit(x, y, {
  epochs: EPOCHS,
  batchSize,
  seed: rank === 0 ? SEED : 2000 + rank,
  verbose: 2,
  record: false,
  distributed: true,
});
emitResult(rank, { rank, size, steps: model.optimizer!.iterations, ...summary(model, history) });
c.distributed.finalize();
