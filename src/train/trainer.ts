// compile / fit / evaluate / predict / trainOnBatch: the training loop behind Model. One step is
// valueAndGrad over the trainable weights, one optimizer update, and metric updates; everything a step
// makes is freed before the next, so memory stays flat across epochs.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { dispose, keep, tidy } from '../tensor/storage.js';
import { valueAndGrad } from '../autograd/grad.js';
import { noGrad } from '../autograd/tape.js';
import * as o from '../ops/index.js';
import { RandomStream, drawSeed, mixSeeds } from '../ops/random.js';
import { getOptimizer, type Optimizer, type OptimizerSpec } from '../optim/index.js';
import { getLoss, type LossFn, type LossSpec } from '../nn/losses.js';
import { maskBytes } from '../nn/masking.js';
import { getMetric, type Metric, type MetricSpec } from './metrics.js';
import { History, type Callback, type Logs } from './callbacks.js';
import { ProgressDisplay } from './progress.js';
import { RunRecorder, type RunRecorderOptions } from '../ledger/record.js';
import { withPhase } from '../ledger/annotations.js';
import type { Model } from './model.js';
import type { Layer } from '../nn/layer.js';
import type { Variable } from '../nn/variable.js';

/** A batch as datasets yield it. */
export interface Batch {
  x: Tensor | Tensor[];
  y?: Tensor | Tensor[];
  sampleWeight?: Tensor;
}

export type TrainingInput = Tensor | Tensor[] | AsyncIterable<Batch> | Iterable<Batch>;

export interface CompileArgs {
  optimizer: OptimizerSpec;
  /** One loss for all outputs, one per output (list), or by output layer name. */
  loss: LossSpec | LossSpec[] | Record<string, LossSpec>;
  /** Metrics computed without sample or class weights (Keras `metrics`). */
  metrics?: MetricSpec[] | MetricSpec[][] | Record<string, MetricSpec[]>;
  /** Metrics weighted by sampleWeight / classWeight (Keras `weighted_metrics`); logged as 'weighted_<name>' when a plain metric has the same name. */
  weightedMetrics?: MetricSpec[] | MetricSpec[][] | Record<string, MetricSpec[]>;
  lossWeights?: number[] | Record<string, number>;
}

export interface FitArgs {
  epochs?: number;
  batchSize?: number;
  validationSplit?: number;
  validationData?: [Tensor | Tensor[], Tensor | Tensor[]] | AsyncIterable<Batch> | Iterable<Batch>;
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

const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function isIterableInput(v: unknown): v is AsyncIterable<Batch> | Iterable<Batch> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Tensor) &&
    !Array.isArray(v) &&
    (Symbol.asyncIterator in v || Symbol.iterator in v)
  );
}

/** Running mean weighted by sample count, for the loss as Keras reports it. */
class MeanTracker {
  private sum = 0;
  private count = 0;
  update(value: number, weight: number): void {
    this.sum += value * weight;
    this.count += weight;
  }
  result(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
  reset(): void {
    this.sum = 0;
    this.count = 0;
  }
}

/**
 * The unmasked steps of a masked sequence output, each as one sample: pred [B, T, ...] with a [B, T]
 * Keras mask, labels [B, T, ...] and per-sample weights [B] (or [B, T]) become the rows whose mask is
 * set. Keras weights every metric by the mask; with 0/1 weights that is the same as scoring only these
 * rows. Anything else passes through unchanged.
 */
function unmaskedSteps(
  y: Tensor,
  pred: Tensor,
  weight: Tensor | undefined,
): { y: Tensor; pred: Tensor; weight?: Tensor } {
  const mask = maskBytes(pred);
  const [b, t] = pred.shape;
  const fits = (shape: readonly number[]) => shape.length >= 2 && shape[0] === b && shape[1] === t;
  if (!mask || pred.rank < 3 || mask.shape.length !== 2 || !fits(mask.shape) || !fits(y.shape))
    return { y, pred, weight };
  const kept: number[] = [];
  for (let i = 0; i < mask.data.length; i++) if (mask.data[i]) kept.push(i);
  const index = o.tensor(Int32Array.from(kept), [kept.length], 'int32');
  const rows = (x: Tensor) => o.gather(o.reshape(x, [b * t, ...x.shape.slice(2)]), index, 0);
  let w = weight;
  if (w) w = fits(w.shape) ? rows(w) : rows(o.expand(o.reshape(w, [b, 1]), [b, t]));
  return { y: rows(y), pred: rows(pred), weight: w };
}

export class Trainer {
  readonly optimizer: Optimizer;
  private readonly losses: LossFn[];
  private readonly lossWeights: number[];
  private readonly metricSpecs: { spec: MetricSpec; weighted: boolean }[][];
  private metrics?: { metric: Metric; weighted: boolean; key: string }[][];
  private readonly lossTracker = new MeanTracker();
  /** Per-output losses (before lossWeights), logged as '<output>_loss' when the model has several outputs. */
  private readonly outputLossTrackers: MeanTracker[];
  private readonly outputNames: string[];

