// Dataset: a lazy, composable input pipeline (tf.data-style): fromArrays -> shuffle -> batch -> map -> ...
//
// Each `for await` over a dataset is one pass (an epoch); stages pull elements one at a time, so nothing
// runs until iterated and only a shuffle buffer / prefetch queue / partial batch is held in memory.
//
// Rows of fromArrays are passed between stages as lightweight references (RowRef: source + index),
// not tensors; batch() gathers a whole batch of rows with one typed-array copy per column, and a row
// becomes tensors only where user code sees it (map, or iterating an unbatched dataset).
//
// Ownership: every tensor a dataset yields is new, belongs to no tidy/TensorScope (the pipeline runs
// interleaved with the consumer's code, so scopes open there must not capture it) and is owned by the
// consumer, who disposes it (dispose(batch)) or lets the GC safety net do so. Tensors inside the
// pipeline are the pipeline's: the element passed to a map fn is disposed after fn returns (unless fn
// returns it), and elements held in a shuffle buffer, partial batch or prefetch queue are disposed when
// a pass ends early (break). Tensors given to fromArrays stay the caller's; their data is copied once.
// autoDispose() / forEach() hand the freeing back to the pipeline: each element is freed when the
// consumer moves on to the next one.
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { allocArray, dtypeOfArray, type DType, type TypedArray } from '../tensor/dtype.js';
import { dispose, forEachDisposable, outsideScopes, tidy } from '../tensor/storage.js';
import { RandomStream, philox4x32, randomUniform } from '../ops/random.js';

/** One element of fromArrays: a row of x and, when given, the matching row of y. */
export interface Example {
  x: Tensor;
  y?: Tensor;
}

/** The element type after batch(): tensors and numbers become tensors with a leading batch axis. */
export type Batched<T> = T extends Tensor | number
  ? Tensor
  : T extends readonly unknown[]
    ? { [K in keyof T]: Batched<T[K]> }
    : T extends object
      ? { [K in keyof T]: Batched<T[K]> }
      : never;

// ------------------------------------------------------------------------------------- array sources

/** A column of rows in one host typed array: row i is data[i * rowSize, (i + 1) * rowSize). */
interface Column {
  data: TypedArray;
  rowShape: number[];
  rowSize: number;
}

function toColumn(op: string, name: string, a: Tensor | TypedArray): Column {
  if (a instanceof Tensor) {
    if (a.rank < 1) throw new ShapeError(`${op}: ${name} must have a leading row axis, got a scalar`);
    const rowShape = a.shape.slice(1);
    return { data: a.dataSync(), rowShape, rowSize: rowShape.reduce((s, d) => s * d, 1) };
  }
  if (!ArrayBuffer.isView(a)) throw new ArgumentError(`${op}: ${name} must be a Tensor or a typed array`);
  dtypeOfArray(a); // rejects typed arrays no dtype maps to (e.g. Int16Array)
  return { data: a.slice(), rowShape: [], rowSize: 1 };
}

/** The rows of a column at `indices`, as one [count, ...rowShape] tensor: one allocation, one copy. */
function gatherColumn(col: Column, indices: ArrayLike<number>, shape: number[]): Tensor {
  const { data, rowSize } = col;
  const out = allocArray(dtypeOfArray(data), indices.length * rowSize);
  if (rowSize === 1) {
    for (let k = 0; k < indices.length; k++) out[k] = data[indices[k]];
  } else {
    for (let k = 0; k < indices.length; k++)
      out.set(data.subarray(indices[k] * rowSize, (indices[k] + 1) * rowSize), k * rowSize);
  }
  return fromTypedArray(out, shape);
}

class ArraySource {
  constructor(
    readonly x: Column,
    readonly y: Column | undefined,
  ) {}

  /** A batch of rows: x [count, ...xRow], y [count, ...yRow]. */
  rows(indices: ArrayLike<number>): Example {
    const n = indices.length;
    const x = gatherColumn(this.x, indices, [n, ...this.x.rowShape]);
    return this.y ? { x, y: gatherColumn(this.y, indices, [n, ...this.y.rowShape]) } : { x };
  }

