// The TensorBoard callback (Keras' keras.callbacks.TensorBoard): writes event files under logDir/train and
// logDir/validation with Keras' tags (epoch_loss, epoch_accuracy, ..., epoch_learning_rate, batch_* every
// updateFreq batches, <layer>/<weight>/histogram every histogramFreq epochs) and Candor's own figures per
// epoch from the run record's meter (candor/flops, candor/joules, candor/co2e_grams).
import { join } from 'node:path';
import { ArgumentError, fmtValue } from '../../errors.js';
import { checkOptions, optionKeys } from '../../registry.js';
import type { Callback, Logs } from '../../train/callbacks.js';
import type { Model } from '../../train/model.js';
import type { RunProgress } from '../../ledger/recording.js';
import { EventFileWriter } from './writer.js';
import { writesFiles } from '../../distributed/writes-files.js';

export interface TensorBoardArgs {
  /** Where the event files go (train/ and validation/ below it); default 'logs'. */
  logDir?: string;
  /** Weight histograms every this many epochs (epochs 0, n, 2n, ...); 0 (default): none. */
  histogramFreq?: number;
  /** 'epoch' (default): scalars per epoch only; 'batch' or n: also batch_* scalars every n training batches. */
  updateFreq?: 'epoch' | 'batch' | number;
  /** Also write epoch_steps_per_second (and batch_steps_per_second with updateFreq). */
  writeStepsPerSecond?: boolean;
  /** Keras' default is true; Candor cannot draw its graph in TensorBoard, so only false is accepted. */
  writeGraph?: boolean;
  /** Not supported: only false is accepted. */
  writeImages?: boolean;
  /** Not supported: only 0 is accepted. */
  profileBatch?: number;
  /** Not supported: only 0 is accepted. */
  embeddingsFreq?: number;
  /** Not supported: only undefined or null is accepted. */
  embeddingsMetadata?: null;
  /** Candor: write the run's FLOPs, joules and CO2e per epoch (default true; needs fit's run record). */
  candorFigures?: boolean;
  /** Candor: the clock for events' wall time, in seconds (default Date.now() / 1000), for reproducible files. */
  wallTime?: () => number;
}

const OPTIONS = optionKeys<TensorBoardArgs>({
  logDir: true,
  histogramFreq: true,
  updateFreq: true,
  writeStepsPerSecond: true,
  writeGraph: true,
  writeImages: true,
  profileBatch: true,
  embeddingsFreq: true,
  embeddingsMetadata: true,
  candorFigures: true,
  wallTime: true,
});

/** Candor's per-epoch figures: the RunProgress field, its tag, and the description TensorBoard shows. */
const FIGURES = [
  ['flops', 'candor/flops'],
  ['joules', 'candor/joules'],
  ['gCO2e', 'candor/co2e_grams'],
] as const;
const FIGURE_DESCRIPTIONS: Record<(typeof FIGURES)[number][0], string> = {
  flops: "FLOPs of every kernel Candor's run record metered during the epoch (training and validation).",
  joules: "Energy of the epoch in joules, measured (RAPL) or estimated as in Candor's run record.",
  gCO2e: "Grams of CO2e of the epoch: its energy times the run record's grid carbon intensity.",
};

/** Refuses a Keras option set to anything but its "off" value, saying that Candor cannot honour it. */
function refuse(args: TensorBoardArgs, key: keyof TensorBoardArgs, off: unknown[], why: string): void {
  const v = args[key];
  if (v !== undefined && !off.includes(v))
    throw new ArgumentError(`TensorBoard: ${key}: ${fmtValue(v)} is not supported (${why})`);
}

function nonNegativeInteger(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new ArgumentError(`TensorBoard: ${name} must be a non-negative integer, got ${fmtValue(v)}`);
  return v;
}

/**
 * Writes TensorBoard event files during fit(), as Keras' TensorBoard callback does (in a distributed world, rank 0
 * alone: distributed.writesFiles):
 *
 *   await model.fit(x, y, { epochs: 5, validationSplit: 0.1, callbacks: [new TensorBoard({ logDir: 'logs' })] });
 *   // then: tensorboard --logdir logs
 */
export class TensorBoard implements Callback {
  readonly logDir: string;
  readonly histogramFreq: number;
  /** 0: per epoch only; n: batch scalars every n batches. */
  readonly updateFreq: number;
  private readonly args: TensorBoardArgs;
  private model?: Model;
  private train?: EventFileWriter;
  private validation?: EventFileWriter;
  /** Training batches since the fit began (Keras' _global_train_batch: 1 after the first batch). */
  private globalBatch = 0;
  private lastFigures?: RunProgress;
  private epochStart = 0;
  private epochBatches = 0;
  private batchStart = 0;

