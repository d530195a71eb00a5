// timeseriesDatasetFromArray (keras.utils.timeseries_dataset_from_array): sliding windows over a series
// whose axis 0 is time, as a Dataset of { x: [batch, sequenceLength, ...row], y: [batch, ...targetRow] }.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { allocArray, dtypeOfArray, type TypedArray } from '../tensor/dtype.js';
import { outsideScopes } from '../tensor/storage.js';
import { RandomStream, drawSeed, mixSeeds } from '../ops/random.js';
import { Dataset, type Example } from './dataset.js';

export interface TimeseriesOptions {
  /** Timesteps per window. */
  sequenceLength: number;
  /** Steps between the starts of consecutive windows. Default 1. */
  sequenceStride?: number;
  /** Steps between consecutive timesteps within a window. Default 1. */
  samplingRate?: number;
  /** Windows per batch; null yields single windows (no batch axis). Default 128. */
  batchSize?: number | null;
  /** Shuffle the windows (a fresh order each pass, fixed by `seed`). Default false. */
  shuffle?: boolean;
  /** Seed of the shuffle; default one drawn from the global generator (setSeed applies). */
  seed?: number;
  /** Data points before this index are not used. Default 0. */
  startIndex?: number;
  /** Data points from this index on are not used. Default: the length of the data. */
  endIndex?: number;
}

/** Rows of a series: row i is data[i * rowSize, (i + 1) * rowSize). */
interface Series {
  data: TypedArray;
  length: number;
  rowShape: number[];
  rowSize: number;
}

function series(name: string, a: Tensor | TypedArray | readonly number[]): Series {
  const op = 'timeseriesDatasetFromArray';
  if (a instanceof Tensor) {
    if (a.rank < 1) throw new ShapeError(`${op}: ${name} must have a time axis, got a scalar ${fmtShape(a.shape)}`);
    const rowShape = a.shape.slice(1);
    return { data: a.dataSync(), length: a.shape[0], rowShape, rowSize: rowShape.reduce((s, d) => s * d, 1) };
  }
  if (ArrayBuffer.isView(a)) {
    dtypeOfArray(a); // rejects typed arrays no dtype maps to
    return { data: a.slice(), length: a.length, rowShape: [], rowSize: 1 };
  }
  if (Array.isArray(a) && a.every((v) => typeof v === 'number'))
    return { data: Float32Array.from(a), length: a.length, rowShape: [], rowSize: 1 };
  throw new ArgumentError(`${op}: ${name} must be a Tensor, a typed array or an array of numbers`);
}

/** rows[i] for each i of `indices`, as one [indices.length, ...rowShape] array. */
function gatherRows(s: Series, indices: ArrayLike<number>): TypedArray {
  const out = allocArray(dtypeOfArray(s.data), indices.length * s.rowSize);
  for (let k = 0; k < indices.length; k++)
    out.set(s.data.subarray(indices[k] * s.rowSize, (indices[k] + 1) * s.rowSize), k * s.rowSize);
  return out;
}

function positiveInt(name: string, v: unknown): number {
  if (!Number.isSafeInteger(v) || (v as number) < 1)
    throw new ArgumentError(`timeseriesDatasetFromArray: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return v as number;
}

/**
 * Windows over `data` (axis 0 is time): window i starts at startIndex + i * sequenceStride and takes
 * sequenceLength steps samplingRate apart; its target is targets[startIndex + i * sequenceStride] (so
 * targets[j] belongs to the window starting at j). Windows that would run past endIndex are dropped.
 * Tensors are read once; the dataset owns copies. Each batch yielded is the consumer's to dispose
 * (fit does so).
 */
export function timeseriesDatasetFromArray(
  data: Tensor | TypedArray | readonly number[],
  targets: Tensor | TypedArray | readonly number[] | null,
  options: TimeseriesOptions,
): Dataset<Example> {
  const op = 'timeseriesDatasetFromArray';
  const x = series('data', data);
  const y = targets === null || targets === undefined ? undefined : series('targets', targets);
  const n = x.length;
  const sequenceLength = positiveInt('sequenceLength', options.sequenceLength);
  const stride = positiveInt('sequenceStride', options.sequenceStride ?? 1);
  const rate = positiveInt('samplingRate', options.samplingRate ?? 1);
  const batchSize = options.batchSize === null ? null : positiveInt('batchSize', options.batchSize ?? 128);
  const start = options.startIndex ?? 0;
  const end = options.endIndex ?? n;
  if (!Number.isSafeInteger(start) || start < 0 || start >= n)
    throw new ArgumentError(`${op}: startIndex must be in [0, ${n}) for data of length ${n}, got ${start}`);
  if (!Number.isSafeInteger(end) || end <= start || end > n)
    throw new ArgumentError(`${op}: endIndex must be in (startIndex ${start}, ${n}], got ${end}`);
  if (rate >= n) throw new ArgumentError(`${op}: samplingRate must be below the data length ${n}, got ${rate}`);
  if (stride >= n) throw new ArgumentError(`${op}: sequenceStride must be below the data length ${n}, got ${stride}`);
  // Keras: windows that fit in [start, end), and no more than there are targets.
  let count = end - start - (sequenceLength - 1) * rate;
  if (y) count = Math.min(count, y.length - start);
  const starts: number[] = [];
  for (let p = 0; p < count; p += stride) starts.push(start + p);
  const seed = options.shuffle ? (options.seed ?? drawSeed()) : undefined;
  if (seed !== undefined) new RandomStream(seed); // validates the seed now
  const cardinality = batchSize === null ? starts.length : Math.ceil(starts.length / batchSize);
  let pass = 0;

  const windows = (positions: ArrayLike<number>): Example => {
    const idx = new Int32Array(positions.length * sequenceLength);
    for (let k = 0; k < positions.length; k++)
      for (let t = 0; t < sequenceLength; t++) idx[k * sequenceLength + t] = positions[k] + t * rate;
    const lead = batchSize === null ? [] : [positions.length];
    return outsideScopes(() => ({
      x: fromTypedArray(gatherRows(x, idx), [...lead, sequenceLength, ...x.rowShape]),
      ...(y ? { y: fromTypedArray(gatherRows(y, positions), [...lead, ...y.rowShape]) } : {}),
    }));
  };

  return Dataset.fromGenerator(function* () {
    let order = starts;
    if (seed !== undefined) {
      const perm = outsideScopes(() => new RandomStream(mixSeeds(seed, pass++)).permutation(starts.length));
      const p = perm.dataSync();
      perm.dispose();
      order = Array.from(p, (i) => starts[i]);
    }
    if (batchSize === null) {
      for (const p of order) yield windows([p]);
      return;
    }
    for (let b = 0; b < order.length; b += batchSize) yield windows(order.slice(b, b + batchSize));
  }, cardinality);
}