  /** One row without the batch axis. */
  row(index: number): Example {
    const x = gatherColumn(this.x, [index], this.x.rowShape);
    return this.y ? { x, y: gatherColumn(this.y, [index], this.y.rowShape) } : { x };
  }
}

/** A row of an ArraySource not yet turned into tensors. Not disposable: dropping it frees nothing. */
class RowRef {
  constructor(
    readonly source: ArraySource,
    readonly index: number,
  ) {}
}

/** The element as user code sees it: a RowRef becomes its row's tensors (outside any scope). */
function materialise(item: unknown): unknown {
  return item instanceof RowRef ? outsideScopes(() => item.source.row(item.index)) : item;
}

// --------------------------------------------------------------------------------------- randomness

/** uniform integers for shuffling, drawn from a RandomStream in chunks (a tensor per draw would be slow). */
class IndexStream {
  private chunk: ArrayLike<number> = new Float64Array(0);
  private at = 0;
  constructor(private readonly gen: RandomStream) {}
  /** An integer in [0, n). */
  below(n: number): number {
    if (this.at === this.chunk.length) {
      this.chunk = outsideScopes(() => {
        const t = this.gen.uniform([4096], 0, 1, 'float64');
        const d = t.dataSync();
        t.dispose();
        return d;
      });
      this.at = 0;
    }
    return Math.floor(this.chunk[this.at++] * n);
  }
}

const TWO_POW_32 = 4294967296;

/** A seed for pass `epoch` of a shuffle seeded with `seed`: one Philox block, so passes are uncorrelated. */
function epochSeed(seed: number, epoch: number): number {
  const w = philox4x32(
    [(epoch % TWO_POW_32) >>> 0, Math.floor(epoch / TWO_POW_32) >>> 0, 0x5eed, 0],
    [(seed % TWO_POW_32) >>> 0, Math.floor(seed / TWO_POW_32) >>> 0],
  );
  return w[0] * 2097152 + (w[1] >>> 11); // 32 + 21 bits: a safe integer
}

/** A seed from the global generator, so setSeed() makes unseeded shuffles reproducible too. */
function drawSeed(): number {
  return outsideScopes(() => {
    const t = randomUniform([], { dtype: 'float64' });
    const v = t.item();
    t.dispose();
    return Math.floor(v * 9007199254740992);
  });
}

// ------------------------------------------------------------------------------------------ batching

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;
}

/**
 * Stacks same-structured elements (tensors, numbers, arrays and plain objects of them) along a new
 * leading axis: one typed array per leaf. Inputs are left to the caller to dispose.
 */
function stackElements(items: readonly unknown[], path = 'element'): unknown {
  const first = items[0];
  if (first instanceof Tensor) {
    const ts = items as Tensor[];
    for (const t of ts) {
      if (!(t instanceof Tensor))
        throw new ArgumentError(`batch: ${path} is a Tensor in one element but not in another`);
      if (t.dtype !== first.dtype) throw new DTypeError(`batch: ${path} mixes dtypes ${first.dtype} and ${t.dtype}`);
      if (t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])) {
        throw new ShapeError(
          `batch: ${path} shapes differ within a batch (${fmtShape(first.shape)} and ${fmtShape(t.shape)}); ` +
            'map elements to one shape first',
        );
      }
    }
    const out = allocArray(first.dtype, ts.length * first.size);
    ts.forEach((t, k) => out.set(t.dataSync(), k * first.size));
    return fromTypedArray(out, [ts.length, ...first.shape]);
  }
  if (typeof first === 'number') {
    if (!items.every((v) => typeof v === 'number'))
      throw new ArgumentError(`batch: ${path} is a number in one element but not in another`);
    const dtype: DType = (items as number[]).every(Number.isInteger) ? 'int32' : 'float32';
    const out = allocArray(dtype, items.length);
    (items as number[]).forEach((v, k) => (out[k] = v));
    return fromTypedArray(out, [items.length]);
  }
  if (Array.isArray(first)) {
    if (!items.every((v) => Array.isArray(v) && v.length === first.length))
      throw new ArgumentError(`batch: ${path} arrays differ in length within a batch`);
    return first.map((_, i) =>
      stackElements(
        items.map((v) => (v as unknown[])[i]),
        `${path}[${i}]`,
      ),
    );
  }
  if (isPlainObject(first)) {
    const keys = Object.keys(first).sort().join(',');
    if (!items.every((v) => isPlainObject(v) && Object.keys(v).sort().join(',') === keys)) {
      throw new ArgumentError(`batch: ${path} objects have different keys within a batch (expected ${keys})`);
    }
    return Object.fromEntries(
      Object.keys(first).map((k) => [
        k,
        stackElements(
          items.map((v) => (v as Record<string, unknown>)[k]),
          `${path}.${k}`,
        ),
      ]),
    );
  }
  throw new ArgumentError(
    `batch: cannot batch ${path} of type ${first === null ? 'null' : typeof first}; ` +
      'expected tensors, numbers, arrays or plain objects',
  );
}

