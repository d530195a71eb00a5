// Argument parsing and the final report shared by the examples.
import { join } from 'node:path';
import {
  getBackend,
  setSeed,
  sliceAxis,
  attachSubsetSource,
  RunRecorder,
  publishRun,
  RunRecording,
  Sequential,
  layers,
  type Callback,
  type Model,
  type DataSpec,
  type EvaluationRecord,
  type LedgerEntry,
  type RunFacts,
  type RunRecord,
  type Tensor,
  type WrittenCard,
} from '../src/index.js';

/**
 * --epochs N, --json, and where the run record goes: --out DIR (default runs/NAME) holds the model, its
 * run.json, card.md / card.html and ledger.jsonl; --no-record opts out. --limit N trains on the first N training
 * samples only: a quick check that an example runs end to end (its figures then say little).
 */
export function parseExampleArgs(defaults: { epochs: number; name?: string }): {
  epochs: number;
  json: boolean;
  verbose: 0 | 'auto';
  out?: string;
  seed: number;
  limit?: number;
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
  const limitAt = args.indexOf('--limit');
  const limit = limitAt >= 0 ? Number(args[limitAt + 1]) : undefined;
  if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0))
    throw new Error(`--limit must be a positive integer, got ${args[limitAt + 1]}`);
  // The seed drives weight initialisation (global stream), shuffling and dropout.
  setSeed(seed);
  return { epochs, json, verbose: json ? 0 : 'auto', out, seed, ...(limit ? { limit } : {}) };
}

/** The first `limit` samples of x and y (all without a limit). */
export function firstSamples<T extends { x: Tensor; y: Tensor }>(data: T, limit?: number): { x: Tensor; y: Tensor } {
  if (limit === undefined || limit >= data.x.shape[0]) return data;
  const part = { x: sliceAxis(data.x, 0, 0, limit), y: sliceAxis(data.y, 0, 0, limit) };
  // The slice is other tensors: they keep the loader's source, noted as a subset (the card shows the note).
  attachSubsetSource(part.x, data.x, limit);
  attachSubsetSource(part.y, data.y, limit);
  return part;
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
    limit,
  }: {
    epochs: number;
    json: boolean;
    verbose: 0 | 'auto';
    batchSize: number;
    out?: string;
    seed: number;
    limit?: number;
  },
): Promise<void> {
  const train = firstSamples(data.train, limit);
  if (!json) model.summary();
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = out ? new RunRecorder({ dir: out, name }) : undefined;
  const clock = new TrainingClock();
  const start = performance.now();
  await model.fit(train.x, train.y, {
    epochs,
    batchSize,
    validationData: [data.test.x, data.test.y],
    verbose,
    seed,
    callbacks: [clock, ...(recorder ? [recorder] : [])],
  });
  const seconds = (performance.now() - start) / 1000;
  const trained = train.x.shape[0] * epochs;
  const figures = (testSeconds: number): Record<string, string | number> => ({
    example: name,
    epochs,
    seconds,
    secondsPerEpoch: seconds / epochs,
    samplesPerSec: trained / seconds,
    trainSeconds: clock.trainMs / 1000,
    trainSamplesPerSec: trained / (clock.trainMs / 1000),
    evaluationSeconds: clock.validationMs / 1000 + testSeconds,
  });
  if (!recorder || !out) {
    const testStart = performance.now();
    const { loss, accuracy } = await model.evaluate(data.test.x, data.test.y, { batchSize: 256 });
    report(json, { ...figures((performance.now() - testStart) / 1000), testAccuracy: accuracy, testLoss: loss });
    return;
  }
  const run = await recordRun(recorder, out, { model, test: data.test });
  const { record, entry, test } = run;
  const e = record.energy!;
  report(json, {
    ...figures(run.testMs / 1000),
    testAccuracy: test!.metrics.accuracy ?? NaN,
    testLoss: test!.metrics.loss ?? NaN,
    trainingFlops: record.compute.trainingFlops,
    energyMethod: e.measured
      ? 'measured (RAPL)'
      : e.vcpu
        ? `estimated (per-vCPU power on a ${e.platform.kind})`
        : 'estimated (CPU time x TDP)',
    energyJoules: e.joules,
    energyRangeJoules: `${e.uncertainty.low.toPrecision(3)}-${e.uncertainty.high.toPrecision(3)}`,
    energyWh: e.joules / 3600,
    co2eGrams: record.emissions!.gCO2e,
    gridIntensity: `${record.emissions!.grid.gPerKWh} g/kWh (${record.emissions!.grid.name})`,
    ...publishedFiles(run),
    ledgerEntry: `${entry.index} ${entry.entryHash.slice(0, 16)}...`,
    signedBy: `${entry.keyId!.slice(0, 16)}...`,
  });
}

