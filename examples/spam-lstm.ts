// Spam filter on the real SpamAssassin emails: Tokenizer -> padSequences -> Embedding(maskZero) ->
// Bidirectional(LSTM) -> Dense(sigmoid), trained on 80% of the emails and scored on the held-out 20%.
// `--epochs N` (default 2), `--json` for a final line with accuracy, precision, recall and f1 on the
// held-out emails, `--out DIR` (default runs/spam-lstm: the model, run.json, card, ledger) / `--no-record`.
import * as c from '../src/index.js';
import { Tokenizer, padSequences } from '../src/text/index.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';
import { spamSplit } from './spam-data.js';

const { epochs, json, verbose, out, limit } = parseExampleArgs({ epochs: 2, name: 'spam-lstm' });
const VOCAB = 8000; // numWords: the 7,999 most frequent words of the training emails, plus the oov index
const MAXLEN = 80; // tokens kept per email (its first ones: subject, then the start of the body)
const HEAD_CHARS = 2000; // only the start of each email is tokenised; enough for MAXLEN words

const { train, test, testSpam } = await spamSplit(HEAD_CHARS, limit);

// The vocabulary comes from the training emails only; held-out words it lacks become the oov index.
const tokenizer = new Tokenizer({ numWords: VOCAB, oovToken: '<oov>' });
tokenizer.fitOnTexts(train.texts);
const encode = (t: string[]) => padSequences(tokenizer.textsToSequences(t), { maxlen: MAXLEN, truncating: 'post' });
const xTrain = encode(train.texts),
  xTest = encode(test.texts);

c.setSeed(42);
const model = new c.Sequential([
  c.layers.embedding({ inputDim: VOCAB, outputDim: 32, maskZero: true, inputShape: [MAXLEN] }),
  c.layers.bidirectional({ layer: c.layers.lstm({ units: 16 }) }),
  c.layers.dense({ units: 1, activation: 'sigmoid' }),
]);
if (!json) model.summary();
model.compile({
  optimizer: c.optimizers.adam({ learningRate: 3e-3 }),
  loss: 'binaryCrossentropy',
  metrics: ['accuracy', c.metrics.precision(), c.metrics.recall(), c.metrics.f1Score({ name: 'f1' })],
});
const start = performance.now();
await model.fit(xTrain, train.y, {
  epochs,
  batchSize: 64,
  validationData: [xTest, test.y],
  verbose,
  seed: 42,
  record: { name: 'spam-lstm' },
});
const seconds = (performance.now() - start) / 1000;
const m = await model.evaluate(xTest, test.y, { batchSize: 256 });
const run = out ? await recordRun(model.runRecorder!, out, { model, test: { x: xTest, y: test.y } }) : undefined;
report(json, {
  example: 'spam-lstm',
  accuracy: m.accuracy,
  precision: m.precision,
  recall: m.recall,
  f1: m.f1,
  testLoss: m.loss,
  trainEmails: xTrain.shape[0],
  testEmails: xTest.shape[0],
  testSpam,
  epochs,
  seconds,
  samplesPerSec: (xTrain.shape[0] * epochs) / seconds,
  ...publishedFiles(run),
});
