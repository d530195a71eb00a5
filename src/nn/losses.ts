// Losses with Keras semantics and defaults. Each is (yTrue, yPred, sampleWeight?) -> a scalar: per-sample
// losses (the mean over the last axis) reduced by Keras' 'sum_over_batch_size', i.e.
// sum(loss_i * w_i) / (number of per-sample losses). Calling a loss with an options object instead
// gives a configured copy: binaryCrossentropy({ fromLogits: true })(yTrue, yPred).
import { checkOnHost } from '../ops/trace.js';
import { Tensor } from '../tensor/tensor.js';
import { tidy } from '../tensor/storage.js';
import { isFloat } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape, fmtValue } from '../errors.js';
import * as o from '../ops/index.js';
import { logitsBehind } from './logits.js';
import { getMask, maskBytes } from './masking.js';
import { Registry, checkOptions } from '../registry.js';

/** Keras' backend.epsilon(): probabilities are clipped to [EPSILON, 1 - EPSILON] before a log. */
export const EPSILON = 1e-7;

type OptionValue = number | boolean | readonly number[] | null;
type Options = Record<string, OptionValue>;

export interface LossConfig {
  className: string;
  config?: Record<string, OptionValue>;
}

export interface LossFn<O extends Options = Options> {
  /** The batch loss, a scalar. sampleWeight is [N], [N, 1] or anything that broadcasts to the per-sample losses. */
  (yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor;
  /** A copy with other options. */
  (options: Partial<O>): LossFn<O>;
  /** The canonical camelCase name, e.g. 'categoricalCrossentropy'. */
  readonly lossName: string;
  readonly options: Readonly<O>;
  /** The unreduced losses, one per sample: shape yPred.shape without its last axis (Keras reduction 'none'). */
  perSample(yTrue: Tensor, yPred: Tensor): Tensor;
  getConfig(): LossConfig;
}

export type LossSpec = string | LossFn | LossConfig | ((yTrue: Tensor, yPred: Tensor) => Tensor);

/**
 * Keras' squeeze_or_expand_to_same_rank: when ranks differ by one and the larger has a trailing 1,
 * squeeze it (or, if the smaller is 1-D, expand the smaller). [N] labels against [N, 1] predictions
 * must not broadcast to [N, N].
 */
export function alignRanks(a: Tensor, b: Tensor): [Tensor, Tensor] {
  if (a.rank === b.rank + 1 && a.shape[a.rank - 1] === 1)
    return b.rank === 1 ? [a, o.unsqueeze(b, -1)] : [o.squeeze(a, -1), b];
  if (b.rank === a.rank + 1 && b.shape[b.rank - 1] === 1)
    return a.rank === 1 ? [o.unsqueeze(a, -1), b] : [a, o.squeeze(b, -1)];
  return [a, b];
}

function requireFloatPrediction(op: string, yPred: Tensor): void {
  if (!isFloat(yPred.dtype))
    throw new DTypeError(`${op}: yPred must be float32 or float64, got ${yPred.dtype} ${fmtShape(yPred.shape)}`);
  if (yPred.rank === 0) throw new ShapeError(`${op}: yPred must have a batch axis, got a scalar`);
}

/**
 * yTrue and yPred aligned in rank, of equal shapes (no silent broadcasting), yTrue in yPred's dtype,
 * and at least 2-D so that the last axis is the one averaged per sample. [N] inputs are N samples of
 * one value each: unweighted this is Keras' value; with sample weights each weight applies to its own
 * sample (Keras would average the [N] values into one and scale it by the mean weight).
 */
export function alignPair(op: string, yTrue: Tensor, yPred: Tensor, hint = ''): [Tensor, Tensor] {
  requireFloatPrediction(op, yPred);
  let [t, p] = alignRanks(yTrue, yPred);
  if (!shapesEqual(t.shape, p.shape))
    throw new ShapeError(
      `${op}: yTrue has shape ${fmtShape(yTrue.shape)} but yPred has shape ${fmtShape(yPred.shape)}${hint}`,
    );
  if (p.rank === 1) [t, p] = [o.unsqueeze(t, -1), o.unsqueeze(p, -1)];
  return [o.cast(t, p.dtype), p];
}

/**
 * sampleWeight reshaped to broadcast against values of `shape`: trailing size-1 axes dropped or added
 * (Keras' rule), then each axis must match or be 1.
 */
export function alignWeights(
  op: string,
  sampleWeight: Tensor,
  shape: readonly number[],
  dtype: Tensor['dtype'],
): Tensor {
  let w = o.cast(sampleWeight, dtype);
  while (w.rank > shape.length && w.shape[w.rank - 1] === 1) w = o.squeeze(w, -1);
  if (w.rank < shape.length) w = o.reshape(w, [...w.shape, ...new Array<number>(shape.length - w.rank).fill(1)]);
  if (w.rank !== shape.length || w.shape.some((d, i) => d !== 1 && d !== shape[i])) {
    throw new ShapeError(
      `${op}: sampleWeight has shape ${fmtShape(sampleWeight.shape)}, which does not broadcast to the per-sample ` +
        `values of shape ${fmtShape(shape)}; expected [${shape[0] ?? 1}] or [${shape[0] ?? 1}, 1]`,
    );
  }
  return w;
}

/**
 * The weights a loss applies for yPred's Keras mask (e.g. padded time steps of a sequence model), as
 * Keras 3 does: mask * size / count(mask), times any sample weights, so 'sum_over_batch_size' becomes
 * the mean over the unmasked entries (0 when none is unmasked). Undefined when yPred carries no mask
 * of the per-sample losses' shape.
 */
function maskedWeights(
  op: string,
  yPred: Tensor,
  losses: Tensor,
  sampleWeight: Tensor | undefined,
): Tensor | undefined {
  const mask = maskBytes(yPred);
  if (!mask || !shapesEqual(mask.shape, losses.shape)) return sampleWeight;
  const keep = o.cast(getMask(yPred)!, losses.dtype);
  const valid = mask.data.reduce((n, v) => n + (v ? 1 : 0), 0);
  const scaled = o.mul(keep, valid === 0 ? 0 : losses.size / valid);
  return sampleWeight ? o.mul(alignWeights(op, sampleWeight, losses.shape, losses.dtype), scaled) : scaled;
}

/** Keras 'sum_over_batch_size': sum(loss * w) / size(loss); 0 for an empty batch. */
function reduceLosses(op: string, losses: Tensor, sampleWeight: Tensor | undefined): Tensor {
  if (losses.size === 0) return o.zeros([], losses.dtype);
  const weighted = sampleWeight ? o.mul(losses, alignWeights(op, sampleWeight, losses.shape, losses.dtype)) : losses;
  return o.div(o.sum(weighted), losses.size);
}

/**
 * Checks that `labels` hold whole numbers in [0, numClasses) and returns them as int32. Out-of-range
 * labels would silently give an all-zero one-hot row (a loss of 0), so they throw. Reads the labels
 * to the host (they are small, and usually came from there).
 */
export function classIndices(op: string, labels: Tensor, numClasses: number, context: string): Tensor {
  // checkOnHost: a compiled step checks every replay's labels too.
  checkOnHost(labels, (t) => {
    const data = t.dataSync();
    for (let i = 0; i < data.length; i++) {
      const v = data[i];
      if (!(Number.isInteger(v) && v >= 0 && v < numClasses)) {
        throw new ArgumentError(
          `${op}: label ${v} at index ${i} is not a class index in [0, ${numClasses}) (${context})`,
        );
      }
    }
  });
  return o.cast(labels, 'int32');
}

/**
 * Integer class labels for sparse losses and metrics: yTrue of shape yPred.shape[:-1] (e.g. [N]) or
 * with a trailing 1 ([N, 1]), any numeric dtype, against yPred [N, numClasses]. Returns int32 [N].
 */
export function sparseLabels(op: string, yTrue: Tensor, yPred: Tensor): Tensor {
  requireFloatPrediction(op, yPred);
  if (yPred.rank < 2) throw new ShapeError(`${op}: yPred must be [N, numClasses], got ${fmtShape(yPred.shape)}`);
  const batchShape = yPred.shape.slice(0, -1);
  const t = yTrue.rank === yPred.rank && yTrue.shape[yTrue.rank - 1] === 1 ? o.squeeze(yTrue, -1) : yTrue;
  if (!shapesEqual(t.shape, batchShape)) {
    const hint = shapesEqual(yTrue.shape, yPred.shape)
      ? '; for one-hot labels use the categorical (not sparse) version'
      : '';
    throw new ShapeError(
      `${op}: yTrue has shape ${fmtShape(yTrue.shape)} but yPred has shape ${fmtShape(yPred.shape)}; ` +
        `expected integer labels of shape ${fmtShape(batchShape)} or ${fmtShape([...batchShape, 1])}${hint}`,
    );
  }
  return classIndices(op, t, yPred.shape[yPred.rank - 1], `yPred ${fmtShape(yPred.shape)}`);
}

/**
 * Per-sample losses of prepared inputs; `options` are the loss's resolved options. A loss normalised by
 * its weights (PyTorch's class weights) also returns the factor that turns Keras' reduction into that.
 */
type PerSample<O> = (yTrue: Tensor, yPred: Tensor, options: O) => Tensor | { losses: Tensor; scale: Tensor };

const lossesOf = (r: Tensor | { losses: Tensor }) => (r instanceof Tensor ? r : r.losses);

/** The options that are set: null ones (PyTorch-style extras left unset) are left out of configs. */
function setOptions<O extends Options>(options: O): O {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== null)) as O;
}

