// Metrics with Keras names, defaults and semantics: stateful objects that accumulate over batches
// (updateState / result / resetState) so that result() covers all data seen since resetState(). Each update reduces
// the batch to a few numbers with tensor ops and reads only those back; totals are kept in float64.
// getMetric resolves names, and 'accuracy' from the loss and shapes as Keras' compile does.
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { shapesEqual } from '../tensor/shape.js';
import * as o from '../ops/index.js';
import { Registry, checkOptions, normalizeName } from '../registry.js';
import {
  alignPair,
  alignWeights,
  classIndices,
  findLoss,
  meanAbsoluteError as maeLoss,
  meanSquaredError as mseLoss,
  sparseLabels,
} from '../nn/losses.js';

type ConfigValue = number | boolean | string | null;

export interface MetricConfig {
  className: string;
  config?: Record<string, ConfigValue>;
}

/** What a metric's result() may be: a number, a matrix (confusionMatrix), or named numbers (compile_metrics). */
export type MetricResult = number | number[][] | Record<string, number>;

/**
 * What every metric object is (Keras' Metric): state that fit resets each epoch (resetState) and
 * reports (result). model.metrics lists these.
 */
export interface StatefulMetric<R = number> {
  /** The key it is logged under (Keras: the string it was asked for by, else its default name). */
  readonly name: string;
  /** The value over everything seen since the last resetState() (0 before any data, as Keras). */
  result(): R;
  resetState(): void;
  /**
   * The state as numbers that add across data: the state of two parts of the data summed is the state of the whole
   * (tf.distribute sums metric variables across replicas). Data-parallel fit sums these over ranks, sets them back
   * and reads result(). Undefined when the metric cannot say (a container holding a metric without these).
   */
  stateValues?(): Float64Array | undefined;
  /** Replaces the state with values of stateValues()'s layout (e.g. their sum over ranks). */
  setStateValues?(values: Float64Array): void;
}

/** Checks that values has the length a metric's state needs. */
function checkStateLength(name: string, values: Float64Array, expected: number): void {
  if (values.length !== expected)
    throw new ArgumentError(`${name}: setStateValues expects ${expected} state values, got ${values.length}`);
}

/** A metric of labels and predictions (Keras' accuracy, auc, ...), usable on its own or in compile(). */
export interface Metric<R = number> extends StatefulMetric<R> {
  /** Accumulates one batch. sampleWeight is per sample: [N] or [N, 1]. */
  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void;
  getConfig(): MetricConfig;
}

export type MetricSpec = string | Metric | MetricConfig;

/** What compile knows when it makes metrics: lets 'accuracy' resolve as Keras does. */
export interface MetricContext {
  lossName?: string;
  yTrueShape?: readonly number[];
  yPredShape?: readonly number[];
}

/** Runs fn without taping, frees what it makes, and reads its tensors back as one flat list of numbers. */
function measure(fn: () => Tensor[]): number[] {
  return noGrad(() =>
    tidy(() => {
      const parts = fn().map((t) => o.reshape(o.cast(t, 'float64'), [-1]));
      return Array.from(o.concat(parts, 0).dataSync());
    }),
  );
}

/** Every axis but the batch axis. */
const trailingAxes = (rank: number) => Array.from({ length: rank - 1 }, (_, i) => i + 1);

const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);

interface NameOption {
  name?: string;
}

/**
 * The weighted mean of values (Keras' metrics.Mean): sum(v_i w_i) / sum(w_i). Values with more than one
 * axis are first averaged over all but the batch axis; a scalar counts as one sample of weight
 * sampleWeight (1 by default), which is how fit tracks the loss: updateState(batchLoss, batchSize).
 * Plain numbers are added without any tensor work.
 */
export class Mean implements StatefulMetric {
  readonly name: string;
  private total = 0;
  private count = 0;

  constructor(options: NameOption = {}) {
    checkOptions('Mean', options, ['name']);
    this.name = options.name ?? 'mean';
  }

