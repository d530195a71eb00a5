// The native backend's memory: size classes, a pool that gives memory back to the system, CANDOR_POOL_MB,
// resident memory that stays flat under varying shapes, and typed errors for allocations that cannot succeed.
import '../config-dir.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import type { Tensor, TypedArray } from '../../src/index.js';
import { ArgumentError, MemoryError } from '../../src/errors.js';
import { findBackend } from '../../src/backends/backend.js';
import { loadAddon, type NativeAddon } from '../../src/backends/native/addon.js';
import { BufferPool, poolBudget, sizeClass, SLAB_MAX_BLOCK } from '../../src/backends/native/buffers.js';
import { nativeMemory } from '../../src/backends/native/index.js';
import { onBackend, skip } from './parity.js';

const MB = 2 ** 20;
/** Resident memory outside V8's heap: native buffers, and what the runtime keeps for them. */
const nativeRss = () => {
  const m = process.memoryUsage();
  return m.rss - m.heapTotal;
};
/** A seeded LCG in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

/** The size classes written out: 64, 128, 192, 256, then 2^k x 1.25, 1.5, 1.75, 2. */
function classList(upTo: number): number[] {
  const list = [64, 128, 192, 256];
  for (let p = 256; p < upTo; p *= 2) list.push(p * 1.25, p * 1.5, p * 1.75, p * 2);
  return list;
}

describe('size classes', () => {
  test('a request gets the smallest class that holds it: 64-byte multiples, under 64 bytes or 25% of waste', () => {
    const list = classList(2 ** 24);
    const random = lcg(3);
    const requests = [
      ...Array.from({ length: 20000 }, (_, i) => i + 1),
      ...Array.from({ length: 2000 }, () => 1 + Math.floor(random() * 2 ** 23)),
    ];
    for (const bytes of requests) {
      const expected = list.find((k) => k >= bytes)!;
      assert.equal(sizeClass(bytes), expected, `${bytes} bytes`);
      assert.equal(expected % 64, 0);
      assert.ok(expected - bytes < Math.max(64, bytes / 4), `${bytes} bytes waste ${expected - bytes}`);
    }
  });
});

describe('CANDOR_POOL_MB', () => {
  test('unset means 512 MB, 0 means no pooling, fractions are allowed, anything else is an ArgumentError', () => {
    assert.equal(poolBudget(undefined), 512 * MB);
    assert.equal(poolBudget(''), 512 * MB);
    assert.equal(poolBudget('0'), 0);
    assert.equal(poolBudget('1.5'), 1.5 * MB);
    for (const bad of ['abc', '-1', 'NaN', 'Infinity', '12MB'])
      assert.throws(
        () => poolBudget(bad),
        (e: unknown) => e instanceof ArgumentError && /CANDOR_POOL_MB/.test(String(e)),
      );
  });
});

