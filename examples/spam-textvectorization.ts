// Spam filter on raw email strings: TextVectorization (tf_idf, adapted on the training emails) ->
// Dense(relu) -> Dropout -> Dense(sigmoid), all in one model that takes JS strings in fit, evaluate and
// predict. The model is saved with its vocabulary and idf weights (in model.json), reloaded, and the
// reloaded copy predicts on the held-out strings. `--epochs N` (default 3), `--json` for a final line
// with the held-out accuracy, the vocabulary size and whether the reloaded model agrees, `--out DIR` (default
// runs/spam-textvectorization: the model, run.json, card, ledger; reloaded from there) / `--no-record`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../src/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';
import { spamSplit } from './spam-data.js';

const { epochs, json, verbose, out, limit } = parseExampleArgs({ epochs: 3, name: 'spam-textvectorization' });
const MAX_TOKENS = 10000; // the OOV index plus the 9,999 most frequent words of the training emails
const HEAD_CHARS = 2000; // the start of each body: enough to tell spam apart, and fast to vectorize

const { train, test } = await spamSplit(HEAD_CHARS, limit);

// The vocabulary and document frequencies come from the training emails only.
const vectorize = c.layers.textVectorization({ maxTokens: MAX_TOKENS, outputMode: 'tf_idf' });
vectorize.adapt(train.texts);

const model = new c.Sequential([
  vectorize,
  c.layers.dense({ units: 32, activation: 'relu' }),
  c.layers.dropout({ rate: 0.3 }),
  c.layers.dense({ units: 1, activation: 'sigmoid' }),
]);
model.compile({
  optimizer: c.optimizers.adam({ learningRate: 1e-3 }),
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
});
const start = performance.now();
await model.fit(train.texts, train.y, {
  epochs,
  batchSize: 64,
  verbose,
  seed: 42,
  record: { name: 'spam-textvectorization' },
});
const seconds = (performance.now() - start) / 1000;
if (!json) model.summary();
const m = await model.evaluate(test.texts, test.y, { batchSize: 256, verbose: 0 });
// Recording: the held-out figures (raw strings have no tensor to fingerprint), the model saved in `out`, the card.
const run = out
  ? await recordRun(model.runRecorder!, out, { model, evaluations: { 'test (held-out emails)': m } })
  : undefined;

// Save (architecture with the vocabulary, weights), reload, and predict on the raw held-out strings.
const dir = mkdtempSync(join(tmpdir(), 'candor-spam-tv-'));
let agreement: number, maxDifference: number;
try {
  const saved = out ?? dir;
  if (!out) await model.save(saved);
  const reloaded = await c.loadModel(saved);
  const probs = (m: c.Model) => {
    const p = m.predict(test.texts, { batchSize: 256 }) as c.Tensor;
    const values = Array.from(p.dataSync());
    p.dispose();
    return values;
  };
  const before = probs(model),
    after = probs(reloaded);
  maxDifference = before.reduce((d, v, i) => Math.max(d, Math.abs(v - after[i])), 0);
  agreement = before.filter((v, i) => v > 0.5 === after[i] > 0.5).length / before.length;
  if (!json) {
    const samples = ['Congratulations! You have WON a FREE prize, click here now', 'Meeting notes for tomorrow'];
    const p = (reloaded.predict(samples) as c.Tensor).dataSync();
    samples.forEach((s, i) => console.log(`p(spam) ${p[i].toFixed(3)}  "${s}"`));
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
report(json, {
  example: 'spam-textvectorization',
  accuracy: m.accuracy,
  testLoss: m.loss,
  vocabSize: vectorize.vocabularySize(),
  reloadAgreement: agreement,
  reloadMaxDifference: maxDifference,
  trainEmails: train.texts.length,
  testEmails: test.texts.length,
  epochs,
  seconds,
  ...publishedFiles(run),
});
