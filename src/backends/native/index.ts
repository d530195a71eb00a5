// The native CPU backend: kernels in C++ (kernels/, built by node-gyp at install), buffers in native
// memory. Registered above the JS reference backend; when the addon is not built its factory throws
// with the reason, and the registry falls back to 'js' and says why (backend.ts).
import type { Backend } from '../backend.js';
import { registerBackend } from '../backend.js';
import { BackendError } from '../../errors.js';
import { dtypeOfArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { loadAddon, type NativeAddon, type NativeInfo } from './addon.js';
import { BufferPool } from './buffers.js';
import { nativeKernels } from './kernels.js';
import { NATIVE_FUSED, primitiveSupport } from './support.js';

/** Priority above 'js' (0): the native backend is the default wherever it loads. */
export const NATIVE_PRIORITY = 10;

let state: { addon: NativeAddon; pool: BufferPool; info: NativeInfo } | undefined;

function addonOrThrow(what: string): NativeAddon {
  const load = loadAddon();
  if (!load.addon) throw new BackendError(`${what}: ${load.reason}`);
  return load.addon;
}

export function createNativeBackend(): Backend {
  const addon = addonOrThrow('native backend');
  const pool = new BufferPool(addon);
  state = { addon, pool, info: addon.info() };
  const s = state;
  const { kernels, fused } = nativeKernels(addon, pool);
  return {
    name: 'native',
    get description() {
      const note = s.info.note ? `; ${s.info.note}` : '';
      return `native C++ (${s.info.isa}, ${s.info.threads} thread${s.info.threads === 1 ? '' : 's'}${note})`;
    },
    alloc: (dtype: DType, size: number) => pool.alloc(dtype, size),
    // Every native kernel (and JS fallback) writes all of its output: no zero fill.
    allocOutput: (dtype: DType, size: number) => pool.alloc(dtype, size, false),
    upload: (data: TypedArray) => {
      const out = pool.alloc(dtypeOfArray(data), data.length, false);
      out.set(data);
      return out;
    },
    // A JS-heap array works as a buffer as it is: every kernel takes any typed array.
    adopt: (data: TypedArray) => data,
    read: (buffer: unknown) => buffer as TypedArray,
    free: (buffer: unknown) => pool.release(buffer as TypedArray),
    kernels,
    fused,
    broadcastsScalars: true,
  };
}

/** The addon's state, starting it if needed; throws a BackendError with the reason when it is not built. */
function started(what: string) {
  if (!state) {
    addonOrThrow(what);
    createNativeBackend();
  }
  return state!;
}

/** Whether the native addon loads here, and if not, why. */
export function nativeAvailability(): { available: boolean; reason?: string } {
  const load = loadAddon();
  return load.addon ? { available: true } : { available: false, reason: load.reason };
}

/** Threads the native kernels use (default: the cores available, or CANDOR_NUM_THREADS); 1 without the addon. */
export function getNumThreads(): number {
  return loadAddon().addon ? started('getNumThreads').info.threads : 1;
}

/** Sets the native kernels' thread count. Results are bit-identical whatever the count. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > 256)
    throw new BackendError(`setNumThreads: expected an integer between 1 and 256, got ${n}`);
  const s = started('setNumThreads');
  s.addon.setNumThreads(n);
  s.info = s.addon.info();
}

/** Switches the instruction set ('avx512', 'avx2', 'scalar'; '' = the best this CPU has). For tests and
 *  benchmarks; CANDOR_ISA does the same at start-up. Returns the one now in use. */
export function setNativeIsa(isa: string): string {
  const s = started('setNativeIsa');
  const name = s.addon.setIsa(isa);
  s.info = s.addon.info();
  return name;
}

/** Instruction sets this CPU can run, best first; empty without the addon. */
export function nativeIsas(): readonly string[] {
  return loadAddon().addon ? started('nativeIsas').info.available : [];
}

/** Gives the memory of the native buffers kept for reuse back to the system. */
export function trimNativePool(): void {
  state?.pool.trim();
}

/** What the native backend's buffer pool holds (all zero before the backend starts). */
export interface NativeMemoryInfo {
  /** Free bytes kept resident for reuse (at most budgetBytes, plus partial pages of blocks given back). */
  readonly pooledBytes: number;
  /** Native memory mapped: in use, pooled, or given back but kept mapped for reuse. */
  readonly mappedBytes: number;
  /** Regions mapped, each one external ArrayBuffer. */
  readonly regions: number;
  /** The pool's budget (CANDOR_POOL_MB). */
  readonly budgetBytes: number;
}

export function nativeMemory(): NativeMemoryInfo {
  const pool = state?.pool;
  return {
    pooledBytes: pool?.bytes ?? 0,
    mappedBytes: pool?.mappedBytes ?? 0,
    regions: pool?.regions ?? 0,
    budgetBytes: pool?.budget ?? 0,
  };
}

registerBackend('native', createNativeBackend, NATIVE_PRIORITY, {
  primitive: (op) => primitiveSupport(op),
  fused: (op) => (NATIVE_FUSED.includes(op) ? 'native' : 'composite'),
});
