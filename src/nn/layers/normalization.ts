// Normalization (Keras): (x - mean) / sqrt(variance) per index of the kept axes, with mean and variance
// given or learnt by adapt(data) (population statistics over all the other axes); invert undoes it.
// Adapted statistics are non-trainable weights ('mean', 'variance'), so they are saved and reloaded.
import { Tensor } from '../../tensor/tensor.js';
import { add, cast, div, maximum, mul, sqrt, sub } from '../../ops/elementwise.js';
import { mean, variance } from '../../ops/reduce.js';
import { tensor } from '../../ops/creation.js';
import { reshape } from '../../ops/views.js';
import { noGrad } from '../../autograd/tape.js';
import { dispose, outsideScopes, tidy } from '../../tensor/storage.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { ArgumentError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import type { Variable } from '../variable.js';
import { asLayerDType, inputShapeError, oneInput, oneShape, who } from './common.js';

/** Keras' backend.epsilon(): the floor of the standard deviation divided by. */
const EPSILON = 1e-7;

export interface NormalizationArgs extends LayerArgs {
  /**
   * The axis or axes with their own mean and variance (the others are reduced); null: one scalar mean and
   * variance for everything. Default -1 (the last axis: per feature).
   */
  axis?: number | readonly number[] | null;
  /** The mean: a number or one per index of the last kept axis (broadcast). Give with `variance`, or adapt. */
  mean?: number | readonly number[] | null;
  variance?: number | readonly number[] | null;
  /** Apply the inverse, x * sqrt(variance) + mean (turn normalized values back). Default false. */
  invert?: boolean;
}

/** A batch as adapt() takes it from an iterable: a tensor, or a dataset's { x } element. */
type AdaptBatch = Tensor | { x: Tensor };

/** Running mean / variance over batches (Chan et al.'s pairwise update, as Keras' adapt). */
class Moments {
  count = 0;
  constructor(
    readonly mean: Float64Array,
    readonly variance: Float64Array,
  ) {}
  addBatch(batchMean: ArrayLike<number>, batchVar: ArrayLike<number>, batchCount: number): void {
    if (batchCount === 0) return;
    this.count += batchCount;
    const wb = batchCount / this.count,
      wa = 1 - wb;
    for (let i = 0; i < this.mean.length; i++) {
      const m = this.mean[i] * wa + batchMean[i] * wb;
      this.variance[i] =
        (this.variance[i] + (this.mean[i] - m) ** 2) * wa + (batchVar[i] + (batchMean[i] - m) ** 2) * wb;
      this.mean[i] = m;
    }
  }
}

export class Normalization extends Layer {
  static override readonly className: string = 'Normalization';
  override supportsMasking = true;
  readonly axis: number | number[] | null;
  readonly invert: boolean;
  readonly inputMean: number | number[] | null;
  readonly inputVariance: number | number[] | null;
  /** The adapted statistics (shape: the kept axes' sizes); only when mean/variance were not given. */
  adaptMean?: Variable;
  adaptVariance?: Variable;
  private spec?: { rank: number; keep: number[]; reduce: number[]; broadcast: number[] };
  /** Given mean / variance, broadcast to `spec.broadcast` at build. */
  private given?: { mean: Float64Array; variance: Float64Array };

  constructor(args: NormalizationArgs = {}) {
    super(args);
    const axis = args.axis === undefined ? -1 : args.axis;
    const axes = axis === null ? [] : typeof axis === 'number' ? [axis] : Array.isArray(axis) ? axis : [NaN];
    if (!axes.every(Number.isInteger))
      throw new ArgumentError(
        `${who(this)}: axis must be an integer, a list of them or null, got ${JSON.stringify(axis)}`,
      );
    this.axis = axis === null || typeof axis === 'number' ? axis : [...axis];
    this.invert = args.invert ?? false;
    const m = args.mean ?? null,
      v = args.variance ?? null;
    if ((m === null) !== (v === null))
      throw new ArgumentError(
        `${who(this)}: give both mean and variance, or neither (and adapt), got mean ${m}, variance ${v}`,
      );
    const check = (name: string, x: number | readonly number[] | null) => {
      if (x === null) return null;
      const ok = (n: unknown) => typeof n === 'number' && Number.isFinite(n);
      if (ok(x)) return x as number;
      if (Array.isArray(x) && x.length > 0 && x.every(ok)) return [...x] as number[];
      throw new ArgumentError(
        `${who(this)}: ${name} must be a finite number or a list of them, got ${JSON.stringify(x)}`,
      );
    };
    this.inputMean = check('mean', m);
    this.inputVariance = check('variance', v);
    const len = (x: number | number[] | null) => (typeof x === 'number' || x === null ? 0 : x.length);
    if (len(this.inputMean) !== len(this.inputVariance))
      throw new ArgumentError(`${who(this)}: mean and variance must have the same shape`);
    if (Array.isArray(this.inputVariance) ? this.inputVariance.some((x) => x < 0) : (this.inputVariance ?? 0) < 0)
      throw new ArgumentError(`${who(this)}: variance must not be negative`);
    if (Array.isArray(this.inputMean) && axes.length === 0)
      throw new ArgumentError(`${who(this)}: with axis null, mean and variance must be numbers`);
  }

