// Buffers of the native backend: typed-array views over native memory regions that the addon maps and gives
// back to the system explicitly (kernels/memory.cc). No memory waits on a finalizer or the garbage collector,
// and a step that reuses memory creates no external ArrayBuffer (Node frees their bookkeeping only on an
// event-loop turn, which a synchronous epoch never gives).
//
// A request is rounded up to a size class (sizeClass: under 64 bytes or 25% waste), so a block freed by one
// shape serves the next. Blocks are 64-byte aligned, at addresses spread modulo 4096 (see mapSlab). Classes
// up to SLAB_MAX_BLOCK are carved from slabs, regions of 16 or more blocks of one class; a larger class gets
// a region (a slab of one block) per block. Freed blocks stay resident for reuse while they total at most
// the budget (CANDOR_POOL_MB, default 512; 0 = no pooling); past it the least recently freed give their
// pages back. An empty slab is reset (its pages given back, kept mapped: one per class) or unmapped. trim()
// gives back every free block and unmaps every empty slab. A view of a block is handed out again for the
// same type and length, so a step in steady state allocates nothing, not even JS objects.
// Arrays that JS code hands over (adopt) stay on the JS heap: every kernel accepts any typed array.
import { ArgumentError, MemoryError } from '../../errors.js';
import type { DType, TypedArray } from '../../tensor/dtype.js';
import { arrayConstructor, bytesPerElement } from '../../tensor/dtype.js';
import type { NativeAddon } from './addon.js';

/** Blocks are 64-byte aligned (a cache line, an AVX-512 vector) and sized in multiples of 64 bytes. */
const ALIGN = 64;
/** Classes up to this many bytes share slabs; larger ones get a region per block. */
export const SLAB_MAX_BLOCK = 256 * 1024;
/** A slab holds at least SLAB_MIN_BLOCKS blocks and is a multiple of SLAB_UNIT bytes (whole pages). */
const SLAB_MIN_BLOCKS = 16;
const SLAB_UNIT = 64 * 1024;
/** Addresses equal modulo this many bytes alias in the CPU's store-to-load forwarding checks. */
const ALIAS_PERIOD = 4096;

/** The block size that serves `bytes`: 64, 128, 192, 256, then four steps per power of two (x1.25 .. x2). */
export function sizeClass(bytes: number): number {
  if (bytes <= ALIGN) return ALIGN;
  // floor(log2(bytes - 1)) by clz32 below 2^31 bytes (the hot path: called on every allocation).
  const log2 = bytes - 1 < 2 ** 31 ? 31 - Math.clz32(bytes - 1) : Math.floor(Math.log2(bytes - 1));
  const step = Math.max(ALIGN, 2 ** (log2 - 2));
  return Math.ceil(bytes / step) * step;
}

/** The budget in bytes that CANDOR_POOL_MB asks for: unset or empty = 512 MB, 0 = no pooling. */
export function poolBudget(value: string | undefined = process.env.CANDOR_POOL_MB): number {
  if (value === undefined || value.trim() === '') return 512 * 2 ** 20;
  const mb = Number(value);
  if (!Number.isFinite(mb) || mb < 0)
    throw new ArgumentError(
      `CANDOR_POOL_MB: expected a non-negative number of megabytes (0 = no pooling), got '${value}'`,
    );
  return Math.floor(mb * 2 ** 20);
}

// A slot's state; 0 = not handed out since its slab was mapped or reset (it reads as zero when slab.zeroed).
const IN_USE = 1;
const RESIDENT = 2; // free, its pages kept for reuse
const RETURNED = 3; // free, the whole pages inside it given back

/** A free resident block, a link in the pool's recency order (an intrusive list: no hashing per alloc/free). */
interface Freed {
  readonly slab: Slab;
  readonly slot: number;
  older: Freed | undefined;
  newer: Freed | undefined;
}

class SizeClass {
  readonly slabs = new Set<Slab>();
  /** Slabs with a free or untouched slot; alloc takes from the last. */
  readonly avail: Slab[] = [];
  /** The one reset slab this class keeps mapped (its pages given back); others are unmapped when they empty. */
  spare: Slab | undefined;
}

class Slab {
  /** Slots from `next` on have not been handed out since the slab was mapped or reset. */
  next = 0;
  used = 0;
  /** Whether the slots from `next` on read as zero. */
  zeroed = true;
  inAvail = false;
  readonly free: number[] = [];
  readonly state: Uint8Array;
  readonly freed: (Freed | undefined)[] = [];
  /** The last view made of each slot: handed out again for the same type and length (no garbage per step). */
  readonly views: (TypedArray | undefined)[] = [];
  constructor(
    readonly cls: SizeClass,
    readonly buffer: ArrayBuffer,
    readonly block: number,
    /** Bytes from one slot's start to the next's (block, or more to vary addresses mod 4096). */
    readonly stride: number,
    /** Byte offset of slot 0 in the region. */
    readonly color: number,
    readonly blocks: number,
  ) {
    this.state = new Uint8Array(blocks);
  }
  offset(slot: number): number {
    return this.color + slot * this.stride;
  }
  get hasSpace(): boolean {
    return this.free.length > 0 || this.next < this.blocks;
  }
}

