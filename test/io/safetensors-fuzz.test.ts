// Fuzzing the safetensors reader: seeded mutations of valid files parse consistently or throw FormatError.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { FormatError, parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';
import { Rng } from './rng.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function seeds(): Uint8Array[] {
  return [
    serializeSafetensors(
      {
        w: c.tensor([
          [1, 2],
          [3, 4],
        ]),
        b: c.tensor([0.5]),
        n: c.tensor([1, -2, 3], undefined, 'int32'),
      },
      { format: 'candor' },
    ),
    serializeSafetensors({
      d: c.tensor([1e300, -0], undefined, 'float64'),
      m: c.tensor([true, false, true]),
      s: c.scalar(2),
    }),
    serializeSafetensors(
      { e: c.zeros([0, 4]), z: c.zeros([3], 'bool'), i: c.tensor([7], [1, 1, 1], 'int32') },
      { a: '1', b: '' },
    ),
  ];
}

function headerOf(bytes: Uint8Array): { n: number; text: string } {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { n, text: dec.decode(bytes.subarray(8, 8 + n)) };
}

/** Whether the header-aware mutations can apply (a stacked earlier mutation may have broken the file). */
function hasJsonHeader(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (v.getUint32(4, true) !== 0 || 8 + v.getUint32(0, true) > bytes.length) return false;
  try {
    const h: unknown = JSON.parse(headerOf(bytes).text);
    return typeof h === 'object' && h !== null && !Array.isArray(h) && Object.keys(h).length > 0;
  } catch {
    return false;
  }
}

/** A file with a replaced header text and a correct length prefix, so the mutation reaches the checks after it. */
function withHeader(bytes: Uint8Array, text: string): Uint8Array {
  const { n } = headerOf(bytes);
  const json = enc.encode(text);
  const out = new Uint8Array(8 + json.length + bytes.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(8 + n), 8 + json.length);
  return out;
}

const JSON_NOISE = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  ',',
  '0',
  '1',
  '9',
  '-',
  'e',
  '.',
  ' ',
  '\\',
  'F32',
  'BOOL',
  'I32',
  'F16',
  '1e308',
  '-1',
  '4294967296',
  'null',
  'true',
  '"__metadata__"',
  '\u00e9',
  '\ud800',
];
const INTERESTING = [0, 1, 2, 3, 4, 7, 8, 12, 16, -1, 2 ** 31, 2 ** 32, 2 ** 53, 1.5, 1e30];

