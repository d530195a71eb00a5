// The Communicator: collectives and messages between the ranks of a world, over the MPI addon (kernels/mpi), or
// the identity in a world of size 1 (no MPI at all). Tensors are read in place (a contiguous view of their storage)
// and results written straight into a new tensor's storage: one MPI call, no staging copy.
import { DTypeError, ArgumentError, ShapeError, fmtShape } from '../errors.js';
import type { DType, TypedArray } from '../tensor/dtype.js';
import { Storage } from '../tensor/storage.js';
import { aliasOf, Tensor } from '../tensor/tensor.js';
import type { Backend } from '../backends/backend.js';
import { DistributedError } from './errors.js';
import { MPI_REDUCE, type MpiAddon, type MpiArray, type MpiResult } from './mpi.js';

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
/** The typed arrays the reductions take (mean needs a float array). */
export type ReduceArray = Float32Array | Float64Array | Int32Array;
export type Source = number | 'any';

export interface PendingReduce {
  /** Blocks until the reduction is done; the result tensor (once: a second wait throws). */
  wait(): Tensor;
  /** Whether it is done (wait then returns at once). */
  test(): boolean;
}
export interface Pending {
  wait(): void;
  test(): boolean;
}
export interface Received {
  readonly source: number;
  /** The message's tag. */
  readonly tag: number;
  /** Elements received (recv), or bytes waiting (probe). */
  readonly count: number;
}

export interface CommunicatorStats {
  bytesSent: number;
  bytesReceived: number;
  collectives: number;
  messages: number;
  /** Seconds JS spent blocked waiting for MPI. */
  seconds: number;
}

/** See the contract in docs/distributed.md ("Collectives and init"). */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  allreduce(x: Tensor, op?: ReduceOp): Tensor;
  broadcast(x: Tensor, root?: number): Tensor;
  allgather(x: Tensor): Tensor;
  reduceScatter(x: Tensor, op?: ReduceOp): Tensor;
  barrier(): void;
  allreduceAsync(x: Tensor, op?: ReduceOp): PendingReduce;
  allreduceArray(buf: ReduceArray, op?: ReduceOp): void;
  allreduceArrayAsync(buf: ReduceArray, op?: ReduceOp): Pending;
  send(buf: TypedArray, dest: number, tag: number): void;
  sendAsync(buf: TypedArray, dest: number, tag: number): Pending;
  recv(buf: TypedArray, source: Source, tag: Source): Received;
  probe(source: Source, tag: Source): Received;
  allgatherJson<T>(value: T): T[];
  broadcastJson<T>(value: T, root?: number): T;
  readonly stats: Readonly<CommunicatorStats>;
}

/** How the world's operations wait: the timeout, and whether MPI was finalised. */
export interface CommOptions {
  timeoutMs: number;
  /** Set by finalize(): every later operation throws. */
  finalized?: boolean;
}

const REDUCIBLE: readonly DType[] = ['float32', 'float64', 'int32'];

/** The elements of x, contiguous and in row-major order: a view of its storage when it is contiguous. */
function elementsOf(x: Tensor): TypedArray {
  if (!x.isContiguous) return x.dataSync();
  const all = x.storage.backend.read(x.storage.buffer, x.dtype, x.storage.size);
  return all.subarray(x.offset, x.offset + x.size);
}

/** A fresh buffer of x's backend for a result, and its elements (written by MPI, then wrapped by tensorOf). */
interface Output {
  backend: Backend;
  buffer: unknown;
  dtype: DType;
  size: number;
  data: TypedArray;
}
function outputFor(x: Tensor, size: number): Output {
  const backend = x.storage.backend;
  const buffer = backend.alloc(x.dtype, size);
  return { backend, buffer, dtype: x.dtype, size, data: backend.read(buffer, x.dtype, size) };
}
function tensorOf(out: Output, shape: readonly number[]): Tensor {
  return new Tensor(new Storage(out.backend, out.buffer, out.dtype, out.size), [...shape]);
}

function scale(data: TypedArray, by: number): void {
  for (let i = 0; i < data.length; i++) data[i] *= by;
}