describe('the native buffer pool', { skip }, () => {
  const addon = () => loadAddon().addon as NativeAddon;

  test('a block freed by one shape serves another of the same size class', () => {
    const pool = new BufferPool(addon(), 64 * MB);
    const a = pool.alloc('float32', 1000);
    pool.release(a);
    const b = pool.alloc('int32', 1020);
    assert.ok(b instanceof Int32Array && b.length === 1020);
    assert.ok(a.buffer === b.buffer && a.byteOffset === b.byteOffset, '4000 and 4080 bytes share the 4096-byte class');
    assert.equal(b.byteOffset % 64, 0, '64-byte aligned');
    pool.trim();
  });

  test('blocks are 64-byte aligned and blocks of a page or more are spread over addresses modulo 4096', () => {
    const pool = new BufferPool(addon(), 64 * MB);
    for (const size of [1, 100, 4096, 40_000, 300_000]) {
      const blocks = Array.from({ length: 8 }, () => pool.alloc('float32', size));
      // A region starts on a page boundary, so an offset in it is the address modulo the page.
      const residues = new Set(blocks.map((b) => b.byteOffset % 4096));
      for (const b of blocks) assert.equal(b.byteOffset % 64, 0);
      if (4 * size >= 4096) assert.equal(residues.size, 8, `size ${size}: ${[...residues]}`);
      for (const b of blocks) pool.release(b);
    }
    pool.trim();
  });

  test('zero-filled blocks read as zero whether fresh, pooled, given back or reset; unzeroed ones may be stale', () => {
    assert.ok(60_000 * 4 < SLAB_MAX_BLOCK && 300_000 * 4 > SLAB_MAX_BLOCK, 'slab and single-block classes');
    for (const budget of [0, 64 * MB]) {
      const pool = new BufferPool(addon(), budget);
      for (const size of [16, 5000, 60_000, 300_000]) {
        // Ten blocks of a slab (one region each above SLAB_MAX_BLOCK), one freed and taken again in the middle.
        const blocks = Array.from({ length: 10 }, () => pool.alloc('float32', size).fill(7));
        pool.release(blocks[4]);
        blocks[4] = pool.alloc('float32', size);
        assert.ok(
          blocks[4].every((v) => v === 0),
          `size ${size} budget ${budget}: a reused block is zeroed`,
        );
        for (const b of blocks) pool.release(b.fill(7));
        const again = Array.from({ length: 10 }, () => pool.alloc('float32', size));
        for (const a of again)
          assert.ok(
            a.every((v) => v === 0),
            `size ${size} budget ${budget}: after every block was freed`,
          );
        for (const a of again) pool.release(a);
      }
      assert.equal(pool.bytes, budget === 0 ? 0 : pool.bytes);
      pool.trim();
      assert.equal(pool.bytes, 0);
      assert.equal(pool.regions, 0, 'trim unmaps every empty region');
    }
  });

  test('with budget 0 nothing stays pooled, and each size class reuses one region', () => {
    const pool = new BufferPool(addon(), 0);
    const random = lcg(5);
    const classes = new Set<number>();
    for (let i = 0; i < 5000; i++) {
      const size = 1 + Math.floor(random() * 100_000);
      classes.add(sizeClass(4 * size));
      pool.release(pool.alloc('float32', size, false));
      assert.equal(pool.bytes, 0);
    }
    assert.ok(pool.regions <= classes.size, `${pool.regions} regions for ${classes.size} classes`);
    pool.trim();
    assert.equal(pool.regions, 0);
  });

  test('past its budget the pool gives back the least recently freed blocks', () => {
    const pool = new BufferPool(addon(), 4 * MB);
    const blocks = Array.from({ length: 12 }, () => pool.alloc('float32', 2 ** 18)); // 1 MB each
    for (const b of blocks) {
      pool.release(b);
      assert.ok(pool.bytes <= 4 * MB, `${pool.bytes} bytes pooled`);
    }
    assert.equal(pool.bytes, 4 * MB);
    // The four freed last are the ones still resident: taking them back makes no region and gives back nothing.
    const mapped = pool.mappedBytes;
    const again = Array.from({ length: 4 }, () => pool.alloc('float32', 2 ** 18, false));
    assert.equal(pool.bytes, 0);
    assert.equal(pool.mappedBytes, mapped);
    for (const a of again) pool.release(a);
    pool.trim();
    assert.equal(pool.regions, 0);
  });

  test('tens of thousands of alloc/release pairs of varying sizes in one synchronous loop keep memory flat', () => {
    // Before size classes and explicit regions this loop took resident memory up by over 300 MB: the pool
    // filled its budget with exact lengths nobody reused, and each native buffer's bookkeeping waited for an
    // event-loop turn. Now it reuses a few regions.
    const native = findBackend('native');
    const random = lcg(11);
    const before = nativeRss();
    for (let i = 0; i < 40_000; i++) native.free(native.alloc('float32', 1 + Math.floor(random() * 16384)));
    const grown = (nativeRss() - before) / MB;
    assert.ok(grown < 64, `resident memory grew by ${grown.toFixed(0)} MB`);
    assert.ok(nativeMemory().regions < 100, `${nativeMemory().regions} regions`);
    c.trimNativePool();
  });

  test('trimNativePool gives every pooled byte back to the system', () => {
    const native = findBackend('native');
    const sizes = Array.from({ length: 32 }, (_, i) => 200_000 + i * 7919);
    const requested = sizes.reduce((s, n) => s + 4 * n, 0);
    // Twice: the second round is the one a malloc-based pool failed (freed memory stayed in its heap).
    for (let round = 0; round < 2; round++) {
      const arrays = sizes.map((n) => (native.alloc('float32', n) as TypedArray).fill(1));
      for (const a of arrays) native.free(a);
      if (nativeMemory().budgetBytes >= 2 * requested) assert.ok(nativeMemory().pooledBytes >= requested);
      const before = nativeRss();
      c.trimNativePool();
      assert.equal(nativeMemory().pooledBytes, 0, `round ${round}`);
      const dropped = before - nativeRss();
      assert.ok(dropped > 0.6 * requested, `round ${round}: resident memory fell by ${(dropped / MB).toFixed(0)} MB`);
    }
  });

  test('varied batch sizes through a small model keep the pool and resident memory bounded', () => {
    onBackend('native', () => {
      const model = new c.Sequential([
        c.layers.dense({ units: 256, activation: 'relu', inputShape: [64] }),
        c.layers.dense({ units: 256, activation: 'relu' }),
        c.layers.dense({ units: 10 }),
      ]);
      model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
      const random = lcg(7);
      let rss = 0,
        mapped = 0;
      for (let step = 0; step < 200; step++) {
        if (step === 50) [rss, mapped] = [nativeRss(), nativeMemory().mappedBytes];
        const b = 1 + Math.floor(random() * 512);
        const x = c.randomNormal([b, 64], { seed: step });
        const y = c.tensor(
          Int32Array.from({ length: b }, (_, i) => i % 10),
          [b],
        );
        model.trainOnBatch(x, y);
        c.dispose([x, y]);
        assert.ok(nativeMemory().pooledBytes <= nativeMemory().budgetBytes + MB);
      }
      // Before, each new batch size left its exact-length buffers in the pool: +260 MB over these 150 steps.
      const grown = (nativeRss() - rss) / MB;
      assert.ok(grown < 48, `resident memory grew by ${grown.toFixed(0)} MB over 150 steps`);
      assert.ok(nativeMemory().mappedBytes < 2 * mapped, `mapped ${mapped} -> ${nativeMemory().mappedBytes} bytes`);
      model.dispose();
    });
    c.trimNativePool();
  });

  const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  /** Runs a snippet in a child process with extra environment variables; returns its exit status and output. */
  const child = (env: Record<string, string>, body: string) => {
    const script = `import(${JSON.stringify(entry)}).then((c) => { ${body} });`;
    return spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
  };

  test('CANDOR_POOL_MB=0 keeps nothing pooled: freed memory leaves resident memory at once', () => {
    const run = child(
      { CANDOR_POOL_MB: '0', CANDOR_BACKEND: 'native' },
      `const native = c.getBackend();
       const rss = () => process.memoryUsage().rss - process.memoryUsage().heapTotal;
       const arrays = Array.from({ length: 32 }, (_, i) => native.alloc('float32', 200000 + i * 7919).fill(1));
       const before = rss();
       for (const a of arrays) native.free(a);
       console.log(JSON.stringify({ ...c.nativeMemory(), dropped: before - rss() }));`,
    );
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!);
    assert.equal(out.budgetBytes, 0);
    assert.equal(out.pooledBytes, 0);
    assert.ok(out.dropped > 0.6 * 32 * 4 * 200_000, `resident memory fell by ${out.dropped} bytes`);
  });

  test('an invalid CANDOR_POOL_MB stops the native backend with an error naming it', () => {
    const run = child({ CANDOR_POOL_MB: 'lots', CANDOR_BACKEND: 'native' }, `c.getBackend();`);
    assert.notEqual(run.status, 0);
    assert.match(
      run.stderr,
      /CANDOR_POOL_MB: expected a non-negative number of megabytes \(0 = no pooling\), got 'lots'/,
    );
  });
});

