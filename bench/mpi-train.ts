// One process of the data-parallel training benchmark (run by bench/distributed.ts): trains the bench's MNIST CNN
// on random images with fit, data-parallel across the ranks when started under mpirun, and times each step
// (onBatchEnd to onBatchEnd; the median after a warm-up). Every rank reads `globalBatch / size` rows per step, so
// 2 ranks and 1 process train on the same global batch. Rank 0 prints RESULT_TAG + {"seconds", "steps", ...}.
import * as c from '../src/index.js';
import { cnnModel } from './cnn-models.js';
import { RESULT_TAG } from './spec.js';
import type { TrainBenchArgs } from './distributed.js';

const args = JSON.parse(process.argv[2]) as TrainBenchArgs;
const w = c.distributed.init();
const { height, width, classes } = args.peer.cnn;
const batchSize = args.globalBatch / w.size;
const samples = args.globalBatch * (args.warmup + args.steps);
const x = c.randomUniform([samples, height, width, 1], { seed: 1 });
const y = c.tidy(() => c.cast(c.mul(c.randomUniform([samples], { seed: 2 }), classes), 'int32'));
const model = cnnModel(args.peer);
model.compile({
  optimizer: c.optimizers.adam({ learningRate: args.peer.learningRate }),
  loss: 'sparseCategoricalCrossentropy',
});
const ends: number[] = [];
await model.fit(x, y, {
  epochs: 1,
  batchSize,
  shuffle: false,
  verbose: 0,
  record: false,
  ...(w.size > 1 ? { distributed: true } : {}),
  callbacks: [
    { onTrainBegin: () => void ends.push(performance.now()), onBatchEnd: () => void ends.push(performance.now()) },
  ],
});
const steps = ends.slice(1 + args.warmup).map((t, i) => (t - ends[args.warmup + i]) / 1000);
steps.sort((a, b) => a - b);
const seconds = steps[Math.floor(steps.length / 2)];
if (w.rank === 0)
  console.log(
    RESULT_TAG +
      JSON.stringify({
        worldSize: w.size,
        threads: c.getNumThreads(),
        globalBatch: args.globalBatch,
        steps: steps.length,
        seconds,
        samplesPerSecond: args.globalBatch / seconds,
      }),
  );
c.dispose([x, y]);
c.distributed.finalize();