  updateState(values: Tensor | number, sampleWeight?: Tensor | number): void {
    if (typeof values === 'number' && (sampleWeight === undefined || typeof sampleWeight === 'number')) {
      const w = sampleWeight ?? 1;
      this.total += values * w;
      this.count += w;
      return;
    }
    if (sampleWeight === undefined && values instanceof Tensor) {
      // Unweighted (fit's metrics, every step): the per-sample values ([N], a few dozen) read back and summed here
      // in float64, which costs less than the three kernel calls of a sum on the backend; the count is N.
      const perSample =
        values.rank > 1 ? noGrad(() => o.mean(o.cast(values, 'float64'), trailingAxes(values.rank))) : values;
      const data = perSample.dataSync();
      if (perSample !== values) perSample.dispose();
      let total = 0;
      for (let i = 0; i < data.length; i++) total += data[i];
      this.addTotals(total, data.length);
      return;
    }
    const [total, count] = measure(() => {
      let v = o.cast(values instanceof Tensor ? values : o.scalar(values, 'float64'), 'float64');
      if (v.rank === 0) v = o.reshape(v, [1]);
      if (v.rank > 1) v = o.mean(v, trailingAxes(v.rank));
      if (sampleWeight === undefined) return [o.sum(v), o.scalar(v.shape[0], 'float64')];
      const given = sampleWeight instanceof Tensor ? sampleWeight : o.scalar(sampleWeight, 'float64');
      const w = o.expand(alignWeights(this.name, given, v.shape, v.dtype), v.shape);
      return [o.sum(o.mul(v, w)), o.sum(w)];
    });
    this.total += total;
    this.count += count;
  }

  /** Adds a batch already reduced to its sum and count (a weight per sample). */
  addTotals(total: number, count: number): void {
    this.total += total;
    this.count += count;
  }

  result(): number {
    return ratio(this.total, this.count);
  }

  resetState(): void {
    this.total = this.count = 0;
  }

  stateValues(): Float64Array {
    return Float64Array.of(this.total, this.count);
  }

  setStateValues(values: Float64Array): void {
    checkStateLength(this.name, values, 2);
    [this.total, this.count] = values;
  }

  getConfig(): MetricConfig {
    return { className: 'Mean', config: { name: this.name } };
  }
}

/**
 * The weighted mean of per-sample values fn(yTrue, yPred) (Keras' MeanMetricWrapper): a Mean of what
 * `values` gives for each batch.
 */
class MeanMetric implements Metric {
  private readonly mean: Mean;

  constructor(
    readonly name: string,
    private readonly className: string,
    private readonly config: Record<string, ConfigValue>,
    private readonly values: (yTrue: Tensor, yPred: Tensor) => Tensor,
    private readonly hits?: Hits,
  ) {
    this.mean = new Mean({ name });
  }

  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    noGrad(() =>
      tidy(() => {
        const counted = sampleWeight || !this.hits ? undefined : this.hits(yTrue, yPred);
        if (counted === undefined) this.mean.updateState(this.values(yTrue, yPred), sampleWeight);
        else this.mean.addTotals(counted, yPred.shape[0]);
      }),
    );
  }

  result(): number {
    return this.mean.result();
  }

  resetState(): void {
    this.mean.resetState();
  }

  stateValues(): Float64Array {
    return this.mean.stateValues();
  }

  setStateValues(values: Float64Array): void {
    this.mean.setStateValues(values);
  }

  getConfig(): MetricConfig {
    return { className: this.className, config: { name: this.name, ...this.config } };
  }
}

/**
 * The number of rows of a [N, C] batch whose class is right, counted here from the class ids read back (a few dozen
 * numbers): fit scores every step, and this costs one kernel call where the per-sample path costs four. Undefined
 * where it does not apply (predictions not of rank 2), and the per-sample path runs.
 */
type Hits = (yTrue: Tensor, yPred: Tensor) => number | undefined;

function sameClasses(trueIds: Tensor, yPred: Tensor): number {
  const want = trueIds.dataSync(),
    got = o.argmax(yPred, -1).dataSync();
  let hits = 0;
  for (let i = 0; i < got.length; i++) if (want[i] === got[i]) hits++;
  return hits;
}

