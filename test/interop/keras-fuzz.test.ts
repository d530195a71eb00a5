// Fuzzing the Keras file readers: seeded truncations, flipped bytes and huge declared sizes (zip entry sizes and
// counts, HDF5 addresses and lengths) of real .keras and .h5 files; each load succeeds or throws a FormatError
// or InteropError, without crashing or hanging.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { Rng } from '../io/rng.js';
import { FIXTURES } from './keras-helpers.js';

// Runs per file (KERAS_FUZZ_RUNS=1500 explores further: all typed when this was written).
const RUNS = Number(process.env.KERAS_FUZZ_RUNS ?? 60);
const read = (name: string) => new Uint8Array(readFileSync(join(FIXTURES, name)));

/** Offsets of the zip's central directory records and of its end record. */
function zipRecords(bytes: Uint8Array): { entries: number[]; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let end = bytes.length - 22;
  while (view.getUint32(end, true) !== 0x06054b50) end--;
  const entries: number[] = [];
  for (let at = view.getUint32(end + 16, true); view.getUint32(at, true) === 0x02014b50;) {
    entries.push(at);
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return { entries, end };
}

/**
 * A mutated copy: truncated, a few bytes flipped (half of them in the first 4 KB, where HDF5 keeps most of its
 * metadata), an 8-byte run of 0xff or 0x7f (a huge address or length), or, in a zip, a huge entry size or count.
 */
function mutate(rng: Rng, bytes: Uint8Array, zip: boolean): Uint8Array {
  const kind = rng.int(zip ? 4 : 3);
  if (kind === 0) return bytes.slice(0, rng.int(bytes.length));
  const out = bytes.slice();
  const at = () => (rng.int(2) === 0 ? rng.int(Math.min(4096, out.length)) : rng.int(out.length));
  if (kind === 1) for (let n = 1 + rng.int(4); n > 0; n--) out[at()] = rng.int(256);
  else if (kind === 2) {
    const p = at();
    out.fill(rng.int(2) ? 0xff : 0x7f, p, Math.min(out.length, p + 8));
  } else {
    const view = new DataView(out.buffer);
    const { entries, end } = zipRecords(bytes);
    if (rng.int(4) === 0)
      view.setUint16(end + 10, 0xffff, true); // the entry count
    else {
      const field = rng.pick([20, 24, 42]); // compressed size, uncompressed size, local header offset
      view.setUint32(rng.pick(entries) + field, rng.pick([0xffffffff, 0x7fffffff, 1 << 30, 0]), true);
    }
  }
  return out;
}

/** Runs `load` on `runs` mutations of a file; anything but success or a typed error fails the test. */
async function fuzz(
  t: TestContext,
  name: string,
  runs: number,
  seed: number,
  load: (bytes: Uint8Array) => Promise<unknown>,
): Promise<void> {
  t.mock.method(console, 'warn', () => {}); // jsfive warns about attribute types it cannot decode
  const bytes = read(name);
  const rng = new Rng(new c.RandomStream(seed));
  const seen = new Map<string, number>();
  for (let i = 0; i < runs; i++) {
    const mutated = mutate(rng, bytes, name.endsWith('.keras'));
    try {
      await load(mutated);
      seen.set('loaded', (seen.get('loaded') ?? 0) + 1);
    } catch (e) {
      const typed = e instanceof c.interop.FormatError || e instanceof c.interop.InteropError;
      assert.ok(typed, `${name} run ${i}: ${e instanceof Error ? `${e.constructor.name}: ${e.stack}` : String(e)}`);
      seen.set((e as Error).constructor.name, (seen.get((e as Error).constructor.name) ?? 0) + 1);
    }
  }
  t.diagnostic(`${name}: ${JSON.stringify(Object.fromEntries(seen))}`);
}

const cnn = () =>
  new c.Sequential([
    c.input({ shape: [28, 28, 1] }),
    c.layers.conv2d({ filters: 6, kernelSize: 3 }),
    c.layers.maxPooling2d({ poolSize: 2 }),
    c.layers.conv2d({ filters: 12, kernelSize: 3 }),
    c.layers.maxPooling2d({ poolSize: 2 }),
    c.layers.flatten(),
    c.layers.dense({ units: 50 }),
    c.layers.dense({ units: 10 }),
  ]);

test('loadKerasModel on mutated .keras and legacy .h5 files throws only FormatError or InteropError', async (t) => {
  const load = async (b: Uint8Array) => (await c.interop.loadKerasModel(b)).dispose();
  await fuzz(t, 'mnist-cnn-keras-3.12.keras', RUNS, 4, load);
  await fuzz(t, 'mnist-mlp-legacy.h5', Math.ceil(RUNS / 2), 5, load); // 700 KB: each load reads 55,000 floats
});

test('loadKerasWeights on mutated .keras and .h5 files throws only FormatError or InteropError', async (t) => {
  const model = cnn();
  await fuzz(t, 'mnist-cnn-keras-3.12.keras', RUNS, 1, (b) => c.interop.loadKerasWeights(model, b));
  const denseBn = new c.Sequential([
    c.input({ shape: [4] }),
    c.layers.dense({ units: 3 }),
    c.layers.batchNormalization(),
    c.layers.dense({ units: 2 }),
  ]);
  await fuzz(t, 'dense-bn.weights.h5', RUNS, 2, (b) => c.interop.loadKerasWeights(denseBn, b));
  const legacy = new c.Sequential([
    c.input({ shape: [4] }),
    c.layers.dense({ units: 3, name: 'dense' }),
    c.layers.dense({ units: 2, name: 'dense_1' }),
  ]);
  await fuzz(t, 'legacy.weights.h5', RUNS, 3, (b) => c.interop.loadKerasWeights(legacy, b, { strict: false }));
});

test('mutations fuzzing found: each is a FormatError now', async () => {
  const denseBn = new c.Sequential([
    c.input({ shape: [4] }),
    c.layers.dense({ units: 3 }),
    c.layers.batchNormalization(),
    c.layers.dense({ units: 2 }),
  ]);
  // Offsets into the committed fixtures. A layout message of an unknown class: jsfive returned undefined as the
  // data (a TypeError before the check).
  const layout = read('dense-bn.weights.h5').fill(0x7f, 16809, 16817);
  await assert.rejects(
    c.interop.loadKerasWeights(denseBn, layout),
    (e: Error) => e instanceof c.interop.FormatError && /vars\/1 holds undefined values/.test(e.message),
  );
  // An attribute's dataspace grown to 2^30 strings: jsfive looped over them past the file's end until the
  // process ran out of memory.
  const attribute = read('legacy.weights.h5');
  attribute[1843] = 0x41;
  await assert.rejects(
    c.interop.loadKerasWeights(denseBn, attribute),
    (e: Error) => e instanceof c.interop.FormatError && /declares \[1090519042\] values/.test(e.message),
  );
});
