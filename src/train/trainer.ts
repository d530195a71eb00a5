// The training loop behind Model, split as Keras 3's trainer: compile.ts resolves losses and metrics,
// epoch-iterator.ts walks the batches, callback-list.ts fans out events, and this file holds the steps
// (train / test / predict) and the short fit / evaluate / predict loops over them. Everything a step
// makes is freed before the next, so memory stays flat across epochs.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { dispose, keep, tidy } from '../tensor/storage.js';
import { valueAndGrad } from '../autograd/grad.js';
import { noGrad } from '../autograd/tape.js';
import * as o from '../ops/index.js';
import { drawSeed, mixSeeds } from '../ops/random.js';
import { getOptimizer, type Optimizer } from '../optim/index.js';
import { CompileLoss, CompileMetrics, MeanTracker, type CompileArgs, type Outputs } from './compile.js';
import {
  EpochIterator,
  asList,
  isIterableInput,
  type ArrayData,
  type Batch,
  type DataSource,
  type StepBatch,
  type TrainingInput,
} from './epoch-iterator.js';
import { checkInteger, checkValidationSplit, checkVerbose, inputList, sampleCount, tensorList } from './arguments.js';
import { StringTensor, isStringArray, type StringInputs } from '../nn/preprocessing/string-tensor.js';
import { CallbackList } from './callback-list.js';
import { History, type Callback, type Logs } from './callbacks.js';
import { ProgressDisplay } from './progress.js';
import { RunRecorder } from './run-record-callback.js';
import type { RunRecorderOptions } from '../ledger/recording.js';
import { withPhase } from '../autograd/annotations.js';
import type { Model } from './model.js';
import type { Layer } from '../nn/layer.js';
import type { Variable } from '../nn/variable.js';

export type { CompileArgs } from './compile.js';
export type { Batch, TrainingInput } from './epoch-iterator.js';

export interface FitArgs {
  /** The epoch to stop before (a non-negative integer; 0 trains nothing, as in Keras). */
  epochs?: number;
  batchSize?: number;
  /** The last fraction of the samples (tensors only), held out for validation: in [0, 1). */
  validationSplit?: number;
  /** [x, y], [x, y, sampleWeight] (as Keras) or a dataset of {x, y} batches; replaces validationSplit's part. */
  validationData?:
    | [Tensor | Tensor[], Tensor | Tensor[]]
    | [Tensor | Tensor[], Tensor | Tensor[], Tensor]
    | AsyncIterable<Batch>
    | Iterable<Batch>;
  shuffle?: boolean;
  classWeight?: Record<number, number>;
  sampleWeight?: Tensor;
  initialEpoch?: number;
  verbose?: 0 | 1 | 2 | 'auto';
  callbacks?: Callback[];
  /**
   * The run record (see src/ledger/record.ts): on by default, kept on model.runRecorder and written as
   * run.json by model.save(); options pass through to the RunRecorder; false opts out.
   */
  record?: RunRecorderOptions | false;
  /** Seeds the shuffling (and stochastic layers through the step seed); default: drawn once from the global stream. */
  seed?: number;
}

export interface EvaluateArgs {
  batchSize?: number;
  verbose?: 0 | 1 | 2 | 'auto';
  sampleWeight?: Tensor;
}

export interface PredictArgs {
  batchSize?: number;
}

/**
 * Adds the run-record callback of this fit (compute, energy, data fingerprints) unless the user passed
 * a RunRecorder or opted out with record: false; the record stays in memory on the model, and
 * model.save() writes it beside the model as run.json.
 */
function addRunRecorder(model: Model, callbacks: Callback[], record: FitArgs['record']): RunRecorder | undefined {
  let recorder = callbacks.find((cb): cb is RunRecorder => cb instanceof RunRecorder);
  if (!recorder && record !== false) {
    recorder = new RunRecorder(record ?? {});
    callbacks.unshift(recorder);
  }
  model.runRecorder = recorder;
  return recorder;
}

