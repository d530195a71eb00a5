// A small GPT trained on Moby Dick: byte-level BPE learnt on the training chapters, next-token training
// on random windows, validation perplexity on the held-out last chapters against a unigram model on the
// same tokens, a sample, and generation speed with and without the key/value cache.
// `--epochs N` passes over the training windows (default 1), `--json` for a final line with the figures,
// `--out DIR` (default runs/gpt-text: the model, run.json, card, ledger) / `--no-record`.
import * as c from '../src/index.js';
import { BpeTokenizer, mobyDick } from '../src/text/index.js';
import { GPT, generate } from '../src/models/gpt.js';
import { parseExampleArgs, publishedFiles, recordRun, report } from './common.js';

const { epochs, json, verbose, out, limit } = parseExampleArgs({ epochs: 1, name: 'gpt-text' });
const VOCAB = 2048,
  CONTEXT = 128,
  BATCH = 8;
// 600 steps of 8 windows of 128 tokens per epoch: ~614k tokens, ~1.8 passes over the text (fewer with --limit).
const TRAIN_WINDOWS = Math.min(limit ?? 4800, 4800);
const VAL_FRACTION = 0.1; // the last ~10% of the book (by characters) is held out

// Held-out text: the last chapters, so no window of it was seen in training.
const { chapters } = await mobyDick();
const total = chapters.reduce((s, ch) => s + ch.text.length, 0);
let cut = chapters.length;
for (let held = 0; held < VAL_FRACTION * total;) held += chapters[--cut].text.length;
const trainText = chapters
  .slice(0, cut)
  .map((ch) => ch.text)
  .join('\n\n');
const valText = chapters
  .slice(cut)
  .map((ch) => ch.text)
  .join('\n\n');

let t0 = performance.now();
const bpe = BpeTokenizer.train(trainText, { vocabSize: VOCAB });
const bpeSeconds = (performance.now() - t0) / 1000;
const trainIds = Int32Array.from(bpe.encode(trainText));
const valIds = Int32Array.from(bpe.encode(valText));
const bytesPerToken = new TextEncoder().encode(trainText).length / trainIds.length;
if (!json)
  console.log(
    `BPE: ${bpe.vocabSize} tokens learnt in ${bpeSeconds.toFixed(2)} s; ${trainIds.length} training and ` +
      `${valIds.length} held-out tokens (${bytesPerToken.toFixed(2)} bytes/token)`,
  );

/** Rows of CONTEXT + 1 tokens starting at `starts`: inputs are the first CONTEXT, targets the last CONTEXT. */
function windows(ids: Int32Array, starts: ArrayLike<number>): { x: c.Tensor; y: c.Tensor } {
  const n = starts.length,
    x = new Int32Array(n * CONTEXT),
    y = new Int32Array(n * CONTEXT);
  for (let r = 0; r < n; r++) {
    x.set(ids.subarray(starts[r], starts[r] + CONTEXT), r * CONTEXT);
    y.set(ids.subarray(starts[r] + 1, starts[r] + CONTEXT + 1), r * CONTEXT);
  }
  return { x: c.tensor(x, [n, CONTEXT]), y: c.tensor(y, [n, CONTEXT]) };
}
// Training windows start anywhere (seeded); held-out windows tile the held-out text without overlap.
const starts = new c.RandomStream(1)
  .uniform([TRAIN_WINDOWS], 0, trainIds.length - CONTEXT - 1, 'float64')
  .dataSync()
  .map(Math.floor);
const train = windows(trainIds, starts);
const val = windows(
  valIds,
  Array.from({ length: Math.floor((valIds.length - 1) / CONTEXT) }, (_, i) => i * CONTEXT),
);

c.setSeed(42);
const model = new GPT({
  vocabSize: VOCAB,
  contextLength: CONTEXT,
  hiddenDim: 128,
  numHeads: 4,
  numLayers: 2,
  seed: 42,
});
if (!json) model.summary();
const steps = Math.ceil(TRAIN_WINDOWS / BATCH) * epochs;
const WARMUP = Math.min(40, Math.floor(steps / 2)); // 40 but for a --limit run of few steps
const learningRate = c.schedules.cosineDecay({
  initialLearningRate: 0,
  warmupTarget: 3e-3,
  warmupSteps: WARMUP,
  decaySteps: steps - WARMUP,
  alpha: 0.1,
});
model.compile({
  optimizer: c.optimizers.adam({ learningRate, globalClipnorm: 1 }),
  loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
});
t0 = performance.now();
await model.fit(train.x, train.y, { epochs, batchSize: BATCH, verbose, seed: 42, record: { name: 'gpt-text' } });
const trainSeconds = (performance.now() - t0) / 1000;

// Unigram baseline: token frequencies of the training text (add-one smoothed), scored on exactly the
// tokens the GPT predicted above.
const counts = new Float64Array(VOCAB).fill(1);
for (const id of trainIds) counts[id]++;
const norm = trainIds.length + VOCAB;
let nll = 0;
const targets = val.y.dataSync();
for (const id of targets) nll -= Math.log(counts[id] / norm);
const unigramPerplexity = Math.exp(nll / targets.length);

// The held-out loss; with a run directory, recorded with the baseline, the model saved and the card written.
const heldOut = { name: 'held-out chapters', x: val.x, y: val.y, classifier: false, batchSize: 32 };
const run = out
  ? await recordRun(model.runRecorder!, out, {
      model,
      test: heldOut,
      evaluations: { 'unigram baseline, held-out chapters': { perplexity: unigramPerplexity } },
    })
  : undefined;
const valLoss = run ? run.test!.metrics.loss! : (await model.evaluate(val.x, val.y, { batchSize: 32 })).loss;

// A sample, then the same generation with and without the cache (same tokens, different cost).
const prompt = bpe.encode('The whale');
const sampling = { maxNewTokens: CONTEXT - prompt.length, temperature: 0.8, topK: 40, seed: 7 };
t0 = performance.now();
const sample = generate(model, prompt, sampling);
const cachedSeconds = (performance.now() - t0) / 1000;
t0 = performance.now();
const uncached = generate(model, prompt, { ...sampling, useCache: false });
const uncachedSeconds = (performance.now() - t0) / 1000;
const text = bpe.decode([...prompt, ...sample]);
console.log(`--- sample (temperature 0.8, top-k 40) ---\n${text}\n---`);

report(json, {
  example: 'gpt-text',
  valLoss,
  valPerplexity: Math.exp(valLoss),
  unigramPerplexity,
  trainTokensPerSec: (TRAIN_WINDOWS * CONTEXT * epochs) / trainSeconds,
  genTokensPerSec: sample.length / cachedSeconds,
  genTokensPerSecUncached: uncached.length / uncachedSeconds,
  cacheSpeedup: uncachedSeconds / cachedSeconds,
  cachedMatchesUncached: String(sample.every((t, i) => t === uncached[i])),
  params: model.countParams(),
  vocabSize: bpe.vocabSize,
  contextLength: CONTEXT,
  trainTokens: trainIds.length,
  valTokens: targets.length,
  epochs,
  trainSeconds,
  bpeSeconds,
  ...publishedFiles(run),
});