function defineLoss<O extends Options>(
  lossName: string,
  className: string,
  defaults: O,
  perSample: PerSample<O>,
  validate: (o: O) => void = () => {},
): LossFn<O> {
  const make = (options: O): LossFn<O> => {
    validate(options);
    const unreduced = (yTrue: Tensor, yPred: Tensor) => perSample(yTrue, yPred, options);
    function loss(yTrue: Tensor, yPred: Tensor, sampleWeight?: Tensor): Tensor;
    function loss(options: Partial<O>): LossFn<O>;
    function loss(a: Tensor | Partial<O>, yPred?: Tensor, sampleWeight?: Tensor): Tensor | LossFn<O> {
      if (!(a instanceof Tensor)) {
        checkOptions(lossName, a, Object.keys(defaults));
        return make({ ...options, ...a });
      }
      if (!(yPred instanceof Tensor))
        throw new ArgumentError(
          `${lossName}: expected (yTrue, yPred, sampleWeight?) tensors, ` +
            `got yPred ${yPred === undefined ? 'undefined' : typeof yPred}`,
        );
      return tidy(() => {
        const r = unreduced(a, yPred);
        const losses = lossesOf(r);
        const reduced = reduceLosses(lossName, losses, maskedWeights(lossName, yPred, losses, sampleWeight));
        return r instanceof Tensor ? reduced : o.mul(reduced, r.scale);
      });
    }
    return Object.assign(loss, {
      lossName,
      options: Object.freeze(setOptions(options)),
      perSample: (yTrue: Tensor, yPred: Tensor) => tidy(() => lossesOf(unreduced(yTrue, yPred))),
      getConfig: (): LossConfig => ({ className, config: setOptions(options) }),
    });
  };
  return make(defaults);
}

