// safetensors: round trips, a byte-exact file, every rejection the reader makes, and atomic file writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import {
  FormatError,
  parseSafetensors,
  serializeSafetensors,
  saveSafetensors,
  loadSafetensors,
} from '../../src/io/safetensors.js';
import { writeFileAtomic, readFileBytes } from '../../src/io/atomic.js';

const enc = new TextEncoder();

/** A file from a header object (or raw header text) and a data buffer, with a correct length prefix. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = typeof header === 'string' ? enc.encode(header) : enc.encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp, opts?: { maxHeaderBytes?: number }): void {
  assert.throws(
    () => parseSafetensors(bytes, opts),
    (e: unknown) => {
      assert.ok(e instanceof FormatError, `expected FormatError, got ${(e as Error)?.name}: ${(e as Error)?.message}`);
      assert.ok(e instanceof c.CandorError);
      assert.match(e.message, pattern);
      return true;
    },
  );
}

test('round trip: every supported dtype, scalars, zero-size tensors, metadata', () => {
  const tensors = {
    'w.f32': c.tensor(
      [
        [1.5, -2],
        [3.25, 1e-8],
      ],
      undefined,
      'float32',
    ),
    'w.f64': c.tensor([Math.PI, -Number.MAX_VALUE, Number.MIN_VALUE], undefined, 'float64'),
    idx: c.tensor([0, -1, 2147483647, -2147483648], undefined, 'int32'),
    mask: c.tensor([true, false, true]),
    scalar: c.scalar(7.5),
    empty: c.zeros([0, 3]),
    emptyBool: c.zeros([2, 0], 'bool'),
    '0': c.scalar(1, 'int32'), // an integer-like name must not reorder the header
    'ünïcode 名前': c.tensor([1, 2, 3], [3, 1, 1]),
  };
  const bytes = serializeSafetensors(tensors, { format: 'candor', note: 'with "quotes"' });
  assert.equal(new DataView(bytes.buffer).getUint32(0, true) % 8, 0, 'header padded to 8');
  const { tensors: back, metadata } = parseSafetensors(bytes);
  assert.deepEqual(metadata, { format: 'candor', note: 'with "quotes"' });
  assert.deepEqual([...back.keys()].sort(), Object.keys(tensors).sort());
  for (const [name, t] of Object.entries(tensors)) {
    const r = back.get(name)!;
    assert.equal(r.dtype, t.dtype, name);
    assert.deepEqual([...r.shape], [...t.shape], name);
    assert.deepEqual(r.dataSync(), t.dataSync(), name);
  }
  // Tensors are written in the reference order: F64, then F32, then I32, then BOOL, each by name.
  assert.deepEqual(
    [...back.keys()],
    ['w.f64', 'empty', 'scalar', 'w.f32', 'ünïcode 名前', '0', 'idx', 'emptyBool', 'mask'],
  );
  // A Map works as input too, and writing the parsed tensors reproduces the file byte for byte.
  assert.deepEqual(serializeSafetensors(back, metadata), bytes);
});

test('byte-exact: a tiny file matches the reference layout (key order, __metadata__ first, space padding)', () => {
  const bytes = serializeSafetensors({ b: c.tensor([1, -2], undefined, 'int32'), a: c.scalar(1.5) }, { format: 'pt' });
  const header =
    '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},' +
    '"b":{"dtype":"I32","shape":[2],"data_offsets":[4,12]}}';
  assert.equal(header.length, 138); // padded with 6 spaces to 144 = 0x90
  const expected = [
    0x90,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    ...enc.encode(header),
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x20,
    0x00,
    0x00,
    0xc0,
    0x3f, // 1.5f little-endian
    0x01,
    0x00,
    0x00,
    0x00,
    0xfe,
    0xff,
    0xff,
    0xff, // 1, -2
  ];
  assert.deepEqual(Array.from(bytes), expected);
  // No metadata: no __metadata__ key at all.
  const plain = serializeSafetensors({ a: c.scalar(1.5) });
  assert.equal(plain[0], 56); // 53 bytes of JSON + 3 spaces
  assert.equal(
    new TextDecoder().decode(plain.subarray(8, 8 + 56)),
    '{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}   ',
  );
  // The reference's own doc example parses (I32 [2, 2], no padding).
  const ref = build('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', new Uint8Array(16));
  assert.deepEqual([...parseSafetensors(ref).tensors.get('test')!.shape], [2, 2]);
});

test('an empty file (no tensors) round-trips', () => {
  const bytes = serializeSafetensors({});
  assert.equal(bytes.length, 16); // "{}" + 6 spaces
  assert.equal(parseSafetensors(bytes).tensors.size, 0);
});

test('the writer rejects bad input with ArgumentError', () => {
  assert.throws(() => serializeSafetensors({ __metadata__: c.scalar(1) }), c.ArgumentError);
  assert.throws(() => serializeSafetensors({ a: 1 as unknown as c.Tensor }), c.ArgumentError);
  assert.throws(
    () => serializeSafetensors({ a: c.scalar(1) }, { k: 3 as unknown as string }),
    /metadata 'k' must be a string/,
  );
  const t = c.scalar(1);
  t.dispose();
  assert.throws(() => serializeSafetensors({ a: t }), c.DisposedError);
});

test('the reader accepts views and slices of a larger buffer, and unaligned data', () => {
  const bytes = serializeSafetensors({ a: c.tensor([1, 2, 3]) });
  const big = new Uint8Array(bytes.length + 3);
  big.set(bytes, 3); // the F32 data now starts at an odd address
  const t = parseSafetensors(big.subarray(3)).tensors.get('a')!;
  assert.deepEqual(Array.from(t.dataSync()), [1, 2, 3]);
  // Non-contiguous source tensors are written in row-major order.
  const m = c
    .tensor([
      [1, 2],
      [3, 4],
    ])
    .transpose();
  assert.deepEqual(
    Array.from(parseSafetensors(serializeSafetensors({ m })).tensors.get('m')!.dataSync()),
    [1, 3, 2, 4],
  );
});

const f32 = (n: number) => ({ dtype: 'F32', shape: [n], data_offsets: [0, 4 * n] });

test('rejects: too short, header length past the end or above the limit', () => {
  rejects(new Uint8Array(0), /0 bytes, shorter than the 8-byte header length/);
  rejects(new Uint8Array(7), /7 bytes/);
  const ok = build({ a: f32(1) }, new Uint8Array(4));
  const past = ok.slice();
  new DataView(past.buffer).setUint32(0, 10_000, true);
  rejects(past, /header length 10000 runs past the end/);
  const huge = ok.slice();
  new DataView(huge.buffer).setUint32(4, 0xffffffff, true); // ~2^64: must not be read as a number and allocated
  rejects(huge, /above the limit of 100000000 bytes/);
  rejects(ok, /above the limit of 16 bytes/, { maxHeaderBytes: 16 });
  assert.throws(() => parseSafetensors(ok, { maxHeaderBytes: -1 }), c.ArgumentError);
});

test('rejects: invalid UTF-8, invalid JSON, a header that is not an object', () => {
  const bad = build('{"a":1}');
  bad[10] = 0xff;
  rejects(bad, /not valid UTF-8/);
  rejects(build('{"a": '), /not valid JSON/);
  rejects(build('[1, 2]'), /must be a JSON object starting with '\{'/);
  rejects(build('"text"'), /must be a JSON object/);
  rejects(build('null'), /must be a JSON object/);
  rejects(build('{} {}'), /not valid JSON/);
  rejects(build('{"a": 5}'), /tensor 'a': entry must be an object/);
});

test('rejects: dtypes unknown or not supported yet, naming the tensor', () => {
  for (const dtype of ['F16', 'BF16', 'I64', 'U8', 'F8_E4M3']) {
    rejects(
      build({ w: { dtype, shape: [1], data_offsets: [0, 2] } }, new Uint8Array(2)),
      new RegExp(`tensor 'w': dtype ${dtype} is not supported yet`),
    );
  }
  rejects(
    build({ w: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor 'w': unknown dtype "F33"/,
  );
  rejects(
    build({ w: { dtype: 'constructor', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /unknown dtype "constructor"/,
  );
  rejects(
    build({ w: { dtype: 3, shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /tensor 'w': dtype must be a string/,
  );
  rejects(build({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /dtype must be a string/);
});

test('rejects: shapes that are not lists of non-negative safe integers', () => {
  for (const shape of [[-1], [1.5], ['2'], 3, null, [2 ** 53], [[1]]]) {
    rejects(
      build({ w: { dtype: 'F32', shape, data_offsets: [0, 4] } }, new Uint8Array(4)),
      /tensor 'w': shape must be a list of non-negative integers/,
    );
  }
  rejects(
    build({ w: { dtype: 'F32', shape: [2 ** 30, 2 ** 30, 2 ** 30], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /too many elements/,
  );
});

test('rejects: data_offsets malformed, out of the buffer, or not matching the shape', () => {
  for (const off of [[0], [0, 4, 8], [-4, 0], ['0', '4'], null, [0, 4.5]]) {
    rejects(
      build({ w: { dtype: 'F32', shape: [1], data_offsets: off } }, new Uint8Array(4)),
      /tensor 'w': data_offsets must be \[begin, end\]/,
    );
  }
  rejects(
    build({ w: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)),
    /\[4, 0\] are not a range within the 4-byte data buffer/,
  );
  rejects(
    build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, new Uint8Array(4)),
    /not a range within the 4-byte data buffer/,
  );
  rejects(
    build({ w: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)),
    /span 4 bytes but F32 \[2\] needs 8/,
  );
  rejects(build({ w: { dtype: 'F64', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /needs 8/);
});

test('rejects: overlapping tensors, gaps, unused trailing bytes', () => {
  rejects(
    build({ a: f32(2), b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
    /tensor '(a|b)' data_offsets .* overlap the previous tensor/,
  );
  rejects(
    build({ a: f32(1), b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } }, new Uint8Array(12)),
    /bytes \[4, 8\) before tensor 'b' belong to no tensor/,
  );
  rejects(
    build({ b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)),
    /bytes \[0, 4\) before tensor 'b'/,
  );
  rejects(build({ a: f32(1) }, new Uint8Array(5)), /data buffer is 5 bytes but the tensors cover only \[0, 4\)/);
  rejects(build({}, new Uint8Array(1)), /cover only \[0, 0\)/);
  // Zero-size tensors may sit anywhere on the tiling, including at the same offset as others.
  const ok = build(
    {
      a: f32(1),
      e1: { dtype: 'F32', shape: [0], data_offsets: [4, 4] },
      e0: { dtype: 'I32', shape: [3, 0], data_offsets: [0, 0] },
      b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    },
    new Uint8Array(8),
  );
  assert.deepEqual([...parseSafetensors(ok).tensors.keys()], ['e0', 'a', 'e1', 'b']);
});

test('rejects: duplicate keys (top level and inside an entry), escaped or not', () => {
  rejects(
    build(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      new Uint8Array(4),
    ),
    /repeats the key "a"/,
  );
  rejects(
    build(
      '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},' +
        '"\\u0061":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
      new Uint8Array(4),
    ),
    /repeats the key "a"/,
  );
  rejects(
    build('{"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
    /repeats the key "dtype"/,
  );
  // Same names in different objects, or strings that merely look like keys, are fine.
  const ok = build(
    '{"__metadata__":{"a":"{\\"a\\":1,","b":"a"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}',
    new Uint8Array(4),
  );
  assert.deepEqual(parseSafetensors(ok).metadata, { a: '{"a":1,', b: 'a' });
});

test('rejects: __metadata__ that is not string -> string; accepts null metadata', () => {
  rejects(build({ __metadata__: { k: 1 } }), /'__metadata__' value for "k" must be a string, got 1/);
  rejects(build({ __metadata__: ['x'] }), /'__metadata__' must be an object of strings/);
  rejects(build({ __metadata__: 'x' }), /'__metadata__' must be an object of strings/);
  assert.deepEqual(parseSafetensors(build({ __metadata__: null })).metadata, {});
});

test('rejects: BOOL bytes other than 0 and 1', () => {
  rejects(
    build({ m: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, Uint8Array.from([1, 0, 2])),
    /BOOL tensor 'm' holds byte 2 at element 2/,
  );
});

test('a rejected file makes no tensors', () => {
  const before = c.memory().tensors;
  rejects(
    build({ a: f32(1), b: { dtype: 'F16', shape: [1], data_offsets: [4, 6] } }, new Uint8Array(6)),
    /not supported yet/,
  );
  assert.equal(c.memory().tensors, before);
});

test('saveSafetensors / loadSafetensors go through an atomic write', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-st-'));
  try {
    const path = join(dir, 'model.safetensors');
    await saveSafetensors(path, { w: c.tensor([1, 2, 3]) }, { epoch: '3' });
    await saveSafetensors(path, { w: c.tensor([4, 5]) }, { epoch: '4' }); // replaces the old file
    const { tensors, metadata } = await loadSafetensors(path);
    assert.deepEqual(Array.from(tensors.get('w')!.dataSync()), [4, 5]);
    assert.deepEqual(metadata, { epoch: '4' });
    assert.deepEqual(await readdir(dir), ['model.safetensors'], 'no temp files left behind');
    await writeFile(join(dir, 'bad.safetensors'), new Uint8Array(3));
    await assert.rejects(loadSafetensors(join(dir, 'bad.safetensors')), FormatError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writeFileAtomic writes strings and bytes, removes its temp file on failure, readFileBytes reads', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-atomic-'));
  try {
    await writeFileAtomic(join(dir, 'a.txt'), 'héllo');
    assert.equal(await readFile(join(dir, 'a.txt'), 'utf8'), 'héllo');
    await writeFileAtomic(join(dir, 'b.bin'), Uint8Array.from([1, 2, 3]));
    const bytes = await readFileBytes(join(dir, 'b.bin'));
    assert.deepEqual(Array.from(bytes), [1, 2, 3]);
    assert.equal(Object.getPrototypeOf(bytes), Uint8Array.prototype);
    // Renaming onto a non-empty directory fails after the temp file was written: it must be removed.
    await mkdir(join(dir, 'target'));
    await writeFile(join(dir, 'target', 'keep'), 'x');
    await assert.rejects(writeFileAtomic(join(dir, 'target'), 'data'));
    assert.deepEqual((await readdir(dir)).sort(), ['a.txt', 'b.bin', 'target']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
