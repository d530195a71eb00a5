// Sparse weight storage (bit mask + non-zero values inside safetensors): bit-exact round trips, the bytes saved,
// model.save / loadModel and saveWeights / loadWeights with sparseWeights, and hostile files (FormatError only).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { FormatError, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import {
  SPARSE_METADATA_KEY,
  parseSparseSafetensors,
  serializeSparseSafetensors,
} from '../../src/io/sparse-safetensors.js';
import * as compress from '../../src/compress/index.js';
import { rand, withDir } from '../helpers.js';
import { Rng } from '../io/rng.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A float tensor with exactly `zeros` entries set to +0 (chosen by a seeded shuffle), the rest uniform. */
function sparseTensor(shape: number[], zeros: number, seed: number, dtype: 'float32' | 'float64' = 'float32') {
  const t = rand(shape, seed, { dtype });
  const data = t.dataSync().slice();
  t.dispose();
  const rng = new Rng(new c.RandomStream(seed + 1));
  const order = [...data.keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const i of order.slice(0, zeros)) data[i] = 0;
  return c.tensor(data, shape, dtype);
}

const bitsOf = (t: c.Tensor) => {
  const d = t.dataSync();
  return [...new Uint8Array(d.buffer, d.byteOffset, d.byteLength)];
};

/** The header length and the data bytes of a safetensors file. */
function dataBytes(bytes: Uint8Array): number {
  return bytes.length - 8 - Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
}

describe('sparse safetensors', () => {
  test('round trip is bit-exact: -0, NaN, float64, int32, empty and dense tensors', () => {
    const kernel = sparseTensor([37, 23], 680, 1);
    const special = c.tensor([0, -0, Number.NaN, 0, 0, 0, 0, 0, 0, 1.5, 0, 0, 0, 0, 0, 0, 0, 0], [18]);
    const tensors = new Map<string, c.Tensor>([
      ['dense_1/kernel', kernel],
      ['dense_1/bias', rand([23], 2, { dtype: 'float32' })],
      ['f64', sparseTensor([5, 3, 3], 40, 3, 'float64')],
      ['special', special],
      ['ids', c.tensor([0, 0, 0, 0, 5, 0, 0, 0, 0], [9], 'int32')],
      ['empty', c.zeros([0, 3])],
      ['allZero', c.zeros([17])],
    ]);
    const bytes = serializeSparseSafetensors(tensors, { format: 'x' });
    const raw = parseSafetensors(bytes, { byteTensors: true });
    // Stored sparse: the mostly-zero float tensors only.
    assert.deepEqual(JSON.parse(raw.metadata[SPARSE_METADATA_KEY]).tensors, {
      'dense_1/kernel': [37, 23],
      f64: [5, 3, 3],
      special: [18],
      allZero: [17],
    });
    c.dispose([...raw.tensors.values()]);
    const back = parseSparseSafetensors(bytes);
    assert.deepEqual(back.metadata, { format: 'x' });
    assert.deepEqual([...back.tensors.keys()].sort(), [...tensors.keys()].sort());
    for (const [name, t] of tensors) {
      const u = back.tensors.get(name)!;
      assert.deepEqual([...u.shape], [...t.shape], name);
      assert.equal(u.dtype, t.dtype, name);
      assert.deepEqual(bitsOf(u), bitsOf(t), `${name} bit for bit`);
    }
    assert.ok(Object.is(back.tensors.get('special')!.dataSync()[1], -0));
    c.dispose([...back.tensors.values(), ...tensors.values()]);
  });

  test('an 80% sparse float32 kernel takes 0.2 + 1/32 of its dense bytes', () => {
    const n = 400 * 250;
    const kernel = sparseTensor([400, 250], 0.8 * n, 5);
    const dense = serializeSafetensors({ k: kernel });
    const sparse = serializeSparseSafetensors({ k: kernel });
    assert.equal(dataBytes(dense), 4 * n);
    assert.equal(dataBytes(sparse), n / 8 + 4 * 0.2 * n);
    assert.ok(Math.abs(dataBytes(sparse) / dataBytes(dense) - (0.2 + 1 / 32)) < 1e-12);
    assert.deepEqual(compress.sparseBytes(kernel), { dense: 4 * n, sparse: n / 8 + 0.8 * n });
    kernel.dispose();
  });

  test('each float tensor is scanned once to size it (and once to encode it when sparse)', () => {
    const dense = rand([4, 4], 3);
    const sparse = sparseTensor([4, 4], 12, 4);
    const dataSync = c.Tensor.prototype.dataSync;
    let reads = 0;
    c.Tensor.prototype.dataSync = function (this: c.Tensor) {
      reads++;
      return dataSync.call(this);
    };
    const readsOf = (write: () => unknown) => {
      reads = 0;
      write();
      return reads;
    };
    try {
      const plain = readsOf(() => serializeSafetensors({ t: dense }));
      assert.equal(
        readsOf(() => serializeSparseSafetensors({ t: dense })),
        plain + 1,
        'dense: sized once',
      );
      assert.equal(
        readsOf(() => serializeSparseSafetensors({ t: sparse })),
        3,
        'sparse: sized once, encoded, its values written',
      );
    } finally {
      c.Tensor.prototype.dataSync = dataSync;
    }
    c.dispose([dense, sparse]);
  });

  test('plain files pass through; U8 entries need the sparse metadata', () => {
    const t = c.tensor([1, 2, 3]);
    const plain = serializeSafetensors({ t }, { a: 'b' });
    const back = parseSparseSafetensors(plain);
    assert.deepEqual(back.metadata, { a: 'b' });
    assert.deepEqual([...back.tensors.get('t')!.dataSync()], [1, 2, 3]);
    const orphan = serializeSafetensors({ t, m: { dtype: 'U8', shape: [2], bytes: new Uint8Array([1, 2]) } });
    assert.throws(() => parseSparseSafetensors(orphan), FormatError);
    assert.throws(() => parseSafetensors(orphan), /U8 is not supported/);
    assert.throws(() => serializeSparseSafetensors({ t }, { [SPARSE_METADATA_KEY]: '' }), c.ArgumentError);
    const zeros = c.zeros([64]);
    assert.throws(() => serializeSparseSafetensors({ z: zeros, 'z:mask': t }), /collides/);
    c.dispose([t, zeros, ...back.tensors.values()]);
  });
});