  constructor(
    private readonly model: Model,
    args: CompileArgs,
  ) {
    this.optimizer = getOptimizer(args.optimizer);
    this.outputNames = model.isFunctional ? model.outputs.map((t) => t.node!.layer.name) : ['output'];
    const n = this.outputNames.length;
    this.outputLossTrackers = this.outputNames.map(() => new MeanTracker());
    const perOutput = <T>(spec: T | T[] | Record<string, T> | undefined, fallback: T, what: string): T[] => {
      if (spec === undefined) return new Array<T>(n).fill(fallback);
      if (Array.isArray(spec)) {
        if (spec.length !== n)
          throw new ArgumentError(
            `compile: ${what} has ${spec.length} entries for ${n} outputs (${this.outputNames.join(', ')})`,
          );
        return spec;
      }
      const keys = typeof spec === 'object' && spec !== null ? Object.keys(spec) : [];
      if (keys.length > 0 && keys.every((k) => this.outputNames.includes(k))) {
        return this.outputNames.map((name) => (spec as Record<string, T>)[name] ?? fallback);
      }
      // A plain object that is not a { className, config } nor a metric / loss object: a map by output name with a wrong key.
      if (
        keys.length > 0 &&
        Object.getPrototypeOf(spec) === Object.prototype &&
        !('className' in (spec as object)) &&
        !('update' in (spec as object))
      ) {
        const wrong = keys.filter((k) => !this.outputNames.includes(k));
        throw new ArgumentError(
          `compile: ${what} is keyed by output name, but ${wrong.map((k) => `'${k}'`).join(', ')} ${wrong.length > 1 ? 'are not outputs' : 'is not an output'} of model '${model.name}'; outputs: ${this.outputNames.join(', ')}`,
        );
      }
      return new Array<T>(n).fill(spec as T);
    };
    this.losses = perOutput(
      args.loss as LossSpec | LossSpec[] | Record<string, LossSpec>,
      undefined as unknown as LossSpec,
      'loss',
    ).map((l, i) => {
      if (l === undefined) throw new ArgumentError(`compile: no loss for output '${this.outputNames[i]}'`);
      return getLoss(l);
    });
    this.lossWeights = perOutput(args.lossWeights, 1, 'lossWeights');
    // A flat list applies to every output; a list of lists or a map by output name, to each its own.
    const metricLists = (spec: CompileArgs['metrics'], what: string): MetricSpec[][] =>
      Array.isArray(spec) && (spec.length === 0 || !spec.every(Array.isArray))
        ? this.outputNames.map(() => spec as MetricSpec[])
        : perOutput<MetricSpec[]>(spec as MetricSpec[][] | Record<string, MetricSpec[]> | undefined, [], what);
    const plain = metricLists(args.metrics, 'metrics');
    const weighted = metricLists(args.weightedMetrics, 'weightedMetrics');
    this.metricSpecs = this.outputNames.map((_, i) => [
      ...plain[i].map((spec) => ({ spec, weighted: false })),
      ...weighted[i].map((spec) => ({ spec, weighted: true })),
    ]);
    // Metrics are made at the first batch (when shapes resolve 'accuracy'); check their names now, so
    // that a misspelt name fails at compile() as a misspelt loss or optimizer does.
    for (const specs of this.metricSpecs) for (const { spec } of specs) if (typeof spec === 'string') getMetric(spec);
  }