export class BufferPool {
  private readonly classes = new Map<number, SizeClass>();
  private readonly slabs = new Map<ArrayBuffer, Slab>();
  /** Free resident blocks, least recently freed first: the order in which the budget gives pages back. */
  private oldest: Freed | undefined;
  private newest: Freed | undefined;
  /** Bytes of the blocks in the recency list. */
  private resident = 0;
  /** Bytes of returned blocks left in partial pages at their ends; resident until their slab empties. */
  private stranded = 0;
  private mapped = 0;
  /** Regions mapped so far: picks each new region's colour. */
  private colors = 0;
  private readonly page: number;
  /** Set when the runtime refuses external ArrayBuffers (e.g. a V8 sandbox): allocate on the JS heap. */
  private jsHeapOnly = false;
  constructor(
    private readonly addon: NativeAddon,
    /** Free bytes kept resident for reuse at most. */
    readonly budget = poolBudget(),
  ) {
    this.page = addon.pageSize;
  }

  /** An array of `size` elements, zero-filled unless `zeroed` is false (a reused block then holds stale values). */
  alloc(dtype: DType, size: number, zeroed = true): TypedArray {
    const Ctor = arrayConstructor(dtype);
    if (size === 0 || this.jsHeapOnly) return new Ctor(size);
    const bytes = size * Ctor.BYTES_PER_ELEMENT;
    if (!Number.isSafeInteger(bytes))
      throw new MemoryError(`native backend: cannot allocate ${size} ${dtype} elements (${bytes} bytes)`);
    const block = sizeClass(bytes);
    let cls = this.classes.get(block);
    if (!cls) this.classes.set(block, (cls = new SizeClass()));
    const slab = cls.avail[cls.avail.length - 1] ?? this.mapSlab(cls, block, dtype, size);
    if (!slab) return new Ctor(size);
    let slot: number, fresh: boolean;
    if (slab.free.length > 0) {
      slot = slab.free.pop()!;
      fresh = false;
      if (slab.state[slot] === RESIDENT) this.unlist(slab, slot);
      else this.stranded -= this.remnant(slab, slot);
    } else {
      slot = slab.next++;
      fresh = slab.zeroed;
      if (cls.spare === slab) cls.spare = undefined;
    }
    slab.state[slot] = IN_USE;
    slab.used++;
    if (!slab.hasSpace) {
      cls.avail.pop();
      slab.inAvail = false;
    }
    let array = slab.views[slot];
    if (array instanceof Ctor && array.length === size) return zeroed && !fresh ? array.fill(0) : array;
    try {
      array = slab.views[slot] = new Ctor(slab.buffer, slab.offset(slot), size);
    } catch (e) {
      // A length the runtime refuses for a typed array.
      this.free(slab, slot);
      throw new MemoryError(
        `native backend: cannot view ${size} ${dtype} elements as one array: ${(e as Error).message}`,
      );
    }
    return zeroed && !fresh ? array.fill(0) : array;
  }

  /** Takes back an array from alloc(); arrays on the JS heap are left to the garbage collector. */
  release(array: TypedArray): void {
    const slab = this.slabs.get(array.buffer as ArrayBuffer);
    if (slab) this.free(slab, (array.byteOffset - slab.color) / slab.stride);
  }

  /** Gives back the memory of every free block now, and unmaps every empty slab. */
  trim(): void {
    for (const cls of this.classes.values()) {
      for (const slab of [...cls.slabs]) {
        if (slab.used === 0) {
          this.forget(slab);
          this.unmap(slab);
        } else {
          for (let i = 0; i < slab.next; i++) if (slab.state[i] === RESIDENT) this.shed(slab.freed[i]!);
        }
      }
    }
  }

  /** Free bytes held resident: blocks kept for reuse, and the partial pages of blocks given back. */
  get bytes(): number {
    return this.resident + this.stranded;
  }

  /** Bytes of native memory mapped: in use, free, or given back but kept mapped. */
  get mappedBytes(): number {
    return this.mapped;
  }

  /** Regions mapped: each is one external ArrayBuffer. */
  get regions(): number {
    return this.slabs.size;
  }

  /** Puts a slot in use back as a free resident block, then sheds the oldest past the budget. */
  private free(slab: Slab, slot: number): void {
    if (slab.state[slot] !== IN_USE) return;
    slab.state[slot] = RESIDENT;
    slab.used--;
    slab.free.push(slot);
    if (!slab.inAvail) {
      slab.cls.avail.push(slab);
      slab.inAvail = true;
    }
    const f = (slab.freed[slot] ??= { slab, slot, older: undefined, newer: undefined });
    f.older = this.newest;
    f.newer = undefined;
    if (this.newest) this.newest.newer = f;
    else this.oldest = f;
    this.newest = f;
    this.resident += slab.block;
    while (this.resident > this.budget) this.shed(this.oldest!);
  }

