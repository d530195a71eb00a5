// Loads the native addon (build/Release/candor.node, built by node-gyp at install) and describes its
// surface. Loading never throws: it returns the addon or the reason it is unavailable, which the
// backend registry reports when it falls back to the JS backend.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The addon's version this code speaks; kernels/addon.cc kVersion must match. */
export const ADDON_VERSION = 4;

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
  softmax(log: boolean, x: Arr, xOff: number, out: Arr, outer: number, dim: number, inner: number): void;
  /** dims: [shape..., strides...] of the view. */
  copy(x: Arr, xOff: number, out: Arr, dims: Float64Array, rank: number): void;
  cast(x: Arr, xOff: number, out: Arr): void;
  /** scalars: bits 0, 1, 2 mark cond, a, b as one element to repeat. */
  where(cond: Arr, cOff: number, a: Arr, aOff: number, b: Arr, bOff: number, out: Arr, scalars: number): void;
  /** params: [n, h, w, cin, cout, kh, kw, ho, wo, strideH, strideW, dilH, dilW, padTop, padLeft]. */
  conv2d(x: Arr, xOff: number, f: Arr, fOff: number, out: Arr, params: Float64Array): void;
  conv2dBackpropInput(dy: Arr, dyOff: number, f: Arr, fOff: number, dx: Arr, params: Float64Array): void;
  // Training-step fusions.
  /** Activation names in the addon's code order. */
  readonly activations: readonly string[];
  biasActivation(
    act: number,
    z: Arr,
    zOff: number,
    bias: Arr,
    biasOff: number,
    out: Arr,
    rows: number,
    cols: number,
  ): void;
  activationGrad(act: number, dy: Arr, dyOff: number, y: Arr, yOff: number, out: Arr): void;
  /** Forward without dy (out [rows]), backward with it (out [rows, cols]); returns -1 or the first row with a
   *  label out of range. */
  sparseSoftmaxCrossEntropy(
    logits: Arr,
    off: number,
    labels: Arr,
    labelsOff: number,
    dy: Arr | null,
    dyOff: number,
    out: Arr,
    rows: number,
    cols: number,
  ): number;
  /** kind 0 Adam, 1 SGD; arrays [params..., grads..., slots...], one offset each;
   *  hyper [lr, weightDecay, beta1, beta2, epsilon, alpha, momentum, nesterov]. */
  optimizerStep(
    kind: number,
    arrays: Arr[],
    offsets: Float64Array,
    sizes: Float64Array,
    out: Arr,
    hyper: Float64Array,
  ): void;
  /** out = x * (keep ? scale : 0), keep drawn from the Philox stream (seed, counter) with probability keepProb. */
  dropout(x: Arr, xOff: number, out: Arr, seed: number, counter: number, keepProb: number, scale: number): void;
  /** Forward (third = beta, out [rows, C]) or gradient (third = dy, out [dx | dgamma]). */
  layerNorm(
    grad: boolean,
    x: Arr,
    xOff: number,
    gamma: Arr,
    gammaOff: number,
    third: Arr,
    thirdOff: number,
    out: Arr,
    rows: number,
    cols: number,
    epsilon: number,
  ): void;
  // ---- convolution filter gradient and pooling ----
  /** df [kh, kw, cin, cout]; params as conv2d's. */
  conv2dBackpropFilter(x: Arr, xOff: number, dy: Arr, dyOff: number, df: Arr, params: Float64Array): void;
  /** params: [n, h, w, c, ho, wo, kh, kw, strideH, strideW, padTop, padLeft]. */
  pool2d(isMax: boolean, x: Arr, xOff: number, out: Arr, params: Float64Array): void;
  /** x is read by max only (avg may pass dy). */
  pool2dBackprop(isMax: boolean, x: Arr, xOff: number, dy: Arr, dyOff: number, dx: Arr, params: Float64Array): void;
  // ---- scatter-add ----
  /** out = x with upd[p, i, q] added at [p, idx[i], q] of [outer, dim, inner]; returns -1, or the position of
   *  the first index out of range (nothing written). */
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
  /** out (the uint32 words, viewed as int32) gets out.length / 4 Philox4x32-10 blocks from `counter` on
   *  (see src/ops/random.ts). */
  philox(key0: number, key1: number, counter: number, attempt: number, out: Int32Array): void;
  // ---- sequence models ----
  /**
   * An LSTM (lstm) or GRU step from xw, hu and the state (c or h). LSTM: extra is dc and dy dh, with grad
   * (out: the flat [dz, dc]); GRU: dy with grad (out: the flat [dxw, dhu, dh]), extra the recurrent bias or null.
   */
  cell(
    lstm: boolean,
    grad: boolean,
    xw: Arr,
    xwOff: number,
    hu: Arr,
    huOff: number,
    state: Arr,
    stateOff: number,
    dy: Arr | null,
    dyOff: number,
    extra: Arr | null,
    extraOff: number,
    out: Arr,
    b: number,
    u: number,
  ): void;
  /** params: [b, t, s, h, dk, dv, maskBatch, maskRows, offset, scale, causal];
   *  with dy, out is the flat [dq, dk, dv]. */
  attention(
    q: Arr,
    qOff: number,
    k: Arr,
    kOff: number,
    v: Arr,
    vOff: number,
    dy: Arr | null,
    dyOff: number,
    mask: Arr | null,
    maskOff: number,
    out: Arr,
    params: Float64Array,
  ): void;
}

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
