// The epoch iterator (Keras 3 EpochIterator and its data adapters): the batches of one epoch over tensors,
// Datasets and generators alike, for fit, evaluate and predict (and fit's validation). Each batch's tensors
// are freed when the loop asks for the next batch or leaves early.
import { Tensor } from '../tensor/tensor.js';
import { DATA_SCOPE, withLayerPath } from '../autograd/annotations.js';
import { ArgumentError } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { RandomStream, mixSeeds } from '../ops/random.js';
import { inputList, tensorList, type DataNames } from './arguments.js';
import { StringTensor, type StringInputs } from '../nn/preprocessing/string-tensor.js';
import { shardRows, shardSteps, type Shard } from '../distributed/sharding.js';

/** A model's inputs or labels: one tensor, one per input / output, or keyed by input / output name (Keras). */
export type TensorData = Tensor | Tensor[] | Record<string, Tensor>;

/** A model's inputs: tensors, or raw text (string[], string[][], StringTensor) for a text layer first. */
export type InputData = TensorData | StringInputs | (Tensor | StringTensor)[] | Record<string, Tensor | StringTensor>;

/** A batch as datasets yield it. */
export interface Batch {
  x: InputData;
  y?: TensorData;
  sampleWeight?: Tensor;
}

export type TrainingInput = InputData | AsyncIterable<Batch> | Iterable<Batch>;

/** A batch as a step reads it: one tensor per model input and per output. */
export interface StepBatch {
  x: (Tensor | StringTensor)[];
  y?: Tensor[];
  sampleWeight?: Tensor;
}

/** Tensors with equal sample counts (checked by the caller, see arguments.ts), sliced into batches. */
export interface ArrayData {
  x: (Tensor | StringTensor)[];
  y?: Tensor[];
  sampleWeight?: Tensor;
}

export type DataSource = ArrayData | AsyncIterable<Batch> | Iterable<Batch>;

export interface EpochIteratorArgs {
  /** The API that iterates ('fit', 'evaluate', 'predict'), for error messages. */
  op: string;
  batchSize: number;
  /** Arrays only: a fresh seeded permutation of the samples each epoch. */
  shuffle?: boolean;
  seed?: number;
  /** Per-class weights, multiplied into the batch's sample weights (Keras applies them in its data adapter). */
  classWeight?: Record<number, number>;
  /** Whether batches must carry labels (fit, evaluate). */
  labels: boolean;
  /** The model's input and output names, by which batches may key their x and y. */
  names?: DataNames;
  /**
   * Arrays only, for DP-SGD: 'poisson' puts each sample in each batch independently with probability
   * batchSize / samples (round(samples / batchSize) batches an epoch, of varying size, possibly empty);
   * 'fixed' shuffles and yields full batches only (the remainder is dropped). Seeded by `seed`.
   */
  sampling?: 'poisson' | 'fixed';
  /**
   * Arrays only, for data-parallel fit: this rank's share of each global batch of batchSize x count rows of the
   * epoch's order (see src/distributed/sharding.ts); the same number of steps on every rank, some maybe empty.
   */
  shard?: Shard;
}

export const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

export const isPromise = (v: unknown): v is PromiseLike<unknown> =>
  typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';

/**
 * Steps through an epoch's batches one at a time: a plain iterable's (array data) without a promise per batch, as
 * for-await would make, an async one's (datasets, generators) as they come.
 */
export function stepper(
  batches: Iterable<StepBatch> | AsyncIterable<StepBatch>,
): Iterator<StepBatch> | AsyncIterator<StepBatch> {
  return Symbol.asyncIterator in batches ? batches[Symbol.asyncIterator]() : batches[Symbol.iterator]();
}

/** A Dataset, generator or other iterable of batches (not a tensor nor a list of tensors). */
export function isIterableInput(v: unknown): v is AsyncIterable<Batch> | Iterable<Batch> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Tensor) &&
    !(v instanceof StringTensor) &&
    !Array.isArray(v) &&
    (Symbol.asyncIterator in v || Symbol.iterator in v)
  );
}