  private mapSlab(cls: SizeClass, block: number, dtype: DType, size: number): Slab | undefined {
    // Addresses spread over the 4096-byte aliasing period: each region starts its first block at the next
    // colour, and blocks of a page or more are a few lines apart, so the arrays a kernel streams through
    // together rarely share their low 12 address bits (loads would wait on unrelated stores).
    const color = (this.colors++ * 7 * ALIGN) % ALIAS_PERIOD;
    const stride = block >= ALIAS_PERIOD && block <= SLAB_MAX_BLOCK ? block + 3 * ALIGN : block;
    const bytes =
      block > SLAB_MAX_BLOCK
        ? Math.ceil((color + block) / this.page) * this.page
        : Math.ceil((color + SLAB_MIN_BLOCKS * stride) / SLAB_UNIT) * SLAB_UNIT;
    const buffer = this.mapRegion(bytes, dtype, size);
    if (!buffer) return undefined;
    const slab = new Slab(cls, buffer, block, stride, color, Math.floor((bytes - color) / stride));
    cls.slabs.add(slab);
    cls.avail.push(slab);
    slab.inAvail = true;
    this.slabs.set(buffer, slab);
    this.mapped += bytes;
    return slab;
  }

  private mapRegion(bytes: number, dtype: DType, size: number): ArrayBuffer | undefined {
    try {
      return this.addon.mapRegion(bytes);
    } catch (e) {
      const { code, message } = e as { code?: string; message: string };
      if (/could not wrap native memory/.test(message)) {
        this.jsHeapOnly = true;
        return undefined;
      }
      if (code !== 'CANDOR_OUT_OF_MEMORY') throw e;
    }
    // Out of memory: give back what the pool holds and try once more.
    const held = this.bytes;
    this.trim();
    try {
      return this.addon.mapRegion(bytes);
    } catch (e) {
      const { code, message } = e as { code?: string; message: string };
      if (code !== 'CANDOR_OUT_OF_MEMORY') throw e;
      throw new MemoryError(
        `native backend: out of memory allocating ${size} ${dtype} elements (${size * bytesPerElement(dtype)} ` +
          `bytes in a region of ${bytes}, after giving back ` +
          `${held} pooled bytes; ${this.mapped} bytes mapped): ${message}`,
      );
    }
  }

  /** Gives back the pages of the least recently freed block, or all of its slab's when the slab is empty. */
  private shed(f: Freed): void {
    const { slab, slot } = f;
    if (slab.used === 0) return this.reset(slab);
    this.unlist(slab, slot);
    this.addon.decommitRegion(slab.buffer, slab.offset(slot), slab.block);
    slab.state[slot] = RETURNED;
    this.stranded += this.remnant(slab, slot);
  }

  /** An empty slab gives back all of its pages: kept mapped as its class's spare, or unmapped if it has one. */
  private reset(slab: Slab): void {
    this.forget(slab);
    const cls = slab.cls;
    if (cls.spare && cls.spare !== slab) return this.unmap(slab);
    slab.zeroed = this.addon.decommitRegion(slab.buffer, 0, slab.buffer.byteLength);
    slab.next = 0;
    slab.free.length = 0;
    slab.views.length = 0;
    slab.state.fill(0);
    cls.spare = slab;
    // Last in line for alloc: blocks still resident in other slabs serve first.
    cls.avail.splice(cls.avail.lastIndexOf(slab), 1);
    cls.avail.unshift(slab);
  }

  /** Drops an empty slab's free blocks from the accounting. */
  private forget(slab: Slab): void {
    for (let i = 0; i < slab.next; i++) {
      if (slab.state[i] === RESIDENT) this.unlist(slab, i);
      else if (slab.state[i] === RETURNED) this.stranded -= this.remnant(slab, i);
    }
  }

  private unmap(slab: Slab): void {
    const cls = slab.cls;
    cls.slabs.delete(slab);
    if (slab.inAvail) cls.avail.splice(cls.avail.lastIndexOf(slab), 1);
    if (cls.spare === slab) cls.spare = undefined;
    this.slabs.delete(slab.buffer);
    this.mapped -= slab.buffer.byteLength;
    this.addon.unmapRegion(slab.buffer);
  }

  private unlist(slab: Slab, slot: number): void {
    const f = slab.freed[slot]!;
    if (f.older) f.older.newer = f.newer;
    else this.oldest = f.newer;
    if (f.newer) f.newer.older = f.older;
    else this.newest = f.older;
    f.older = f.newer = undefined;
    this.resident -= slab.block;
  }

  /** Bytes of a slot outside the whole pages it covers (a region starts on a page boundary). */
  private remnant(slab: Slab, slot: number): number {
    const start = slab.offset(slot),
      end = start + slab.block;
    const inside = Math.floor(end / this.page) * this.page - Math.ceil(start / this.page) * this.page;
    return slab.block - Math.max(0, inside);
  }
}