/** Labels, sample weights and their sample count checked; x, y and sampleWeight as lists. */
function arrayData(op: string, x: unknown, y: unknown, sampleWeight: Tensor | undefined): ArrayData {
  const xs = inputList(op, x);
  if (y === undefined) throw new ArgumentError(`${op}: labels y are required when x is a tensor`);
  const ys = tensorList(op, 'y', y, ' (the labels)');
  sampleCount(op, sampleWeight ? [...xs, ...ys, ...tensorList(op, 'sampleWeight', sampleWeight)] : [...xs, ...ys]);
  return { x: xs, y: ys, sampleWeight };
}

export class Trainer {
  readonly optimizer: Optimizer;
  private readonly compileLoss: CompileLoss;
  private readonly compileMetrics: CompileMetrics;
  private readonly lossTracker = new MeanTracker();

  constructor(
    private readonly model: Model,
    args: CompileArgs,
  ) {
    this.optimizer = getOptimizer(args.optimizer);
    const outputs: Outputs = {
      names: model.isFunctional ? model.outputs.map((t) => t.node!.layer.name) : ['output'],
      model: model.name,
    };
    this.compileLoss = new CompileLoss(outputs, args.loss, args.lossWeights);
    this.compileMetrics = new CompileMetrics(outputs, this.compileLoss.fns, args.metrics, args.weightedMetrics);
  }

  private logs(prefix = ''): Logs {
    const logs: Logs = { [`${prefix}loss`]: this.lossTracker.result() };
    this.compileLoss.logs(logs, prefix);
    this.compileMetrics.logs(logs, prefix);
    return logs;
  }

  private resetMetrics(): void {
    this.lossTracker.reset();
    this.compileLoss.reset();
    this.compileMetrics.reset();
  }

  /** The compiled loss plus, when training, the layers' regularization penalties (Keras compute_loss). */
  private computeLoss(
    ys: readonly Tensor[],
    preds: readonly Tensor[],
    sampleWeight: Tensor | undefined,
    training: boolean,
  ): Tensor {
    const total = this.compileLoss.call(ys, preds, sampleWeight);
    const reg = training ? this.model.regularizationLoss() : undefined;
    return reg ? o.add(total, o.cast(reg, total.dtype)) : total;
  }

  // ---- Steps (Keras train_step / test_step / predict_step) ----

  /** One optimization step on one batch; returns the batch loss. */
  private trainStep({ x, y, sampleWeight }: StepBatch, stepSeed: number): number {
    const ys = y!;
    this.ensureBuilt(x);
    const weights = this.model.trainableWeights;
    if (weights.length === 0) throw new ArgumentError(`fit: model '${this.model.name}' has no trainable weights`);
    this.checkTrainableSet(weights);
    let preds: Tensor[] = [];
    try {
      const { value, grads } = withPhase('backward', () =>
        valueAndGrad((params: Tensor[]) => {
          void params; // the params are the weights' own tensors, which the layers read
          return withPhase('forward', () => {
            const out = asList(this.model.apply(x.length === 1 ? x[0] : x, { training: true, seed: stepSeed }));
            preds = keep(out);
            return this.computeLoss(ys, out, sampleWeight, true);
          });
        })(weights.map((w) => w.value)),
      );
      try {
        const loss = value.item();
        const updated = withPhase('optimizer', () =>
          this.optimizer.apply(
            weights.map((w) => w.value),
            grads,
          ),
        );
        weights.forEach((w, i) => w.assign(updated[i]));
        this.compileMetrics.update(ys, preds, sampleWeight);
        this.lossTracker.update(loss, x[0].shape[0]);
        return loss;
      } finally {
        dispose([value, grads]);
      }
    } finally {
      dispose(preds);
    }
  }

  /** Loss and metrics of one batch in inference mode, added to the running means. */
  private testStep({ x, y, sampleWeight }: StepBatch): void {
    withPhase('evaluate', () => {
      const preds = Trainer.predictStep(this.model, x);
      try {
        const loss = tidy(() => this.computeLoss(y!, preds, sampleWeight, false).item());
        this.lossTracker.update(loss, x[0].shape[0]);
        this.compileMetrics.update(y!, preds, sampleWeight);
      } finally {
        dispose(preds);
      }
    });
  }

