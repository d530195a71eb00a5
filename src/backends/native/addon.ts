// Loads the native addon (build/Release/candor.node, built by node-gyp at install) and describes its
// surface. Loading never throws: it returns the addon or the reason it is unavailable, which the
// backend registry reports when it falls back to the JS backend.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { FAMILY_ADDON_EXPORTS, type FamilyAddon } from '../../ops/families/index.js';

/** The addon's version this code speaks; kernels/addon.cc kVersion must match. */
export const ADDON_VERSION = 8;

/** The typed arrays the addon reads and writes. */
export type Arr = Float32Array | Float64Array | Int32Array | Int8Array | Uint8Array;

export interface NativeInfo {
  readonly isa: string;
  readonly available: readonly string[];
  readonly threads: number;
  readonly version: number;
  /** Set when CANDOR_ISA forced or failed to force an instruction set. */
  readonly note: string;
}

/**
 * The functions kernels/addon.cc exports: the primitives' here, the fused families' in their modules
 * (src/ops/families/). Offsets and counts are in elements.
 */
export interface NativeAddon extends FamilyAddon {
  readonly version: number;
  readonly unaryOps: readonly string[];
  readonly binaryOps: readonly string[];
  readonly reduceOps: readonly string[];
  info(): NativeInfo;
  setIsa(name: string): string;
  setNumThreads(n: number): void;
  /**
   * The active instruction set's float32 FMA throughput in GFLOP/s on `threads` threads, each running independent
   * FMA chains for `seconds` (kernels/peak.cc): the ceiling the bench states GEMM and convolution figures against.
   */
  peakFlops(threads: number, seconds: number): number;
  // ---- memory regions (kernels/memory.cc) ----
  /** The system's page size in bytes. */
  readonly pageSize: number;
  /** An ArrayBuffer over `bytes` of fresh zero pages; throws with code CANDOR_OUT_OF_MEMORY when refused. */
  mapRegion(bytes: number): ArrayBuffer;
  /** Returns the region's pages to the system now and detaches the ArrayBuffer. */
  unmapRegion(buffer: ArrayBuffer): void;
  /** Gives back the whole pages inside [byteOffset, byteOffset + bytes), kept mapped; true if they read as zero. */
  decommitRegion(buffer: ArrayBuffer, byteOffset: number, bytes: number): boolean;
  gemm(
    a: Arr,
    aOff: number,
    b: Arr,
    bOff: number,
    out: Arr,
    batch: number,
    m: number,
    n: number,
    k: number,
    transA: boolean,
    transB: boolean,
  ): void;
  unary(op: number, x: Arr, xOff: number, out: Arr): void;
  /** scalars: bit 0 / bit 1 mark a / b as one element to repeat. */
  binary(op: number, a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, scalars: number): void;
  reduce(op: number, x: Arr, xOff: number, out: Arr, outer: number, red: number, inner: number): void;
  argReduce(isMin: boolean, x: Arr, xOff: number, out: Arr, outer: number, red: number, inner: number): void;
  /** Returns -1, or the position of the first index out of range (nothing written). */
  gather(x: Arr, xOff: number, idx: Arr, idxOff: number, out: Arr, outer: number, dim: number, inner: number): number;
  /** dims: [shape..., strides...] of the view. */
  copy(x: Arr, xOff: number, out: Arr, dims: Float64Array, rank: number): void;
  cast(x: Arr, xOff: number, out: Arr): void;
  /** scalars: bits 0, 1, 2 mark cond, a, b as one element to repeat. */
  where(cond: Arr, cOff: number, a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, scalars: number): void;
  // ---- scatter-add ----
  /**
   * out = x with upd[p, i, q] added at [p, idx[i], q] of [outer, dim, inner]; returns -1, or the position of the
   * first index out of range (nothing written).
   */
  scatterAdd(
    x: Arr,
    xOff: number,
    idx: Arr,
    idxOff: number,
    n: number,
    upd: Arr,
    updOff: number,
    out: Arr,
    outer: number,
    dim: number,
    inner: number,
  ): number;
  // ---- random streams ----
  /**
   * out (the uint32 words, viewed as int32) gets out.length / 4 Philox4x32-10 blocks from `counter` on (see
   * src/ops/random.ts).
   */
  philox(key0: number, key1: number, counter: number, attempt: number, out: Int32Array): void;
}

/**
 * Every name the addon exports: the compiler checks this list against NativeAddon both ways, and
 * test/backends/native.test.ts checks it against the built addon, so kernels/addon.cc's registrations and
 * the TypeScript signatures cannot drift apart.
 */
export const ADDON_EXPORTS = {
  ...FAMILY_ADDON_EXPORTS,
  version: true,
  unaryOps: true,
  binaryOps: true,
  reduceOps: true,
  info: true,
  setIsa: true,
  setNumThreads: true,
  peakFlops: true,
  pageSize: true,
  mapRegion: true,
  unmapRegion: true,
  decommitRegion: true,
  gemm: true,
  unary: true,
  binary: true,
  reduce: true,
  argReduce: true,
  gather: true,
  copy: true,
  cast: true,
  where: true,
  scatterAdd: true,
  philox: true,
} satisfies Record<keyof NativeAddon, true>;

export type AddonLoad =
  { readonly addon: NativeAddon; readonly path: string } | { readonly addon?: undefined; readonly reason: string };

let loaded: AddonLoad | undefined;

/** The addon's path: CANDOR_NATIVE_PATH, else build/Release/candor.node at the package root. */
function addonPath(): string {
  const override = process.env.CANDOR_NATIVE_PATH;
  if (override) return override;
  // This file is dist/src/backends/native/addon.js; the package root is four levels up.
  return fileURLToPath(new URL('../../../../build/Release/candor.node', import.meta.url));
}

/** Loads the addon once; later calls return the same result. */
export function loadAddon(): AddonLoad {
  if (loaded) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    loaded = {
      reason:
        `the native addon is not built (${path} is missing; ` +
        '`npm run build:native` builds it, which needs a C++ compiler)',
    };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (addon.version !== ADDON_VERSION) {
      loaded = {
        reason:
          `the native addon at ${path} is stale (version ${addon.version}, expected ${ADDON_VERSION}); ` +
          'rebuild it with `npm run build:native`',
      };
    } else {
      loaded = { addon, path };
    }
  } catch (e) {
    loaded = { reason: `the native addon at ${path} failed to load: ${(e as Error).message}` };
  }
  return loaded;
}
