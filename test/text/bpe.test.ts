// Byte-level BPE: exact round trips on any UTF-8 text, merges that shorten text, determinism, save/load.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BpeTokenizer, BPE_LIMITS, preTokenize } from '../../src/text/index.js';
import { ArgumentError } from '../../src/errors.js';
import { FormatError } from '../../src/io/safetensors.js';

const CORPUS = [
  'the quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs away!',
  "It's the fox's den, they'll say, and we've seen it.  Numbers: 12345 67890 2024.",
  '中文文本也可以分词。中文很好。 Emoji: 🐳🐳 whales 🐋, café naïve résumé.',
]
  .join('\n')
  .repeat(20);

/** A small deterministic PRNG (mulberry32), for reproducible random strings. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random well-formed text mixing ASCII, control characters, CJK, emoji, combining marks and astral code points. */
function randomText(r: () => number, n: number): string {
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0x00, 0x1f],
    [0x4e00, 0x9fff],
    [0x1f300, 0x1faff],
    [0x0300, 0x036f],
    [0x00a0, 0x024f],
    [0x10000, 0x10ffff],
    [0xe000, 0xfffd],
  ];
  let s = '';
  for (let i = 0; i < n; i++) {
    const [lo, hi] = ranges[Math.floor(r() * ranges.length)];
    s += String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
  }
  return s;
}

const bpe = BpeTokenizer.train(CORPUS, { vocabSize: 400 });

test('preTokenize follows GPT-2: contractions, space-led words and numbers, whitespace runs', () => {
  assert.deepEqual(preTokenize("It's  12 dogs!\n"), ['It', "'s", ' ', ' 12', ' dogs', '!', '\n']);
  assert.deepEqual(preTokenize('中文 🐳'), ['中文', ' 🐳']);
  for (const s of [CORPUS, 'a  b\t\tc \n ', '']) assert.equal(preTokenize(s).join(''), s);
});

test('decode(encode(s)) is s for random UTF-8 text: CJK, emoji, control characters, BOM', () => {
  const r = rng(7);
  for (let i = 0; i < 200; i++) {
    const s = randomText(r, 1 + Math.floor(r() * 40));
    assert.equal(bpe.decode(bpe.encode(s)), s, `round trip of ${JSON.stringify(s)}`);
  }
  for (const s of [
    '',
    '\ufeffstarts with a BOM',
    '\u0000\u0001\u007f',
    '🐳 the fox 中文 ',
    "I'm   here\r\n\r\n",
    '\u{10ffff}',
  ]) {
    assert.equal(bpe.decode(bpe.encode(s)), s);
  }
  assert.equal(bpe.decode(bpe.encode(CORPUS)), CORPUS);
});

test('merges shorten text, and every token is one byte sequence', () => {
  assert.equal(bpe.vocabSize, 400);
  const text = 'the fox and the dog. 中文很好';
  const ids = bpe.encode(text);
  assert.ok(
    ids.length < new TextEncoder().encode(text).length / 2,
    `${ids.length} tokens for ${text.length} characters`,
  );
  assert.ok(ids.every((id) => id >= 0 && id < bpe.vocabSize));
  const base = new BpeTokenizer([]);
  assert.deepEqual(base.encode('hé'), [0x68, 0xc3, 0xa9]);
  // A merge's bytes are its two parts' bytes.
  const [[a, b]] = bpe.getMerges();
  assert.deepEqual(Array.from(bpe.tokenBytes(256)), [...bpe.tokenBytes(a), ...bpe.tokenBytes(b)]);
  // Merges never cross a pre-tokenisation boundary: ' the' + '.' stay apart.
  assert.ok(
    !bpe
      .getMerges()
      .some(([x, y]) =>
        new TextDecoder().decode(Uint8Array.from([...bpe.tokenBytes(x), ...bpe.tokenBytes(y)])).includes('e.'),
      ),
  );
});

test('training is deterministic and stops at minFrequency', () => {
  const again = BpeTokenizer.train(CORPUS, { vocabSize: 400 });
  assert.deepEqual(again.getMerges(), bpe.getMerges());
  const tiny = BpeTokenizer.train('ab ab cd', { vocabSize: 1000 });
  // 'ab' occurs twice and ' ab' once: only pairs seen at least twice are merged.
  assert.deepEqual(tiny.getMerges(), [[0x61, 0x62]]);
  assert.equal(BpeTokenizer.train('ab ab cd', { vocabSize: 1000, minFrequency: 1 }).vocabSize > 258, true);
  assert.throws(() => BpeTokenizer.train('x', { vocabSize: 100 }), ArgumentError);
  // Several texts are pre-tokenised one by one: 'b' + 'c' across the two texts is never a pair.
  assert.deepEqual(BpeTokenizer.train(['ab', 'cab'], { vocabSize: 300 }).getMerges(), [[0x61, 0x62]]);
});

test('decodeBytes gives the exact bytes; decode of a cut character gives U+FFFD', () => {
  const ids = bpe.encode('🐳');
  assert.deepEqual(Array.from(bpe.decodeBytes(ids)), [0xf0, 0x9f, 0x90, 0xb3]);
  const base = new BpeTokenizer([]);
  assert.equal(base.decode([0xf0, 0x9f]), '\ufffd');
  assert.throws(() => bpe.decode([bpe.vocabSize]), ArgumentError);
});

