// MNIST CNN: Conv 32 -> max-pool -> Conv 64 -> max-pool -> Flatten -> Dropout 0.5 -> Dense 10 softmax
// (the Keras example), Adam, batch 128. `--epochs N` (default 3), `--json` for a final JSON line, `--out DIR`
// (default runs/mnist-cnn: the model, run.json, card, ledger) / `--no-record`, `--limit N` training images.
import * as c from '../src/index.js';
import { mnistCnn, parseExampleArgs, trainAndReport } from './common.js';

const args = parseExampleArgs({ epochs: 3, name: 'mnist-cnn' });
const { train, test } = await c.datasets.mnist({ flatten: false });

const model = mnistCnn();
await trainAndReport('mnist-cnn', model, { train, test }, { ...args, batchSize: 128 });