/** A metric that averages any per-sample function (yTrue, yPred) => [N] over the data. */
export function meanMetricWrapper(
  fn: (yTrue: Tensor, yPred: Tensor) => Tensor,
  { name = fn.name || 'mean' }: { name?: string } = {},
): Metric {
  return new MeanMetric(name, 'MeanMetricWrapper', {}, fn);
}

/** 1 where yTrue equals (yPred > threshold), averaged over the last axis. */
export function binaryAccuracy(options: NameOption & { threshold?: number } = {}): Metric {
  checkOptions('binaryAccuracy', options, ['name', 'threshold']);
  const { name = 'binaryAccuracy', threshold = 0.5 } = options;
  return new MeanMetric(name, 'BinaryAccuracy', { threshold }, (yTrue, yPred) => {
    const [t, p] = alignPair(name, yTrue, yPred);
    return o.mean(o.cast(o.equal(t, o.cast(o.greater(p, threshold), t.dtype)), 'float32'), -1);
  });
}

/** One-hot (or soft) labels of yPred's shape, as class indices. */
function argmaxLabels(op: string, yTrue: Tensor, yPred: Tensor): Tensor {
  if (!shapesEqual(yTrue.shape, yPred.shape) || yPred.rank < 2) {
    const hint =
      yTrue.size * (yPred.shape[yPred.rank - 1] ?? 1) === yPred.size
        ? '; for integer labels use the sparse version'
        : '';
    throw new ShapeError(
      `${op}: yTrue has shape ${fmtShape(yTrue.shape)} but yPred has shape ${fmtShape(yPred.shape)}; ` +
        `expected one-hot labels of yPred's shape [N, numClasses]${hint}`,
    );
  }
  return o.argmax(yTrue, -1);
}

/** 1 where argmax(yTrue) == argmax(yPred) (one-hot labels). */
export function categoricalAccuracy(options: NameOption = {}): Metric {
  checkOptions('categoricalAccuracy', options, ['name']);
  const { name = 'categoricalAccuracy' } = options;
  return new MeanMetric(
    name,
    'CategoricalAccuracy',
    {},
    (yTrue, yPred) => o.equal(argmaxLabels(name, yTrue, yPred), o.argmax(yPred, -1)),
    (yTrue, yPred) => (yPred.rank === 2 ? sameClasses(argmaxLabels(name, yTrue, yPred), yPred) : undefined),
  );
}

/** 1 where the integer label ([N] or [N, 1]) == argmax(yPred). */
export function sparseCategoricalAccuracy(options: NameOption = {}): Metric {
  checkOptions('sparseCategoricalAccuracy', options, ['name']);
  const { name = 'sparseCategoricalAccuracy' } = options;
  return new MeanMetric(
    name,
    'SparseCategoricalAccuracy',
    {},
    (yTrue, yPred) => o.equal(sparseLabels(name, yTrue, yPred), o.argmax(yPred, -1)),
    (yTrue, yPred) => (yPred.rank === 2 ? sameClasses(sparseLabels(name, yTrue, yPred), yPred) : undefined),
  );
}

/**
 * 1 where the label's score is among the k highest: fewer than k classes score strictly higher (so
 * ties at the boundary count as in, as Keras' in_top_k).
 */
function inTopK(labels: Tensor, yPred: Tensor, k: number): Tensor {
  const numClasses = yPred.shape[yPred.rank - 1];
  const atLabel = o.sum(o.mul(yPred, o.oneHot(labels, numClasses, yPred.dtype as 'float32' | 'float64')), -1, true);
  return o.less(o.sum(o.greater(yPred, atLabel), -1), k);
}

function checkK(op: string, k: number): void {
  if (!(Number.isInteger(k) && k >= 1)) throw new ArgumentError(`${op}: k must be a positive integer, got ${k}`);
}

