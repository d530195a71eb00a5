// The backend contract (buffers + primitive kernels + optional fused kernels) and the backend registry.
//
// A backend owns opaque buffers. Kernels receive contiguous inputs (except `copy`, which receives any
// strided view) already broadcast to the output shape when the primitive broadcasts. A contiguous input
// may start partway into its buffer: its elements are buffer[offset .. offset + size), so every kernel
// must honour KernelArg.offset (views such as split halves are passed without a copy). Kernels write
// into an output buffer that the dispatcher allocated (offset 0); a fused op with several results gets one
// such buffer per result (a MultiKernel). A backend may leave out any kernel:
// the dispatcher then raises a BackendError naming the op and the backend. Fused kernels are optional;
// each has a composite default in its family module (src/ops/families/) that the backend's kernel must
// match.
import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';
import type { PrimitiveName, PrimitiveParams } from '../ops/primitives.js';
import type { FusedName, FusedParams, MultiFusedName } from '../ops/families/index.js';
import { BackendError } from '../errors.js';

export interface KernelArg {
  readonly buffer: unknown;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Element strides; contiguous row-major for every kernel but `copy`. May be 0 or negative there. */
  readonly strides: Shape;
  readonly offset: number;
}

export type Kernel<Params> = (inputs: readonly KernelArg[], out: KernelArg, params: Params) => void;
/** The kernel of a fused op with several results: one output buffer per result, in the op's order. */
export type MultiKernel<Params> = (inputs: readonly KernelArg[], outs: readonly KernelArg[], params: Params) => void;
export type KernelTable = { readonly [P in PrimitiveName]?: Kernel<PrimitiveParams[P]> };
/** A fused op's kernel: a MultiKernel for the ops with several results, else a Kernel. */
export type FusedKernel<F extends FusedName> = F extends MultiFusedName
  ? MultiKernel<FusedParams[F]>
  : Kernel<FusedParams[F]>;
export type FusedKernelTable = { readonly [F in FusedName]?: FusedKernel<F> };

/** table[op] = kernel, with the op's own params type (a generic key keeps a union of ops type-safe). */
export function setKernel<P extends PrimitiveName>(
  table: { [Q in P]?: Kernel<PrimitiveParams[Q]> },
  op: P,
  kernel: Kernel<PrimitiveParams[P]>,
): void {
  table[op] = kernel;
}

export interface Backend {
  readonly name: string;
  /** What the backend runs on, e.g. 'JavaScript reference' or 'native avx512'. */
  readonly description: string;
  /** A zero-filled buffer of `size` elements. */
  alloc(dtype: DType, size: number): unknown;
  /**
   * Optional: a buffer for a kernel's output, which may hold stale values (the dispatcher uses it, and
   * a backend that has it promises that each of its kernels writes every output element). Saves
   * zero-filling every output of a training step.
   */
  allocOutput?(dtype: DType, size: number): unknown;
  /** A buffer holding a copy of `data`. */
  upload(data: TypedArray): unknown;
  /** A buffer holding `data`, which the caller hands over and never touches again (may avoid a copy). */
  adopt(data: TypedArray): unknown;
  /** The elements of a buffer as a typed array; callers must not write into it. */
  read(buffer: unknown, dtype: DType, size: number): TypedArray;
  free(buffer: unknown): void;
  readonly kernels: KernelTable;
  readonly fused: FusedKernelTable;
  /**
   * When true, the broadcasting primitives (binary ops, comparisons, where) may receive a one-element
   * input as is, and must repeat it; otherwise the dispatcher expands it to the output shape first.
   */
  readonly broadcastsScalars?: boolean;
}

/**
 * What a backend supports, as the support matrix in docs/ops.md shows it. A backend whose factory can
 * fail (the native one, when its addon is not built) declares it statically so the docs do not depend on
 * the machine; for others it is read off the kernel tables ('kernel' / 'missing', 'kernel' / 'composite').
 */
export interface BackendSupport {
  primitive(op: PrimitiveName): string;
  fused(op: FusedName): string;
}

const registry = new Map<
  string,
  { factory: () => Backend; priority: number; support?: BackendSupport; instance?: Backend }
>();
let current: Backend | undefined;
let selection = '';

/** Registers a backend factory; the highest-priority backend that constructs becomes the default. */
export function registerBackend(name: string, factory: () => Backend, priority = 0, support?: BackendSupport): void {
  registry.set(name, { factory, priority, support });
}

function instantiate(name: string): Backend {
  const entry = registry.get(name);
  if (!entry)
    throw new BackendError(
      `setBackend: unknown backend '${name}'; registered: ${[...registry.keys()].join(', ') || 'none'}`,
    );
  entry.instance ??= entry.factory();
  return entry.instance;
}

export function setBackend(name: string): Backend {
  current = instantiate(name);
  return current;
}

/**
 * The current backend. The first call picks it: the one named by CANDOR_BACKEND if set (an error if it
 * cannot start), else the highest-priority backend that starts. Falling back past one that failed is
 * announced once, with the reason, as a process warning; backendSelection() keeps the explanation.
 */
export function getBackend(): Backend {
  if (current) return current;
  const forced = typeof process === 'undefined' ? undefined : process.env.CANDOR_BACKEND;
  if (forced) {
    try {
      current = instantiate(forced);
    } catch (e) {
      throw new BackendError(
        `getBackend: CANDOR_BACKEND=${forced} names a backend that cannot start: ${(e as Error).message}`,
      );
    }
    selection = `${current.name}: ${current.description} (chosen by CANDOR_BACKEND)`;
    return current;
  }
  const ranked = [...registry.entries()].sort((a, b) => b[1].priority - a[1].priority);
  const failures: string[] = [];
  for (const [name] of ranked) {
    try {
      current = instantiate(name);
    } catch (e) {
      failures.push(`'${name}' is unavailable: ${(e as Error).message}`);
      continue;
    }
    const why = failures.length ? ` (${failures.join('; ')})` : ' (the highest-priority backend)';
    selection = `${current.name}: ${current.description}${why}`;
    if (failures.length && typeof process !== 'undefined')
      process.emitWarning(`Candor is using the '${name}' backend: ${failures.join('; ')}`, 'CandorBackendWarning');
    return current;
  }
  throw new BackendError(`getBackend: no backend could be started (${failures.join('; ') || 'none registered'})`);
}

/** Which backend getBackend() chose and why (empty before the first call). */
export function backendSelection(): string {
  return selection;
}

/** What a registered backend supports (see BackendSupport), without starting one that declares it. */
export function backendSupport(name: string): BackendSupport {
  const entry = registry.get(name);
  if (entry?.support) return entry.support;
  const b = instantiate(name);
  return {
    primitive: (op) => (b.kernels[op] ? 'kernel' : 'missing'),
    fused: (op) => (b.fused[op] ? 'kernel' : 'composite'),
  };
}

export function listBackends(): string[] {
  return [...registry.keys()];
}

/** Looks a backend up without making it current (used by the support-matrix generator and tests). */
export function findBackend(name: string): Backend {
  return instantiate(name);
}
