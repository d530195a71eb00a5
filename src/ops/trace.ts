// Tracing: records every kernel call a block makes at the dispatch point, with where each input's buffer came
// from (an earlier call's result, or memory from outside the block), for a compiled step to replay
// (src/train/compiled-steps.ts). The block itself runs eagerly, so a traced step computes what an eager one does.
import type { Backend, KernelArg } from '../backends/backend.js';
import { currentLayerPath, currentPhase, type Phase } from '../autograd/annotations.js';
import type { TypedArray } from '../tensor/dtype.js';

/** Where a kernel argument's buffer came from. */
export type Source =
  /** Result `out` of call `call` of the same trace. */
  | { readonly kind: 'call'; readonly call: number; readonly out: number }
  /**
   * Memory the block did not compute: allocated before it (`inside` false: inputs, weights, cached constants) or
   * inside it and filled by JavaScript (constants). `instance` tells apart successive uses of one pooled buffer.
   */
  | {
      readonly kind: 'external';
      readonly buffer: unknown;
      readonly instance: number;
      readonly inside: boolean;
      /** The Variable that held the memory when the block first read it. */
      readonly variable?: TracedVariable;
    };

export interface TracedArg extends KernelArg {
  readonly source: Source;
}

export interface TracedCall {
  readonly op: string;
  readonly fused: boolean;
  /** The backend kernel (a Kernel, or a MultiKernel when `multi`). */
  readonly kernel: (...args: never[]) => void;
  readonly multi: boolean;
  readonly args: readonly TracedArg[];
  readonly outs: readonly KernelArg[];
  readonly params: unknown;
  readonly flops: number;
  readonly bytes: number;
  /** The phase and layer path the call ran under: what the meter attributes it to. */
  readonly phase: Phase;
  readonly layerPath: string;
}

/** Elements of external memory a trace copies, at most: a larger constant cannot be replayed. */
const SNAPSHOT_LIMIT = 1 << 22;

export class Trace {
  readonly calls: TracedCall[] = [];
  /** Why the block cannot be replayed (a result read back into JavaScript, ...); undefined while it can. */
  refusal: string | undefined;
  /** Results of mixSeeds(base, stepSeed) made in the block: a plan recomputes them for each step's seed. */
  readonly seedBases = new Map<number, number>();
  /** Content of external memory by instance, as first read; undefined when larger than a trace copies. */
  readonly snapshots = new Map<number, TypedArray | undefined>();
  /** Variables assigned in the block. */
  readonly assignedVariables = new Set<{ readonly name: string }>();
  /** Memory from before the block read into JavaScript outside any host check: by instance, its buffer. */
  readonly hostReads = new Map<number, unknown>();
  /** Checks the block ran on the host on external memory, to run again on what a replay binds there. */
  readonly hostChecks: HostCheck[] = [];
  private readonly writer = new Map<unknown, { call: number; out: number }>();
  private readonly instances = new Map<unknown, { id: number; inside: boolean; variable?: TracedVariable }>();
  private nextInstance = 0;

  constructor(
    readonly backend: Backend,
    /** The step's seed (fit's per-step seed), or undefined. */
    readonly stepSeed: number | undefined,
  ) {
    this.read = backend.read.bind(backend);
  }

  refuse(why: string): void {
    this.refusal ??= why;
  }

  /** The source of a buffer now: the call that last wrote it, or its external instance. */
  sourceOf(buffer: unknown): Source {
    const w = this.writer.get(buffer);
    if (w) return { kind: 'call', call: w.call, out: w.out };
    let inst = this.instances.get(buffer);
    if (!inst)
      this.instances.set(
        buffer,
        (inst = { id: this.nextInstance++, inside: false, variable: variableHolding(buffer) }),
      );
    return { kind: 'external', buffer, instance: inst.id, inside: inst.inside, variable: inst.variable };
  }

  /** A buffer the backend handed out inside the block: external memory (until a traced kernel writes it). */
  allocated(buffer: unknown): void {
    this.writer.delete(buffer);
    this.instances.set(buffer, { id: this.nextInstance++, inside: true });
  }

  /**
   * A buffer read into JavaScript: a traced result read back means the block's course may depend on data; an
   * input read back must be covered by a host check (checkOnHost) that a replay runs again.
   */
  readBack(buffer: unknown): void {
    const w = this.writer.get(buffer);
    if (w) this.refuse(`the result of ${this.calls[w.call].op} is read back into JavaScript during the step`);
    else if (!this.checking) {
      const source = this.sourceOf(buffer) as Extract<Source, { kind: 'external' }>;
      if (!source.inside) this.hostReads.set(source.instance, buffer);
    }
  }

  /** Whether a host check is running (its reads are covered by it). */
  checking = false;