test('save and load (atomic JSON) give an equal tokenizer; bad files are FormatErrors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-bpe-'));
  try {
    const path = join(dir, 'bpe.json');
    await bpe.save(path);
    const loaded = await BpeTokenizer.load(path);
    assert.deepEqual(loaded.getMerges(), bpe.getMerges());
    assert.deepEqual(loaded.encode(CORPUS), bpe.encode(CORPUS));
    assert.deepEqual(BpeTokenizer.fromJSON(JSON.stringify(bpe)).getMerges(), bpe.getMerges());
    await writeFile(path, '{"format": "candor-bpe", "version": 1, "preTokenizer": "gpt2", "merges": [[300, 1]]}');
    await assert.rejects(BpeTokenizer.load(path), FormatError);
    await writeFile(path, 'not json');
    await assert.rejects(BpeTokenizer.load(path), FormatError);
    assert.throws(() => BpeTokenizer.fromJSON({ format: 'other' }), FormatError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

/** Merges that double 'a' again and again: merge r makes token 256 + r of 2^(r + 1) bytes. */
const doubling = (n: number): [number, number][] =>
  Array.from({ length: n }, (_, r) => (r === 0 ? [97, 97] : [255 + r, 255 + r]));

const bpeFile = (merges: unknown): string =>
  JSON.stringify({ format: 'candor-bpe', version: 1, preTokenizer: 'gpt2', merges });

test('a hostile file of doubling merges is a FormatError naming the token-length limit', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'candor-bpe-'));
  try {
    const path = join(dir, 'hostile.json');
    // 40 merges in a few hundred bytes would otherwise ask for 2^41 bytes.
    const text = bpeFile(doubling(40));
    assert.ok(text.length < 600, `${text.length} bytes`);
    await writeFile(path, text);
    await assert.rejects(
      BpeTokenizer.load(path),
      (e: Error) =>
        e instanceof FormatError &&
        /merge 10 \[265, 265\] makes token 266 of 2048 bytes; the limit is 1024 bytes per token/.test(e.message),
    );
    // A file that only passes the limit by a little is refused the same way (merge 10 makes 2048 bytes).
    assert.throws(() => BpeTokenizer.fromJSON(bpeFile(doubling(11))), FormatError);
    assert.throws(() => new BpeTokenizer(doubling(11)), ArgumentError);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('tokens up to the limit load and round-trip; vocabulary size and total bytes are bounded', () => {
  const t = BpeTokenizer.fromJSON(bpeFile(doubling(10))); // token 265 is 'a' * 1024
  assert.equal(t.tokenBytes(265).length, BPE_LIMITS.tokenBytes);
  const s = 'a'.repeat(BPE_LIMITS.tokenBytes + 3);
  assert.deepEqual(t.encode(s), [265, 256, 97]);
  assert.equal(t.decode(t.encode(s)), s);

  // One merge too many for the vocabulary (a sparse array: the count is checked before the merges are read).
  const many = new Array<[number, number]>(BPE_LIMITS.vocabSize - 255);
  assert.throws(
    () => BpeTokenizer.fromJSON({ format: 'candor-bpe', version: 1, preTokenizer: 'gpt2', merges: many }),
    (e: Error) => e instanceof FormatError && /makes? 1048577 tokens; the limit is 1048576 tokens/.test(e.message),
  );
  // Holes are not merges.
  assert.throws(() => new BpeTokenizer(new Array<[number, number]>(3)), /merge 0 is undefined/);

  // Every token under the length limit, but together past the total: tokens of 512 to 1023 bytes ('a' * 512
  // then one byte at a time), each extended by every byte. Refused by counting, before the bytes exist.
  const merges = doubling(9); // token 264 is 'a' * 512
  const long: number[] = [264];
  for (let n = 513; n < 1024; n++) {
    merges.push([long[long.length - 1], 98]);
    long.push(255 + merges.length);
  }
  for (const u of long) for (let b = 0; b < 256 && merges.length < 150_000; b++) if (b !== 98) merges.push([u, b]);
  assert.throws(
    () => new BpeTokenizer(merges),
    (e: Error) => e instanceof ArgumentError && /bytes together; the limit is 67108864/.test(e.message),
  );
});

test('training never makes a token longer than the limit, even on a long run of one letter', () => {
  const t = BpeTokenizer.train(['a'.repeat(5000), 'b'.repeat(3000)], { vocabSize: 300, minFrequency: 1 });
  let longest = 0;
  for (let id = 0; id < t.vocabSize; id++) longest = Math.max(longest, t.tokenBytes(id).length);
  assert.equal(longest, BPE_LIMITS.tokenBytes);
  const text = 'a'.repeat(5000) + ' ' + 'b'.repeat(3000);
  assert.equal(t.decode(t.encode(text)), text);
  assert.deepEqual(BpeTokenizer.fromJSON(JSON.stringify(t)).getMerges(), t.getMerges());
});
