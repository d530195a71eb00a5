// Buffers of the native backend: typed arrays over native memory (64-byte aligned, counted by V8 as
// external memory), recycled through a pool keyed by dtype and length so that a training step in steady
// state allocates nothing new. free() returns a buffer to the pool; past the pool's budget, or on
// trimNativePool(), the memory is released at once and the ArrayBuffer detached (stale views read as empty).
// Arrays that JS code hands over (adopt) stay on the JS heap: every kernel accepts any typed array.
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { arrayConstructor, bytesPerElement, dtypeOfArray, DTYPES } from '../../tensor/dtype.js';
import type { NativeAddon } from './addon.js';

/** Pooled bytes kept for reuse at most (CANDOR_POOL_MB, default 512). */
const budget = (Number(process.env.CANDOR_POOL_MB) > 0 ? Number(process.env.CANDOR_POOL_MB) : 512) * 2 ** 20;

export class BufferPool {
  private readonly free = new Map<number, TypedArray[]>();
  /** Arrays whose memory is native (and so goes back to the pool); JS-heap arrays are not in here. */
  private readonly native = new WeakSet<TypedArray>();
  private pooledBytes = 0;
  /** Set when the runtime refuses external ArrayBuffers (e.g. a V8 sandbox): allocate on the JS heap. */
  private jsHeapOnly = false;
  constructor(private readonly addon: NativeAddon) {}

  private static key(dtype: DType, size: number): number {
    return size * 4 + DTYPES.indexOf(dtype);
  }

  /** An array of `size` elements, zero-filled unless `zeroed` is false (a reused one then holds stale values). */
  alloc(dtype: DType, size: number, zeroed = true): TypedArray {
    const list = this.free.get(BufferPool.key(dtype, size));
    const reused = list?.pop();
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      return zeroed ? reused.fill(0) : reused;
    }
    if (size === 0 || this.jsHeapOnly) return new (arrayConstructor(dtype))(size);
    let memory: ArrayBuffer;
    try {
      memory = this.addon.alloc(size * bytesPerElement(dtype));
    } catch (e) {
      if (!/could not wrap native memory/.test((e as Error).message)) throw e;
      this.jsHeapOnly = true;
      return new (arrayConstructor(dtype))(size);
    }
    const array = new (arrayConstructor(dtype))(memory);
    this.native.add(array);
    return array;
  }

  /** Takes back an array from alloc(); arrays on the JS heap are left to the garbage collector. */
  release(array: TypedArray): void {
    if (!this.native.has(array) || array.byteLength === 0) return;
    if (this.pooledBytes + array.byteLength > budget) {
      this.addon.release(array.buffer as ArrayBuffer);
      return;
    }
    const key = BufferPool.key(dtypeOfArray(array), array.length);
    const list = this.free.get(key);
    if (list) list.push(array);
    else this.free.set(key, [array]);
    this.pooledBytes += array.byteLength;
  }

  /** Releases every pooled buffer now. */
  trim(): void {
    for (const list of this.free.values()) for (const a of list) this.addon.release(a.buffer as ArrayBuffer);
    this.free.clear();
    this.pooledBytes = 0;
  }

  get bytes(): number {
    return this.pooledBytes;
  }
}