/** Whether the true class (one-hot labels) is among the k top-scored classes (default k = 5). */
export function topKCategoricalAccuracy(options: NameOption & { k?: number } = {}): Metric {
  checkOptions('topKCategoricalAccuracy', options, ['name', 'k']);
  const { name = 'topKCategoricalAccuracy', k = 5 } = options;
  checkK(name, k);
  return new MeanMetric(name, 'TopKCategoricalAccuracy', { k }, (yTrue, yPred) =>
    inTopK(argmaxLabels(name, yTrue, yPred), yPred, k),
  );
}

/** Whether the integer label is among the k top-scored classes (default k = 5). */
export function sparseTopKCategoricalAccuracy(options: NameOption & { k?: number } = {}): Metric {
  checkOptions('sparseTopKCategoricalAccuracy', options, ['name', 'k']);
  const { name = 'sparseTopKCategoricalAccuracy', k = 5 } = options;
  checkK(name, k);
  return new MeanMetric(name, 'SparseTopKCategoricalAccuracy', { k }, (yTrue, yPred) =>
    inTopK(sparseLabels(name, yTrue, yPred), yPred, k),
  );
}

/** The mean squared error over all data seen (the loss's per-sample values, averaged). */
export function meanSquaredError(options: NameOption = {}): Metric {
  checkOptions('meanSquaredError', options, ['name']);
  return new MeanMetric(options.name ?? 'meanSquaredError', 'MeanSquaredError', {}, mseLoss.perSample);
}

export function meanAbsoluteError(options: NameOption = {}): Metric {
  checkOptions('meanAbsoluteError', options, ['name']);
  return new MeanMetric(options.name ?? 'meanAbsoluteError', 'MeanAbsoluteError', {}, maeLoss.perSample);
}

export type AccuracyKind = 'binaryAccuracy' | 'categoricalAccuracy' | 'sparseCategoricalAccuracy';

/**
 * Which accuracy 'accuracy' means (Keras compile): from the loss when it says (binary / categorical /
 * sparse categorical crossentropy), else from shapes: predictions with one column (or none) are
 * binary; labels of lower rank, or with one column against several, are sparse; else categorical.
 */
export function resolveAccuracy(
  lossName: string | undefined,
  yTrueShape: readonly number[],
  yPredShape: readonly number[],
): AccuracyKind {
  switch (lossName === undefined ? '' : normalizeName(lossName)) {
    case 'binarycrossentropy':
      return 'binaryAccuracy';
    case 'categoricalcrossentropy':
      return 'categoricalAccuracy';
    case 'sparsecategoricalcrossentropy':
      return 'sparseCategoricalAccuracy';
  }
  const predLast = yPredShape[yPredShape.length - 1];
  const trueLast = yTrueShape[yTrueShape.length - 1];
  if (yPredShape.length <= 1 || predLast === 1) return 'binaryAccuracy';
  if (yTrueShape.length < yPredShape.length || trueLast === 1) return 'sparseCategoricalAccuracy';
  return 'categoricalAccuracy';
}

const ACCURACY_KINDS: Record<AccuracyKind, (options: NameOption) => Metric> = {
  binaryAccuracy,
  categoricalAccuracy,
  sparseCategoricalAccuracy,
};

/** 'accuracy': binary, categorical or sparse categorical, resolved by resolveAccuracy on the first batch. */
class Accuracy implements Metric {
  private inner?: Metric;
  constructor(
    readonly name: string,
    private readonly lossName?: string,
  ) {}
  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    this.inner ??= ACCURACY_KINDS[resolveAccuracy(this.lossName, yTrue.shape, yPred.shape)]({ name: this.name });
    this.inner.updateState(yTrue, yPred, sampleWeight);
  }
  result(): number {
    return this.inner?.result() ?? 0;
  }
  resetState(): void {
    this.inner?.resetState();
  }
  /** Empty before the first update resolves the kind (then it has no data to add). */
  stateValues(): Float64Array | undefined {
    return this.inner ? this.inner.stateValues?.() : new Float64Array(0);
  }
  setStateValues(values: Float64Array): void {
    if (!this.inner) return checkStateLength(this.name, values, 0);
    this.inner.setStateValues!(values);
  }
  getConfig(): MetricConfig {
    return { className: 'Accuracy', config: { name: this.name, lossName: this.lossName ?? null } };
  }
}