describe('sparse weights through model.save and saveWeights', () => {
  test('a stripped 80% pruned model saves at about a quarter of the bytes and loads bit for bit', async () => {
    const model = new c.Sequential([
      c.layers.dense({ units: 64, activation: 'relu', inputShape: [120] }),
      c.layers.dense({ units: 10 }),
    ]);
    const pruned = compress.pruneLowMagnitude(model, {
      pruningSchedule: new compress.ConstantSparsity({ targetSparsity: 0.8, beginStep: 0 }),
    });
    const cb = new compress.UpdatePruningStep();
    cb.setModel(pruned);
    cb.onTrainBegin();
    cb.onBatchBegin();
    cb.onBatchEnd();
    const stripped = compress.stripPruning(pruned);
    stripped.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const x = rand([3, 120], 4, { dtype: 'float32' });
    await withDir(async (dir) => {
      await stripped.save(join(dir, 'dense'));
      await stripped.save(join(dir, 'sparse'), { sparseWeights: true });
      const size = (sub: string) => {
        const name = readdirSync(join(dir, sub)).find((f) => f.startsWith('weights-'))!;
        return statSync(join(dir, sub, name)).size;
      };
      const { dense, sparse } = compress.weightsFileBytes(stripped);
      assert.equal(size('dense'), dense);
      assert.equal(size('sparse'), sparse);
      // Kernels 120x64 + 64x10 at 80% sparsity, biases (74 floats) dense, plus the headers.
      const kernels = 120 * 64 + 64 * 10;
      const expectedData = Math.ceil((120 * 64) / 8) + 640 / 8 + 4 * (kernels - compress.pruningReport(stripped).zeros);
      assert.ok(sparse / dense < 0.27, `sparse/dense = ${(sparse / dense).toFixed(3)}`);
      assert.ok(sparse - expectedData - 4 * 74 < 1000, 'the header is the rest');
      const loaded = await c.loadModel(join(dir, 'sparse'));
      assert.deepEqual(
        loaded.weights.map((v) => bitsOf(v.value)),
        stripped.weights.map((v) => bitsOf(v.value)),
      );
      const a = stripped.predict(x) as c.Tensor,
        b = loaded.predict(x) as c.Tensor;
      assert.deepEqual([...b.dataSync()], [...a.dataSync()]);
      // saveWeights takes the option too.
      await stripped.saveWeights(join(dir, 'w.safetensors'), { sparseWeights: true });
      const other = new c.Sequential([
        c.layers.dense({ units: 64, activation: 'relu', inputShape: [120] }),
        c.layers.dense({ units: 10 }),
      ]);
      await other.loadWeights(join(dir, 'w.safetensors'));
      assert.deepEqual(
        other.weights.map((v) => bitsOf(v.value)),
        stripped.weights.map((v) => bitsOf(v.value)),
      );
      c.dispose([a, b]);
      loaded.dispose();
      other.dispose();
    });
    x.dispose();
  });
});