/** Sample weights for a batch: the class weight of each label times the given weights (when any). */
function classSampleWeights(y: Tensor, classWeight: Record<number, number>, sampleWeight: Tensor | undefined): Tensor {
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

export class EpochIterator {
  /** Samples per epoch (tensors only). */
  readonly samples?: number;
  /** Batches per epoch, when known (tensors, or a Dataset of finite cardinality). */
  readonly steps?: number;

  constructor(
    private readonly data: DataSource,
    private readonly args: EpochIteratorArgs,
  ) {
    if (isIterableInput(data)) {
      const cardinality = (data as { cardinality?: () => number | undefined }).cardinality?.();
      if (cardinality !== undefined && Number.isFinite(cardinality)) this.steps = cardinality;
    } else {
      this.samples = data.x[0].shape[0];
      const { sampling, batchSize, shard } = args;
      this.steps = shard
        ? shardSteps(this.samples, batchSize, shard)
        : sampling === 'poisson'
          ? Math.max(1, Math.round(this.samples / batchSize))
          : sampling === 'fixed'
            ? Math.floor(this.samples / batchSize)
            : Math.ceil(this.samples / batchSize);
    }
  }

  /**
   * The batches of epoch `epoch` (which seeds the shuffle): a plain iterable over tensors, an async one
   * over datasets and generators; `for await` reads both.
   */
  epoch(epoch: number): Iterable<StepBatch> | AsyncIterable<StepBatch> {
    if (isIterableInput(this.data)) return this.iterableBatches(this.data);
    return this.args.sampling === 'poisson'
      ? this.poissonBatches(this.data, epoch)
      : this.arrayBatches(this.data, epoch);
  }

  /** Tensors only (predict is synchronous): the batches of one pass in order. */
  arrays(): Iterable<StepBatch> {
    if (isIterableInput(this.data)) throw new ArgumentError(`${this.args.op}: expected tensors, got an iterable`);
    return this.arrayBatches(this.data, 0);
  }

  private *arrayBatches(data: ArrayData, epoch: number): IterableIterator<StepBatch> {
    const { batchSize, shuffle, seed, sampling, shard } = this.args;
    const n = this.samples!;
    let order: Int32Array | undefined;
    if (shuffle || sampling === 'fixed') {
      const perm = new RandomStream(mixSeeds(seed!, epoch)).permutation(n);
      order = perm.dataSync() as Int32Array;
      perm.dispose();
    }
    if (shard) {
      for (let step = 0; step < this.steps!; step++)
        yield* this.batch(data, shardRows(order, n, batchSize, shard, step));
      return;
    }
    // Fixed-size sampling yields full batches only: `steps` of them.
    const end = sampling === 'fixed' ? this.steps! * batchSize : n;
    for (let start = 0; start < end; start += batchSize)
      yield* this.batch(
        data,
        order ? order.subarray(start, start + batchSize) : [start, Math.min(start + batchSize, n)],
      );
  }

  /**
   * Poisson sampling: each of `steps` batches takes every sample independently with probability q =
   * batchSize / samples. The gaps between taken samples are geometric, so a batch costs about q * samples
   * uniform draws (not one per sample): gap = floor(log(1 - u) / log(1 - q)).
   */
  private *poissonBatches(data: ArrayData, epoch: number): IterableIterator<StepBatch> {
    const n = this.samples!;
    const q = Math.min(1, this.args.batchSize / n);
    const stream = new RandomStream(mixSeeds(this.args.seed!, epoch));
    const logMiss = Math.log1p(-q);
    // Enough draws for almost every batch at once (mean + 6 standard deviations); more are drawn when not.
    const chunk = Math.ceil(n * q + 6 * Math.sqrt(n * q * (1 - q)) + 16);
    for (let step = 0; step < this.steps!; step++) {
      const rows: number[] = [];
      let u: Float64Array = new Float64Array(0),
        used = 0;
      const next = (): number => {
        if (used === u.length) {
          const t = stream.uniform([chunk], 0, 1, 'float64');
          u = t.dataSync() as Float64Array;
          t.dispose();
          used = 0;
        }
        return u[used++];
      };
      if (q === 1) for (let i = 0; i < n; i++) rows.push(i);
      else
        for (
          let i = Math.floor(Math.log1p(-next()) / logMiss);
          i < n;
          i += 1 + Math.floor(Math.log1p(-next()) / logMiss)
        )
          rows.push(i);
      yield* this.batch(data, Int32Array.from(rows));
    }
  }

  /**
   * One batch of array data: the rows `rows` gathered, or the views [start, end) (a batch covering a whole
   * tensor is the tensor itself, which belongs to the caller and is not freed here). Freed when the loop
   * asks for the next batch.
   */
  private *batch(data: ArrayData, rows: Int32Array | [start: number, end: number]): IterableIterator<StepBatch> {
    const { classWeight } = this.args;
    const idx = rows instanceof Int32Array ? o.tensor(rows) : undefined;
    const [start, end] = rows;
    const take = idx ? (t: Tensor) => o.gather(t, idx, 0) : (t: Tensor) => o.sliceAxis(t, 0, start, end);
    const made: Tensor[] = [];
    const strings = (t: StringTensor) => (idx ? t.gather(rows as Int32Array) : t.slice(start, end));
    const part = <T extends Tensor | StringTensor>(t: T): T => {
      if (t instanceof StringTensor) return strings(t) as T; // plain JS values: nothing to free
      const p = take(t as Tensor) as T;
      if (p !== t) made.push(p as Tensor);
      return p;
    };
    try {
      // Metered as the input pipeline's work ('data'), not a layer's (synchronous: the mark ends before the yield).
      const batch = withLayerPath(DATA_SCOPE, (): StepBatch => {
        const x = data.x.map(part);
        const y = data.y?.map(part);
        const w = data.sampleWeight && part(data.sampleWeight);
        const sampleWeight = classWeight && y ? classSampleWeights(y[0], classWeight, w) : w;
        if (sampleWeight !== w) made.push(sampleWeight!);
        return { x, y, sampleWeight };
      });
      yield batch;
    } finally {
      dispose(made);
      idx?.dispose();
    }
  }

  private async *iterableBatches(data: AsyncIterable<Batch> | Iterable<Batch>): AsyncGenerator<StepBatch> {
    const { op, labels, classWeight, names } = this.args;
    for await (const raw of data) {
      let made: Tensor | undefined;
      try {
        if (labels && !raw.y) throw new ArgumentError(`${op}: the dataset must yield {x, y} batches`);
        const y = raw.y === undefined ? undefined : tensorList(op, "a batch's y", raw.y, '', 'output', names);
        const sampleWeight =
          classWeight && y ? classSampleWeights(y[0], classWeight, raw.sampleWeight) : raw.sampleWeight;
        if (sampleWeight !== raw.sampleWeight) made = sampleWeight;
        yield { x: inputList(op, raw.x, names, "a batch's x"), y, sampleWeight };
      } finally {
        // The loop owns what the dataset yields.
        dispose(raw);
        made?.dispose();
      }
    }
  }
}
