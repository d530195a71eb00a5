// MNIST compression: the Keras MNIST CNN trained in float32, then pruned (50/80/90% by magnitude during two epochs
// of fine-tuning, and structurally to half its filters), quantised to int8 after training (calibrated on 1,000
// training images) and by quantisation-aware training; each variant's test accuracy, weights-file bytes and
// predict latency at batch 1 and 256, measured in this process, go to the run record and the card. `--epochs N`
// (float training, default 2), `--json` (the final line: {"variants": {...}, "ratios": {...}}), `--out DIR` (default
// runs/mnist-compress: the float model, run.json, card, ledger) / `--no-record`.
import * as c from '../src/index.js';
import { firstSamples, mnistCnn, parseExampleArgs, recordRun } from './common.js';

const { epochs, json, verbose, out, seed, limit } = parseExampleArgs({ epochs: 2, name: 'mnist-compress' });
const mnist = await c.datasets.mnist({ flatten: false });
const { test } = mnist,
  train = firstSamples(mnist.train, limit);
const log = (line: string) => {
  if (!json) console.log(line);
};
const compileArgs = (learningRate = 1e-3) => ({
  optimizer: c.optimizers.adam({ learningRate }),
  loss: 'sparseCategoricalCrossentropy' as const,
  metrics: ['accuracy'],
});

/** A copy of the float model with its weights (each variant starts from the same trained model). */
function copyOf(model: c.Sequential): c.Sequential {
  const copy = c.cloneModel(model);
  copy.setWeights(model.getWeights());
  return copy;
}

// The float32 model, with a run record of its training.
const float = mnistCnn();
float.compile(compileArgs());
const recorder = out ? new c.RunRecorder({ dir: out, name: 'mnist-compress' }) : undefined;
await float.fit(train.x, train.y, { epochs, batchSize: 128, verbose, seed, callbacks: recorder ? [recorder] : [] });
await recorder?.evaluate('test', float, test.x, test.y, { batchSize: 256 });

// Each variant's accuracy, bytes and energy now; latencies at the end, all variants in interleaved rounds, so load
// on this shared machine falls on every variant alike.
type What = { method: string; description: string; parameters: Record<string, number | string> };
const variants: Record<string, { model: c.Model; measurement: c.compress.ModelMeasurement; what?: What }> = {};
async function variant(name: string, model: c.Model, what?: What, sparseWeights = false) {
  const measurement = await c.compress.measureModel(model, test.x, test.y, {
    sparseWeights,
    repeats1: 5,
    repeats256: 1,
  });
  variants[name] = { model, measurement, what };
  log(`${name.padEnd(10)} accuracy ${(measurement.accuracy! * 100).toFixed(2)}%  ${measurement.bytes} bytes`);
}
await variant('float32', float);

// Magnitude pruning while fine-tuning two epochs (TF-MOT's guide: Adam at 1e-3, sparsity rising from 50% for the
// sparser models), the weights stored as a bit mask and the non-zero values.
for (const sparsity of [0.5, 0.8, 0.9]) {
  const initialSparsity = sparsity > 0.5 ? 0.5 : 0;
  const pruned = await c.compress.prunedFineTune(copyOf(float), train.x, train.y, {
    finalSparsity: sparsity,
    initialSparsity,
    epochs: 2,
    batchSize: 128,
    compile: compileArgs(1e-3),
    seed,
  });
  await variant(
    `pruned${Math.round(sparsity * 100)}`,
    pruned.model,
    {
      method: 'magnitude pruning',
      description:
        `Kernels pruned by magnitude from ${initialSparsity * 100}% to ${sparsity * 100}% sparsity during two ` +
        'epochs of fine-tuning (polynomial decay), stored as a bit mask and the non-zero values.',
      parameters: { initialSparsity, finalSparsity: sparsity, epochs: 2, learningRate: 1e-3 },
    },
    true,
  );
}

// Structured pruning: half the filters of each convolution go (smallest L1 norm), then one epoch of fine-tuning.
const structured = c.compress.pruneStructured(float, { ratio: 0.5 }).model;
structured.compile(compileArgs(1e-3));
await structured.fit(train.x, train.y, { epochs: 1, batchSize: 128, verbose, seed });
await variant('structured', structured, {
  method: 'structured pruning',
  description:
    'Half the filters of each convolution removed by L1 norm (the layers shrink), then one epoch of fine-tuning.',
  parameters: { ratio: 0.5, criterion: 'l1', epochs: 1, learningRate: 1e-3 },
});

// int8 after training: calibrated on 1,000 training images.
const calibrationX = c.slice(train.x, [0], [1000]);
const int8 = c.compress.quantizeModel(float, calibrationX, { method: 'mse' });
await variant('int8', int8.model, {
  method: 'int8 post-training quantisation',
  description:
    'Weights int8 per output channel (symmetric), inputs of each Dense and Conv2D uint8 per tensor, ranges ' +
    'calibrated on 1,000 training images.',
  parameters: { calibration: 'mse', calibrationSamples: 1000 },
});

// int8 by quantisation-aware training: one epoch of fine-tuning with fake quantisation, then converted.
const aware = c.compress.quantizeAware(float);
aware.compile(compileArgs(1e-4));
await aware.fit(train.x, train.y, { epochs: 1, batchSize: 128, verbose, seed });
const int8qat = c.compress.convertQat(aware).model;
await variant('int8qat', int8qat, {
  method: 'int8 quantisation-aware training',
  description:
    'One epoch of fine-tuning with fake-quantised weights and inputs (straight-through gradients), then int8.',
  parameters: { epochs: 1, learningRate: 1e-4 },
});

const latency = c.compress.interleavedLatency(
  Object.fromEntries(Object.entries(variants).map(([k, v]) => [k, v.model])),
  test.x,
);
const figures: Record<string, c.compress.ModelMeasurement> = {};
for (const [name, v] of Object.entries(variants)) figures[name] = { ...v.measurement, ...latency[name] };
const before = figures.float32;
for (const [name, v] of Object.entries(variants))
  if (v.what && recorder)
    await c.compress.recordCompression(recorder, {
      name,
      ...v.what,
      createdAt: new Date().toISOString(),
      layers: c.compress.describeLayers(float, v.model),
      before,
      after: figures[name],
      evaluatedOn: 'MNIST test set (10,000 images)',
    });
const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
const ratios = {
  int8AccuracyDropPoints: Number(((before.accuracy! - figures.int8.accuracy!) * 100).toFixed(2)),
  int8qatAccuracyDropPoints: Number(((before.accuracy! - figures.int8qat.accuracy!) * 100).toFixed(2)),
  pruned80AccuracyDropPoints: Number(((before.accuracy! - figures.pruned80.accuracy!) * 100).toFixed(2)),
  int8BytesRatio: ratio(figures.int8.bytes, before.bytes),
  int8SpeedupBatch256: ratio(before.msBatch256, figures.int8.msBatch256),
  int8SpeedupBatch1: ratio(before.msBatch1, figures.int8.msBatch1),
  structuredSpeedupBatch256: ratio(before.msBatch256, figures.structured.msBatch256),
};
if (recorder && out) log(`card: ${(await recordRun(recorder, out, { model: float })).card.files.html}`);
const result = { example: 'mnist-compress', epochs, backend: c.getBackend().name, variants: figures, ratios };
if (!json)
  for (const [name, m] of Object.entries(figures))
    log(`${name.padEnd(10)} batch 1 ${m.msBatch1.toFixed(3)} ms  batch 256 ${m.msBatch256.toFixed(2)} ms`);
console.log(json ? JSON.stringify(result) : JSON.stringify(ratios, null, 2));