/** The file's header text and data, and a file with a replaced header. */
function splitFile(bytes: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { header: JSON.parse(dec.decode(bytes.subarray(8, 8 + n))), data: bytes.subarray(8 + n) };
}
function joinFile(header: unknown, data: Uint8Array): Uint8Array {
  const json = enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('hostile sparse files', () => {
  const valid = () =>
    serializeSparseSafetensors({ k: sparseTensor([5, 7], 28, 9), b: c.tensor([1, 2]) }, { format: 'f' });

  test('each malformed layout is a FormatError naming the problem', () => {
    const { header, data } = splitFile(valid());
    const meta = header.__metadata__ as Record<string, string>;
    const withSparse = (spec: unknown) =>
      joinFile({ ...header, __metadata__: { ...meta, [SPARSE_METADATA_KEY]: JSON.stringify(spec) } }, data);
    const cases: [Uint8Array, RegExp][] = [
      [withSparse({ version: 2, tensors: { k: [5, 7] } }), /version/],
      [withSparse({ version: 1, tensors: { k: [6, 7] } }), /needs 6/],
      [withSparse({ version: 1, tensors: { k: [5, -7] } }), /non-negative/],
      [withSparse({ version: 1, tensors: { k: [5, 7], q: [2] } }), /'q' lacks/],
      [withSparse({ version: 1, tensors: { k: [5, 7], b: [2] } }), /'b' is stored both dense and sparse/],
      [withSparse({ version: 1, tensors: {} }), /U8 entry 'k:mask' belongs to no sparse tensor/],
      [withSparse('nonsense'), /must be/],
      [joinFile({ ...header, __metadata__: { ...meta, [SPARSE_METADATA_KEY]: '{' } }, data), /not JSON/],
    ];
    for (const [bytes, pattern] of cases) assert.throws(() => parseSparseSafetensors(bytes), pattern);
    // A mask bit past the 35 elements, and a mask marking one more element than there are values.
    const good = valid();
    const { header: h } = splitFile(good);
    const [maskBegin, maskEnd] = (h['k:mask'] as { data_offsets: number[] }).data_offsets;
    const pastEnd = good.slice();
    const lastMask = good.length - data.length + maskEnd - 1;
    pastEnd[lastMask] |= 0x80;
    assert.throws(() => parseSparseSafetensors(pastEnd), /bits past the 35 elements/);
    const extra = good.slice();
    const first = good.length - data.length + maskBegin;
    extra[first] ^= extra[first] & 1 ? 2 : 1; // flips the count by one whichever way
    assert.throws(() => parseSparseSafetensors(extra), /marks \d+ stored elements/);
  });

  test('the decoded size is bounded by maxDecodedBytes: a small mask cannot claim a huge tensor', () => {
    // k is [5, 7] float32: 140 bytes decoded from a 5-byte mask and its 7 values.
    const good = valid();
    const before = c.memory().tensors;
    const sizes = (bytes: Uint8Array, maxDecodedBytes?: number) => {
      const { tensors } = parseSparseSafetensors(bytes, { maxDecodedBytes });
      c.dispose([...tensors.values()]);
      return [...tensors.values()].map((t) => t.size);
    };
    assert.deepEqual(sizes(good, 140), [2, 35], 'exactly at the limit');
    assert.throws(
      () => parseSparseSafetensors(good, { maxDecodedBytes: 139 }),
      (e: Error) =>
        e instanceof FormatError &&
        /'k' of shape \[5, 7\] \(float32\) .* 140 bytes, over maxDecodedBytes 139/.test(e.message),
    );
    // A hostile file: an all-zero mask of 4096 bytes claims 32768 float64 elements (256 KiB) with no values.
    const none = c.zeros([0], 'float64');
    const hostile = serializeSafetensors(
      { 'z:mask': { dtype: 'U8', shape: [4096], bytes: new Uint8Array(4096) }, 'z:values': none },
      { [SPARSE_METADATA_KEY]: JSON.stringify({ version: 1, tensors: { z: [32768] } }) },
    );
    none.dispose();
    assert.throws(() => parseSparseSafetensors(hostile, { maxDecodedBytes: 1 << 16 }), /'z' .* 262144 bytes/);
    assert.deepEqual(sizes(hostile), [32768], 'the default (2 GiB) allows it');
    assert.throws(() => parseSparseSafetensors(good, { maxDecodedBytes: -1 }), c.ArgumentError);
    assert.equal(c.memory().tensors, before, 'no tensor leaked');
  });

  test('2000 seeded mutations parse consistently or throw FormatError, never anything else', () => {
    const rng = new Rng(new c.RandomStream(1616));
    const seed = valid();
    const before = c.memory().tensors;
    let ok = 0,
      rejected = 0;
    for (let i = 0; i < 2000; i++) {
      let bytes: Uint8Array = seed.slice();
      const kind = rng.int(3);
      if (kind === 0) bytes[rng.int(bytes.length)] = rng.int(256);
      else if (kind === 1) {
        // Flip bits near the end: the data region (masks and values) and the header's tail.
        const at = bytes.length - 1 - rng.int(80);
        bytes[at] ^= 1 << rng.int(8);
      } else {
        // Replace or add an entry of the sparse metadata with a value of the wrong kind or size.
        const { header, data } = splitFile(seed);
        const meta = header.__metadata__ as Record<string, string>;
        const spec = JSON.parse(meta[SPARSE_METADATA_KEY]) as { tensors: Record<string, unknown> };
        const values = [0, -1, 1, 5, 7, 8, 35, 1e20, 'x', null, [], [5], [7, 5], [35], [1, 1, 1, 35]];
        spec.tensors[rng.pick(['k', 'b', 'k:mask', 'z'])] = rng.pick(values);
        meta[SPARSE_METADATA_KEY] = JSON.stringify(spec);
        bytes = joinFile(header, data);
      }
      try {
        check(bytes);
        ok++;
      } catch (e) {
        if (!(e instanceof FormatError)) assert.fail(`mutation ${i}: ${(e as Error).name}: ${(e as Error).message}`);
        rejected++;
      }
    }
    assert.ok(ok > 100 && rejected > 500, `parsed ${ok}, rejected ${rejected}`);
    assert.equal(c.memory().tensors, before, 'no tensor leaked');
  });
});

/** A parse that succeeds must give tensors whose sizes match their shapes; they are then freed. */
function check(bytes: Uint8Array): void {
  const file = parseSparseSafetensors(bytes);
  for (const t of file.tensors.values()) {
    assert.equal(
      t.dataSync().length,
      t.shape.reduce((a, b) => a * b, 1),
    );
    t.dispose();
  }
}