/**
 * The one Communicator class: `mpi` undefined = the world of size 1, where every collective is the identity (still
 * returning new tensors) and send/recv go through a local mailbox.
 *
 * Bytes are counted as the standard algorithms move them, per rank, with n the bytes of the full buffer and p ranks:
 * allreduce (ring: reduce-scatter then allgather) and reduce-scatter 2(p-1)/p x n and (p-1)/p x n sent and received;
 * allgather (ring) (p-1) x this rank's part sent, the other ranks' parts received; broadcast n received on each
 * other rank and (p-1) x n sent by the root (the least any algorithm moves in total); send / recv their message.
 */
export class MpiCommunicator implements Communicator {
  private readonly counters: CommunicatorStats = {
    bytesSent: 0,
    bytesReceived: 0,
    collectives: 0,
    messages: 0,
    seconds: 0,
  };
  private readonly mailbox: { tag: number; data: Uint8Array }[] = [];

  constructor(
    readonly rank: number,
    readonly size: number,
    private readonly addon: MpiAddon | undefined,
    readonly options: CommOptions,
  ) {}

  /** The addon (undefined in the world of size 1); a DistributedError once MPI was finalised. */
  private get mpi(): MpiAddon | undefined {
    if (this.addon && this.options.finalized)
      throw new DistributedError(
        `distributed: rank ${this.rank} called a communicator operation after finalize()`,
        'CANDOR_DISTRIBUTED_FINALIZED',
      );
    return this.addon;
  }

  get stats(): Readonly<CommunicatorStats> {
    return { ...this.counters };
  }

  // ------------------------------------------------------------------------------------------ waiting

  /** Waits for request `id` of operation `what` moving `bytes`, as a DistributedError when it fails or times out. */
  private finish(id: number, what: string, bytes: number): MpiResult {
    const mpi = this.mpi!;
    const started = performance.now();
    try {
      return mpi.wait(id, this.options.timeoutMs);
    } catch (e) {
      const waited = ((performance.now() - started) / 1000).toFixed(1);
      const code = (e as { code?: string }).code;
      const where = `${what} on rank ${this.rank} of ${this.size} (${bytes} bytes)`;
      if (code === 'CANDOR_DISTRIBUTED_TIMEOUT')
        throw new DistributedError(
          `${where} not done after ${waited} s: a rank died or hangs (timeout ${this.options.timeoutMs} ms: ` +
            'distributed.init({ timeoutMs }) or CANDOR_DISTRIBUTED_TIMEOUT_MS)',
          'CANDOR_DISTRIBUTED_TIMEOUT',
        );
      if (code === 'CANDOR_DISTRIBUTED_MPI')
        throw new DistributedError(
          `${where}: MPI reported an error: ${(e as Error).message}`,
          'CANDOR_DISTRIBUTED_MPI',
        );
      throw e;
    } finally {
      this.counters.seconds += (performance.now() - started) / 1000;
    }
  }

  /** Submits a blocking operation: with nothing else in flight the addon then runs it on this thread in wait()
   *  (no hand-over to its communication thread, which costs more than a small message's whole allreduce). */
  private blocking<T>(submit: () => T): T {
    const mpi = this.mpi;
    if (!mpi) return submit();
    mpi.blocking(true);
    try {
      return submit();
    } finally {
      mpi.blocking(false);
    }
  }

  /** A blocking operation `what` moving `bytes`: submitted as blocking() does, then waited for. */
  private call(submit: (mpi: MpiAddon) => number, what: string, bytes: number): MpiResult {
    return this.finish(
      this.blocking(() => submit(this.mpi!)),
      what,
      bytes,
    );
  }

  /** A Pending over request `id`; `then` runs once when it completes. */
  private pending(id: number, what: string, bytes: number, then: (r: MpiResult) => void = () => {}): Pending {
    let done = false;
    const complete = (r: MpiResult) => {
      done = true;
      then(r);
    };
    return {
      wait: () => {
        if (done) return;
        complete(this.finish(id, what, bytes));
      },
      test: () => {
        if (done) return true;
        const r = this.mpi!.test(id);
        if (r) complete(r);
        return done;
      },
    };
  }

  private countCollective(sent: number, received: number): void {
    this.counters.collectives++;
    this.counters.bytesSent += sent;
    this.counters.bytesReceived += received;
  }

