// Reference-counted backend buffers, live-tensor accounting, scopes (tidy / using) and the GC safety net.
import type { Backend } from '../backends/backend.js';
import { fmtShape, MemoryError } from '../errors.js';
import type { DType } from './dtype.js';
import { bytesPerElement } from './dtype.js';
import { sizeOf, type Shape } from './shape.js';

/** One backend buffer shared by a tensor and all its views; freed when the last of them is disposed. */
export class Storage {
  private refs = 0;
  readonly bytes: number;
  constructor(
    readonly backend: Backend,
    readonly buffer: unknown,
    readonly dtype: DType,
    readonly size: number,
  ) {
    this.bytes = size * bytesPerElement(dtype);
    stats.bytes += this.bytes;
    stats.buffers++;
  }
  retain(): void {
    this.refs++;
  }
  release(): void {
    if (--this.refs === 0) {
      this.backend.free(this.buffer);
      stats.bytes -= this.bytes;
      stats.buffers--;
    }
  }
}

const stats = { tensors: 0, bytes: 0, buffers: 0 };

/**
 * What to throw when allocating a `dtype` tensor of `shape` for `op` failed with `cause`: a MemoryError naming
 * the op, shape, dtype and bytes when the memory was refused (a RangeError from a JS typed array, a MemoryError
 * from a backend's pool); any other error is returned as it is.
 */
export function allocationError(op: string, dtype: DType, shape: Shape, cause: unknown): unknown {
  if (!(cause instanceof RangeError || cause instanceof MemoryError)) return cause;
  const size = sizeOf(shape);
  return new MemoryError(
    `${op}: cannot allocate ${dtype} ${fmtShape(shape)} ` +
      `(${size} elements, ${size * bytesPerElement(dtype)} bytes): ${cause.message}`,
  );
}

export interface MemoryInfo {
  /** Tensors not yet disposed (views count separately). */
  readonly tensors: number;
  /** Backend buffers alive (a buffer shared by views counts once). */
  readonly buffers: number;
  readonly bytes: number;
}

export function memory(): MemoryInfo {
  return { tensors: stats.tensors, buffers: stats.buffers, bytes: stats.bytes };
}

/** Anything with a dispose step that scopes know how to release: tensors. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
}

// Safety net for tensors the user drops without disposing. The held value must not reference the tensor.
const finalizer = new FinalizationRegistry<Storage>((storage) => {
  stats.tensors--;
  storage.release();
});

/** What the tracker needs of a tensor: its storage, and whether the safety net holds it. */
interface Tracked extends Disposable {
  readonly storage: Storage;
  guarded: boolean;
}

/**
 * Puts a tensor under the safety net. A tensor made inside a scope is guarded only when it leaves the
 * last scope (kept, or returned from the outermost tidy): the intermediates of a training step, which
 * their scope disposes, never pay for a registration.
 */
function guard(t: Disposable): void {
  const tracked = t as Tracked;
  if (tracked.guarded || tracked.isDisposed) return;
  tracked.guarded = true;
  finalizer.register(tracked, tracked.storage, tracked);
}

export function trackTensor(tensor: Tracked, storage: Storage): void {
  storage.retain();
  stats.tensors++;
  const scope = scopes[scopes.length - 1];
  if (scope) scope.add(tensor);
  else guard(tensor);
}

export function untrackTensor(tensor: Tracked, storage: Storage): void {
  if (tensor.guarded) finalizer.unregister(tensor);
  stats.tensors--;
  storage.release();
}

const scopes: Set<Disposable>[] = [];

/**
 * A block whose tensors are disposed when it ends, except those kept. Usable with `using`:
 *   { using scope = new TensorScope(); const y = f(x); return scope.keep(y); }
 */
export class TensorScope {
  private readonly owned = new Set<Disposable>();
  private closed = false;
  constructor() {
    scopes.push(this.owned);
  }
  /** Moves tensors (anywhere in a nested structure) out of this scope, into the enclosing one. */
  keep<T>(value: T): T {
    const parent = scopes[scopes.indexOf(this.owned) - 1];
    forEachDisposable(value, (t) => {
      if (!this.owned.delete(t)) return;
      if (parent) parent.add(t);
      else guard(t);
    });
    return value;
  }
  [Symbol.dispose](): void {
    if (this.closed) return;
    this.closed = true;
    const i = scopes.lastIndexOf(this.owned);
    if (i >= 0) scopes.splice(i, 1);
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned.clear();
  }
}

/** Runs fn; disposes every tensor it created except those in its result (tf.tidy). */
export function tidy<T>(fn: () => T): T {
  const scope = new TensorScope();
  try {
    return scope.keep(fn());
  } finally {
    scope[Symbol.dispose]();
  }
}

/**
 * Runs the body of an op built from other ops. Outside any scope it is a tidy, so the intermediates (views,
 * reshaped operands) are freed now rather than left to the garbage collector's safety net; inside a scope it
 * costs nothing, the scope frees them.
 */
export function composite<T>(fn: () => T): T {
  return scopes.length ? fn() : tidy(fn);
}

/** Keeps a tensor past the enclosing tidy/scope. */
export function keep<T>(value: T): T {
  const own = scopes[scopes.length - 1];
  if (own) forEachDisposable(value, (t) => own.delete(t) && guard(t));
  return value;
}

/** Disposes every tensor in a nested structure (arrays, plain objects, Maps). */
export function dispose(value: unknown): void {
  forEachDisposable(value, (t) => t.dispose());
}

function isDisposable(v: unknown): v is Disposable {
  return typeof v === 'object' && v !== null && typeof (v as Disposable).dispose === 'function' && 'isDisposed' in v;
}

export function forEachDisposable(value: unknown, fn: (t: Disposable) => void, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (isDisposable(value)) fn(value);
  else if (Array.isArray(value)) for (const v of value) forEachDisposable(v, fn, seen);
  else if (value instanceof Map) for (const v of value.values()) forEachDisposable(v, fn, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) forEachDisposable(v, fn, seen);
}

/** Runs fn with no scope active, so the tensors it makes belong to the caller (e.g. a tape), not a scope. */
export function outsideScopes<T>(fn: () => T): T {
  const saved = scopes.splice(0, scopes.length);
  try {
    return fn();
  } finally {
    scopes.push(...saved);
  }
}

/**
 * Runs fn with `owner` as the only scope: what it makes belongs to owner, which must dispose it (a
 * tape's saved aliases). Such tensors never leave a scope, so the safety net never holds them.
 */
export function ownedBy<T>(owner: Set<Disposable>, fn: () => T): T {
  // The innermost scope is the one a new tensor joins, so pushing `owner` on top is enough.
  scopes.push(owner);
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}
