// Loads the native addon (build/Release/candor.node, built by node-gyp at install) and describes its
// surface. Loading never throws: it returns the addon or the reason it is unavailable, which the
// backend registry reports when it falls back to the JS backend.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The addon's version this code speaks; kernels/addon.cc kVersion must match. */
export const ADDON_VERSION = 3;

type Arr = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface NativeInfo {
  readonly isa: string;
  readonly available: readonly string[];
  readonly threads: number;
  readonly version: number;
  /** Set when CANDOR_ISA forced or failed to force an instruction set. */
  readonly note: string;
}

/** The functions kernels/addon.cc exports. Offsets and counts are in elements. */
export interface NativeAddon {
  readonly version: number;
  readonly unaryOps: readonly string[];
  readonly binaryOps: readonly string[];
  readonly reduceOps: readonly string[];
  info(): NativeInfo;
  setIsa(name: string): string;
  setNumThreads(n: number): void;
  alloc(bytes: number): ArrayBuffer;
  release(buffer: ArrayBuffer): void;
  gemm(a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, batch: number, m: number, n: number, k: number, transA: boolean, transB: boolean): void;
  unary(op: number, x: Arr, xOff: number, out: Arr): void;
  /** scalars: bit 0 / bit 1 mark a / b as one element to repeat. */
  binary(op: number, a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, scalars: number): void;
  reduce(op: number, x: Arr, xOff: number, out: Arr, outer: number, red: number, inner: number): void;
  argReduce(isMin: boolean, x: Arr, xOff: number, out: Arr, outer: number, red: number, inner: number): void;
  /** Returns -1, or the position of the first index out of range (nothing written). */
  gather(x: Arr, xOff: number, idx: Arr, idxOff: number, out: Arr, outer: number, dim: number, inner: number): number;
  softmax(log: boolean, x: Arr, xOff: number, out: Arr, outer: number, dim: number, inner: number): void;
  /** dims: [shape..., strides...] of the view. */
  copy(x: Arr, xOff: number, out: Arr, dims: Float64Array, rank: number): void;
  cast(x: Arr, xOff: number, out: Arr): void;
  /** scalars: bits 0, 1, 2 mark cond, a, b as one element to repeat. */
  where(cond: Arr, cOff: number, a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, scalars: number): void;
  /** params: [n, h, w, cin, cout, kh, kw, ho, wo, strideH, strideW, dilH, dilW, padTop, padLeft]. */
  conv2d(x: Arr, xOff: number, f: Arr, fOff: number, out: Arr, params: Float64Array): void;
  conv2dBackpropInput(dy: Arr, dyOff: number, f: Arr, fOff: number, dx: Arr, params: Float64Array): void;
  // ---- sequence models ----
  /**
   * An LSTM (lstm) or GRU step from xw, hu and the state (c or h). LSTM: extra is dc and dy dh, with grad
   * (out: the flat [dz, dc]); GRU: dy with grad (out: the flat [dxw, dhu, dh]), extra the recurrent bias or null.
   */
  cell(lstm: boolean, grad: boolean, xw: Arr, xwOff: number, hu: Arr, huOff: number, state: Arr, stateOff: number, dy: Arr | null, dyOff: number, extra: Arr | null, extraOff: number, out: Arr, b: number, u: number): void;
  /** params: [b, t, s, h, dk, dv, maskBatch, maskRows, offset, scale, causal]; with dy, out is the flat [dq, dk, dv]. */
  attention(q: Arr, qOff: number, k: Arr, kOff: number, v: Arr, vOff: number, dy: Arr | null, dyOff: number, mask: Arr | null, maskOff: number, out: Arr, params: Float64Array): void;
}

export type AddonLoad = { readonly addon: NativeAddon; readonly path: string } | { readonly addon?: undefined; readonly reason: string };

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
    loaded = { reason: `the native addon is not built (${path} is missing; \`npm run build:native\` builds it, which needs a C++ compiler)` };
    return loaded;
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeAddon;
    if (addon.version !== ADDON_VERSION) {
      loaded = { reason: `the native addon at ${path} is stale (version ${addon.version}, expected ${ADDON_VERSION}); rebuild it with \`npm run build:native\`` };
    } else {
      loaded = { addon, path };
    }
  } catch (e) {
    loaded = { reason: `the native addon at ${path} failed to load: ${(e as Error).message}` };
  }
  return loaded;
}