  /** Ring allreduce's bytes each way for a buffer of n bytes. */
  private ringBytes(n: number): number {
    return (2 * (this.size - 1) * n) / this.size;
  }

  // -------------------------------------------------------------------------------------- reductions

  private reduceCode(op: ReduceOp, dtype: DType, what: string): number {
    if (!REDUCIBLE.includes(dtype)) throw new DTypeError(`${what}: expected float32, float64 or int32, got ${dtype}`);
    if (op === 'mean') {
      if (dtype === 'int32') throw new DTypeError(`${what}: the mean of int32 elements needs a float dtype`);
      return MPI_REDUCE.sum;
    }
    if (!(op in MPI_REDUCE)) throw new ArgumentError(`${what}: unknown op '${op}'; expected sum, mean, max or min`);
    return MPI_REDUCE[op as keyof typeof MPI_REDUCE];
  }

  allreduce(x: Tensor, op: ReduceOp = 'sum'): Tensor {
    return this.blocking(() => this.allreduceAsync(x, op)).wait();
  }

  allreduceAsync(x: Tensor, op: ReduceOp = 'sum'): PendingReduce {
    x.assertLive('distributed allreduce');
    const code = this.reduceCode(op, x.dtype, `distributed allreduce of ${x.dtype} ${fmtShape(x.shape)}`);
    const out = outputFor(x, x.size);
    const input = elementsOf(x);
    let result: Tensor | undefined;
    const take = (): Tensor => {
      if (!result) throw new ArgumentError('distributed allreduceAsync: wait() was already called; it returns once');
      const t = result;
      result = undefined;
      return t;
    };
    const shape = x.shape;
    const finish = () => {
      if (op === 'mean' && this.size > 1) scale(out.data, 1 / this.size);
      result = tensorOf(out, shape);
    };
    if (!this.mpi) {
      out.data.set(input);
      finish();
      return { wait: take, test: () => true };
    }
    // The input's storage stays alive (and unreused) until MPI has read it: an alias holds a reference to it.
    const keep = x.isContiguous ? aliasOf(x, new Set()) : undefined;
    const bytes = input.byteLength;
    this.countCollective(this.ringBytes(bytes), this.ringBytes(bytes));
    const p = this.pending(
      this.mpi.allreduce(input as MpiArray, out.data as MpiArray, code),
      'allreduce',
      bytes,
      () => {
        keep?.dispose();
        finish();
      },
    );
    return {
      wait: () => {
        p.wait();
        return take();
      },
      test: () => p.test(),
    };
  }

  allreduceArray(buf: ReduceArray, op: ReduceOp = 'sum'): void {
    this.blocking(() => this.allreduceArrayAsync(buf, op)).wait();
  }

  allreduceArrayAsync(buf: ReduceArray, op: ReduceOp = 'sum'): Pending {
    const dtype = dtypeOf(buf, 'distributed allreduceArray');
    const code = this.reduceCode(op, dtype, `distributed allreduceArray of ${buf.length} ${dtype} elements`);
    const finish = () => {
      if (op === 'mean' && this.size > 1) scale(buf, 1 / this.size);
    };
    if (!this.mpi) return { wait: () => {}, test: () => true };
    this.countCollective(this.ringBytes(buf.byteLength), this.ringBytes(buf.byteLength));
    return this.pending(this.mpi.allreduce(null, buf, code), 'allreduceArray', buf.byteLength, finish);
  }

  reduceScatter(x: Tensor, op: ReduceOp = 'sum'): Tensor {
    x.assertLive('distributed reduceScatter');
    const what = `distributed reduceScatter of ${x.dtype} ${fmtShape(x.shape)}`;
    const code = this.reduceCode(op, x.dtype, what);
    if (x.rank === 0 || x.shape[0] % this.size !== 0)
      throw new ShapeError(`${what}: axis 0 must split into ${this.size} equal parts (one per rank)`);
    const shape = [x.shape[0] / this.size, ...x.shape.slice(1)];
    const out = outputFor(x, x.size / this.size);
    const input = elementsOf(x);
    if (!this.mpi) out.data.set(input);
    else {
      this.countCollective(this.ringBytes(input.byteLength) / 2, this.ringBytes(input.byteLength) / 2);
      this.call(
        (m) => m.reduceScatter(input as MpiArray, out.data as MpiArray, code),
        'reduceScatter',
        input.byteLength,
      );
    }
    if (op === 'mean' && this.size > 1) scale(out.data, 1 / this.size);
    return tensorOf(out, shape);
  }