  constructor(args: TensorBoardArgs | string = {}) {
    this.args = typeof args === 'string' ? { logDir: args } : args;
    checkOptions('TensorBoard', this.args, OPTIONS);
    const a = this.args;
    if (a.logDir !== undefined && (typeof a.logDir !== 'string' || a.logDir === ''))
      throw new ArgumentError(`TensorBoard: logDir must be a non-empty string, got ${fmtValue(a.logDir)}`);
    this.logDir = a.logDir ?? 'logs';
    this.histogramFreq = nonNegativeInteger('histogramFreq', a.histogramFreq ?? 0);
    const freq = a.updateFreq ?? 'epoch';
    if (freq === 'epoch') this.updateFreq = 0;
    else if (freq === 'batch') this.updateFreq = 1;
    else if (typeof freq === 'number' && Number.isInteger(freq) && freq > 0) this.updateFreq = freq;
    else
      throw new ArgumentError(
        `TensorBoard: updateFreq must be 'epoch', 'batch' or a positive integer, got ${fmtValue(freq)}`,
      );
    refuse(a, 'writeGraph', [false], 'Candor does not write a graph TensorBoard can draw; pass writeGraph: false');
    refuse(a, 'writeImages', [false], 'weights are not written as images');
    refuse(a, 'profileBatch', [0], 'Candor has no TensorBoard profiler; see RunRecorder and meter.table()');
    refuse(a, 'embeddingsFreq', [0], 'the embedding projector is not written');
    refuse(a, 'embeddingsMetadata', [null], 'the embedding projector is not written');
  }

  setModel(model: Model): void {
    this.model = model;
  }

  private writer(kind: 'train' | 'validation'): EventFileWriter {
    const options = this.args.wallTime ? { wallTime: this.args.wallTime } : {};
    if (kind === 'train') return (this.train ??= new EventFileWriter(join(this.logDir, 'train'), options));
    return (this.validation ??= new EventFileWriter(join(this.logDir, 'validation'), options));
  }

  onTrainBegin(): void {
    if (!writesFiles()) return;
    this.close();
    this.globalBatch = 0;
    this.lastFigures = undefined;
    this.writer('train');
  }

  onEpochBegin(): void {
    this.epochStart = performance.now();
    this.epochBatches = 0;
  }

  onBatchBegin(): void {
    this.globalBatch++;
    this.epochBatches++;
    this.batchStart = performance.now();
  }

  onBatchEnd(_batch: number, logs: Logs): void {
    if (!writesFiles()) return;
    if (this.updateFreq === 0 || this.globalBatch % this.updateFreq !== 0) return;
    const w = this.writer('train');
    const step = this.globalBatch;
    if (this.args.writeStepsPerSecond)
      w.addScalar('batch_steps_per_second', 1000 / Math.max(performance.now() - this.batchStart, 1e-3), step);
    // batchLoss is Candor's loss of this batch alone; Keras' batch logs (and tags) are the running means.
    for (const [name, value] of Object.entries(logs))
      if (name !== 'batchLoss') w.addScalar(`batch_${name}`, value, step);
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    if (!writesFiles()) return;
    const train = this.writer('train');
    const trainLogs: Logs = {};
    const valLogs: Logs = {};
    for (const [k, v] of Object.entries(logs)) {
      if (k.startsWith('val_')) valLogs[k.slice(4)] = v;
      else trainLogs[k] = v;
    }
    const lr = this.learningRate();
    if (lr !== undefined) trainLogs.learning_rate = lr;
    if (this.args.writeStepsPerSecond)
      trainLogs.steps_per_second = (this.epochBatches * 1000) / Math.max(performance.now() - this.epochStart, 1e-3);
    for (const [k, v] of Object.entries(trainLogs)) train.addScalar(`epoch_${k}`, v, epoch);
    if (Object.keys(valLogs).length > 0) {
      const validation = this.writer('validation');
      for (const [k, v] of Object.entries(valLogs)) validation.addScalar(`epoch_${k}`, v, epoch);
      validation.flush();
    }
    if (this.args.candorFigures !== false) this.writeFigures(train, epoch);
    if (this.histogramFreq > 0 && epoch % this.histogramFreq === 0) this.writeHistograms(train, epoch);
    train.flush();
  }

  onTrainEnd(): void {
    this.close();
  }

  /** Closes the event files (fit's end does; call it yourself if fit threw). */
  close(): void {
    try {
      this.train?.close();
    } finally {
      this.validation?.close();
      this.train = this.validation = undefined;
    }
  }

  /** The optimizer's learning rate (Keras adds it to the epoch's train logs), when it has one. */
  private learningRate(): number | undefined {
    const opt = this.model?.optimizer;
    if (!opt) return undefined;
    try {
      return opt.learningRate;
    } catch (e) {
      if (e instanceof ArgumentError) return undefined; // an optimizer made from a fixed transformation
      throw e;
    }
  }

  /** This epoch's FLOPs, joules and grams of CO2e: differences of the run record's running totals. */
  private writeFigures(w: EventFileWriter, epoch: number): void {
    const recorder = this.model?.runRecorder;
    if (!recorder) return; // fit({ record: false }): no meter runs
    const now = recorder.progress();
    const last = this.lastFigures;
    this.lastFigures = now;
    for (const [key, tag] of FIGURES) {
      const value = now[key];
      if (value === null) continue;
      // The first value of a tag carries its description (TensorBoard keeps the first metadata of a tag).
      const metadata = last ? {} : { metadata: { summaryDescription: FIGURE_DESCRIPTIONS[key] } };
      w.addSummary(epoch, [{ tag, simpleValue: value - (last?.[key] ?? 0), ...metadata }]);
    }
  }

  /** A histogram of every weight of every layer, tagged <weight name>/histogram (Candor names are layer/weight). */
  private writeHistograms(w: EventFileWriter, epoch: number): void {
    for (const layer of this.model?.layers ?? [])
      for (const weight of layer.weights) w.addHistogram(`${weight.name}/histogram`, weight.value.dataSync(), epoch);
  }
}