  private static predictStep(model: Model, x: (Tensor | StringTensor)[]): Tensor[] {
    return noGrad(() => tidy(() => asList(model.apply(x.length === 1 ? x[0] : x, { training: false }))));
  }

  /** The trainable weights of the first step; the optimizer's state is laid out for exactly these. */
  private trainedWeights?: readonly Variable[];

  /**
   * Setting `trainable` after compile() changes the weights a step updates, which the optimizer's state
   * no longer matches; Keras asks for compile() again, and so does this message.
   */
  private checkTrainableSet(weights: readonly Variable[]): void {
    const first = this.trainedWeights;
    if (!first) {
      this.trainedWeights = [...weights];
      return;
    }
    if (first.length === weights.length && first.every((v, i) => v === weights[i])) return;
    const now = new Set(weights),
      before = new Set(first);
    const frozen = first.filter((v) => !now.has(v)).map((v) => v.name),
      unfrozen = weights.filter((v) => !before.has(v)).map((v) => v.name);
    throw new ArgumentError(
      `fit: the trainable weights of model '${this.model.name}' changed since it was compiled and trained` +
        (frozen.length ? ` (no longer trainable: ${frozen.join(', ')})` : '') +
        (unfrozen.length ? ` (newly trainable: ${unfrozen.join(', ')})` : '') +
        '; call model.compile() again after setting layer.trainable, as in Keras',
    );
  }

  /**
   * Layers make their weights on first call; a model whose layers are not all built yet (a subclass
   * model, a Sequential without an input shape) is called once in inference mode so that the step
   * differentiates with respect to every weight, the first step included.
   */
  private ensureBuilt(x: (Tensor | StringTensor)[]): void {
    const built = (l: Layer): boolean => l.built && l.sublayers().every(built);
    if (built(this.model)) return;
    noGrad(() =>
      tidy(() => {
        this.model.apply(x.length === 1 ? x[0] : x, { training: false });
      }),
    );
  }

  trainOnBatch(x: Tensor | Tensor[], y: Tensor | Tensor[], sampleWeight?: Tensor): Logs {
    const data = arrayData('trainOnBatch', x, y, sampleWeight);
    this.resetMetrics();
    this.trainStep(data, mixSeeds(this.optimizer.iterations, 0x5eed));
    return this.logs();
  }