/** One batch: rows of one array source are gathered directly; anything else is materialised and stacked. */
function collate(items: readonly unknown[]): unknown {
  const first = items[0];
  if (first instanceof RowRef && items.every((v) => v instanceof RowRef && v.source === first.source)) {
    return outsideScopes(() => first.source.rows((items as RowRef[]).map((r) => r.index)));
  }
  const elements = items.map(materialise);
  try {
    return outsideScopes(() => stackElements(elements));
  } finally {
    dispose(elements);
  }
}

// ------------------------------------------------------------------------------------------- Dataset

function assertCount(op: string, n: number, min = 0): void {
  if (!Number.isInteger(n) || n < min)
    throw new ArgumentError(`Dataset.${op}: expected an integer >= ${min}, got ${n}`);
}

/**
 * A lazy sequence of elements, iterated with `for await`. Each stage returns a new Dataset and leaves
 * its input usable. Elements are `T`; batches of fromArrays are `{ x, y? }` with a leading batch axis.
 */
export class Dataset<T = Example> implements AsyncIterable<T> {
  /**
   * `open` starts one pass and yields internal items (elements, or RowRefs standing for Examples);
   * `size` is the number of elements per pass: Infinity when endless, undefined when unknown.
   */
  private constructor(
    private readonly open: () => AsyncIterable<unknown>,
    private readonly size: number | undefined,
  ) {}

  /**
   * Rows of x (and y): element i is { x: x[i], y: y[i] }. Tensors are read once into host memory (the
   * caller keeps ownership of them); a typed array is a column of scalars.
   */
  static fromArrays(x: Tensor | TypedArray, y?: Tensor | TypedArray): Dataset<Example> {
    const cx = toColumn('Dataset.fromArrays', 'x', x);
    const n = x instanceof Tensor ? x.shape[0] : x.length;
    let cy: Column | undefined;
    if (y !== undefined) {
      cy = toColumn('Dataset.fromArrays', 'y', y);
      const ny = y instanceof Tensor ? y.shape[0] : y.length;
      if (ny !== n)
        throw new ShapeError(
          `Dataset.fromArrays: x has ${n} rows but y has ${ny} (x ${describe(x)}, y ${describe(y)})`,
        );
    }
    const source = new ArraySource(cx, cy);
    return new Dataset(async function* () {
      for (let i = 0; i < n; i++) yield new RowRef(source, i);
    }, n);
  }

  /**
   * Elements from a (sync or async) generator function, called once per pass. The pipeline takes
   * ownership of the tensors it yields. The cardinality is unknown unless given.
   */
  static fromGenerator<T>(fn: () => Iterable<T> | AsyncIterable<T>, cardinality?: number): Dataset<T> {
    if (cardinality !== undefined && cardinality !== Infinity) assertCount('fromGenerator', cardinality);
    return new Dataset<T>(async function* () {
      yield* fn(); // yield* adapts a sync iterable too
    }, cardinality);
  }