/**
 * Accuracy of the kind the loss and shapes call for (resolved now when the shapes are given, else on the first
 * update).
 */
export function accuracy(options: NameOption & MetricContext = {}): Metric {
  checkOptions('accuracy', options, ['name', 'lossName', 'yTrueShape', 'yPredShape']);
  const { name = 'accuracy', lossName, yTrueShape, yPredShape } = options;
  if (yTrueShape && yPredShape) return ACCURACY_KINDS[resolveAccuracy(lossName, yTrueShape, yPredShape)]({ name });
  return new Accuracy(name, lossName);
}

/** Weighted counts at each threshold: tp[i], fp[i] (prediction > thresholds[i]), and the positive / negative totals. */
interface Counts {
  tp: number[];
  fp: number[];
  positives: number;
  negatives: number;
}

/**
 * Confusion counts of probabilities against labels (nonzero = positive), elementwise over yPred's shape
 * (so multi-label outputs count every element). Predictions outside [0, 1] throw: a threshold of 0.5
 * on logits would silently measure the wrong thing.
 */
function thresholdCounts(
  op: string,
  yTrue: Tensor,
  yPred: Tensor,
  sampleWeight: Tensor | undefined,
  thresholds: readonly number[],
  remedy = 'apply a sigmoid first',
): Counts {
  const n = thresholds.length;
  if (yPred.size === 0)
    return { tp: new Array<number>(n).fill(0), fp: new Array<number>(n).fill(0), positives: 0, negatives: 0 };
  const out = measure(() => {
    const [t, p] = alignPair(op, yTrue, yPred);
    const w = sampleWeight
      ? o.reshape(o.expand(alignWeights(op, sampleWeight, p.shape, p.dtype), p.shape), [-1, 1])
      : o.ones([p.size, 1], p.dtype);
    const positive = o.mul(o.cast(o.reshape(o.notEqual(t, 0), [-1, 1]), p.dtype), w);
    const negative = o.sub(w, positive);
    const above = o.cast(o.greater(o.reshape(p, [-1, 1]), o.tensor(thresholds as number[], [n], p.dtype)), p.dtype);
    return [
      o.sum(o.mul(above, positive), 0),
      o.sum(o.mul(above, negative), 0),
      o.sum(positive),
      o.sum(negative),
      o.min(p),
      o.max(p),
    ];
  });
  const [lo, hi] = out.slice(2 * n + 2);
  if (!(lo >= 0 && hi <= 1))
    throw new ArgumentError(
      `${op}: predictions must be probabilities in [0, 1], got values in [${lo}, ${hi}]; ${remedy}`,
    );
  return { tp: out.slice(0, n), fp: out.slice(n, 2 * n), positives: out[2 * n], negatives: out[2 * n + 1] };
}

/** Precision, recall or F1 from confusion counts at one threshold, accumulated over batches. */
class ThresholdMetric implements Metric {
  private tp = 0;
  private fp = 0;
  private fn = 0;

  constructor(
    readonly name: string,
    private readonly className: string,
    private readonly threshold: number,
    private readonly score: (tp: number, fp: number, fn: number) => number,
  ) {
    if (!(threshold >= 0 && threshold <= 1))
      throw new ArgumentError(`${name}: threshold must be in [0, 1], got ${threshold}`);
  }

  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const c = thresholdCounts(this.name, yTrue, yPred, sampleWeight, [this.threshold]);
    this.tp += c.tp[0];
    this.fp += c.fp[0];
    this.fn += c.positives - c.tp[0];
  }

  result(): number {
    return this.score(this.tp, this.fp, this.fn);
  }

  resetState(): void {
    this.tp = this.fp = this.fn = 0;
  }

  stateValues(): Float64Array {
    return Float64Array.of(this.tp, this.fp, this.fn);
  }

  setStateValues(values: Float64Array): void {
    checkStateLength(this.name, values, 3);
    [this.tp, this.fp, this.fn] = values;
  }

  getConfig(): MetricConfig {
    return { className: this.className, config: { name: this.name, threshold: this.threshold } };
  }
}