  /** Metric objects, made on first use when the label/prediction shapes are known (to resolve 'accuracy'). */
  private metricObjects(
    ys: readonly Tensor[],
    preds: readonly Tensor[],
  ): { metric: Metric; weighted: boolean; key: string }[][] {
    this.metrics ??= this.metricSpecs.map((specs, i) => {
      const made = specs.map(({ spec, weighted }) => ({
        metric: getMetric(spec, {
          lossName: this.losses[i].lossName,
          yTrueShape: ys[i].shape,
          yPredShape: preds[i].shape,
        }),
        weighted,
      }));
      const plainNames = new Set(made.filter((m) => !m.weighted).map((m) => m.metric.name));
      return made.map(({ metric, weighted }) => ({
        metric,
        weighted,
        key: weighted && plainNames.has(metric.name) ? `weighted_${metric.name}` : metric.name,
      }));
    });
    return this.metrics;
  }

  private logs(prefix = ''): Logs {
    const logs: Logs = { [`${prefix}loss`]: this.lossTracker.result() };
    const multi = this.outputNames.length > 1;
    if (multi) this.outputLossTrackers.forEach((t, i) => (logs[`${prefix}${this.outputNames[i]}_loss`] = t.result()));
    (this.metrics ?? []).forEach((ms, i) => {
      for (const m of ms) logs[`${prefix}${multi ? `${this.outputNames[i]}_` : ''}${m.key}`] = m.metric.result();
    });
    return logs;
  }

  private resetMetrics(): void {
    this.lossTracker.reset();
    for (const t of this.outputLossTrackers) t.reset();
    for (const ms of this.metrics ?? []) for (const m of ms) m.metric.reset();
  }

  /**
   * Weighted sum of the per-output losses (plus regularization penalties when training). With several
   * outputs, each output's own loss is added to its tracker (weighted by the batch size).
   */
  private totalLoss(
    ys: readonly Tensor[],
    preds: readonly Tensor[],
    sampleWeight: Tensor | undefined,
    regularize: boolean,
  ): Tensor {
    if (ys.length !== preds.length)
      throw new ArgumentError(`loss: the model has ${preds.length} outputs but ${ys.length} label tensors were given`);
    let total: Tensor | undefined;
    preds.forEach((p, i) => {
      const own = this.losses[i](ys[i], p, sampleWeight);
      if (preds.length > 1) this.outputLossTrackers[i].update(own.item(), p.shape[0]);
      const l = this.lossWeights[i] === 1 ? own : o.mul(own, this.lossWeights[i]);
      total = total ? o.add(total, l) : l;
    });
    const reg = regularize ? this.model.regularizationLoss() : undefined;
    return reg ? o.add(total!, o.cast(reg, total!.dtype)) : total!;
  }

  /**
   * Plain metrics see every sample alike; weighted metrics see the sample (and class) weights, as in
   * Keras. An output with a Keras mask is scored on its unmasked steps only (see unmaskedSteps).
   */
  private updateMetrics(ys: readonly Tensor[], preds: readonly Tensor[], sampleWeight?: Tensor): void {
    noGrad(() =>
      tidy(() => {
        const scored = preds.map((p, i) => unmaskedSteps(ys[i], p, sampleWeight));
        this.metricObjects(
          scored.map((s) => s.y),
          scored.map((s) => s.pred),
        ).forEach((ms, i) => {
          for (const m of ms) m.metric.update(scored[i].y, scored[i].pred, m.weighted ? scored[i].weight : undefined);
        });
      }),
    );
  }