  /** Elements per pass: a count, Infinity for an endless dataset, or undefined when not known. */
  cardinality(): number | undefined {
    return this.size;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for await (const item of this.open()) yield materialise(item) as T;
  }

  /** Every element of one pass, in an array (for small datasets and tests). */
  async toArray(): Promise<T[]> {
    const out: T[] = [];
    for await (const v of this) out.push(v);
    return out;
  }

  private derive<U>(
    size: number | undefined,
    stage: (upstream: AsyncIterable<unknown>) => AsyncIterable<unknown>,
  ): Dataset<U> {
    return new Dataset<U>(() => stage(this.open()), size);
  }

  /**
   * Shuffles with a buffer of `bufferSize` elements ('all': the whole dataset, a uniform permutation).
   * A buffer smaller than the dataset gives a partial, local shuffle, as in tf.data. The order is a
   * function of `seed` (drawn from the global generator when absent, so setSeed applies) and of the
   * pass number: every pass (epoch, including each repeat) is shuffled differently unless
   * reshuffleEachIteration is false, and a new dataset built the same way replays the same orders.
   */
  shuffle(
    bufferSize: number | 'all',
    { seed, reshuffleEachIteration = true }: { seed?: number; reshuffleEachIteration?: boolean } = {},
  ): Dataset<T> {
    if (bufferSize === 'all') {
      if (this.size === Infinity)
        throw new ArgumentError("Dataset.shuffle: cannot buffer 'all' of an endless dataset; give a buffer size");
    } else assertCount('shuffle', bufferSize, 1);
    const capacity = bufferSize === 'all' ? Infinity : bufferSize;
    const base = seed ?? drawSeed();
    new RandomStream(base); // validates the seed now rather than at the first pass
    let pass = 0;
    return this.derive(this.size, async function* (upstream) {
      const rng = new IndexStream(new RandomStream(epochSeed(base, reshuffleEachIteration ? pass++ : 0)));
      const buffer: unknown[] = [];
      try {
        for await (const item of upstream) {
          if (buffer.length < capacity) {
            buffer.push(item);
            continue;
          }
          const j = rng.below(capacity);
          const out = buffer[j];
          buffer[j] = item;
          yield out;
        }
        while (buffer.length > 0) {
          const j = rng.below(buffer.length);
          const out = buffer[j];
          buffer[j] = buffer[buffer.length - 1];
          buffer.pop();
          yield out;
        }
      } finally {
        dispose(buffer);
      }
    });
  }

  /** Groups consecutive elements into batches of `size` (the last one smaller unless dropRemainder). */
  batch(size: number, { dropRemainder = false }: { dropRemainder?: boolean } = {}): Dataset<Batched<T>> {
    assertCount('batch', size, 1);
    const n = this.size;
    const count = n === undefined || n === Infinity ? n : dropRemainder ? Math.floor(n / size) : Math.ceil(n / size);
    return this.derive(count, async function* (upstream) {
      let pending: unknown[] = [];
      try {
        for await (const item of upstream) {
          pending.push(item);
          if (pending.length === size) {
            const items = pending;
            pending = [];
            yield collate(items);
          }
        }
        if (pending.length > 0 && !dropRemainder) {
          const items = pending;
          pending = [];
          yield collate(items);
        }
      } finally {
        dispose(pending);
      }
    });
  }

  /**
   * Applies fn to every element. fn runs inside tidy (its intermediate tensors are freed) and outside
   * the consumer's scopes; the input element is disposed after fn returns unless fn returned it.
   */
  map<U>(fn: (element: T) => U): Dataset<U> {
    return this.derive(this.size, async function* (upstream) {
      for await (const item of upstream) {
        const element = materialise(item);
        let out: U;
        try {
          out = outsideScopes(() => tidy(() => fn(element as T)));
        } catch (e) {
          dispose(element);
          throw e;
        }
        const kept = new Set<unknown>();
        forEachDisposable(out, (t) => kept.add(t));
        forEachDisposable(element, (t) => {
          if (!kept.has(t)) t.dispose();
        });
        yield out;
      }
    });
  }

