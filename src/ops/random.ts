// Seeded random tensors from a counter-based generator (Philox4x32-10, Salmon et al. 2011). Element i of
// a draw depends only on (seed, counter + i); its Philox blocks come from the backend's `philox` primitive
// through the dispatch point (word for word the same on every backend), and are turned into values here.
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { ArgumentError, DTypeError } from '../errors.js';
import { allocArray, type DType, type TypedArray } from '../tensor/dtype.js';
import { assertShape, sizeOf, type Shape } from '../tensor/shape.js';
import { runPrimitive } from './dispatch.js';
import { tracing } from './trace.js';

const M0 = 0xd2511f53,
  M1 = 0xcd9e8d57,
  W0 = 0x9e3779b9,
  W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two uint32s. */
function mulhi(a: number, b: number): number {
  const aHi = a >>> 16,
    aLo = a & 0xffff,
    bHi = b >>> 16,
    bLo = b & 0xffff;
  const lolo = aLo * bLo,
    hilo = aHi * bLo,
    lohi = aLo * bHi;
  const mid = (lolo >>> 16) + (hilo & 0xffff) + (lohi & 0xffff);
  return (aHi * bHi + (hilo >>> 16) + (lohi >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** One Philox4x32-10 block: four uint32 words from a 128-bit counter and a 64-bit key. */
export function philox4x32(
  counter: readonly [number, number, number, number],
  key: readonly [number, number],
  out = new Uint32Array(4),
): Uint32Array {
  return philoxBlock(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
}

/** philox4x32 on plain words (no tuples: this is the inner loop of every random draw). */
function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array,
): Uint32Array {
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi(M0, c0),
      lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2),
      lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0,
      n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

const TWO_POW_32 = 4294967296;
const INV_2_53 = 1 / 9007199254740992;

/** Fills `out` (4 words per element) with the blocks of counters counter, counter + 1, ... (split
 *  [low 32 bits, high 32 bits, attempt, 0]) under the key [key0, key1]: the JS backend's philox kernel. */
export function philoxBlocks(key0: number, key1: number, counter: number, attempt: number, out: Uint32Array): void {
  const w = new Uint32Array(4);
  for (let i = 0; i < out.length / 4; i++) {
    const c = counter + i;
    philoxBlock((c % TWO_POW_32) >>> 0, Math.floor(c / TWO_POW_32) >>> 0, attempt, 0, key0, key1, w);
    out.set(w, 4 * i);
  }
}

/** The blocks of `count` counters from `counter` on, drawn by the current backend's philox primitive
 *  through the dispatch point (so the ledger meters random draws like any kernel), into `out`. */
function drawBlocks(key: readonly [number, number], counter: number, count: number, out: Uint32Array): void {
  const t = runPrimitive('philox', [], { key0: key[0], key1: key[1], counter, attempt: 0, count });
  try {
    const words = t.dataSync();
    out.set(new Uint32Array(words.buffer, words.byteOffset, 4 * count));
  } finally {
    t.dispose();
  }
}

/** Elements whose blocks a draw computes at once. */
const BULK = 1 << 14;

/**
 * A seeded stream. Each draw of n elements consumes counters [counter, counter + n) and advances the
 * counter, so a generator gives the same sequence of tensors every run.
 */
export class RandomStream {
  private counter: number;
  private readonly key: [number, number];
  private readonly words = new Uint32Array(4);
  /** During a draw: the attempt-0 blocks of elements [bulkFrom, bulkFrom + BULK), 4 words each. */
  private bulk: Uint32Array | undefined;
  private bulkFrom = 0;

  /** A stream keyed by `seed`, starting at counter `position` (0: its beginning). */
  constructor(
    readonly seed: number,
    position = 0,
  ) {
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new ArgumentError(`RandomStream: seed must be a non-negative safe integer, got ${seed}`);
    if (!Number.isSafeInteger(position) || position < 0)
      throw new ArgumentError(`RandomStream: position must be a non-negative safe integer, got ${position}`);
    this.key = [(seed % TWO_POW_32) >>> 0, Math.floor(seed / TWO_POW_32) >>> 0];
    this.counter = position;
  }

  /**
   * A stream under a full 64-bit key given as two uint32 words (e.g. from node:crypto) rather than a seed:
   * its `seed` is NaN, so nothing can name or replay it (DP-SGD's noise, see src/privacy/dp-sgd.ts).
   */
  static fromKey(key0: number, key1: number): RandomStream {
    const stream = new RandomStream(0);
    stream.key[0] = key0 >>> 0;
    stream.key[1] = key1 >>> 0;
    (stream as { seed: number }).seed = NaN;
    return stream;
  }

  /** The counter the next draw starts at. */
  get position(): number {
    return this.counter;
  }

  /**
   * Claims the counters of an n-element draw made elsewhere (a backend's kernel computing this stream
   * itself) and returns where it starts: the stream then continues as if this generator had drawn it.
   */
  reserve(n: number): number {
    const start = this.counter;
    this.counter += n;
    return start;
  }

  /** The four words of element i of the current draw, attempt a (for rejection sampling). */
  private block(i: number, attempt = 0): Uint32Array {
    const bulk = this.bulk,
      at = 4 * (i - this.bulkFrom);
    if (attempt === 0 && bulk && at >= 0 && at < bulk.length) {
      const w = this.words;
      w[0] = bulk[at];
      w[1] = bulk[at + 1];
      w[2] = bulk[at + 2];
      w[3] = bulk[at + 3];
      return w;
    }
    const c = this.counter + i;
    return philoxBlock(
      (c % TWO_POW_32) >>> 0,
      Math.floor(c / TWO_POW_32) >>> 0,
      attempt,
      0,
      this.key[0],
      this.key[1],
      this.words,
    );
  }

  private draw(n: number, fill: (i: number) => number, dtype: DType): TypedArray {
    const out = allocArray(dtype, n);
    this.bulk = new Uint32Array(4 * Math.min(n, BULK));
    try {
      for (let from = 0; from < n; from += BULK) {
        const to = Math.min(n, from + BULK);
        this.bulkFrom = from;
        drawBlocks(this.key, this.counter + from, to - from, this.bulk);
        for (let i = from; i < to; i++) out[i] = fill(i);
      }
    } finally {
      this.bulk = undefined;
    }
    this.counter += n;
    return out;
  }

  /**
   * The raw uint32 words of the next n elements' blocks, four per element (computed by the backend): for
   * callers that need millions of random integers, such as bootstrap indices, without a tensor per draw.
   */
  blockWords(n: number): Uint32Array {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new ArgumentError(`blockWords: n must be a non-negative integer, got ${n}`);
    const out = new Uint32Array(4 * n);
    if (n > 0) drawBlocks(this.key, this.counter, n, out);
    this.counter += n;
    return out;
  }

  /** Uniform in [0, 1): 24 random bits for float32 (so it never rounds up to 1), 53 for float64. */
  private unit(i: number, dtype: DType, attempt = 0): number {
    const w = this.block(i, attempt);
    return dtype === 'float32' ? (w[0] >>> 8) / 16777216 : ((w[0] >>> 5) * 67108864 + (w[1] >>> 6)) * INV_2_53;
  }

  /** Standard normal by Box-Muller on words of one block; u1 in (0, 1] keeps the log finite. */
  private gaussian(i: number, attempt = 0): number {
    const w = this.block(i, attempt);
    const u1 = 1 - ((w[0] >>> 5) * 67108864 + (w[1] >>> 6)) * INV_2_53;
    const u2 = ((w[2] >>> 5) * 67108864 + (w[3] >>> 6)) * INV_2_53;
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  uniform(shape: Shape, min = 0, max = 1, dtype: DType = 'float32'): Tensor {
    floatOnly('uniform', dtype);
    assertShape('uniform', shape);
    return fromTypedArray(
      this.draw(sizeOf(shape), (i) => min + (max - min) * this.unit(i, dtype), dtype),
      shape,
    );
  }

  normal(shape: Shape, mean = 0, stddev = 1, dtype: DType = 'float32'): Tensor {
    floatOnly('normal', dtype);
    assertShape('normal', shape);
    return fromTypedArray(
      this.draw(sizeOf(shape), (i) => mean + stddev * this.gaussian(i), dtype),
      shape,
    );
  }

  /** Normal values redrawn until within two standard deviations (Keras TruncatedNormal). */
  truncatedNormal(shape: Shape, mean = 0, stddev = 1, dtype: DType = 'float32'): Tensor {
    floatOnly('truncatedNormal', dtype);
    assertShape('truncatedNormal', shape);
    return fromTypedArray(
      this.draw(
        sizeOf(shape),
        (i) => {
          for (let attempt = 0; ; attempt++) {
            const z = this.gaussian(i, attempt);
            if (Math.abs(z) <= 2) return mean + stddev * z;
          }
        },
        dtype,
      ),
      shape,
    );
  }

  /** True with probability p. */
  bernoulli(shape: Shape, p = 0.5): Tensor {
    if (!(p >= 0 && p <= 1)) throw new ArgumentError(`bernoulli: p must be in [0, 1], got ${p}`);
    assertShape('bernoulli', shape);
    return fromTypedArray(
      this.draw(sizeOf(shape), (i) => (this.unit(i, 'float64') < p ? 1 : 0), 'bool'),
      shape,
    );
  }

  /** A random permutation of 0 .. n-1 (Fisher-Yates), int32. */
  permutation(n: number): Tensor {
    if (!Number.isInteger(n) || n < 0)
      throw new ArgumentError(`permutation: n must be a non-negative integer, got ${n}`);
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.unit(i, 'float64') * (i + 1));
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    this.counter += n;
    return fromTypedArray(out, [n]);
  }
}

function floatOnly(op: string, dtype: DType): void {
  if (dtype !== 'float32' && dtype !== 'float64')
    throw new DTypeError(`${op}: dtype must be float32 or float64, got ${dtype}`);
}

let globalStream = new RandomStream(0);

/**
 * A 53-bit seed hashing two seeds with one Philox block (counter = a, key = b): derived streams, e.g. per epoch or
 * step.
 */
export function mixSeeds(a: number, b: number): number {
  const w = philox4x32(
    [(a % TWO_POW_32) >>> 0, Math.floor(a / TWO_POW_32) >>> 0, 0, 0],
    [(b % TWO_POW_32) >>> 0, Math.floor(b / TWO_POW_32) >>> 0],
  );
  const mixed = w[0] * 2 ** 21 + (w[1] >>> 11);
  // A seed made from a traced step's seed: the compiled step remakes it from each step's own seed.
  if (tracing && b === tracing.stepSeed) tracing.seedBases.set(mixed, a);
  return mixed;
}

/** A seed drawn from the global stream, so things seeded by default are reproducible under setSeed. */
export function drawSeed(): number {
  const w = globalStream.uniform([1], 0, 1, 'float64');
  const seed = Math.floor(w.item() * TWO_POW_32);
  w.dispose();
  return seed;
}

/** Reseeds the global generator that the random functions use when given no seed. */
export function setSeed(seed: number): void {
  globalStream = new RandomStream(seed);
}

export interface RandomOptions {
  dtype?: DType;
  /** A fresh generator with this seed for this call only. */
  seed?: number;
  generator?: RandomStream;
}

function gen(o: RandomOptions): RandomStream {
  return o.generator ?? (o.seed !== undefined ? new RandomStream(o.seed) : globalStream);
}

export function randomUniform(
  shape: Shape,
  { min = 0, max = 1, ...o }: RandomOptions & { min?: number; max?: number } = {},
): Tensor {
  return gen(o).uniform(shape, min, max, o.dtype);
}

export function randomNormal(
  shape: Shape,
  { mean = 0, stddev = 1, ...o }: RandomOptions & { mean?: number; stddev?: number } = {},
): Tensor {
  return gen(o).normal(shape, mean, stddev, o.dtype);
}

export function truncatedNormal(
  shape: Shape,
  { mean = 0, stddev = 1, ...o }: RandomOptions & { mean?: number; stddev?: number } = {},
): Tensor {
  return gen(o).truncatedNormal(shape, mean, stddev, o.dtype);
}

export function bernoulli(shape: Shape, p = 0.5, o: RandomOptions = {}): Tensor {
  return gen(o).bernoulli(shape, p);
}

export function permutation(n: number, o: RandomOptions = {}): Tensor {
  return gen(o).permutation(n);
}