  // ------------------------------------------------------------------------------- other collectives

  broadcast(x: Tensor, root = 0): Tensor {
    x.assertLive('distributed broadcast');
    this.checkRank(root, 'distributed broadcast', 'root');
    const out = outputFor(x, x.size);
    if (this.rank === root || !this.mpi) out.data.set(elementsOf(x));
    if (this.mpi) {
      const n = out.data.byteLength;
      this.countCollective(this.rank === root ? (this.size - 1) * n : 0, this.rank === root ? 0 : n);
      this.call((m) => m.bcast(asMpi(out.data), root), 'broadcast', n);
    }
    return tensorOf(out, x.shape);
  }

  allgather(x: Tensor): Tensor {
    x.assertLive('distributed allgather');
    if (x.rank === 0)
      throw new ShapeError(
        `distributed allgather: expected a tensor of rank >= 1 (concatenated on axis 0), got a scalar`,
      );
    const out = outputFor(x, x.size * this.size);
    const input = elementsOf(x);
    if (!this.mpi) out.data.set(input);
    else {
      const n = input.byteLength;
      this.countCollective((this.size - 1) * n, (this.size - 1) * n);
      this.call((m) => m.allgather(asMpi(input), asMpi(out.data)), 'allgather', n * this.size);
    }
    return tensorOf(out, [x.shape[0] * this.size, ...x.shape.slice(1)]);
  }

  barrier(): void {
    if (!this.mpi) return;
    this.countCollective(0, 0);
    this.call((m) => m.barrier(), 'barrier', 0);
  }

  // ---------------------------------------------------------------------------------------- messages

  private checkRank(r: number, what: string, name: string, any = false): void {
    if ((any && r === -1) || (Number.isInteger(r) && r >= 0 && r < this.size)) return;
    throw new ArgumentError(
      `${what}: ${name} must be a rank in [0, ${this.size - 1}]${any ? " or 'any'" : ''}, got ${r}`,
    );
  }
  private checkTag(tag: number, what: string, any = false): void {
    if ((any && tag === -1) || (Number.isInteger(tag) && tag >= 0 && tag <= 32767)) return;
    throw new ArgumentError(`${what}: tag must be an integer in [0, 32767]${any ? " or 'any'" : ''}, got ${tag}`);
  }

  send(buf: TypedArray, dest: number, tag: number): void {
    this.blocking(() => this.sendAsync(buf, dest, tag)).wait();
  }