/** Options of the cross-entropies; types spelt out so that defaults of false / 0 do not narrow to literals. */
type CrossentropyOptions = { fromLogits: boolean; labelSmoothing: number };

function checkLabelSmoothing(op: string, v: number): void {
  if (!(typeof v === 'number' && v >= 0 && v <= 1))
    throw new ArgumentError(`${op}: labelSmoothing must be in [0, 1], got ${v}`);
}

/** Per-class weights (PyTorch's weight, pos_weight) as a tensor over yPred's class (last) axis. */
function classWeights(op: string, key: string, weights: number | readonly number[], yPred: Tensor): Tensor {
  const list = typeof weights === 'number' ? [weights] : [...weights];
  if (!list.every((w) => typeof w === 'number' && Number.isFinite(w)))
    throw new ArgumentError(`${op}: ${key} must be finite numbers, got ${fmtValue(weights)}`);
  const classes = yPred.shape[yPred.rank - 1];
  if (typeof weights !== 'number' && list.length !== classes)
    throw new ShapeError(
      `${op}: ${key} has ${list.length} values but yPred ${fmtShape(yPred.shape)} has ${classes} classes`,
    );
  return o.tensor(list, [list.length], yPred.dtype);
}

/** mean((yPred - yTrue)^2) over the last axis. */
export const meanSquaredError = defineLoss('meanSquaredError', 'MeanSquaredError', {}, (yTrue, yPred) => {
  const [t, p] = alignPair('meanSquaredError', yTrue, yPred);
  return o.mean(o.square(o.sub(p, t)), -1);
});

