// The training loop behind Model, split as Keras 3's trainer: compile.ts resolves losses and metrics,
// epoch-iterator.ts walks the batches, callback-list.ts fans out events, and this file holds the steps
// (train / test / predict) and the short fit / evaluate / predict loops over them. Everything a step
// makes is freed before the next, so memory stays flat across epochs.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { dispose, keep, tidy, type Disposable } from '../tensor/storage.js';
import { valueAndGrad } from '../autograd/grad.js';
import { Tensor as TensorClass } from '../tensor/tensor.js';
import { noGrad } from '../autograd/tape.js';
import * as o from '../ops/index.js';
import { drawSeed, mixSeeds } from '../ops/random.js';
import { getOptimizer, type Optimizer } from '../optim/index.js';
import { CompileLoss, CompileMetrics, addModelLosses, type CompileArgs, type Outputs } from './compile.js';
import { Mean, type MetricResult, type StatefulMetric } from './metrics.js';
import {
  EpochIterator,
  asList,
  isIterableInput,
  type ArrayData,
  type Batch,
  type DataSource,
  type StepBatch,
  type InputData,
  type TensorData,
  type TrainingInput,
  isPromise,
  stepper,
} from './epoch-iterator.js';
import {
  CALL_OPTIONS,
  checkCallOptions,
  checkInteger,
  checkValidationSplit,
  checkVerbose,
  dataNames,
  inputList,
  sampleCount,
  tensorList,
  type DataNames,
} from './arguments.js';
import { StringTensor, isStringArray } from '../nn/preprocessing/string-tensor.js';
import { CallbackList } from './callback-list.js';
import { History, type Callback, type Logs } from './callbacks.js';
import { resumePoint } from './backup-and-restore.js';
import { joinLaunchedWorld, world } from '../distributed/world.js';
import { commMark, openClusterRound } from '../distributed/cluster-record.js';
import { ProgressDisplay } from './progress.js';
import { RunRecorder } from './run-record-callback.js';
import type { RunRecorderOptions } from '../ledger/recording.js';
import { LOSS_SCOPE, withLayerPath, withPhase } from '../autograd/annotations.js';
import type { Model } from './model.js';
import type { Variable } from '../nn/variable.js';
import { privacyHooks, type DpSgdOptions, type PrivateSteps, type PrivateTraining } from './private-training.js';
import { defaultStrategy, type FitStrategy, type FitStrategyContext } from './strategy.js';

export type { CompileArgs } from './compile.js';
export type { Batch, TensorData, TrainingInput } from './epoch-iterator.js';

export interface FitArgs {
  /** The epoch to stop before (a non-negative integer; 0 trains nothing, as in Keras). */
  epochs?: number;
  batchSize?: number;
  /** The last fraction of the samples (tensors only), held out for validation: in [0, 1). */
  validationSplit?: number;
  /** [x, y], [x, y, sampleWeight] (as Keras) or a dataset of {x, y} batches; replaces validationSplit's part. */
  validationData?: [TensorData, TensorData] | [TensorData, TensorData, Tensor] | AsyncIterable<Batch> | Iterable<Batch>;
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
  /**
   * Trains with DP-SGD, overriding compile's privacy options: e.g. { targetEpsilon: 3, delta: 1e-5,
   * l2NormClip: 1 } picks the noise for the planned steps and stops when the budget is spent.
   */
  privacy?: DpSgdOptions;
  /**
   * Trains across the processes of an MPI job (distributed.init() first): true is data parallel,
   * `new distributed.DataParallel()`; or a strategy object (distributed.DataParallel / ParameterServer).
   */
  distributed?: boolean | FitStrategy;
}

export interface EvaluateArgs {
  batchSize?: number;
  verbose?: 0 | 1 | 2 | 'auto';
  sampleWeight?: Tensor;
}

export interface PredictArgs {
  batchSize?: number;
  /** As Keras' (predict shows no progress; checked like fit's). */
  verbose?: 0 | 1 | 2 | 'auto';
}

/**
 * What trainStep / testStep / predictStep receive (Keras' `data`): the batch as [x], [x, y] or
 * [x, y, sampleWeight], each of x and y one tensor (one input / output) or a list.
 */
export type StepData = readonly [x: Tensor | Tensor[], y?: Tensor | Tensor[], sampleWeight?: Tensor];

/**
 * What trainStep / testStep return (Keras' logs): numbers or scalar tensors by name, or records of
 * them (e.g. compiledMetrics.result()), flattened; fit reads them as numbers before freeing the step.
 */