/** One random mutation of a valid file. */
function mutate(rng: Rng, src: Uint8Array): Uint8Array {
  let kind = rng.int(9);
  if (kind >= 5 && !hasJsonHeader(src)) kind = 0;
  if (src.length === 0) return src;
  const b = src.slice();
  switch (kind) {
    case 0: {
      // flip 1-8 random bits anywhere
      for (let k = 1 + rng.int(8); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
      return b;
    }
    case 1: // truncate
      return b.subarray(0, rng.int(b.length));
    case 2: {
      // edit the length prefix: small deltas, interesting values, random high bytes
      const v = new DataView(b.buffer);
      const n = v.getUint32(0, true);
      const choice = rng.int(3);
      if (choice === 0) v.setUint32(0, Math.max(0, n + rng.int(17) - 8), true);
      else if (choice === 1)
        v.setBigUint64(0, BigInt(rng.pick([0, 1, 7, 8, b.length, b.length - 8, 2 ** 32, 2 ** 53 - 1, 1e8 + 1])), true);
      else b[rng.int(8)] = rng.int(256);
      return b;
    }
    case 3: {
      // insert random bytes
      const at = rng.int(b.length + 1),
        count = 1 + rng.int(8);
      const out = new Uint8Array(b.length + count);
      out.set(b.subarray(0, at));
      for (let k = 0; k < count; k++) out[at + k] = rng.int(256);
      out.set(b.subarray(at), at + count);
      return out;
    }
    case 4: {
      // delete a byte range
      const at = rng.int(b.length),
        count = 1 + rng.int(8);
      return Uint8Array.from([...b.subarray(0, at), ...b.subarray(at + count)]);
    }
    case 5: {
      // textual JSON edit: replace, insert or delete a token, keeping the length prefix right
      const { text } = headerOf(b);
      const at = rng.int(text.length);
      const op = rng.int(3);
      const token = rng.pick(JSON_NOISE);
      const edited =
        op === 0
          ? text.slice(0, at) + token + text.slice(at + 1)
          : op === 1
            ? text.slice(0, at) + token + text.slice(at)
            : text.slice(0, at) + text.slice(at + 1 + rng.int(4));
      return withHeader(b, edited);
    }
    case 6: {
      // replace a number in the header (offsets, shapes) with an interesting one
      const { text } = headerOf(b);
      const numbers = [...text.matchAll(/\d+/g)];
      if (numbers.length === 0) return b;
      const m = rng.pick(numbers);
      return withHeader(b, text.slice(0, m.index) + String(rng.pick(INTERESTING)) + text.slice(m.index! + m[0].length));
    }
    case 7: {
      // structural edit of the parsed header
      const { text } = headerOf(b);
      const h = JSON.parse(text) as Record<string, Record<string, unknown>>;
      const names = Object.keys(h);
      const name = rng.pick(names);
      const entry = h[name];
      const op = rng.int(7);
      if (op === 0) delete h[name];
      else if (op === 1)
        entry[rng.pick(['dtype', 'shape', 'data_offsets', 'extra'])] = rng.pick<unknown>([
          null,
          'F32',
          'I32',
          'F64',
          'BOOL',
          'F16',
          [],
          [1],
          [0, 0],
          {},
          'x',
          5,
        ]);
      else if (op === 2 && Array.isArray(entry.shape)) entry.shape = [...entry.shape, rng.pick([0, 1, 2])];
      else if (op === 3 && Array.isArray(entry.data_offsets)) entry.data_offsets = [...entry.data_offsets].reverse();
      else if (op === 4) h[name + '_copy'] = entry;
      else if (op === 5)
        h.__metadata__ = rng.pick<Record<string, unknown>>([
          { k: 'v' },
          { k: 1 },
          [] as unknown as Record<string, unknown>,
          null as unknown as Record<string, unknown>,
        ]);
      else delete entry[rng.pick(['dtype', 'shape', 'data_offsets'])];
      return withHeader(b, JSON.stringify(h));
    }
    default: {
      // flip bits in the data region only: usually still a valid file
      const { n } = headerOf(b);
      if (b.length > 8 + n) b[8 + n + rng.int(b.length - 8 - n)] ^= 1 << rng.int(8);
      return b;
    }
  }
}

const ITEM: Record<string, number> = { float32: 4, float64: 8, int32: 4, bool: 1 };

/** A successful parse must describe the data region exactly. */
function checkConsistent(bytes: Uint8Array, parsed: ReturnType<typeof parseSafetensors>): void {
  const { n } = headerOf(bytes);
  let total = 0;
  for (const [name, t] of parsed.tensors) {
    const size = t.shape.reduce((a, d) => a * d, 1);
    assert.equal(t.size, size, name);
    assert.equal(t.dataSync().length, size, name);
    if (t.dtype === 'bool') assert.ok(t.dataSync().every((v) => v === 0 || v === 1));
    total += size * ITEM[t.dtype];
  }
  assert.equal(total, bytes.length - 8 - n, 'tensors tile the data region');
  for (const v of Object.values(parsed.metadata)) assert.equal(typeof v, 'string');
}

test('5000 seeded mutations: parse succeeds consistently or throws FormatError, never anything else', () => {
  const rng = new Rng(new c.RandomStream(20240531));
  const valid = seeds();
  const before = c.memory().tensors;
  const t0 = performance.now();
  let ok = 0,
    rejected = 0;
  const reasons = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const src = valid[i % valid.length];
    let bytes = mutate(rng, src);
    if (rng.int(4) === 0) bytes = mutate(rng, bytes); // sometimes stack two mutations
    try {
      const parsed = parseSafetensors(bytes, { maxHeaderBytes: 1 << 20 });
      checkConsistent(bytes, parsed);
      c.dispose([...parsed.tensors.values()]);
      ok++;
    } catch (e) {
      if (!(e instanceof FormatError)) {
        assert.fail(
          `mutation ${i} threw ${(e as Error)?.name}: ${(e as Error)?.message}\n` +
            `bytes: ${Buffer.from(bytes).toString('base64')}`,
        );
      }
      rejected++;
      reasons.add(e.message.replace(/'[^']*'|"[^"]*"|\d+/g, '_').slice(0, 70));
    }
  }
  const ms = performance.now() - t0;
  // Both outcomes must be exercised, through many different checks, quickly and without leaking.
  assert.ok(ok > 200, `only ${ok} mutated files parsed`);
  assert.ok(rejected > 2000, `only ${rejected} mutated files were rejected`);
  assert.ok(reasons.size >= 15, `only ${reasons.size} distinct rejection reasons: ${[...reasons].join(' | ')}`);
  assert.ok(ms < 10000, `fuzzing took ${ms.toFixed(0)} ms`);
  assert.equal(c.memory().tensors, before);
});
