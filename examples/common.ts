// Argument parsing and the final report shared by the examples.
import { join } from 'node:path';
import {
  getBackend,
  setSeed,
  RunRecorder,
  publishRun,
  Sequential,
  layers,
  type Model,
  type Tensor,
} from '../src/index.js';

/**
 * --epochs N, --json, and where the run record goes: --out DIR (default runs/NAME) holds the model, its
 * run.json, card.md / card.html and ledger.jsonl; --no-record opts out.
 */
export function parseExampleArgs(defaults: { epochs: number; name?: string }): {
  epochs: number;
  json: boolean;
  verbose: 0 | 'auto';
  out?: string;
  seed: number;
} {
  const args = process.argv.slice(2);
  const at = args.indexOf('--epochs');
  const epochs = at >= 0 ? Number(args[at + 1]) : defaults.epochs;
  if (!Number.isInteger(epochs) || epochs < 1)
    throw new Error(`--epochs must be a positive integer, got ${args[at + 1]}`);
  const json = args.includes('--json');
  const outAt = args.indexOf('--out');
  if (outAt >= 0 && !args[outAt + 1]) throw new Error('--out needs a directory');
  const out = args.includes('--no-record')
    ? undefined
    : outAt >= 0
      ? args[outAt + 1]
      : defaults.name
        ? join('runs', defaults.name)
        : undefined;
  const seedAt = args.indexOf('--seed');
  const seed = seedAt >= 0 ? Number(args[seedAt + 1]) : 42;
  if (!Number.isSafeInteger(seed) || seed < 0)
    throw new Error(`--seed must be a non-negative integer, got ${args[seedAt + 1]}`);
  // The seed drives weight initialisation (global stream), shuffling and dropout.
  setSeed(seed);
  return { epochs, json, verbose: json ? 0 : 'auto', out, seed };
}

/** Prints the figures; with --json the last line is one JSON object. */
export function report(json: boolean, figures: Record<string, string | number | boolean>): void {
  const all: Record<string, string | number | boolean> = { ...figures, backend: getBackend().name };
  if (json) {
    console.log(JSON.stringify(all));
    return;
  }
  console.log(
    Object.entries(all)
      .map(([k, v]) => `${k}: ${typeof v === 'number' ? Number(v.toFixed(4)) : v}`)
      .join('\n'),
  );
}

/**
 * Compiles with Adam + sparse categorical cross-entropy, fits on the whole training set (as the Keras/TF
 * quickstarts do), shows the test figures after each epoch, and reports the final test evaluation.
 */
export async function trainAndReport(
  name: string,
  model: Model,
  data: { train: { x: Tensor; y: Tensor }; test: { x: Tensor; y: Tensor } },
  {
    epochs,
    json,
    verbose,
    batchSize,
    out,
    seed,
  }: { epochs: number; json: boolean; verbose: 0 | 'auto'; batchSize: number; out?: string; seed: number },
): Promise<void> {
  if (!json) model.summary();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = out ? new RunRecorder({ dir: out, name }) : undefined;
  const start = performance.now();
  await model.fit(data.train.x, data.train.y, {
    epochs,
    batchSize,
    validationData: [data.test.x, data.test.y],
    verbose,
    seed,
    callbacks: recorder ? [recorder] : [],
  });
  const seconds = (performance.now() - start) / 1000;
  const trained = data.train.x.shape[0] * epochs;
  const figures: Record<string, string | number> = {
    example: name,
    epochs,
    seconds,
    secondsPerEpoch: seconds / epochs,
    samplesPerSec: trained / seconds,
  };
  if (!recorder || !out) {
    const { loss, accuracy } = await model.evaluate(data.test.x, data.test.y, { batchSize: 256 });
    report(json, { ...figures, testAccuracy: accuracy, testLoss: loss });
    return;
  }
  // The run record: test evaluation (per class), the saved model's hashes, the card, a signed ledger entry.
  const test = await recorder.evaluate('test', model, data.test.x, data.test.y, { batchSize: 256 });
  await model.save(out); // also writes run.json with the saved files' hashes
  const { record, entry, card } = await publishRun(recorder, { dir: out, ledger: join(out, 'ledger.jsonl') });
  const e = record.energy!;
  report(json, {
    ...figures,
    testAccuracy: test.metrics.accuracy ?? NaN,
    testLoss: test.metrics.loss ?? NaN,
    trainingFlops: record.compute.trainingFlops,
    energyMethod: e.measured ? 'measured (RAPL)' : 'estimated (CPU time x TDP)',
    energyJoules: e.joules,
    energyWh: e.joules / 3600,
    co2eGrams: record.emissions!.gCO2e,
    gridIntensity: `${record.emissions!.grid.gPerKWh} g/kWh (${record.emissions!.grid.name})`,
    runRecord: join(out, 'run.json'),
    card: card!.files.html,
    ledgerEntry: `${entry!.index} ${entry!.entryHash.slice(0, 16)}...`,
    signedBy: `${entry!.keyId!.slice(0, 16)}...`,
  });
}

/** The Keras MNIST CNN: Conv 32 -> max-pool -> Conv 64 -> max-pool -> Flatten -> Dropout 0.5 -> Dense 10 softmax. */
export function mnistCnn(): Sequential {
  return new Sequential([
    layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1] }),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    layers.maxPooling2d({ poolSize: 2 }),
    layers.flatten(),
    layers.dropout({ rate: 0.5 }),
    layers.dense({ units: 10, activation: 'softmax' }),
  ]);
}