  record(
    op: string,
    fused: boolean,
    kernel: (...args: never[]) => void,
    multi: boolean,
    args: readonly KernelArg[],
    outs: readonly KernelArg[],
    params: unknown,
    flops: number,
    bytes: number,
  ): void {
    const traced = args.map((a) => ({ ...a, source: this.sourceOf(a.buffer) }));
    // A Variable's memory is bound at replay, never copied: only other memory from outside needs a copy.
    for (const a of traced) if (a.source.kind === 'external' && !a.source.variable) this.snapshot(a);
    const call = this.calls.length;
    this.calls.push({
      op,
      fused,
      kernel,
      multi,
      args: traced,
      outs,
      params,
      flops,
      bytes,
      phase: currentPhase(),
      layerPath: currentLayerPath(),
    });
    outs.forEach((o, out) => {
      this.instances.delete(o.buffer);
      this.writer.set(o.buffer, { call, out });
    });
  }

  /** Copies external memory as far as `a` reads it (again when a later reader reads further). */
  private snapshot(a: TracedArg): void {
    const { instance, buffer } = a.source as Extract<Source, { kind: 'external' }>;
    const end = extent(a),
      had = this.snapshots.get(instance);
    if (this.snapshots.has(instance) && (had === undefined || had.length >= end)) return;
    this.snapshots.set(instance, end > SNAPSHOT_LIMIT ? undefined : this.read(buffer, a.dtype, end).slice(0, end));
  }

  /** The backend's own read, taken before traceKernels watches it. */
  private readonly read: Backend['read'];
}

/** Elements of an argument's buffer up to the last one it reads (strides are non-negative outside `copy`). */
function extent(a: KernelArg): number {
  let last = a.offset;
  a.shape.forEach((d, i) => (last += (d - 1) * Math.max(0, a.strides[i])));
  return a.shape.some((d) => d === 0) ? a.offset : last + 1;
}

/** A tensor as host checks see it (trace.ts imports no tensor code). */
export interface CheckedView {
  readonly storage: { readonly buffer: unknown };
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  readonly offset: number;
}

/** A host check run in a traced block: `check` on a view of external memory. */
export interface HostCheck {
  readonly view: CheckedView;
  /** Where the view's memory came from when checked. */
  readonly source: Source;
  readonly check: (view: never) => void;
}

/**
 * Runs `check` on `view` (it reads the values into JavaScript and throws on a bad one: class labels, embedding
 * ids). In a traced block, a compiled step runs it again on every replay, on the view of what it binds there, so
 * a replay validates its batch as eager mode does.
 */
export function checkOnHost<V extends CheckedView>(view: V, check: (view: V) => void): void {
  const trace = tracing;
  if (!trace) return check(view);
  trace.checking = true;
  try {
    check(view);
  } finally {
    trace.checking = false;
  }
  trace.hostChecks.push({ view, source: trace.sourceOf(view.storage.buffer), check: check as (view: never) => void });
}

/** What a trace needs of a Variable (trace.ts imports no layer code). */
export interface TracedVariable {
  readonly name: string;
  readonly value: CheckedView;
}

/**
 * The Variable whose value a buffer holds, kept by Variable (src/nn/variable.ts) on construction and assign: memory
 * from before a block that a Variable holds is bound to that Variable, read again at each replay, not copied. An
 * entry may be stale (the pool reuses buffers): it counts only while the Variable's value still is that buffer.
 */
export const variableOfBuffer = new WeakMap<object, TracedVariable>();

/** The Variable that holds `buffer` now, if any. */
export function variableHolding(buffer: unknown): TracedVariable | undefined {
  const v = typeof buffer === 'object' && buffer !== null ? variableOfBuffer.get(buffer) : undefined;
  return v && v.value.storage.buffer === buffer ? v : undefined;
}

/** The trace being recorded, read by the dispatch point on every kernel call. */
export let tracing: Trace | undefined;

/**
 * Runs fn eagerly on `backend` while recording its kernel calls into a new Trace. The backend's alloc, upload,
 * adopt and read are watched while it runs (restored after), so memory filled by JavaScript inside the block
 * and results read back are known.
 */
export function traceKernels<T>(
  backend: Backend,
  stepSeed: number | undefined,
  fn: () => T,
): { result: T; trace: Trace } {
  if (tracing) throw new Error('traceKernels: a trace is already being recorded');
  const trace = new Trace(backend, stepSeed);
  const b = backend as { -readonly [K in keyof Backend]: Backend[K] };
  const saved = { alloc: b.alloc, allocOutput: b.allocOutput, upload: b.upload, adopt: b.adopt, read: b.read };
  const watch =
    <A extends unknown[]>(f: (...args: A) => unknown) =>
    (...args: A) => {
      const buffer = f.apply(backend, args);
      trace.allocated(buffer);
      return buffer;
    };
  b.alloc = watch(saved.alloc);
  if (saved.allocOutput) b.allocOutput = watch(saved.allocOutput);
  b.upload = watch(saved.upload);
  b.adopt = watch(saved.adopt);
  b.read = (buffer, dtype, size) => {
    trace.readBack(buffer);
    return saved.read.call(backend, buffer, dtype, size);
  };
  tracing = trace;
  try {
    return { result: fn(), trace };
  } finally {
    tracing = undefined;
    Object.assign(b, saved);
  }
}