type ThresholdOptions = NameOption & { threshold?: number };

/** tp / (tp + fp) with predictions > threshold (0.5) positive; 0 when nothing was predicted positive. */
export function precision(options: ThresholdOptions = {}): Metric {
  checkOptions('precision', options, ['name', 'threshold']);
  return new ThresholdMetric(options.name ?? 'precision', 'Precision', options.threshold ?? 0.5, (tp, fp) =>
    ratio(tp, tp + fp),
  );
}

/** tp / (tp + fn); 0 when there were no positives. */
export function recall(options: ThresholdOptions = {}): Metric {
  checkOptions('recall', options, ['name', 'threshold']);
  return new ThresholdMetric(options.name ?? 'recall', 'Recall', options.threshold ?? 0.5, (tp, _fp, fn) =>
    ratio(tp, tp + fn),
  );
}

/** Binary F1 = 2 tp / (2 tp + fp + fn), the harmonic mean of precision and recall. */
export function f1Score(options: ThresholdOptions = {}): Metric {
  checkOptions('f1Score', options, ['name', 'threshold']);
  return new ThresholdMetric(options.name ?? 'f1Score', 'F1Score', options.threshold ?? 0.5, (tp, fp, fn) =>
    ratio(2 * tp, 2 * tp + fp + fn),
  );
}

/** Keras' thresholds: -eps, i / (n - 1) for i = 1 .. n - 2, 1 + eps (so every prediction in [0, 1] falls inside). */
function aucThresholds(n: number): number[] {
  const eps = 1e-7;
  return [0 - eps, ...Array.from({ length: n - 2 }, (_, i) => (i + 1) / (n - 1)), 1 + eps];
}

/**
 * Area under the ROC curve, Keras' default: confusion counts at numThresholds (200) thresholds,
 * accumulated over batches, integrated with the trapezoidal rule ('interpolation').
 */
class AUC implements Metric {
  private readonly thresholds: number[];
  private tp: number[];
  private fp: number[];
  private positives = 0;
  private negatives = 0;

  constructor(
    readonly name: string,
    private readonly numThresholds: number,
    private readonly fromLogits: boolean,
  ) {
    if (!(Number.isInteger(numThresholds) && numThresholds > 1))
      throw new ArgumentError(`${name}: numThresholds must be an integer > 1, got ${numThresholds}`);
    this.thresholds = aucThresholds(numThresholds);
    this.tp = new Array<number>(numThresholds).fill(0);
    this.fp = new Array<number>(numThresholds).fill(0);
  }

  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const c = noGrad(() =>
      tidy(() =>
        thresholdCounts(
          this.name,
          yTrue,
          this.fromLogits ? o.sigmoid(yPred) : yPred,
          sampleWeight,
          this.thresholds,
          'apply a sigmoid first, or pass fromLogits: true',
        ),
      ),
    );
    c.tp.forEach((v, i) => (this.tp[i] += v));
    c.fp.forEach((v, i) => (this.fp[i] += v));
    this.positives += c.positives;
    this.negatives += c.negatives;
  }

  result(): number {
    // Thresholds rise, so (fpr, tpr) walk from (1, 1) down to (0, 0): sum trapezoids between neighbours.
    const tpr = this.tp.map((v) => ratio(v, this.positives));
    const fpr = this.fp.map((v) => ratio(v, this.negatives));
    let area = 0;
    for (let i = 0; i + 1 < this.numThresholds; i++) area += ((fpr[i] - fpr[i + 1]) * (tpr[i] + tpr[i + 1])) / 2;
    return area;
  }

  resetState(): void {
    this.tp.fill(0);
    this.fp.fill(0);
    this.positives = this.negatives = 0;
  }

  /** tp at each threshold, fp at each threshold, positives, negatives. */
  stateValues(): Float64Array {
    return Float64Array.from([...this.tp, ...this.fp, this.positives, this.negatives]);
  }

  setStateValues(values: Float64Array): void {
    const n = this.numThresholds;
    checkStateLength(this.name, values, 2 * n + 2);
    this.tp = Array.from(values.subarray(0, n));
    this.fp = Array.from(values.subarray(n, 2 * n));
    [this.positives, this.negatives] = values.subarray(2 * n);
  }

  getConfig(): MetricConfig {
    return {
      className: 'AUC',
      config: { name: this.name, numThresholds: this.numThresholds, fromLogits: this.fromLogits },
    };
  }
}