describe('allocations that cannot succeed', () => {
  test('zeros([1e6, 1e6]) is a MemoryError naming the op, shape, dtype and bytes', () => {
    for (const [f, what] of [
      [
        () => c.zeros([1e6, 1e6]),
        /^zeros: cannot allocate float32 \[1000000, 1000000\] \(1000000000000 elements, 4000000000000 bytes\)/,
      ],
      [() => c.ones([2 ** 30, 2 ** 30], 'int32'), /^ones: cannot allocate int32 \[1073741824, 1073741824\]/],
      [() => c.arange(1e12), /^arange: cannot allocate int32 \[1000000000000\]/],
      [() => c.eye(1e6), /^eye: cannot allocate float32 \[1000000, 1000000\]/],
    ] as const)
      assert.throws(f, (e: unknown) => e instanceof MemoryError && what.test((e as Error).message));
  });

  for (const backend of ['native', 'js'])
    test(
      `an op whose output the ${backend} backend cannot allocate throws a MemoryError naming it`,
      { skip: backend === 'native' && skip },
      () => {
        onBackend(backend, () => {
          // 2^48 float32 elements: 1 PB, more than any address space maps.
          const huge = c.broadcastTo(c.scalar(1), [2 ** 24, 2 ** 24]);
          assert.throws(
            () => c.add(huge as Tensor, 1),
            (e: unknown) =>
              e instanceof MemoryError &&
              new RegExp(
                `on backend '${backend}': cannot allocate float32 \\[16777216, 16777216\\] ` +
                  `\\(281474976710656 elements, 1125899906842624 bytes\\)`,
              ).test((e as Error).message),
          );
          huge.dispose();
        });
      },
    );

  test(
    'native out of memory is a MemoryError naming the elements and bytes, and the pool stays usable',
    { skip },
    () => {
      const native = findBackend('native');
      assert.throws(
        () => native.alloc('float32', 2 ** 48),
        (e: unknown) =>
          e instanceof MemoryError &&
          /out of memory allocating 281474976710656 float32 elements \(1125899906842624 bytes/.test(
            (e as Error).message,
          ),
      );
      const a = native.alloc('float32', 10) as Float32Array;
      assert.equal(a.length, 10);
      native.free(a);
    },
  );
});