  /**
   * Keeps the elements for which `predicate` is true; the others are freed here. The predicate runs outside
   * the consumer's scopes and inside tidy (its intermediate tensors are freed).
   */
  filter(predicate: (element: T) => boolean): Dataset<T> {
    return this.derive(undefined, async function* (upstream) {
      for await (const item of upstream) {
        const element = materialise(item);
        let keepIt: boolean;
        try {
          keepIt = outsideScopes(() => tidy(() => predicate(element as T)));
        } catch (e) {
          dispose(element);
          throw e;
        }
        if (keepIt) yield element;
        else dispose(element);
      }
    });
  }

  /**
   * The same elements, each freed by the pipeline when the consumer asks for the next one or leaves the
   * loop (break, return, throw): `for await (const { x, y } of ds.autoDispose())` needs no dispose(). A
   * tensor wanted beyond its step must be copied (clone()). fit/evaluate/predict free batches either way.
   */
  autoDispose(): Dataset<T> {
    return this.derive(this.size, async function* (upstream) {
      for await (const item of upstream) {
        const element = materialise(item);
        try {
          yield element;
        } finally {
          dispose(element);
        }
      }
    });
  }

  /** Calls fn on every element of one pass (awaiting it), freeing each element once fn has finished. */
  async forEach(fn: (element: T, index: number) => void | Promise<void>): Promise<void> {
    let i = 0;
    for await (const element of this.autoDispose()) await fn(element, i++);
  }

  /** The first n elements of each pass. */
  take(n: number): Dataset<T> {
    assertCount('take', n);
    return this.derive(this.size === undefined ? undefined : Math.min(n, this.size), async function* (upstream) {
      if (n === 0) return;
      let i = 0;
      for await (const item of upstream) {
        yield item;
        if (++i >= n) return; // stop before pulling (and making) element n + 1
      }
    });
  }

  /** All but the first n elements of each pass. */
  skip(n: number): Dataset<T> {
    assertCount('skip', n);
    return this.derive(this.size === undefined ? undefined : Math.max(0, this.size - n), async function* (upstream) {
      let i = 0;
      for await (const item of upstream) {
        if (i++ < n) dispose(item);
        else yield item;
      }
    });
  }

  /** The dataset `count` times over (forever when omitted); each repetition is a new pass. */
  repeat(count?: number): Dataset<T> {
    if (count !== undefined) assertCount('repeat', count);
    const n = this.size;
    const size = n === 0 ? 0 : count === undefined ? Infinity : n === undefined ? undefined : n * count;
    const self = this;
    return new Dataset<T>(async function* () {
      for (let r = 0; count === undefined || r < count; r++) {
        let any = false;
        for await (const item of self.open()) {
          any = true;
          yield item;
        }
        if (!any) return; // an empty dataset repeated forever ends instead of spinning
      }
    }, size);
  }

  /**
   * Keeps up to `n` elements requested ahead of the consumer, so producing the next batch overlaps
   * with consuming this one wherever the producer awaits (file reads, async generators).
   */
  prefetch(n = 1): Dataset<T> {
    assertCount('prefetch', n, 1);
    return this.derive(this.size, async function* (upstream) {
      const it = upstream[Symbol.asyncIterator]();
      const queue: Promise<IteratorResult<unknown>>[] = [];
      const request = () => {
        const p = it.next();
        p.catch(() => {}); // a rejection is rethrown when awaited; this only stops it being "unhandled"
        queue.push(p);
      };
      try {
        for (let i = 0; i < n; i++) request();
        for (;;) {
          const r = await queue.shift()!;
          if (r.done) return;
          request();
          yield r.value;
        }
      } finally {
        // Elements fetched ahead but never handed out are still the pipeline's: free them.
        for (const p of queue) {
          const r = await p.catch(() => undefined);
          if (r && !r.done) dispose(r.value);
        }
        await it.return?.();
      }
    });
  }
}

function describe(a: Tensor | TypedArray): string {
  return a instanceof Tensor ? `${a.dtype} ${fmtShape(a.shape)}` : `${a.constructor.name}(${a.length})`;
}