/**
 * fit's time split into training and validation, as a PyTorch epoch loop would time its training alone: an epoch's
 * training runs from onEpochBegin to its last step's onBatchEnd, and its validation pass from there to onEpochEnd.
 */
export class TrainingClock implements Callback {
  trainMs = 0;
  validationMs = 0;
  private epochStart = 0;
  private lastStep = 0;
  onEpochBegin(): void {
    this.epochStart = this.lastStep = performance.now();
  }
  onBatchEnd(): void {
    this.lastStep = performance.now();
  }
  onEpochEnd(): void {
    this.trainMs += this.lastStep - this.epochStart;
    this.validationMs += performance.now() - this.lastStep;
  }
}

/** What publishing a run wrote: in `dir`, the record as written, its ledger entry and the card's files. */
export interface ExampleRun {
  dir: string;
  record: RunRecord;
  entry: LedgerEntry;
  card: WrittenCard;
}

/**
 * Publishes a finished run in `dir` (publishRun): run.json, the card (card.md, card.html) with its hashes in the
 * record, and the entry in `ledger` (default dir/ledger.jsonl) signed with the user's key. The one place the
 * examples publish a run.
 */
export async function publish(
  recorder: RunRecording,
  dir: string,
  ledger = join(dir, 'ledger.jsonl'),
): Promise<ExampleRun> {
  const { record, entry, card } = await publishRun(recorder, { dir, ledger });
  return { dir, record, entry: entry!, card: card! };
}

/** Where a published run's record and card are, for an example's report (nothing without a run). */
export function publishedFiles(run?: ExampleRun): Record<string, string> {
  return run ? { runRecord: join(run.dir, 'run.json'), card: run.card.files.html } : {};
}

/** The test data of recordRun: a classifier's (a classification report too) or any model's (loss and metrics). */
export interface TestData {
  x: Tensor;
  y: Tensor;
  /** The evaluation's name in the record (default 'test'). */
  name?: string;
  /** False when the outputs are not classes (a generator, a language model): loss and metrics only. */
  classifier?: boolean;
  batchSize?: number;
}

/**
 * The end of an example's run under `out`: evaluates the model on `test`, adds the example's own figures as
 * evaluations (name -> metrics), saves `model` in `out` (its files' hashes go into the record) and publishes the
 * run (run.json, ledger.jsonl, card.md, card.html). Returns what publish wrote and the test evaluation.
 */
export async function recordRun(
  recorder: RunRecorder,
  out: string,
  {
    model,
    test,
    evaluations = {},
    ledger,
  }: { model?: Model; test?: TestData; evaluations?: Record<string, Record<string, number>>; ledger?: string } = {},
): Promise<ExampleRun & { test?: EvaluationRecord; testMs: number }> {
  let tested: EvaluationRecord | undefined;
  const testStart = performance.now();
  if (test && model) {
    const { name = 'test', classifier = true, batchSize = 256 } = test;
    tested = classifier
      ? await recorder.evaluate(name, model, test.x, test.y, { batchSize })
      : await recorder.addEvaluation(name, await model.evaluate(test.x, test.y, { batchSize }), {
          data: { x: test.x, y: test.y },
        });
  }
  const testMs = performance.now() - testStart;
  for (const [name, metrics] of Object.entries(evaluations)) await recorder.addEvaluation(name, metrics);
  if (model) {
    // save() records the files' hashes in the run of the model's last fit; any other run gets them here.
    await model.save(out);
    if (model.runRecorder !== recorder) await recorder.addArtifacts(out);
  }
  return { ...(await publish(recorder, out, ledger)), ...(tested ? { test: tested } : {}), testMs };
}

/**
 * The run recorder of a training loop of one's own (no fit(), or fits and other work that one record should cover):
 * beginLoop before the loop, onBatchEnd after each step, onEpochEnd with each epoch's figures, endLoop with the
 * model's facts. Begun outside fit, its meter counts every kernel of the process (the record says so).
 */
export class LoopRecorder extends RunRecorder {
  beginLoop(train?: DataSpec): void {
    this.begin(train);
  }
  override onEpochEnd(epoch: number, logs: Record<string, number>): void {
    this.epochBegin(epoch);
    this.epochEnd(epoch, logs);
  }
  async endLoop(facts: RunFacts): Promise<void> {
    await this.end(() => facts);
  }
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