/** ROC AUC with Keras defaults (numThresholds 200, trapezoidal); fromLogits applies a sigmoid first. */
export function auc(options: NameOption & { numThresholds?: number; fromLogits?: boolean } = {}): Metric {
  checkOptions('auc', options, ['name', 'numThresholds', 'fromLogits']);
  return new AUC(options.name ?? 'auc', options.numThresholds ?? 200, options.fromLogits ?? false);
}

/**
 * Class indices [N] from one of: scores or one-hot rows [N, numClasses] (argmax); probabilities [N] or
 * [N, 1] of the positive class when numClasses is 2 (predictions only; > 0.5); or integer classes
 * [N] / [N, 1].
 */
function toClasses(op: string, y: Tensor, numClasses: number, isPrediction: boolean): Tensor {
  if (y.rank >= 2 && y.shape[y.rank - 1] === numClasses && numClasses > 1) return o.argmax(y, -1);
  const flat = y.rank >= 1 && y.shape[y.rank - 1] === 1 ? o.squeeze(y, -1) : y;
  if (isPrediction && numClasses === 2 && (y.dtype === 'float32' || y.dtype === 'float64'))
    return o.cast(o.greater(flat, 0.5), 'int32');
  return classIndices(op, flat, numClasses, `${isPrediction ? 'yPred' : 'yTrue'} ${fmtShape(y.shape)}`);
}

/**
 * The confusion matrix over all data seen: entry [i][j] is the (weighted) count of samples of true
 * class i predicted as class j (TF's convention: rows are labels). numClasses defaults to yPred's (or
 * yTrue's) last axis on the first update.
 */
export class ConfusionMatrix implements Metric<number[][]> {
  private counts?: Float64Array;

  constructor(
    readonly name = 'confusionMatrix',
    private numClasses?: number,
  ) {
    if (numClasses !== undefined && !(Number.isInteger(numClasses) && numClasses >= 2))
      throw new ArgumentError(`${name}: numClasses must be an integer >= 2, got ${numClasses}`);
  }

  updateState(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): void {
    const op = this.name;
    if (this.numClasses === undefined) {
      const last = (t: Tensor) => (t.rank >= 2 ? t.shape[t.rank - 1] : 1);
      const inferred = Math.max(last(yPred), last(yTrue));
      if (inferred < 2)
        throw new ArgumentError(
          `${op}: numClasses is needed when neither yTrue ${fmtShape(yTrue.shape)} ` +
            `nor yPred ${fmtShape(yPred.shape)} has a class axis`,
        );
      this.numClasses = inferred;
    }
    const c = this.numClasses;
    const counts = measure(() => {
      const labels = toClasses(op, yTrue, c, false),
        predicted = toClasses(op, yPred, c, true);
      if (!shapesEqual(labels.shape, predicted.shape))
        throw new ShapeError(
          `${op}: yTrue ${fmtShape(yTrue.shape)} and yPred ${fmtShape(yPred.shape)} ` +
            `give ${labels.size} labels but ${predicted.size} predictions`,
        );
      let rows = o.reshape(o.oneHot(labels, c, 'float64'), [-1, c]);
      if (sampleWeight)
        rows = o.mul(
          rows,
          o.reshape(o.expand(alignWeights(op, sampleWeight, labels.shape, 'float64'), labels.shape), [-1, 1]),
        );
      return [o.matmul(o.transpose(rows), o.reshape(o.oneHot(predicted, c, 'float64'), [-1, c]))];
    });
    this.counts ??= new Float64Array(c * c);
    counts.forEach((v, i) => (this.counts![i] += v));
  }

