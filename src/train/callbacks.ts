// Training callbacks (Keras): History, EarlyStopping, ModelCheckpoint, LearningRateScheduler,
// ReduceLROnPlateau, TerminateOnNaN, CSVLogger, and plain objects with any of the hooks.
import { appendFileSync, existsSync, statSync, writeFileSync } from 'node:fs';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, CandorError, fmtValue } from '../errors.js';
import { checkOptions, optionKeys } from '../registry.js';
import type { Model } from './model.js';
import type { CommStats } from '../distributed/cluster-record.js';
import type { FitStrategy } from './strategy.js';
import type { EncryptionKey } from '../io/encryption.js';
import { findLogKey, withCamelCaseAliases } from './log-names.js';
import { writesFiles } from '../distributed/writes-files.js';

export type Logs = Record<string, number>;

/** What fit() tells callbacks about itself (Callback.setParams), as Keras' set_params. */
export interface FitParams {
  epochs: number;
  batchSize: number;
  /** Steps per epoch, when known. */
  steps?: number;
  samples?: number;
  validationSplit?: number;
  shuffle?: boolean;
  initialEpoch?: number;
  seed?: number;
  /** The training inputs and labels actually used (after any validation split), for fingerprints. */
  x?: Tensor | Tensor[];
  y?: Tensor | Tensor[];
  /** fit's validation inputs and labels as tensors (validationData or validationSplit's part), for fingerprints. */
  validation?: { x: Tensor[]; y?: Tensor[] };
  /** The distributed strategy of this fit (distributed.DataParallel, ...), absent for a one-process fit. */
  strategy?: FitStrategy;
  /** The communicator's counters when that fit began, before its start-up traffic (seed, weights, backup). */
  commFrom?: CommStats;
}