/** mean(|yPred - yTrue|) over the last axis. */
export const meanAbsoluteError = defineLoss('meanAbsoluteError', 'MeanAbsoluteError', {}, (yTrue, yPred) => {
  const [t, p] = alignPair('meanAbsoluteError', yTrue, yPred);
  return o.mean(o.abs(o.sub(p, t)), -1);
});

/** Quadratic for |error| <= delta, linear beyond: 0.5 e^2 or delta |e| - 0.5 delta^2 (Keras, delta 1). */
export const huber = defineLoss<{ delta: number }>(
  'huber',
  'Huber',
  { delta: 1 },
  (yTrue, yPred, { delta }) => {
    const [t, p] = alignPair('huber', yTrue, yPred);
    const e = o.sub(p, t);
    const a = o.abs(e);
    return o.mean(
      o.where(o.lessEqual(a, delta), o.mul(o.square(e), 0.5), o.sub(o.mul(a, delta), 0.5 * delta * delta)),
      -1,
    );
  },
  ({ delta }) => {
    if (!(typeof delta === 'number' && delta > 0 && Number.isFinite(delta)))
      throw new ArgumentError(`huber: delta must be a positive number, got ${delta}`);
  },
);

/**
 * Binary cross-entropy -(y log p + (1 - y) log(1 - p)), averaged over the last axis. Probabilities are
 * clipped to [1e-7, 1 - 1e-7] as Keras does; with fromLogits it is softplus(x) - x y (stable for any x,
 * gradient sigmoid(x) - y), which needs no clipping. labelSmoothing moves labels towards 0.5: y (1 - s) + s / 2.
 * posWeight (PyTorch's pos_weight: one number, or one per class of the last axis) weighs the positive term:
 * -(w y log p + (1 - y) log(1 - p)), from logits (1 - y) x + (1 + (w - 1) y) softplus(-x).
 */
export const binaryCrossentropy = defineLoss<CrossentropyOptions & { posWeight: number | readonly number[] | null }>(
  'binaryCrossentropy',
  'BinaryCrossentropy',
  { fromLogits: false, labelSmoothing: 0, posWeight: null },
  (yTrue, yPred, { fromLogits, labelSmoothing, posWeight }) => {
    const op = 'binaryCrossentropy';
    // Probabilities from a sigmoid activation are scored from its logits (see nn/logits.ts).
    const logits = fromLogits ? yPred : logitsBehind(yPred, 'sigmoid');
    let [t, p] = alignPair(op, yTrue, logits ?? yPred);
    if (labelSmoothing) t = o.add(o.mul(t, 1 - labelSmoothing), 0.5 * labelSmoothing);
    const w = posWeight === null ? undefined : classWeights(op, 'posWeight', posWeight, p);
    if (logits) {
      if (!w) return o.mean(o.sub(o.softplus(p), o.mul(p, t)), -1);
      const positive = o.add(o.mul(t, o.sub(w, 1)), 1);
      return o.mean(o.add(o.mul(o.sub(1, t), p), o.mul(positive, o.softplus(o.neg(p)))), -1);
    }
    const q = o.clip(p, EPSILON, 1 - EPSILON);
    const positive = o.mul(t, o.log(q));
    return o.mean(o.neg(o.add(w ? o.mul(positive, w) : positive, o.mul(o.sub(1, t), o.log(o.sub(1, q))))), -1);
  },
  ({ labelSmoothing }) => checkLabelSmoothing('binaryCrossentropy', labelSmoothing),
);