  sendAsync(buf: TypedArray, dest: number, tag: number): Pending {
    this.checkRank(dest, 'distributed send', 'dest');
    this.checkTag(tag, 'distributed send');
    this.counters.messages++;
    if (!this.mpi) {
      this.mailbox.push({
        tag,
        data: new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)),
      });
      return { wait: () => {}, test: () => true };
    }
    this.counters.bytesSent += buf.byteLength;
    return this.pending(this.mpi.send(asMpi(buf), dest, tag), `send to rank ${dest} (tag ${tag})`, buf.byteLength);
  }

  recv(buf: TypedArray, source: Source, tag: Source): Received {
    const [s, t] = [source === 'any' ? -1 : source, tag === 'any' ? -1 : tag];
    this.checkRank(s, 'distributed recv', 'source', true);
    this.checkTag(t, 'distributed recv', true);
    this.counters.messages++;
    if (!this.mpi) {
      const i = this.mailbox.findIndex((m) => t === -1 || m.tag === t);
      if (i < 0)
        throw new DistributedError(
          `distributed recv: no message (tag ${tag}) was sent in this world of size 1`,
          'CANDOR_DISTRIBUTED_TIMEOUT',
        );
      const [m] = this.mailbox.splice(i, 1);
      if (m.data.byteLength > buf.byteLength)
        throw new ArgumentError(
          `distributed recv: the message has ${m.data.byteLength} bytes but buf holds ${buf.byteLength}`,
        );
      new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).set(m.data);
      return { source: 0, tag: m.tag, count: m.data.byteLength / buf.BYTES_PER_ELEMENT };
    }
    const what = `recv from ${source === 'any' ? 'any rank' : `rank ${source}`} (tag ${tag})`;
    const r = this.call((m) => m.recv(asMpi(buf), s, t), what, buf.byteLength);
    this.counters.bytesReceived += r.count * buf.BYTES_PER_ELEMENT;
    return { source: r.source, tag: r.tag, count: r.count };
  }

  /** Waits for a message without receiving it: its source, tag and size in bytes (count). */
  probe(source: Source, tag: Source): Received {
    const [s, t] = [source === 'any' ? -1 : source, tag === 'any' ? -1 : tag];
    this.checkRank(s, 'distributed probe', 'source', true);
    this.checkTag(t, 'distributed probe', true);
    if (!this.mpi) {
      const m = this.mailbox.find((m) => t === -1 || m.tag === t);
      if (!m)
        throw new DistributedError(
          `distributed probe: no message (tag ${tag}) was sent in this world of size 1`,
          'CANDOR_DISTRIBUTED_TIMEOUT',
        );
      return { source: 0, tag: m.tag, count: m.data.byteLength };
    }
    const what = `probe from ${source === 'any' ? 'any rank' : `rank ${source}`} (tag ${tag})`;
    return { ...this.call((m) => m.probe(s, t), what, 0) };
  }

  // -------------------------------------------------------------------------------------------- JSON

  allgatherJson<T>(value: T): T[] {
    const bytes = encodeJson(value, 'distributed allgatherJson');
    if (!this.mpi) return [decodeJson(bytes)];
    const counts = new Int32Array(this.size);
    this.countCollective((this.size - 1) * 4, (this.size - 1) * 4);
    this.call((m) => m.allgather(new Int32Array([bytes.length]), counts), 'allgatherJson (sizes)', 4 * this.size);
    let total = 0;
    for (const c of counts) total += c;
    const all = new Uint8Array(total);
    this.countCollective((this.size - 1) * bytes.length, total - bytes.length);
    this.call((m) => m.allgatherv(bytes, all, counts), 'allgatherJson', total);
    const out: T[] = [];
    for (let r = 0, at = 0; r < this.size; at += counts[r++]) out.push(decodeJson(all.subarray(at, at + counts[r])));
    return out;
  }

  broadcastJson<T>(value: T, root = 0): T {
    this.checkRank(root, 'distributed broadcastJson', 'root');
    const mine = this.rank === root ? encodeJson(value, 'distributed broadcastJson') : new Uint8Array(0);
    if (!this.mpi) return decodeJson(mine);
    const length = new Int32Array([mine.length]);
    const count = (n: number) =>
      this.countCollective(this.rank === root ? (this.size - 1) * n : 0, this.rank === root ? 0 : n);
    count(4);
    this.call((m) => m.bcast(length, root), 'broadcastJson (size)', 4);
    const bytes = this.rank === root ? mine : new Uint8Array(length[0]);
    count(bytes.length);
    this.call((m) => m.bcast(bytes, root), 'broadcastJson', bytes.length);
    return decodeJson(bytes);
  }
}

function encodeJson(value: unknown, what: string): Uint8Array {
  const text = JSON.stringify(value === undefined ? null : value);
  if (text === undefined) throw new ArgumentError(`${what}: the value cannot be written as JSON`);
  return new TextEncoder().encode(text);
}
function decodeJson<T>(bytes: Uint8Array): T {
  return JSON.parse(new TextDecoder().decode(bytes)) as T;
}

function dtypeOf(buf: TypedArray, what: string): DType {
  if (buf instanceof Float32Array) return 'float32';
  if (buf instanceof Float64Array) return 'float64';
  if (buf instanceof Int32Array) return 'int32';
  throw new DTypeError(`${what}: expected a Float32Array, Float64Array or Int32Array, got ${buf.constructor.name}`);
}

/** Every TypedArray of Candor is one the addon takes. */
function asMpi(a: TypedArray): MpiArray {
  return a;
}