  async fit(xIn: TrainingInput, yOrArgs?: Tensor | Tensor[] | FitArgs, maybeArgs?: FitArgs): Promise<History> {
    const iterable = isIterableInput(xIn);
    const args: FitArgs = ((iterable ? yOrArgs : maybeArgs) as FitArgs) ?? {};
    const {
      epochs = 1,
      batchSize = 32,
      validationSplit = 0,
      shuffle = true,
      initialEpoch = 0,
      verbose = 'auto',
    } = args;
    checkInteger('fit', 'epochs', epochs, 0);
    checkInteger('fit', 'batchSize', batchSize, 1);
    checkInteger('fit', 'initialEpoch', initialEpoch, 0);
    checkValidationSplit('fit', validationSplit);
    checkVerbose('fit', verbose);
    const seed = args.seed ?? drawSeed();
    const model = this.model;
    const owned: Tensor[] = [];
    let recorder: RunRecorder | undefined;
    try {
      const { train, validation } = this.fitData(xIn, iterable ? undefined : yOrArgs, args, owned);
      const data = new EpochIterator(train, {
        op: 'fit',
        batchSize,
        shuffle,
        seed,
        classWeight: args.classWeight,
        labels: true,
      });
      const valData =
        validation && new EpochIterator(validation, { op: 'fit (validationData)', batchSize, labels: true });
      // Keras 3 order: the user's callbacks, then History and the progress display, so that these two see
      // what the others add to the logs (e.g. learning_rate from LearningRateScheduler / ReduceLROnPlateau).
      const history = new History();
      const list: Callback[] = [...(args.callbacks ?? []), history];
      recorder = addRunRecorder(model, list, args.record);
      if (verbose !== 0) list.push(new ProgressDisplay(epochs, data.steps, verbose));
      const callbacks = new CallbackList(model, list, {
        epochs,
        batchSize,
        steps: data.steps,
        samples: data.samples,
        validationSplit,
        shuffle,
        initialEpoch,
        seed,
        // Raw text has no tensor to fingerprint: the run record then describes the labels only.
        x: iterable ? undefined : onlyTensors((train as ArrayData).x),
        y: iterable ? undefined : (train as ArrayData).y,
      });

      await callbacks.onTrainBegin();
      for (let epoch = initialEpoch; epoch < epochs && !callbacks.stopTraining; epoch++) {
        this.resetMetrics();
        await callbacks.onEpochBegin(epoch);
        let step = 0;
        if (!callbacks.stopTraining)
          for await (const batch of data.epoch(epoch)) {
            await callbacks.onBatchBegin(step);
            const loss = this.trainStep(batch, mixSeeds(seed, this.optimizer.iterations));
            await callbacks.onBatchEnd(step, { ...this.logs(), batchLoss: loss });
            step++;
            if (callbacks.stopTraining) break;
          }
        if (step === 0 && !callbacks.stopTraining) throw noBatches('fit', epoch);
        const logs = this.logs();
        if (valData) Object.assign(logs, await this.evaluateLogs(valData, 'val_'));
        await callbacks.onEpochEnd(epoch, logs);
      }
      await callbacks.onTrainEnd();
      return history;
    } catch (e) {
      // A fit that throws does not reach every onTrainEnd: its recorder stops metering here.
      recorder?.abort();
      throw e;
    } finally {
      dispose(owned);
    }
  }

  /**
   * fit's training and validation data: a dataset as given, or tensors checked and (with validationSplit)
   * split, the last fraction held out before any shuffling as Keras does; views made here go to `owned`.
   */
  private fitData(
    xIn: TrainingInput,
    y: unknown,
    args: FitArgs,
    owned: Tensor[],
  ): { train: DataSource; validation?: DataSource } {
    const split = args.validationSplit ?? 0;
    let validation: DataSource | undefined;
    if (args.validationData !== undefined) {
      const v = args.validationData;
      if (isIterableInput(v)) validation = v;
      else if (Array.isArray(v) && (v.length === 2 || v.length === 3))
        validation = arrayData('fit (validationData)', v[0], v[1], v[2] as Tensor | undefined);
      else
        throw new ArgumentError(
          'fit: validationData must be [x, y], [x, y, sampleWeight] or a dataset of {x, y} batches, got ' +
            (Array.isArray(v) ? `an array of ${(v as unknown[]).length}` : typeof v),
        );
    }
    if (isIterableInput(xIn)) {
      // As Keras: these need tensors to slice; a dataset carries its own validation split and weights.
      if (split > 0)
        throw new ArgumentError(
          'fit: validationSplit needs tensors; with a dataset, pass validationData ' +
            '(e.g. a dataset from dataset.take / skip)',
        );
      if (args.sampleWeight)
        throw new ArgumentError(
          'fit: sampleWeight needs tensors; a dataset gives per-sample weights as { x, y, sampleWeight } batches',
        );
      return { train: xIn, validation };
    }
    const data = arrayData('fit', xIn, y, args.sampleWeight);
    if (split === 0) return { train: data, validation };
    const n = data.x[0].shape[0];
    const nVal = Math.floor(n * split),
      nTrain = n - nVal;
    if (nVal === 0 || nTrain === 0)
      throw new ArgumentError(
        `fit: validationSplit ${split} of ${n} samples leaves ${nTrain} for training and ${nVal} for validation; ` +
          'both need at least one',
      );
    // A slice covering the whole tensor is the tensor itself: only views made here are freed later.
    const part = <T extends Tensor | StringTensor>(t: T, start: number, len: number): T => {
      if (t instanceof StringTensor) return t.slice(start, start + len) as T;
      const s = o.sliceAxis(t as Tensor, 0, start, start + len) as T;
      if (s !== t) owned.push(s as Tensor);
      return s;
    };
    const head = <T extends Tensor | StringTensor>(t: T) => part(t, 0, nTrain),
      tail = <T extends Tensor | StringTensor>(t: T) => part(t, nTrain, nVal);
    const train = {
      x: data.x.map(head),
      y: data.y!.map(head),
      sampleWeight: data.sampleWeight && head(data.sampleWeight),
    };
    return { train, validation: validation ?? { x: data.x.map(tail), y: data.y!.map(tail) } };
  }