/** Any subset of these hooks; epochs count from 0, as in Keras. */
export interface Callback {
  setModel?(model: Model): void;
  /** fit() passes its arguments and training data here, before onTrainBegin (Keras' set_params). */
  setParams?(params: FitParams): void;
  onTrainBegin?(logs?: Logs): void | Promise<void>;
  onTrainEnd?(logs?: Logs): void | Promise<void>;
  onEpochBegin?(epoch: number, logs?: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onBatchBegin?(batch: number, logs?: Logs): void | Promise<void>;
  onBatchEnd?(batch: number, logs: Logs): void | Promise<void>;
}

/** The record fit() returns: per-epoch values of the loss and every metric. */
export class History implements Callback {
  readonly epoch: number[] = [];
  /** Per-epoch values by Keras' snake_case log names (readable under the camelCase ones too). */
  readonly history: Record<string, number[]> = withCamelCaseAliases({});
  onEpochEnd(epoch: number, logs: Logs): void {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

type Mode = 'auto' | 'min' | 'max';

/** Whether `current` beats `best` by more than minDelta in the monitored direction. */
function improver(monitor: string, mode: Mode, minDelta: number): (current: number, best: number) => boolean {
  const maximize = mode === 'max' || (mode === 'auto' && /acc|auc|precision|recall|f1/i.test(monitor));
  return maximize ? (c, b) => c - minDelta > b : (c, b) => c + minDelta < b;
}

/** The monitored value: logs[monitor], with 'valBinaryAccuracy' accepted for 'val_binary_accuracy'. */
function monitored(logs: Logs, monitor: string, who: string): number | undefined {
  const key = findLogKey(logs, monitor);
  if (key === undefined)
    console.warn(`${who}: metric '${monitor}' is not available; available: ${Object.keys(logs).join(', ')}`);
  return key === undefined ? undefined : logs[key];
}

export interface EarlyStoppingArgs {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: Mode;
  baseline?: number;
  restoreBestWeights?: boolean;
  startFromEpoch?: number;
}

export class EarlyStopping implements Callback {
  private model?: Model;
  private wait = 0;
  private best = NaN;
  private bestWeights?: Tensor[];
  stoppedEpoch = 0;
  readonly monitor: string;
  private readonly better: (c: number, b: number) => boolean;

  constructor(private readonly args: EarlyStoppingArgs = {}) {
    checkOptions('EarlyStopping', args, EARLY_STOPPING_OPTIONS);
    this.monitor = args.monitor ?? 'val_loss';
    this.better = improver(this.monitor, args.mode ?? 'auto', Math.abs(args.minDelta ?? 0));
  }
  setModel(model: Model): void {
    this.model = model;
  }
  onTrainBegin(): void {
    this.wait = 0;
    this.best = this.args.baseline ?? NaN;
    this.stoppedEpoch = 0;
  }
  onEpochEnd(epoch: number, logs: Logs): void {
    const current = monitored(logs, this.monitor, 'EarlyStopping');
    if (current === undefined || epoch < (this.args.startFromEpoch ?? 0)) return;
    this.wait++;
    if (Number.isNaN(this.best) || this.better(current, this.best)) {
      this.best = current;
      this.wait = 0;
      if (this.args.restoreBestWeights) {
        for (const t of this.bestWeights ?? []) t.dispose();
        this.bestWeights = this.model!.getWeights();
      }
      return;
    }
    if (this.wait >= (this.args.patience ?? 0) && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model!.stopTraining = true;
    }
  }
  onTrainEnd(): void {
    if (this.bestWeights && this.model) {
      this.model.setWeights(this.bestWeights);
      for (const t of this.bestWeights) t.dispose();
      this.bestWeights = undefined;
    }
  }
}

export interface ModelCheckpointArgs {
  /** Where to save; '{epoch}' or '{epoch:02d}' is replaced by the epoch number (from 1). */
  filepath: string;
  monitor?: string;
  /** Save only when the monitored value improves on the best so far. */
  saveBestOnly?: boolean;
  /** Save the weights alone, as model.saveWeights (one file, loaded by model.loadWeights), not the whole model. */
  saveWeightsOnly?: boolean;
  mode?: Mode;
  /** Replaces the saving (model.save or model.saveWeights), e.g. to save elsewhere than the file system. */
  save?: (model: Model, path: string) => Promise<void>;
  /** Encrypts every checkpoint (model.save / saveWeights' encryptionKey: a passphrase or 32 raw bytes). */
  encryptionKey?: EncryptionKey;
}

/**
 * Saves the model (model.save) or its weights (saveWeightsOnly: model.saveWeights) after each epoch,
 * optionally only when the monitored value improves. In a distributed world rank 0 alone saves (writesFiles), with
 * a save function of your own too.
 */
export class ModelCheckpoint implements Callback {
  private model?: Model;
  private best = NaN;
  readonly monitor: string;
  private readonly better: (c: number, b: number) => boolean;

  constructor(private readonly args: ModelCheckpointArgs) {
    checkOptions('ModelCheckpoint', args, MODEL_CHECKPOINT_OPTIONS);
    if (typeof args?.filepath !== 'string' || args.filepath === '')
      throw new ArgumentError(`ModelCheckpoint: filepath must be a non-empty string, got ${fmtValue(args?.filepath)}`);
    this.monitor = args.monitor ?? 'val_loss';
    this.better = improver(this.monitor, args.mode ?? 'auto', 0);
    if (args.save && args.encryptionKey !== undefined)
      throw new ArgumentError('ModelCheckpoint: encryptionKey cannot be honoured by a save function of your own');
  }
  setModel(model: Model): void {
    this.model = model;
  }
  async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const path = this.args.filepath.replace(/\{epoch(?::0?(\d+)d)?\}/g, (_, w?: string) =>
      String(epoch + 1).padStart(Number(w ?? 0), '0'),
    );
    if (this.args.saveBestOnly) {
      const current = monitored(logs, this.monitor, 'ModelCheckpoint');
      if (current === undefined || !(Number.isNaN(this.best) || this.better(current, this.best))) return;
      this.best = current;
    }
    if (!writesFiles()) return;
    const options = { encryptionKey: this.args.encryptionKey };
    const save =
      this.args.save ??
      (this.args.saveWeightsOnly
        ? (m: Model, p: string) => m.saveWeights(p, options)
        : (m: Model, p: string) => m.save(p, options));
    await save(this.model!, path);
  }
}

/** Sets the learning rate at the start of each epoch from schedule(epoch, currentLr). */
export class LearningRateScheduler implements Callback {
  private model?: Model;
  constructor(
    private readonly schedule: (epoch: number, lr: number) => number,
    private readonly verbose = 0,
  ) {}
  setModel(model: Model): void {
    this.model = model;
  }
  onEpochBegin(epoch: number): void {
    const opt = this.model!.optimizer!;
    const lr = this.schedule(epoch, opt.learningRate);
    if (!Number.isFinite(lr))
      throw new ArgumentError(`LearningRateScheduler: schedule returned ${lr} for epoch ${epoch}`);
    opt.learningRate = lr;
    if (this.verbose) console.log(`\nEpoch ${epoch + 1}: LearningRateScheduler setting learning rate to ${lr}.`);
  }
  onEpochEnd(_epoch: number, logs: Logs): void {
    logs.learning_rate = this.model!.optimizer!.learningRate;
  }
}

export interface ReduceLROnPlateauArgs {
  monitor?: string;
  factor?: number;
  patience?: number;
  mode?: Mode;
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
  verbose?: number;
}

export class ReduceLROnPlateau implements Callback {
  private model?: Model;
  private wait = 0;
  private cooldownLeft = 0;
  private best = NaN;
  readonly monitor: string;
  private readonly better: (c: number, b: number) => boolean;