  result(): number[][] {
    const c = this.numClasses ?? 0;
    return Array.from({ length: c }, (_, i) =>
      Array.from(this.counts?.subarray(i * c, (i + 1) * c) ?? new Float64Array(c)),
    );
  }

  resetState(): void {
    this.counts?.fill(0);
  }

  /** The counts row by row; empty while numClasses is not yet known (it is inferred at the first update). */
  stateValues(): Float64Array {
    const c = this.numClasses ?? 0;
    return Float64Array.from(this.counts ?? new Float64Array(c * c));
  }

  /** numClasses, when not known yet, is the square root of the values' length (rows by columns). */
  setStateValues(values: Float64Array): void {
    const c = this.numClasses ?? Math.round(Math.sqrt(values.length));
    checkStateLength(this.name, values, c * c);
    if (c === 0) return;
    if (c < 2) throw new ArgumentError(`${this.name}: setStateValues got ${values.length} values, not a c x c matrix`);
    this.numClasses = c;
    this.counts = Float64Array.from(values);
  }

  getConfig(): MetricConfig {
    return { className: 'ConfusionMatrix', config: { name: this.name, numClasses: this.numClasses ?? null } };
  }
}

export function confusionMatrix(options: NameOption & { numClasses?: number } = {}): ConfusionMatrix {
  checkOptions('confusionMatrix', options, ['name', 'numClasses']);
  return new ConfusionMatrix(options.name, options.numClasses);
}

type Factory = (options: Record<string, ConfigValue>, context: MetricContext) => Metric;
const plain =
  (f: (options: Record<string, ConfigValue>) => Metric): Factory =>
  (options) =>
    f(options);

const METRICS = new Registry<Factory>('getMetric', 'metric')
  .add('accuracy', (options, context) => accuracy({ ...context, ...(options as NameOption & { lossName?: string }) }), [
    'acc',
  ])
  .add('binaryAccuracy', plain(binaryAccuracy))
  .add('categoricalAccuracy', plain(categoricalAccuracy))
  .add('sparseCategoricalAccuracy', plain(sparseCategoricalAccuracy))
  .add('topKCategoricalAccuracy', plain(topKCategoricalAccuracy))
  .add('sparseTopKCategoricalAccuracy', plain(sparseTopKCategoricalAccuracy))
  .add('precision', plain(precision))
  .add('recall', plain(recall))
  .add('f1Score', plain(f1Score), ['f1'])
  .add('auc', plain(auc))
  .add('meanSquaredError', plain(meanSquaredError), ['mse'])
  .add('meanAbsoluteError', plain(meanAbsoluteError), ['mae']);

function isMetric(spec: unknown): spec is Metric {
  return (
    typeof spec === 'object' &&
    spec !== null &&
    typeof (spec as Metric).updateState === 'function' &&
    typeof (spec as Metric).result === 'function'
  );
}

/**
 * A fresh metric from a name ('accuracy', 'sparse_categorical_accuracy', 'auc', any case) named as
 * asked, a { className, config }, or a Metric (returned as is). Loss names ('binary_crossentropy') give
 * the loss averaged over the data, as Keras allows. The context lets 'accuracy' resolve immediately.
 */
export function getMetric(spec: MetricSpec, context: MetricContext = {}): Metric {
  if (isMetric(spec)) return spec;
  const fromString = typeof spec === 'string';
  if (!fromString && (typeof spec !== 'object' || spec === null || typeof spec.className !== 'string')) {
    throw new ArgumentError(
      `getMetric: expected a name (${METRICS.names.join(', ')}), a Metric or { className, config }, ` +
        `got ${JSON.stringify(spec)}`,
    );
  }
  const kind = fromString ? spec : spec.className;
  const options: Record<string, ConfigValue> = fromString ? { name: spec } : { ...spec.config };
  if (!fromString && options.lossName === null) delete options.lossName;
  const entry = METRICS.find(kind);
  if (entry) return entry.value(options, context);
  const loss = findLoss(kind);
  if (loss) return new MeanMetric((options.name as string | undefined) ?? kind, loss.lossName, {}, loss.perSample);
  return METRICS.get(kind).value(options, context);
}