/** log-probabilities over the last axis: logSoftmax of logits, or log of normalised, clipped probabilities (Keras). */
function logProbabilities(yPred: Tensor, fromLogits: boolean): Tensor {
  // Probabilities from a softmax activation are scored from its logits (see nn/logits.ts).
  const logits = fromLogits ? yPred : logitsBehind(yPred, 'softmax');
  if (logits) return o.logSoftmax(logits, -1);
  return o.log(o.clip(o.div(yPred, o.sum(yPred, -1, true)), EPSILON, 1 - EPSILON));
}

type WeightOption = { weight: readonly number[] | null };

/**
 * -sum(y log p) over the class (last) axis, for one-hot (or soft) labels of yPred's shape.
 * labelSmoothing s: y (1 - s) + s / numClasses. weight (one per class) scales each class's term:
 * -sum(w y log p), as PyTorch's cross_entropy(weight) with probability targets (the mean stays over samples).
 */
export const categoricalCrossentropy = defineLoss<CrossentropyOptions & WeightOption>(
  'categoricalCrossentropy',
  'CategoricalCrossentropy',
  { fromLogits: false, labelSmoothing: 0, weight: null },
  (yTrue, yPred, { fromLogits, labelSmoothing, weight }) => {
    const op = 'categoricalCrossentropy';
    requireFloatPrediction(op, yPred);
    if (yPred.rank < 2) throw new ShapeError(`${op}: yPred must be [N, numClasses], got ${fmtShape(yPred.shape)}`);
    if (!shapesEqual(yTrue.shape, yPred.shape)) {
      const labelsLike = yTrue.size * yPred.shape[yPred.rank - 1] === yPred.size;
      throw new ShapeError(
        `${op}: yTrue has shape ${fmtShape(yTrue.shape)} but yPred has shape ${fmtShape(yPred.shape)}` +
          (labelsLike ? '; for integer labels use sparseCategoricalCrossentropy' : ''),
      );
    }
    let t = o.cast(yTrue, yPred.dtype);
    if (labelSmoothing) t = o.add(o.mul(t, 1 - labelSmoothing), labelSmoothing / yPred.shape[yPred.rank - 1]);
    if (weight !== null) t = o.mul(t, classWeights(op, 'weight', weight, yPred));
    return o.neg(o.sum(o.mul(t, logProbabilities(yPred, fromLogits)), -1));
  },
  ({ labelSmoothing }) => checkLabelSmoothing('categoricalCrossentropy', labelSmoothing),
);

/**
 * Categorical cross-entropy with integer labels [N] or [N, 1] against yPred [N, numClasses]. As PyTorch's
 * cross_entropy: weight (one per class) scales each sample's loss by its class's weight, and samples whose
 * label is ignoreIndex count for nothing; with either, the batch loss is the weighted mean
 * sum(w_i loss_i) / sum(w_i) over the samples kept (0 when none is kept; PyTorch gives NaN). Sample
 * weights, if any, multiply the terms of the numerator only.
 */
export const sparseCategoricalCrossentropy = defineLoss<
  { fromLogits: boolean; ignoreIndex: number | null } & WeightOption