  /** Loss and metrics over one pass of the data, in inference mode, with keys prefixed (e.g. 'val_'). */
  private async evaluateLogs(data: EpochIterator, prefix: string): Promise<Logs> {
    this.resetMetrics();
    let steps = 0;
    for await (const batch of data.epoch(0)) {
      this.testStep(batch);
      steps++;
    }
    if (steps === 0) throw noBatches(prefix ? 'fit (validationData)' : 'evaluate', 0);
    const logs = this.logs(prefix);
    this.resetMetrics();
    return logs;
  }

  async evaluate(
    xIn: TrainingInput,
    yOrArgs?: Tensor | Tensor[] | EvaluateArgs,
    maybeArgs?: EvaluateArgs,
  ): Promise<Logs> {
    if (isIterableInput(xIn))
      return this.evaluateLogs(new EpochIterator(xIn, { op: 'evaluate', batchSize: 32, labels: true }), '');
    const { batchSize = 32, verbose = 'auto', sampleWeight } = maybeArgs ?? {};
    checkInteger('evaluate', 'batchSize', batchSize, 1);
    checkVerbose('evaluate', verbose);
    const data = arrayData('evaluate', xIn, yOrArgs, sampleWeight);
    return this.evaluateLogs(new EpochIterator(data, { op: 'evaluate', batchSize, labels: true }), '');
  }

  static predict(
    model: Model,
    x: Tensor | Tensor[] | StringInputs,
    { batchSize = 32 }: PredictArgs = {},
  ): Tensor | Tensor[] {
    checkInteger('predict', 'batchSize', batchSize, 1);
    const xs = inputList('predict', x);
    sampleCount('predict', xs);
    const chunks: Tensor[][] = [];
    try {
      for (const batch of new EpochIterator({ x: xs }, { op: 'predict', batchSize, labels: false }).arrays())
        chunks.push(Trainer.predictStep(model, batch.x));
    } catch (e) {
      dispose(chunks);
      throw e;
    }
    const outs = chunks[0].map((_, i) => {
      const parts = chunks.map((c) => c[i]);
      const joined = parts.length === 1 ? parts[0] : o.concat(parts, 0);
      if (joined !== parts[0]) dispose(parts);
      return joined;
    });
    return (Array.isArray(x) && !isStringArray(x)) || outs.length > 1 ? outs : outs[0];
  }
}

/** The inputs when all are tensors (undefined when some are raw text). */
function onlyTensors(xs: (Tensor | StringTensor)[]): Tensor[] | undefined {
  return xs.every((t): t is Tensor => !(t instanceof StringTensor)) ? xs : undefined;
}

/** An epoch without a single batch: empty data, or a one-shot generator that ran out in an earlier epoch. */
function noBatches(op: string, epoch: number): ArgumentError {
  return new ArgumentError(
    `${op}: the data gave no batches` +
      (epoch > 0
        ? ` in epoch ${epoch + 1}; a one-shot iterator (a generator object) runs out after one pass: ` +
          'give a Dataset (e.g. Dataset.fromGenerator), which starts over each epoch'
        : '; expected at least one batch of samples'),
  );
}
