// Data helpers: one-hot labels (Keras toCategorical), feature scaling with reusable stats, train/test split.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { tidy } from '../tensor/storage.js';
import { add, div, equal, mul, sub, where } from '../ops/elementwise.js';
import { max, mean, min, std } from '../ops/reduce.js';
import { gather } from '../ops/indexing.js';
import { RandomStream, permutation } from '../ops/random.js';

/** float32 [n, numClasses] one-hot rows for integer labels in [0, numClasses); `op` names the caller in errors. */
export function oneHotRows(
  labels: ArrayLike<number>,
  numClasses: number,
  op: string,
  shape: readonly number[] = [labels.length],
): Tensor {
  const out = new Float32Array(labels.length * numClasses);
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isInteger(v) || v < 0 || v >= numClasses) {
      throw new ArgumentError(`${op}: label ${i} is ${v}; expected an integer in [0, ${numClasses})`);
    }
    out[i * numClasses + v] = 1;
  }
  return fromTypedArray(out, [...shape, numClasses]);
}

/**
 * Integer class labels to one-hot float32 rows (Keras to_categorical): shape [...labels.shape,
 * numClasses], where a trailing axis of size 1 is dropped first ([N, 1] labels give [N, numClasses]).
 * numClasses defaults to max(label) + 1.
 */
export function toCategorical(labels: Tensor | ArrayLike<number>, numClasses?: number): Tensor {
  let shape: number[];
  let values: ArrayLike<number>;
  if (labels instanceof Tensor) {
    shape = [...labels.shape];
    if (shape.length > 1 && shape[shape.length - 1] === 1) shape.pop();
    values = labels.dataSync();
  } else {
    values = labels;
    shape = [labels.length];
  }
  let classes = numClasses;
  if (classes === undefined) {
    // Infer from the largest finite label; invalid labels (negative, fractional, NaN) fail the check below.
    let top = 0;
    for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i]) && values[i] > top) top = values[i];
    classes = Math.floor(top) + 1;
  }
  if (!Number.isInteger(classes) || classes < 1)
    throw new ArgumentError(`toCategorical: numClasses must be a positive integer, got ${numClasses}`);
  return oneHotRows(values, classes, 'toCategorical', shape);
}

/** Per-feature statistics fitted on training data; tensors of one row's shape, owned by the caller. */
export interface StandardizeStats {
  mean: Tensor;
  std: Tensor;
}

export interface MinMaxStats {
  min: Tensor;
  max: Tensor;
}

function assertBatched(op: string, x: Tensor): void {
  if (x.rank < 1 || x.shape[0] === 0)
    throw new ShapeError(`${op}: expected x of shape [N, ...features] with N > 0, got ${fmtShape(x.shape)}`);
}

/** A divisor that is 1 where `d` is 0: a constant feature is centred, not turned into NaN (as scikit-learn). */
function safeDivisor(d: Tensor): Tensor {
  return where(equal(d, 0), 1, d);
}

/**
 * (x - mean) / std per feature (over axis 0), in float32 (float64 stays float64). Without `stats` the
 * mean and population std are fitted on x and returned, so the same transform can be applied to test
 * data: `const { stats } = standardize(xTrain); standardize(xTest, { stats })`. Features with zero
 * spread are only centred. Returned tensors are new and owned by the caller; passed stats are reused.
 */
export function standardize(
  x: Tensor,
  { stats }: { stats?: StandardizeStats } = {},
): { x: Tensor; stats: StandardizeStats } {
  assertBatched('standardize', x);
  return tidy(() => {
    const s = stats ?? { mean: mean(x, 0), std: std(x, 0) };
    return { x: div(sub(x, s.mean), safeDivisor(s.std)), stats: s };
  });
}

/**
 * Scales each feature (over axis 0) linearly so the fitted min maps to range[0] and max to range[1];
 * constant features map to range[0]. Returns the fitted (or given) stats for reuse on test data.
 */
export function minMaxScale(
  x: Tensor,
  { stats, range = [0, 1] }: { stats?: MinMaxStats; range?: readonly [number, number] } = {},
): { x: Tensor; stats: MinMaxStats } {
  assertBatched('minMaxScale', x);
  const [lo, hi] = range;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && lo < hi))
    throw new ArgumentError(`minMaxScale: range must be [lo, hi] finite with lo < hi, got [${range.join(', ')}]`);
  return tidy(() => {
    const s = stats ?? { min: min(x, 0), max: max(x, 0) };
    const xf = x.dtype === 'float64' ? x : x.cast('float32');
    const unit = div(sub(xf, s.min), safeDivisor(sub(s.max, s.min)));
    return { x: add(mul(unit, hi - lo), lo), stats: s };
  });
}

export interface SplitOptions {
  /** Fraction of rows in (0, 1) or a whole number of rows for the test part (default 0.25). */
  testSize?: number;
  /** Shuffle rows before splitting (default true), with a permutation from `seed` or the global generator. */
  shuffle?: boolean;
  seed?: number;
}

/** Inputs and labels with one row per example. */
export interface Split {
  x: Tensor;
  y: Tensor;
}

export interface TrainTest<T> {
  train: T;
  test: T;
}

/**
 * Splits the rows of x (and y) into train and test parts, like scikit-learn's train_test_split: the
 * test part has ceil(testSize * N) rows (or testSize rows when it is a whole number >= 1).
 */
export function trainTestSplit(
  x: Tensor,
  y?: Tensor,
  { testSize = 0.25, shuffle = true, seed }: SplitOptions = {},
): TrainTest<{ x: Tensor; y?: Tensor }> {
  assertBatched('trainTestSplit', x);
  const n = x.shape[0];
  if (y !== undefined && (y.rank < 1 || y.shape[0] !== n))
    throw new ShapeError(
      `trainTestSplit: x ${fmtShape(x.shape)} and y ${fmtShape(y.shape)} must have the same number of rows`,
    );
  const nTest = testSize > 0 && testSize < 1 ? Math.ceil(testSize * n) : testSize;
  if (!Number.isInteger(nTest) || nTest < 1 || nTest >= n) {
    throw new ArgumentError(
      `trainTestSplit: testSize ${testSize} must leave at least one row in each part of ${n} rows`,
    );
  }
  return tidy(() => {
    const order = shuffle
      ? (seed !== undefined ? new RandomStream(seed).permutation(n) : permutation(n)).dataSync()
      : Int32Array.from({ length: n }, (_, i) => i);
    const trainIdx = Array.from(order.subarray(0, n - nTest));
    const testIdx = Array.from(order.subarray(n - nTest));
    const part = (idx: number[]) => ({ x: gather(x, idx), ...(y !== undefined ? { y: gather(y, idx) } : {}) });
    return { train: part(trainIdx), test: part(testIdx) };
  });
}