export type StepLogs = Record<string, number | Tensor | Record<string, number | Tensor>>;

/** Whether y's argument is in fact the options (a plain object of option keys only): fit(x, { epochs }). */
function isOptions(v: unknown, keys: readonly string[]): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    Object.getPrototypeOf(v) === Object.prototype &&
    Object.keys(v).every((k) => keys.includes(k))
  );
}

/** The batch as a step override receives it: a single tensor where there is one input / output. */
function stepData({ x: given, y, sampleWeight }: StepBatch): StepData {
  const one = (ts: Tensor[]) => (ts.length === 1 ? ts[0] : ts);
  // Raw text reaches a step override as a StringTensor; StepData types the common case, tensors.
  const x = given as Tensor[];
  return sampleWeight ? [one(x), one(y ?? []), sampleWeight] : y ? [one(x), one(y)] : [one(x)];
}

/** StepData (from a user's call of the default step) as the steps read it: lists of tensors. */
function stepBatch(op: string, data: StepData): StepBatch {
  if (!Array.isArray(data) || data.length < 1 || data.length > 3)
    throw new ArgumentError(`${op}: data must be [x], [x, y] or [x, y, sampleWeight], got ${typeof data}`);
  const [x, y, sampleWeight] = data;
  return { x: tensorList(op, 'x', x), y: y === undefined ? undefined : tensorList(op, 'y', y), sampleWeight };
}