  /** One optimization step on one batch; returns the batch loss. */
  private step(x: Tensor[], ys: Tensor[], sampleWeight: Tensor | undefined, stepSeed: number): number {
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
            return this.totalLoss(ys, out, sampleWeight, true);
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
        this.updateMetrics(ys, preds, sampleWeight);
        this.lossTracker.update(loss, x[0].shape[0]);
        return loss;
      } finally {
        dispose([value, grads]);
      }
    } finally {
      dispose(preds);
    }
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
        `${frozen.length ? ` (no longer trainable: ${frozen.join(', ')})` : ''}${unfrozen.length ? ` (newly trainable: ${unfrozen.join(', ')})` : ''}` +
        '; call model.compile() again after setting layer.trainable, as in Keras',
    );
  }

  /**
   * Layers make their weights on first call; a model whose layers are not all built yet (a subclass
   * model, a Sequential without an input shape) is called once in inference mode so that the step
   * differentiates with respect to every weight, the first step included.
   */
  private ensureBuilt(x: Tensor[]): void {
    const built = (l: Layer): boolean => l.built && l.sublayers().every(built);
    if (built(this.model)) return;
    noGrad(() =>
      tidy(() => {
        this.model.apply(x.length === 1 ? x[0] : x, { training: false });
      }),
    );
  }

  trainOnBatch(x: Tensor | Tensor[], y: Tensor | Tensor[], sampleWeight?: Tensor): Logs {
    this.resetMetrics();
    this.step(asList(x), asList(y), sampleWeight, mixSeeds(this.optimizer.iterations, 0x5eed));
    return this.logs();
  }

  private sampleWeights(
    y: Tensor,
    classWeight: Record<number, number> | undefined,
    sampleWeight: Tensor | undefined,
  ): Tensor | undefined {
    if (!classWeight) return sampleWeight;
    // tidy, not labels.dispose(): for int32 [N] labels the cast and reshape return y itself.
    const data = tidy(() => {
      const labels =
        y.rank > 1 && y.shape[y.rank - 1] > 1 ? o.argmax(y, -1) : o.reshape(o.cast(y, 'int32'), [y.shape[0]]);
      return Int32Array.from(labels.dataSync());
    });
    const w = Float32Array.from(data, (c) => classWeight[c] ?? 1);
    const cw = o.tensor(w, [w.length]);
    if (!sampleWeight) return cw;
    const both = o.mul(cw, sampleWeight);
    cw.dispose();
    return both;
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
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new ArgumentError(`fit: batchSize must be a positive integer, got ${batchSize}`);
    const seed = args.seed ?? drawSeed();
    const history = new History();
    const model = this.model;

    let trainX: Tensor[] = [],
      trainY: Tensor[] = [],
      trainW: Tensor | undefined;
    let validation: { x: Tensor[]; y: Tensor[] } | AsyncIterable<Batch> | Iterable<Batch> | undefined;
    const owned: Tensor[] = [];
    if (iterable) {
      // As Keras: these need tensors to slice; a dataset carries its own validation split and weights.
      if (validationSplit > 0)
        throw new ArgumentError(
          'fit: validationSplit needs tensors; with a dataset, pass validationData (e.g. a dataset from dataset.take / skip)',
        );
      if (args.sampleWeight)
        throw new ArgumentError(
          'fit: sampleWeight needs tensors; a dataset gives per-sample weights as { x, y, sampleWeight } batches',
        );
    } else {
      if (yOrArgs === undefined) throw new ArgumentError('fit: labels y are required when x is a tensor');
      const xs = asList(xIn as Tensor | Tensor[]),
        ys = asList(yOrArgs as Tensor | Tensor[]);
      const n = xs[0].shape[0];
      for (const t of [...xs, ...ys]) {
        if (t.shape[0] !== n)
          throw new ShapeError(
            `fit: all inputs and labels need the same number of samples; got ${[...xs, ...ys].map((u) => fmtShape(u.shape)).join(', ')}`,
          );
      }
      if (validationSplit > 0) {
        if (!(validationSplit < 1))
          throw new ArgumentError(`fit: validationSplit must be in [0, 1), got ${validationSplit}`);
        // Keras takes the last fraction of the data, before any shuffling.
        const nVal = Math.floor(n * validationSplit),
          nTrain = n - nVal;
        if (nVal === 0 || nTrain === 0)
          throw new ArgumentError(
            `fit: validationSplit ${validationSplit} of ${n} samples leaves ${nTrain} for training and ${nVal} for validation; both need at least one`,
          );
        // A slice covering the whole tensor is the tensor itself: only views made here are freed later.
        const part = (t: Tensor, start: number, len: number) => {
          const s = o.sliceAxis(t, 0, start, start + len);
          if (s !== t) owned.push(s);
          return s;
        };
        trainX = xs.map((t) => part(t, 0, nTrain));
        trainY = ys.map((t) => part(t, 0, nTrain));
        validation = { x: xs.map((t) => part(t, nTrain, nVal)), y: ys.map((t) => part(t, nTrain, nVal)) };
        if (args.sampleWeight) trainW = part(args.sampleWeight, 0, nTrain);
      } else {
        trainX = xs;
        trainY = ys;
        trainW = args.sampleWeight;
      }
    }
    if (args.validationData) {
      validation = isIterableInput(args.validationData)
        ? args.validationData
        : { x: asList(args.validationData[0]), y: asList(args.validationData[1]) };
    }

    const nTrain = iterable ? undefined : trainX[0].shape[0];
    const cardinality = iterable ? (xIn as { cardinality?: () => number | undefined }).cardinality?.() : undefined;
    const steps =
      nTrain === undefined
        ? cardinality !== undefined && Number.isFinite(cardinality)
          ? cardinality
          : undefined
        : Math.ceil(nTrain / batchSize);
    // Keras 3 order: the user's callbacks, then History and the progress display, so that these two see
    // what the others add to the logs (e.g. learning_rate from LearningRateScheduler / ReduceLROnPlateau).
    const callbacks: Callback[] = [...(args.callbacks ?? []), history];
    // Every run is recorded (compute, energy, data fingerprints) unless opted out with record: false;
    // the record stays in memory on the model and model.save() writes it beside the model as run.json.
    let recorder = callbacks.find((cb): cb is RunRecorder => cb instanceof RunRecorder);
    if (!recorder && args.record !== false) {
      recorder = new RunRecorder(args.record ?? {});
      callbacks.unshift(recorder);
    }
    model.runRecorder = recorder;
    if (verbose !== 0) callbacks.push(new ProgressDisplay(epochs, steps, verbose));
    for (const cb of callbacks) cb.setModel?.(model);
    for (const cb of callbacks)
      cb.setParams?.({
        epochs,
        batchSize,
        steps,
        samples: nTrain,
        validationSplit,
        shuffle,
        initialEpoch,
        seed,
        x: iterable ? undefined : trainX,
        y: iterable ? undefined : trainY,
      });
    const emit = async <K extends keyof Callback>(hook: K, ...a: unknown[]) => {
      for (const cb of callbacks) await (cb[hook] as ((...x: unknown[]) => unknown) | undefined)?.call(cb, ...a);
    };

    model.stopTraining = false;
    try {
      await emit('onTrainBegin');
      for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
        this.resetMetrics();
        await emit('onEpochBegin', epoch);
        let batch = 0;
        const runBatch = async (x: Tensor[], y: Tensor[], w: Tensor | undefined) => {
          await emit('onBatchBegin', batch);
          const sw = this.sampleWeights(y[0], args.classWeight, w);
          let loss: number;
          try {
            loss = this.step(x, y, sw, mixSeeds(seed, this.optimizer.iterations));
          } finally {
            if (sw && sw !== w) sw.dispose();
          }
          await emit('onBatchEnd', batch, { ...this.logs(), batchLoss: loss });
          batch++;
        };
        if (iterable) {
          for await (const b of xIn as AsyncIterable<Batch>) {
            try {
              if (!b.y) throw new ArgumentError('fit: the dataset must yield {x, y} batches');
              await runBatch(asList(b.x), asList(b.y), b.sampleWeight);
            } finally {
              dispose(b);
            }
            if (model.stopTraining) break;
          }
        } else {
          const order = shuffle ? new RandomStream(mixSeeds(seed, epoch)).permutation(nTrain!) : o.arange(nTrain!);
          const orderData = order.dataSync();
          order.dispose();
          for (let start = 0; start < nTrain! && !model.stopTraining; start += batchSize) {
            const idx = o.tensor(orderData.subarray(start, Math.min(start + batchSize, nTrain!)) as Int32Array);
            const take = (t: Tensor) => o.gather(t, idx, 0);
            const xb = trainX.map(take),
              yb = trainY.map(take),
              wb = trainW ? take(trainW) : undefined;
            try {
              await runBatch(xb, yb, wb);
            } finally {
              dispose([idx, xb, yb, wb]);
            }
          }
        }
        const logs = this.logs();
        if (validation) Object.assign(logs, await this.evaluateLogs(validation, batchSize, 'val_'));
        await emit('onEpochEnd', epoch, logs);
      }
      // Every callback's onTrainEnd runs (EarlyStopping restores weights) even if one throws (TerminateOnNaN({ raise: true })).
      let failure: { error: unknown } | undefined;
      for (const cb of callbacks) {
        try {
          await cb.onTrainEnd?.();
        } catch (error) {
          failure ??= { error };
        }
      }
      if (failure) throw failure.error;
    } finally {
      dispose(owned);
    }
    return history;
  }

  /** Loss and metrics over data, in inference mode, with keys prefixed (e.g. 'val_'). */
  private async evaluateLogs(
    data: { x: Tensor[]; y: Tensor[]; w?: Tensor } | AsyncIterable<Batch> | Iterable<Batch>,
    batchSize: number,
    prefix: string,
  ): Promise<Logs> {
    this.resetMetrics();
    const evalBatch = (x: Tensor[], y: Tensor[], w: Tensor | undefined) =>
      withPhase('evaluate', () => {
        const preds = noGrad(() =>
          tidy(() => asList(this.model.apply(x.length === 1 ? x[0] : x, { training: false }))),
        );
        try {
          const loss = tidy(() => this.totalLoss(y, preds, w, false).item());
          this.lossTracker.update(loss, x[0].shape[0]);
          this.updateMetrics(y, preds, w);
        } finally {
          dispose(preds);
        }
      });
    if (isIterableInput(data)) {
      for await (const b of data as AsyncIterable<Batch>) {
        try {
          if (!b.y) throw new ArgumentError('evaluate: the dataset must yield {x, y} batches');
          evalBatch(asList(b.x), asList(b.y), b.sampleWeight);
        } finally {
          dispose(b);
        }
      }
    } else {
      const n = data.x[0].shape[0];
      for (let start = 0; start < n; start += batchSize) {
        // tidy frees the batch views but not the caller's tensors (a batch covering all of x is x itself).
        tidy(() => {
          const part = (t: Tensor) => o.sliceAxis(t, 0, start, Math.min(start + batchSize, n));
          evalBatch(data.x.map(part), data.y.map(part), data.w ? part(data.w) : undefined);
        });
      }
    }
    const logs = this.logs(prefix);
    this.resetMetrics();
    return logs;
  }

  async evaluate(
    xIn: TrainingInput,
    yOrArgs?: Tensor | Tensor[] | EvaluateArgs,
    maybeArgs?: EvaluateArgs,
  ): Promise<Logs> {
    if (isIterableInput(xIn)) return this.evaluateLogs(xIn, 32, '');
    if (yOrArgs === undefined) throw new ArgumentError('evaluate: labels y are required when x is a tensor');
    const args = maybeArgs ?? {};
    return this.evaluateLogs(
      { x: asList(xIn as Tensor | Tensor[]), y: asList(yOrArgs as Tensor | Tensor[]), w: args.sampleWeight },
      args.batchSize ?? 32,
      '',
    );
  }

  static predict(model: Model, x: Tensor | Tensor[], { batchSize = 32 }: PredictArgs = {}): Tensor | Tensor[] {
    const xs = asList(x);
    const n = xs[0].shape[0];
    const chunks: Tensor[][] = [];
    for (let start = 0; start < n; start += batchSize) {
      chunks.push(
        noGrad(() =>
          tidy(() =>
            asList(
              model.apply(
                xs.length === 1
                  ? o.sliceAxis(xs[0], 0, start, start + batchSize)
                  : xs.map((t) => o.sliceAxis(t, 0, start, start + batchSize)),
                { training: false },
              ),
            ),
          ),
        ),
      );
    }
    if (chunks.length === 0) throw new ArgumentError(`predict: x has no samples (shape ${fmtShape(xs[0].shape)})`);
    const outs = chunks[0].map((_, i) => {
      const parts = chunks.map((c) => c[i]);
      const joined = parts.length === 1 ? parts[0] : o.concat(parts, 0);
      if (joined !== parts[0]) dispose(parts);
      return joined;
    });
    return Array.isArray(x) || outs.length > 1 ? outs : outs[0];
  }
}