  private axes(): number[] {
    return this.axis === null ? [] : typeof this.axis === 'number' ? [this.axis] : this.axis;
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    const rank = shape.length;
    const keep = [...new Set(this.axes().map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
    if (keep.some((a) => a < 0 || a >= rank))
      throw inputShapeError(this, `an input with axis ${JSON.stringify(this.axis)}`, shape, `rank ${rank}`);
    const unknown = keep.find((a) => shape[a] === null);
    if (unknown !== undefined)
      throw inputShapeError(this, 'known sizes on the kept axes', shape, `axis ${unknown} is unknown`);
    const dims = keep.map((a) => shape[a] as number);
    const broadcast = shape.map((d, i) => (keep.includes(i) ? (d as number) : 1));
    this.spec = { rank, keep, reduce: shape.map((_, i) => i).filter((i) => !keep.includes(i)), broadcast };
    if (this.inputMean === null) {
      this.adaptMean = this.addWeight('mean', dims, 'zeros', { trainable: false });
      this.adaptVariance = this.addWeight('variance', dims, 'ones', { trainable: false });
      return;
    }
    const size = dims.reduce((a, b) => a * b, 1);
    const spread = (name: string, v: number | number[]): Float64Array => {
      if (typeof v === 'number') return new Float64Array(size).fill(v);
      // A list lines up with the last kept axis and repeats over the others (NumPy broadcasting).
      const last = dims[dims.length - 1];
      if (v.length !== last && v.length !== 1)
        throw inputShapeError(
          this,
          `${v.length} values on axis ${keep[keep.length - 1]}`,
          shape,
          `${name} has ${v.length}`,
        );
      return Float64Array.from({ length: size }, (_, i) => v[v.length === 1 ? 0 : i % last]);
    };
    this.given = { mean: spread('mean', this.inputMean), variance: spread('variance', this.inputVariance!) };
  }

  /**
   * What call() applies, for exporters: the mean, the variance, their shape (the input's rank, the kept axes'
   * sizes, 1 elsewhere) and the floor of the standard deviation. Undefined before build.
   */
  statistics(): { mean: Float64Array; variance: Float64Array; shape: number[]; minStd: number } | undefined {
    const s = this.spec;
    if (!s) return undefined;
    const read = (v: Variable) => Float64Array.from(v.value.dataSync());
    const given = this.given ?? { mean: read(this.adaptMean!), variance: read(this.adaptVariance!) };
    return { ...given, shape: [...s.broadcast], minStd: EPSILON };
  }

  /** Same rank and kept sizes as at build time. */
  private checkInput(shape: SymShape): void {
    const s = this.spec!;
    const expected = formatSymShape(s.broadcast.map((d, i) => (s.keep.includes(i) ? d : null)));
    if (shape.length !== s.rank || s.keep.some((a) => shape[a] !== null && shape[a] !== s.broadcast[a]))
      throw inputShapeError(this, expected, shape);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const { broadcast } = this.spec!;
    const [m, v] = this.given
      ? [tensor(this.given.mean, broadcast, x.dtype), tensor(this.given.variance, broadcast, x.dtype)]
      : [reshape(this.adaptMean!.value, broadcast), reshape(this.adaptVariance!.value, broadcast)];
    const std = maximum(sqrt(v), EPSILON);
    return this.invert ? add(mul(x, std), m) : div(sub(x, m), std);
  }

  /**
   * Learns the mean and variance of `data` over the reduced axes: a tensor or typed array (all at once), or
   * an iterable of batches (tensors or { x } elements, e.g. a batched Dataset: then adapt returns a
   * Promise). The layer is built from the data's shape if it was not yet.
   */
  adapt(data: Tensor | TypedArray | readonly number[] | Iterable<AdaptBatch>): void;
  adapt(data: AsyncIterable<AdaptBatch>): Promise<void>;
  adapt(data: unknown): void | Promise<void> {
    if (data instanceof Tensor || ArrayBuffer.isView(data) || (Array.isArray(data) && typeof data[0] === 'number')) {
      const t = data instanceof Tensor ? data : tensor(Float64Array.from(data as ArrayLike<number>));
      try {
        this.adaptBatches([t]);
      } finally {
        if (t !== data) t.dispose();
      }
      return;
    }
    if (typeof data === 'object' && data !== null && Symbol.asyncIterator in data)
      return this.adaptAsync(data as AsyncIterable<AdaptBatch>);
    if (typeof data === 'object' && data !== null && Symbol.iterator in data)
      return this.adaptBatches(data as Iterable<AdaptBatch>);
    throw new ArgumentError(
      `${who(this)}: adapt takes a Tensor, a typed array, numbers or an iterable of batches, got ${typeof data}`,
    );
  }

  /** Batches of an async iterable (a Dataset) are made for this loop: each is freed once read, as fit does. */
  private async adaptAsync(data: AsyncIterable<AdaptBatch>): Promise<void> {
    let moments: Moments | undefined;
    for await (const batch of data) {
      try {
        moments = this.accumulate(batch, moments);
      } finally {
        dispose(batch);
      }
    }
    this.finish(moments);
  }

  private adaptBatches(data: Iterable<AdaptBatch>): void {
    let moments: Moments | undefined;
    for (const batch of data) moments = this.accumulate(batch, moments);
    this.finish(moments);
  }

  /** Adds one batch's statistics (built from the first batch's shape when unbuilt). */
  private accumulate(batch: AdaptBatch, moments: Moments | undefined): Moments {
    const x = batch instanceof Tensor ? batch : batch?.x;
    if (!(x instanceof Tensor))
      throw new ArgumentError(`${who(this)}: adapt batches must be tensors or { x } elements`);
    if (!this.built) {
      // The batch axis stays unknown unless it is a kept axis, so the built layer takes any batch size.
      const keep0 = this.axes().some((a) => a === 0 || a === -x.rank);
      this.build(x.shape.map((d, i) => (i === 0 && !keep0 ? null : d)));
      this.built = true;
    }
    if (this.given) throw new ArgumentError(`${who(this)}: adapt cannot be used when mean and variance are given`);
    this.checkInput(x.shape);
    if (x.size === 0) return moments ?? this.emptyMoments();
    const { reduce } = this.spec!;
    const [m, v] = outsideScopes(() =>
      noGrad(() =>
        tidy(() => {
          const x64 = cast(x, 'float64');
          return [mean(x64, reduce).dataSync(), variance(x64, reduce).dataSync()];
        }),
      ),
    );
    const out = moments ?? this.emptyMoments();
    out.addBatch(
      m,
      v,
      reduce.reduce((n, a) => n * x.shape[a], 1),
    );
    return out;
  }

  private emptyMoments(): Moments {
    const n = this.adaptMean!.value.size;
    return new Moments(new Float64Array(n), new Float64Array(n));
  }

  private finish(moments: Moments | undefined): void {
    if (!moments || moments.count === 0)
      throw new ArgumentError(`${who(this)}: adapt got no data (an empty tensor or no batches)`);
    const shape = this.adaptMean!.shape;
    this.adaptMean!.assign(tensor(moments.mean, shape, this.dtype));
    this.adaptVariance!.assign(tensor(moments.variance, shape, this.dtype));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    if (this.spec) this.checkInput(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    const copy = (v: number | number[] | null) => (Array.isArray(v) ? [...v] : v);
    return {
      ...super.getConfig(),
      axis: copy(this.axis),
      invert: this.invert,
      mean: copy(this.inputMean),
      variance: copy(this.inputVariance),
    };
  }
}

registerLayer(Normalization);