  constructor(private readonly args: ReduceLROnPlateauArgs = {}) {
    checkOptions('ReduceLROnPlateau', args, REDUCE_LR_OPTIONS);
    if ((args.factor ?? 0.1) >= 1) throw new ArgumentError(`ReduceLROnPlateau: factor must be < 1, got ${args.factor}`);
    this.monitor = args.monitor ?? 'val_loss';
    this.better = improver(this.monitor, args.mode ?? 'auto', args.minDelta ?? 1e-4);
  }
  setModel(model: Model): void {
    this.model = model;
  }
  onEpochEnd(epoch: number, logs: Logs): void {
    const opt = this.model!.optimizer!;
    logs.learning_rate = opt.learningRate;
    const current = monitored(logs, this.monitor, 'ReduceLROnPlateau');
    if (current === undefined) return;
    if (this.cooldownLeft > 0) {
      this.cooldownLeft--;
      this.wait = 0;
    }
    if (Number.isNaN(this.best) || this.better(current, this.best)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownLeft <= 0 && ++this.wait >= (this.args.patience ?? 10)) {
      const old = opt.learningRate;
      const next = Math.max(old * (this.args.factor ?? 0.1), this.args.minLr ?? 0);
      if (old > next) {
        opt.learningRate = next;
        if (this.args.verbose)
          console.log(`\nEpoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${next}.`);
        this.cooldownLeft = this.args.cooldown ?? 0;
        this.wait = 0;
      }
    }
  }
}

/** What fit() rejects with when TerminateOnNaN({ raise: true }) stopped training. */
export class NaNLossError extends CandorError {}

/**
 * Stops training when the loss becomes NaN or infinite, with a message saying where (printed to stderr
 * and kept in `message`). As in Keras, fit() then returns normally; with { raise: true } it rejects with
 * a NaNLossError instead, once training has wound down (callbacks' onTrainEnd ran, batches were freed).
 */
export class TerminateOnNaN implements Callback {
  private model?: Model;
  private epoch = 0;
  message?: string;
  constructor(private readonly args: { raise?: boolean } = {}) {
    checkOptions('TerminateOnNaN', args, ['raise']);
  }
  setModel(model: Model): void {
    this.model = model;
  }
  onTrainBegin(): void {
    this.message = undefined;
  }
  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }
  onBatchEnd(batch: number, logs: Logs): void {
    const loss = logs.batchLoss ?? logs.loss;
    if (loss !== undefined && !Number.isFinite(loss) && this.message === undefined) {
      this.message =
        `TerminateOnNaN: loss became ${loss} at epoch ${this.epoch + 1}, batch ${batch + 1}; training stopped. ` +
        'Lower the learning rate, check inputs for NaN/Inf, or clip gradients (clipnorm).';
      console.error(`\n${this.message}`);
      this.model!.stopTraining = true;
    }
  }
  onTrainEnd(): void {
    if (this.args.raise && this.message !== undefined) throw new NaNLossError(this.message);
  }
}

/** Appends one row per epoch (epoch + logs) to a CSV file (in a distributed world, rank 0 alone: writesFiles). */
export class CSVLogger implements Callback {
  private keys?: string[];
  constructor(
    private readonly filename: string,
    private readonly args: { separator?: string; append?: boolean } = {},
  ) {
    checkOptions('CSVLogger', args, ['separator', 'append']);
  }
  onTrainBegin(): void {
    if (!writesFiles()) return;
    if (!this.args.append || !existsSync(this.filename)) writeFileSync(this.filename, '');
    this.keys = undefined;
  }
  onEpochEnd(epoch: number, logs: Logs): void {
    if (!writesFiles()) return;
    const sep = this.args.separator ?? ',';
    if (!this.keys) {
      this.keys = Object.keys(logs).sort();
      if (!this.args.append || readLength(this.filename) === 0)
        appendFileSync(this.filename, ['epoch', ...this.keys].join(sep) + '\n');
    }
    appendFileSync(this.filename, [epoch, ...this.keys.map((k) => logs[k] ?? '')].join(sep) + '\n');
  }
}

const EARLY_STOPPING_OPTIONS = optionKeys<EarlyStoppingArgs>({
  monitor: true,
  minDelta: true,
  patience: true,
  mode: true,
  baseline: true,
  restoreBestWeights: true,
  startFromEpoch: true,
});
const MODEL_CHECKPOINT_OPTIONS = optionKeys<ModelCheckpointArgs>({
  filepath: true,
  monitor: true,
  saveBestOnly: true,
  saveWeightsOnly: true,
  mode: true,
  save: true,
  encryptionKey: true,
});
const REDUCE_LR_OPTIONS = optionKeys<ReduceLROnPlateauArgs>({
  monitor: true,
  factor: true,
  patience: true,
  mode: true,
  minDelta: true,
  cooldown: true,
  minLr: true,
  verbose: true,
});

function readLength(path: string): number {
  return existsSync(path) ? statSync(path).size : 0;
}

// BackupAndRestore lives in its own file (it is what fit asks where to resume).
export { BackupAndRestore, type BackupAndRestoreArgs } from './backup-and-restore.js';