/** A step's logs as numbers (scalar tensors read, records flattened); anything else is a typed error. */
function numberLogs(op: string, logs: StepLogs, out: Logs = {}): Logs {
  if (typeof logs !== 'object' || logs === null || Array.isArray(logs))
    throw new ArgumentError(`${op} must return a record of logs ({ name: number or scalar Tensor }), got ${logs}`);
  for (const [k, v] of Object.entries(logs)) {
    if (typeof v === 'number') out[k] = v;
    else if (v instanceof TensorClass && v.size === 1) out[k] = v.item();
    else if (typeof v === 'object' && v !== null && !(v instanceof TensorClass)) numberLogs(op, v, out);
    else
      throw new ArgumentError(
        `${op}: logs['${k}'] is ${v instanceof TensorClass ? `a tensor of shape [${v.shape}]` : typeof v}; ` +
          'expected a number or a scalar Tensor',
      );
  }
  return out;
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

/**
 * Labels, sample weights and their sample count checked; x, y and sampleWeight as lists (x and y in the
 * model's order when keyed by input / output name). Labels are optional where nothing needs them (a
 * trainStep override, a model compiled without a loss).
 */
function arrayData(
  op: string,
  x: unknown,
  y: unknown,
  sampleWeight: Tensor | undefined,
  names: DataNames,
  labels = true,
): ArrayData {
  const xs = inputList(op, x, names);
  if (y === undefined && !labels) {
    sampleCount(op, sampleWeight ? [...xs, sampleWeight] : xs);
    return { x: xs, sampleWeight };
  }
  if (y === undefined) throw new ArgumentError(`${op}: labels y are required when x is a tensor`);
  const ys = tensorList(op, 'y', y, ' (the labels)', 'output', names);
  sampleCount(op, sampleWeight ? [...xs, ...ys, ...tensorList(op, 'sampleWeight', sampleWeight)] : [...xs, ...ys]);
  return { x: xs, y: ys, sampleWeight };
}

/** The weights each optimizer's state was laid out for by a compiled model's first step (see checkTrainableSet). */
const optimizerWeights = new WeakMap<Optimizer, readonly Variable[]>();

export class Trainer {
  readonly optimizer: Optimizer;
  private readonly compileLoss: CompileLoss;
  /** The compiled metrics (Keras compiled_metrics): updateState(y, yPred), result(), resetState(). */
  readonly compileMetrics: CompileMetrics;
  private readonly lossTracker = new Mean({ name: 'loss' });
  /** The seed of the current fit step, for the default trainStep when an override calls it. */
  private stepSeed?: number;

  /**
   * The seed of the current training step (fit's, or one derived from the step count outside fit): what the
   * default step gives stochastic layers, and what Model.stepSeed hands a trainStep override.
   */
  currentStepSeed(): number {
    return this.stepSeed ?? mixSeeds(this.optimizer.iterations, 0x5eed);
  }
  /** DP-SGD, from compile({ privacy }) or the first fit({ privacy }); its accountant spans the fits. */
  private dp?: PrivateTraining;
  /** Whether a private fit is running (its steps are DP-SGD steps). */
  private dpFit = false;

  constructor(
    private readonly model: Model,
    args: CompileArgs,
  ) {
    checkCallOptions('compile', args);
    model.compiledSteps.reset(args.jitCompile ?? 'auto');
    this.optimizer = getOptimizer(args.optimizer ?? 'rmsprop');
    if (args.privacy !== undefined) {
      const hooks = privacyHooks('compile');
      this.dp = hooks.create(hooks.check('compile', args.privacy));
    }
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

  /** Whether compile() was given a loss. */
  private get hasLoss(): boolean {
    return this.compileLoss.fns.length > 0;
  }

  /** The loss tracker (when compiled with a loss), the compiled metrics and per-output loss trackers. */
  get metrics(): StatefulMetric<MetricResult>[] {
    return [...(this.hasLoss ? [this.lossTracker] : []), this.compileMetrics, ...this.compileLoss.metrics];
  }

  /** Keras reset_metrics: every metric of the model, the compiled ones included, back to no data. */
  private resetMetrics(): void {
    this.lossTracker.resetState();
    this.compileLoss.resetState();
    this.compileMetrics.resetState();
    for (const m of this.model.metrics) m.resetState();
  }

  /** The compiled loss: the weighted sum of the outputs' losses (Keras compiled_loss). */
  compiledLoss(op: string, ys: readonly Tensor[] | undefined, preds: readonly Tensor[], sampleWeight?: Tensor): Tensor {
    if (!this.hasLoss)
      throw new ArgumentError(
        `${op}: model '${this.model.name}' was compiled without a loss; pass compile({ loss }) to use one`,
      );
    if (!ys) throw new ArgumentError(`${op}: the compiled loss needs labels y`);
    return this.compileLoss.call(ys, preds, sampleWeight);
  }

  /**
   * The compiled loss (if any) plus every term of model.losses: what addLoss added in this forward pass
   * and the weights' regularization penalties (Keras compute_loss). Nothing to minimise is an error.
   */
  computeLoss(op: string, ys: readonly Tensor[] | undefined, preds: readonly Tensor[], sampleWeight?: Tensor): Tensor {
    const compiled = this.hasLoss ? this.compiledLoss(op, ys, preds, sampleWeight) : undefined;
    // The model's loss terms (addLoss, regularization) and their sum are the loss's work, not a layer's.
    const total = withLayerPath(LOSS_SCOPE, () => addModelLosses(compiled, this.model.losses));
    if (!total)
      throw new ArgumentError(
        `${op}: model '${this.model.name}' has no loss: compile() was given none and its layers added none ` +
          '(addLoss); pass compile({ loss }), add losses in call(), or override trainStep',
      );
    return total;
  }

  // ---- Steps (Keras train_step / test_step / predict_step) ----

  /**
   * One optimization step on one batch; returns the batch loss. With a distributed strategy, the strategy is told
   * each gradient as backward makes it and applies the step (averaged across ranks); a rank with no rows in this
   * step (its share of the last global batch) joins it with zero gradients.
   */
  private trainStep({ x, y, sampleWeight }: StepBatch, stepSeed: number, strategy?: FitStrategy): number | undefined {
    if (this.dp && !this.dpFit)
      throw new ArgumentError(
        `trainStep: model '${this.model.name}' was compiled with privacy (DP-SGD), whose steps need fit() ` +
          '(Poisson sampling and the accountant); a step outside fit would not be private',
      );
    this.ensureBuilt(x);
    const weights = this.model.trainableWeights;
    if (weights.length === 0) throw new ArgumentError(`fit: model '${this.model.name}' has no trainable weights`);
    this.checkTrainableSet(weights);
    const rows = x[0].shape[0];
    if (strategy && rows === 0) {
      const zeros = weights.map((w) => o.zeros(w.shape, w.dtype));
      try {
        withPhase('optimizer', () => strategy.applyGradients(zeros, weights, this.optimizer, 0));
      } finally {
        dispose(zeros);
      }
      return undefined;
    }
    const gradientReady = strategy?.gradientReady && strategy.gradientReady.bind(strategy);
    // Loss, gradients and predictions: [loss, ...grads, ...preds].
    const lossAndGrads = (): Tensor[] => {
      let preds: Tensor[] = [];
      let valueAndGrads;
      try {
        valueAndGrads = withPhase('backward', () =>
          valueAndGrad(
            (params: Tensor[]) => {
              void params; // the params are the weights' own tensors, which the layers read
              return withPhase('forward', () => {
                const out = asList(this.model.apply(x.length === 1 ? x[0] : x, { training: true, seed: stepSeed }));
                preds = keep(out);
                return this.computeLoss('fit', y, out, sampleWeight);
              });
            },
            { gradientReady },
          )(weights.map((w) => w.value)),
        );
      } catch (e) {
        dispose(preds);
        throw e;
      }
      return [valueAndGrads.value, ...valueAndGrads.grads, ...preds];
    };
    const results =
      strategy || this.dp
        ? lossAndGrads()
        : this.model.compiledSteps.run(
            'train',
            this.model,
            x,
            y,
            sampleWeight,
            stepSeed,
            lossAndGrads,
            this.stepResults,
          );
    const [value] = results,
      grads = results.slice(1, 1 + weights.length),
      preds = results.slice(1 + weights.length);
    try {
      const loss = value.item();
      withPhase('optimizer', () =>
        strategy
          ? strategy.applyGradients(grads, weights, this.optimizer, rows)
          : this.optimizer.applyGradients(grads, weights),
      );
      if (y) this.compileMetrics.updateState(y, preds, sampleWeight);
      this.lossTracker.updateState(loss, rows);
      return loss;
    } finally {
      dispose(results);
      this.stepResults.clear();
    }
  }

  /** Owns a compiled training step's results until the step disposes them (see BlockCall.owner). */
  private readonly stepResults = new Set<Disposable>();

  /**
   * Loss and metrics of one batch in inference mode, added to the running means. The loss is taken in
   * the forward pass's scope, where the losses its layers added (addLoss) are still alive.
   */
  private testStep({ x, y, sampleWeight }: StepBatch): void {
    withPhase('evaluate', () => {
      const results = this.model.compiledSteps.run('test', this.model, x, y, sampleWeight, undefined, () =>
        noGrad(() =>
          tidy(() => {
            const preds = asList(this.model.apply(x.length === 1 ? x[0] : x, { training: false }));
            return [this.computeLoss('evaluate', y, preds, sampleWeight), ...preds];
          }),
        ),
      );
      try {
        this.lossTracker.updateState(results[0].item(), x[0].shape[0]);
        if (y) this.compileMetrics.updateState(y, results.slice(1), sampleWeight);
      } finally {
        dispose(results);
      }
    });
  }

  static predictStep(model: Model, x: (Tensor | StringTensor)[]): Tensor[] {
    return model.compiledSteps.run('predict', model, x, undefined, undefined, undefined, () =>
      noGrad(() => tidy(() => asList(model.apply(x.length === 1 ? x[0] : x, { training: false })))),
    );
  }

  // ---- The steps as Model exposes them (a subclass may override them and call these through super) ----

  /** The default Model.trainStep: one step of the compiled training, returning the logs so far. */
  defaultTrainStep(data: StepData): Logs {
    this.trainStep(stepBatch('trainStep', data), this.currentStepSeed());
    return this.logs();
  }

  /** The default Model.testStep: loss and metrics of one batch, returning the logs so far. */
  defaultTestStep(data: StepData): Logs {
    this.testStep(stepBatch('testStep', data));
    return this.logs();
  }

  /**
   * Runs the model's own trainStep / testStep on a batch: what it makes is freed when it returns (the
   * weights and optimizer state it assigns are kept by their Variables), and its logs are read as numbers.
   */
  private customStep(step: 'trainStep' | 'testStep', batch: StepBatch): Logs {
    return tidy(() => numberLogs(step, this.model[step](stepData(batch))));
  }

  /** The custom path builds the model first too, when it can be called (a GAN container model cannot). */
  private ensureBuiltIfCallable(x: (Tensor | StringTensor)[]): void {
    if (this.model.isFunctional || this.model.customSteps().call) this.ensureBuilt(x);
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
      // An optimizer passed to compile() again (fine-tuning) holds state laid out for the weights it trained;
      // on another set of the same shapes it would apply one weight's moments to another, so refuse as Keras.
      const earlier = optimizerWeights.get(this.optimizer);
      if (earlier && (earlier.length !== weights.length || earlier.some((v, i) => v !== weights[i])))
        throw new ArgumentError(
          `fit: the optimizer given to compile() of model '${this.model.name}' was built for other weights ` +
            `(${earlier.map((v) => v.name).join(', ')}), not the trainable ones now ` +
            `(${weights.map((v) => v.name).join(', ')}); pass a new optimizer to compile(), ` +
            'e.g. optimizers.adam({ learningRate: 1e-5 }) to fine-tune, as Keras requires',
        );
      optimizerWeights.set(this.optimizer, [...weights]);
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
    if (this.model.flattenLayers().every((l) => l.built)) return;
    noGrad(() =>
      tidy(() => {
        this.model.apply(x.length === 1 ? x[0] : x, { training: false });
      }),
    );
  }

  trainOnBatch(x: TensorData, y: TensorData | undefined, sampleWeight?: Tensor): Logs {
    const custom = this.model.customSteps().train;
    const data = arrayData('trainOnBatch', x, y, sampleWeight, dataNames(this.model), !custom && this.hasLoss);
    this.resetMetrics();
    if (custom) return this.customStep('trainStep', data);
    this.trainStep(data, mixSeeds(this.optimizer.iterations, 0x5eed));
    return this.logs();
  }

  async fit(xIn: TrainingInput, yOrArgs?: TensorData | FitArgs, maybeArgs?: FitArgs): Promise<History> {
    const iterable = isIterableInput(xIn);
    // Options in y's place: after a dataset, or after tensors without labels (fit(x, { ... })).
    const noLabels = !iterable && isOptions(yOrArgs, CALL_OPTIONS.fit);
    const args: FitArgs = ((iterable || noLabels ? yOrArgs : maybeArgs) as FitArgs) ?? {};
    checkCallOptions('fit', args);
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
    const model = this.model;
    const custom = model.customSteps().train;
    // Checked once per fit: without `distributed`, nothing below differs from a one-process fit. First, so that a
    // process started by mpirun has joined its world before the backup is read (rank 0 reads it for all).
    const strategy = this.fitStrategy(args, custom, iterable);
    if (strategy) openClusterRound(strategy);
    const commFrom = strategy && commMark(world());
    // Where a backup (BackupAndRestore) left off: fit goes on from its epoch and batch, with its seed.
    const resume = await resumePoint(args.callbacks ?? [], args.seed);
    let seed = resume?.seed ?? args.seed ?? drawSeed();
    const dp = this.privateFit(args.privacy, custom, iterable);
    const owned: Tensor[] = [];
    let recorder: RunRecorder | undefined;
    try {
      const labels = !custom && this.hasLoss;
      const y = iterable || noLabels ? undefined : yOrArgs;
      const { train, validation } = this.fitData(xIn, y, args, owned, labels);
      if (strategy) {
        const ctx = this.strategyContext(train as ArrayData, { epochs, initialEpoch, batchSize, seed });
        if ((await strategy.begin(ctx)) === 'serve') {
          await strategy.serve?.();
          return new History();
        }
        seed = ctx.seed;
      }
      const data = new EpochIterator(train, {
        op: 'fit',
        batchSize,
        shuffle,
        seed,
        classWeight: args.classWeight,
        labels,
        names: dataNames(model),
        sampling: dp?.sampling(args.privacy),
        shard: strategy?.shard,
      });
      const plan = dp?.begin(model, args.privacy, {
        samples: data.samples!,
        batchSize,
        plannedSteps: Math.max(0, epochs - initialEpoch) * data.steps!,
      });
      this.dpFit = dp !== undefined;
      const valData =
        validation &&
        new EpochIterator(validation, {
          op: 'fit (validationData)',
          batchSize,
          labels: this.evaluationNeedsLabels,
          names: dataNames(model),
        });
      // Keras 3 order: the user's callbacks, then History and the progress display, so that these two see
      // what the others add to the logs (e.g. learning_rate from LearningRateScheduler / ReduceLROnPlateau).
      const history = new History();
      const list: Callback[] = [...(args.callbacks ?? []), history];
      recorder = addRunRecorder(model, list, args.record);
      if (recorder) recorder.privacy = dp && (() => dp.record());
      if (plan?.targetEpsilon !== undefined) list.unshift(privacyHooks('fit').budget(plan.targetEpsilon, plan.delta));
      if (verbose !== 0 && (strategy?.chief ?? true)) list.push(new ProgressDisplay(epochs, data.steps, verbose));
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
        validation: tensorData(validation),
        strategy,
        commFrom,
      });

      await callbacks.onTrainBegin();
      for (let epoch = resume?.epoch ?? initialEpoch; epoch < epochs && !callbacks.stopTraining; epoch++) {
        this.resetMetrics();
        await callbacks.onEpochBegin(epoch);
        let step = 0;
        // With a trainStep override, its last logs are the epoch's (Keras): trackers it keeps are running means.
        let stepLogs: Logs = {};
        // Array data's batches and synchronous callbacks cost a step no promise: only what is async is awaited.
        const batches = stepper(data.epoch(epoch));
        try {
          while (!callbacks.stopTraining) {
            const next = batches.next();
            const { done, value: batch } = isPromise(next) ? await next : next;
            if (done) break;
            if (epoch === resume?.epoch && step < resume.step) {
              step++; // a batch trained before the backup
              continue;
            }
            const begun = callbacks.onBatchBegin(step);
            if (begun) await begun;
            strategy?.beginStep?.(step);
            let ended: Promise<void> | undefined;
            if (custom) {
              if (step === 0 && epoch === initialEpoch) this.ensureBuiltIfCallable(batch.x);
              this.stepSeed = mixSeeds(seed, this.optimizer.iterations);
              stepLogs = this.customStep('trainStep', batch);
              ended = callbacks.onBatchEnd(step, { ...stepLogs });
            } else if (dp) {
              const loss = this.privateStep(dp, batch, mixSeeds(seed, this.optimizer.iterations));
              ended = callbacks.onBatchEnd(step, { ...this.logs(), batchLoss: loss });
            } else {
              const stepSeed = mixSeeds(seed, this.optimizer.iterations);
              // Ranks of a larger world draw their own dropout masks, as the rows of one big batch would.
              const rankSeed = strategy && strategy.worldSize > 1 ? mixSeeds(stepSeed, strategy.rank) : stepSeed;
              const loss = this.trainStep(batch, rankSeed, strategy);
              // A data-parallel rank with no rows in the step has no batch loss (and its logs are its running means).
              ended = callbacks.onBatchEnd(
                step,
                loss === undefined ? this.logs() : { ...this.logs(), batchLoss: loss },
              );
            }
            if (ended) await ended;
            step++;
            if (strategy) this.agreeStop(strategy, epoch, step);
          }
        } finally {
          // Frees the batch a break left (the iterator's own finally), as for-await's exit does.
          const closed = batches.return?.();
          if (isPromise(closed)) await closed;
        }
        if (step === 0 && !callbacks.stopTraining) throw noBatches('fit', epoch);
        // Distributed: the logs of all ranks together (the same on every rank, so callbacks decide alike); every
        // rank evaluates the whole validation data, so its val_ logs are the same everywhere without reduction.
        const own = custom ? { ...stepLogs } : this.logs();
        const logs = strategy ? strategy.reduceLogs(own, custom ? undefined : this.model.metrics) : own;
        if (dp) logs.epsilon = dp.epsilon().epsilon;
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
      this.stepSeed = undefined;
      this.dpFit = false;
      dp?.end(model);
      if (strategy) await strategy.end();
      dispose(owned);
    }
  }

  /**
   * fit's distributed strategy (undefined without `distributed`): what it cannot honour is an error, not a
   * silently one-process or unsynchronised run.
   */
  private fitStrategy(args: FitArgs, custom: boolean, iterable: boolean): FitStrategy | undefined {
    const given = args.distributed;
    if (given === undefined || given === false) return undefined;
    const strategy = given === true ? defaultStrategy() : given;
    if (given === true && !strategy)
      throw new ArgumentError(
        "fit: distributed: true needs the package's `distributed` module loaded (import { distributed } from " +
          "'candor', or src/distributed/index.js), which registers data parallelism as fit's default strategy",
      );
    if (typeof strategy !== 'object' || strategy === null || typeof strategy.begin !== 'function')
      throw new ArgumentError(
        'fit: distributed must be true (data parallel) or a strategy (distributed.DataParallel, ' +
          `distributed.ParameterServer), got ${typeof given}`,
      );
    const name = this.model.name;
    if (custom)
      throw new ArgumentError(
        `fit: model '${name}' overrides trainStep, and distributed training averages gradients in the default step ` +
          '(its optimizer.applyGradients would update each rank alone, and the copies would drift apart); remove ' +
          'the override or the distributed option',
      );
    if (args.privacy !== undefined || this.dp)
      throw new ArgumentError(
        `fit: model '${name}' trains with DP-SGD (privacy), which is not supported with distributed training yet ` +
          "(its Poisson sampling and per-example noise are one process's); remove one of them",
      );
    if (iterable)
      throw new ArgumentError(
        "fit: distributed training reads each rank's shard of every global batch, which needs the data as tensors " +
          '(every rank holds them); pass tensors, not a dataset or generator',
      );
    // Started by mpirun / srun without distributed.init(): join the world now, else each rank trains alone as rank 0.
    joinLaunchedWorld();
    return strategy;
  }

  /**
   * A stop asked for by one rank's batch callbacks (TerminateOnNaN reads the rank's own batch loss) becomes every
   * rank's, after the same step: a rank leaving the epoch alone would issue collectives the others do not.
   */
  private agreeStop(strategy: FitStrategy, epoch: number, step: number): void {
    const asked = this.model.stopTraining;
    if (strategy.agreeStop) this.model.stopTraining = strategy.agreeStop(asked);
    else if (asked && strategy.worldSize > 1)
      throw new ArgumentError(
        `fit: a callback stopped training at epoch ${epoch}, step ${step} on rank ${strategy.rank}, and the ` +
          `${strategy.name} strategy cannot stop the other ranks mid-epoch; stop at an epoch's end (EarlyStopping)`,
      );
  }

  /** What begin() is told; the model is built first (on the first rows), so every rank has weights to agree on. */
  private strategyContext(
    train: ArrayData,
    args: { epochs: number; initialEpoch: number; batchSize: number; seed: number },
  ): FitStrategyContext {
    const n = train.x[0].shape[0];
    if (n === 0) throw new ArgumentError('fit: the training data has no samples');
    const first = train.x.map((t) => (t instanceof StringTensor ? t.slice(0, 1) : o.sliceAxis(t, 0, 0, 1)));
    try {
      this.ensureBuilt(first);
    } finally {
      dispose(first.filter((t, i): t is Tensor => t !== train.x[i] && !(t instanceof StringTensor)));
    }
    return { model: this.model, optimizer: this.optimizer, ...args, samples: n };
  }

  /** The DP-SGD steps this model has taken (what model.save() keeps), or undefined when it has taken none. */
  get privateSteps(): PrivateSteps[] | undefined {
    const steps = this.dp?.history();
    return steps?.length ? steps : undefined;
  }

  /** Accounts a loaded model's earlier DP-SGD steps, so that epsilon composes across save and load. */
  restorePrivateSteps(steps: readonly PrivateSteps[]): void {
    this.dp ??= privacyHooks('loadModel').create();
    this.dp.restore(steps);
  }

  /**
   * The DP-SGD of this fit (compile's, or made for fit's privacy options), or undefined for an ordinary fit.
   * DP-SGD samples the batches itself and runs in the default step, on the compiled loss.
   */
  private privateFit(
    options: DpSgdOptions | undefined,
    custom: boolean,
    iterable: boolean,
  ): PrivateTraining | undefined {
    if (options !== undefined) {
      const hooks = privacyHooks('fit');
      hooks.check('fit', options);
      this.dp ??= hooks.create();
    }
    if (!this.dp) return undefined;
    const name = this.model.name;
    if (custom)
      throw new ArgumentError(
        `fit: model '${name}' overrides trainStep, and DP-SGD (privacy) runs in the default step only: its ` +
          'per-example clipping and noise would be bypassed; remove the override or the privacy options',
      );
    if (iterable)
      throw new ArgumentError(
        'fit: DP-SGD (privacy) samples the batches itself (Poisson sampling, which the accountant assumes); ' +
          'pass the training data as tensors, not a dataset',
      );
    if (!this.hasLoss) throw new ArgumentError(`fit: DP-SGD (privacy) needs a compiled loss; model '${name}' has none`);
    return this.dp;
  }

  /** One DP-SGD step (see src/privacy/dp-sgd-step.ts), scored like an ordinary one; returns the batch loss. */
  private privateStep(dp: PrivateTraining, batch: StepBatch, stepSeed: number): number {
    const { x, y, sampleWeight } = batch;
    this.ensureBuilt(x);
    const weights = this.model.trainableWeights;
    this.checkTrainableSet(weights);
    const { loss, preds } = dp.step(batch, {
      model: this.model,
      weights,
      optimizer: this.optimizer,
      loss: (out, ys, sw) => this.compiledLoss('fit', ys, out, sw),
      stepSeed,
    });
    try {
      const n = x[0].shape[0];
      if (n > 0 && y) this.compileMetrics.updateState(y, preds, sampleWeight);
      if (n > 0) this.lossTracker.updateState(loss, n);
      return loss;
    } finally {
      dispose(preds);
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
    labels: boolean,
  ): { train: DataSource; validation?: DataSource } {
    const split = args.validationSplit ?? 0;
    let validation: DataSource | undefined;
    if (args.validationData !== undefined) {
      const v = args.validationData;
      if (isIterableInput(v)) validation = v;
      else if (Array.isArray(v) && (v.length === 2 || v.length === 3))
        validation = arrayData(
          'fit (validationData)',
          v[0],
          v[1],
          v[2] as Tensor | undefined,
          dataNames(this.model),
          this.evaluationNeedsLabels,
        );
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
    const data = arrayData('fit', xIn, y, args.sampleWeight, dataNames(this.model), labels);
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
      y: data.y?.map(head),
      sampleWeight: data.sampleWeight && head(data.sampleWeight),
    };
    return { train, validation: validation ?? { x: data.x.map(tail), y: data.y?.map(tail) } };
  }

  /** Loss and metrics over one pass of the data, in inference mode, with keys prefixed (e.g. 'val_'). */
  private async evaluateLogs(data: EpochIterator, prefix: string): Promise<Logs> {
    this.resetMetrics();
    const custom = this.model.customSteps().test;
    let steps = 0;
    let stepLogs: Logs = {};
    for await (const batch of data.epoch(0)) {
      if (custom) stepLogs = this.customStep('testStep', batch);
      else this.testStep(batch);
      steps++;
    }
    if (steps === 0) throw noBatches(prefix ? 'fit (validationData)' : 'evaluate', 0);
    const logs = custom
      ? Object.fromEntries(Object.entries(stepLogs).map(([k, v]) => [prefix + k, v]))
      : this.logs(prefix);
    this.resetMetrics();
    return logs;
  }

  /** Whether evaluate's batches need labels: the default testStep does when a loss was compiled. */
  private get evaluationNeedsLabels(): boolean {
    return !this.model.customSteps().test && this.hasLoss;
  }

  async evaluate(xIn: TrainingInput, yOrArgs?: TensorData | EvaluateArgs, maybeArgs?: EvaluateArgs): Promise<Logs> {
    const labels = this.evaluationNeedsLabels;
    const names = dataNames(this.model);
    if (isIterableInput(xIn)) {
      checkCallOptions('evaluate', yOrArgs);
      return this.evaluateLogs(new EpochIterator(xIn, { op: 'evaluate', batchSize: 32, labels, names }), '');
    }
    const noLabels = isOptions(yOrArgs, CALL_OPTIONS.evaluate);
    const args = (noLabels ? (yOrArgs as EvaluateArgs) : maybeArgs) ?? {};
    checkCallOptions('evaluate', args);
    const { batchSize = 32, verbose = 'auto', sampleWeight } = args;
    checkInteger('evaluate', 'batchSize', batchSize, 1);
    checkVerbose('evaluate', verbose);
    const data = arrayData('evaluate', xIn, noLabels ? undefined : yOrArgs, sampleWeight, names, labels);
    return this.evaluateLogs(new EpochIterator(data, { op: 'evaluate', batchSize, labels }), '');
  }

  static predict(model: Model, x: InputData, args: PredictArgs = {}): Tensor | Tensor[] {
    checkCallOptions('predict', args);
    const { batchSize = 32, verbose = 'auto' } = args;
    checkInteger('predict', 'batchSize', batchSize, 1);
    checkVerbose('predict', verbose);
    const xs = inputList('predict', x, dataNames(model));
    sampleCount('predict', xs);
    const chunks: Tensor[][] = [];
    const custom = model.customSteps().predict;
    try {
      for (const batch of new EpochIterator({ x: xs }, { op: 'predict', batchSize, labels: false }).arrays())
        chunks.push(
          custom
            ? noGrad(() => tidy(() => asList(model.predictStep(stepData(batch)))))
            : Trainer.predictStep(model, batch.x),
        );
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

/** Validation data as tensors for the run record's fingerprint; none for a dataset or raw text. */
function tensorData(data: DataSource | undefined): { x: Tensor[]; y?: Tensor[] } | undefined {
  if (!data || isIterableInput(data)) return undefined;
  const x = onlyTensors((data as ArrayData).x);
  return x && { x, y: (data as ArrayData).y };
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