>(
  'sparseCategoricalCrossentropy',
  'SparseCategoricalCrossentropy',
  { fromLogits: false, weight: null, ignoreIndex: null },
  (yTrue, yPred, { fromLogits, weight, ignoreIndex }) => {
    const op = 'sparseCategoricalCrossentropy';
    if (ignoreIndex !== null && !Number.isInteger(ignoreIndex))
      throw new ArgumentError(`${op}: ignoreIndex must be an integer, got ${fmtValue(ignoreIndex)}`);
    // Ignored labels may lie outside [0, numClasses) (PyTorch's default is -100): score them as class 0.
    const keep = ignoreIndex === null ? undefined : o.notEqual(yTrue, ignoreIndex);
    const labels = sparseLabels(op, keep ? o.where(keep, yTrue, 0) : yTrue, yPred);
    // Probabilities from a softmax activation are scored from its logits (see nn/logits.ts).
    const logits = fromLogits ? yPred : logitsBehind(yPred, 'softmax');
    let losses: Tensor;
    if (logits) losses = o.sparseSoftmaxCrossEntropy(logits, labels);
    else {
      const oneHot = o.oneHot(labels, yPred.shape[yPred.rank - 1], yPred.dtype as 'float32' | 'float64');
      losses = o.neg(o.sum(o.mul(oneHot, logProbabilities(yPred, fromLogits)), -1));
    }
    if (weight === null && !keep) return losses;
    let w = weight === null ? o.onesLike(losses) : o.gather(classWeights(op, 'weight', weight, yPred), labels);
    if (keep) w = o.mul(w, o.cast(o.reshape(keep, labels.shape), w.dtype));
    const total = o.sum(w);
    // N / sum(w) turns Keras' mean over samples into PyTorch's weighted mean; 0 when every sample is ignored.
    const scale = o.where(o.equal(total, 0), 0, o.div(losses.size, o.where(o.equal(total, 0), 1, total)));
    return { losses: o.mul(losses, w), scale };
  },
);

/** sum(y log(y / p)) over the last axis, both clipped to [1e-7, 1] (Keras). */
export const kullbackLeiblerDivergence = defineLoss('kullbackLeiblerDivergence', 'KLDivergence', {}, (yTrue, yPred) => {
  const [t, p] = alignPair('kullbackLeiblerDivergence', yTrue, yPred);
  const tc = o.clip(t, EPSILON, 1),
    pc = o.clip(p, EPSILON, 1);
  return o.sum(o.mul(tc, o.log(o.div(tc, pc))), -1);
});

const LOSSES = new Registry<LossFn>('getLoss', 'loss')
  .add('meanSquaredError', meanSquaredError, ['mse'])
  .add('meanAbsoluteError', meanAbsoluteError, ['mae'])
  .add('huber', huber, ['huberLoss'])
  .add('binaryCrossentropy', binaryCrossentropy)
  .add('categoricalCrossentropy', categoricalCrossentropy)
  .add('sparseCategoricalCrossentropy', sparseCategoricalCrossentropy)
  .add('kullbackLeiblerDivergence', kullbackLeiblerDivergence, ['kld', 'klDivergence']);

/** The loss registered under `name` (any spelling), or undefined: for registries that fall back on losses. */
export function findLoss(name: string): LossFn | undefined {
  return LOSSES.find(name)?.value;
}

/** The loss for a name ('categorical_crossentropy', 'mse', any case), a { className, config }, itself or a function. */
export function getLoss(spec: LossSpec): LossFn {
  if (typeof spec === 'function') {
    if ('lossName' in spec) return spec;
    // A custom (yTrue, yPred) => per-sample losses (or a scalar), reduced like the built-in losses.
    return defineLoss(spec.name || 'loss', 'Custom', {}, (yTrue, yPred) => spec(yTrue, yPred)) as LossFn;
  }
  if (typeof spec === 'string') return LOSSES.get(spec).value;
  if (typeof spec !== 'object' || spec === null || typeof spec.className !== 'string') {
    throw new ArgumentError(
      `getLoss: expected a name (${LOSSES.names.join(', ')}), a loss function or { className, config }, ` +
        `got ${fmtValue(spec)}`,
    );
  }
  // Keras class names ('KLDivergence', 'Huber') resolve like the function names.
  const base = LOSSES.get(spec.className);
  return spec.config && Object.keys(spec.config).length > 0 ? base.value(spec.config as Partial<Options>) : base.value;
}
