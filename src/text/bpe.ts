// Byte-level BPE (GPT-2 style): the 256 bytes are the base vocabulary, so every string round-trips.
//
// Ids 0..255 are the bytes; merge r (0-based) makes id 256 + r from two earlier ids. Text is split
// into pieces by GPT-2's pre-tokenisation regex (contractions, optional space + letters, optional
// space + digits, optional space + other symbols, whitespace runs), each piece is UTF-8 encoded and
// merges never cross a piece boundary. Concatenating the pieces gives the text back, so
// decode(encode(s)) === s for every well-formed string (a lone UTF-16 surrogate is not UTF-8 text:
// TextEncoder writes it as U+FFFD, as everywhere else in JS).
//
// Training counts the distinct pieces of the corpus once, then keeps pair counts up to date
// incrementally: a merge only revisits the words that contain its pair (found through an index of
// pair -> words) and applies the count changes; the most frequent pair comes from a lazy max-heap.
import { readFile } from 'node:fs/promises';
import { ArgumentError } from '../errors.js';
import { FormatError } from '../io/safetensors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { concatArrays } from '../tensor/dtype.js';

/** GPT-2's pre-tokenisation pattern (OpenAI's encoder.py), in JS syntax. */
export const GPT2_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** The pieces GPT-2's regex cuts `text` into; their concatenation is `text` (every character matches). */
export function preTokenize(text: string): string[] {
  return text.match(GPT2_SPLIT_PATTERN) ?? [];
}

export interface BpeTrainOptions {
  /** Final vocabulary size: 256 byte tokens plus vocabSize - 256 merges (fewer if pairs run out). */
  vocabSize: number;
  /** A pair seen fewer times than this in the corpus is never merged (default 2). */
  minFrequency?: number;
}

/** Ids stay below 2^21 (BPE_LIMITS.vocabSize is less), so a pair (a, b) packs into one exact number a * 2^21 + b. */
const ID_LIMIT = 2 ** 21;
const pairKey = (a: number, b: number): number => a * ID_LIMIT + b;

/**
 * Limits on what a tokenizer may hold, checked before any token's bytes are allocated: each merge can
 * double a token's length, so 30 merges in a 366-byte file would otherwise ask for 2 GB. Real
 * vocabularies sit far inside them: GPT-2 has 50,257 tokens, the largest in use about 256k; their
 * longest tokens are runs of 64 to 128 bytes, and all the token bytes together take well under 2 MB.
 */
export const BPE_LIMITS = {
  /** Most tokens, byte tokens included (so at most 2^20 - 256 merges). */
  vocabSize: 2 ** 20,
  /** Most bytes one token may stand for. */
  tokenBytes: 1024,
  /** Most bytes all tokens together may stand for (the memory of the id -> bytes table). */
  totalBytes: 64 * 2 ** 20,
} as const;

/**
 * A max-heap of (count, key), the largest count first and, among equal counts, the smallest key (so
 * training is deterministic). Entries go stale when a count changes; the caller skips those.
 */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private above(i: number, j: number): boolean {
    return this.counts[i] > this.counts[j] || (this.counts[i] === this.counts[j] && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j], this.counts[i]];
    [this.keys[i], this.keys[j]] = [this.keys[j], this.keys[i]];
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    for (let i = this.counts.length - 1; i > 0;) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const last = this.counts.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    for (let i = 0; ;) {
      const l = 2 * i + 1,
        r = l + 1;
      let m = i;
      if (l < last && this.above(l, m)) m = l;
      if (r < last && this.above(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}

/** `symbols` with every non-overlapping (a, b), scanned left to right, replaced by `id`. */
function mergePair(symbols: readonly number[], a: number, b: number, id: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < symbols.length; i++) {
    if (i + 1 < symbols.length && symbols[i] === a && symbols[i + 1] === b) {
      out.push(id);
      i++;
    } else out.push(symbols[i]);
  }
  return out;
}

/** Adds `weight` to delta[pair] for every adjacent pair of `symbols`. */
function addPairs(delta: Map<number, number>, symbols: readonly number[], weight: number): void {
  for (let i = 0; i + 1 < symbols.length; i++) {
    const k = pairKey(symbols[i], symbols[i + 1]);
    delta.set(k, (delta.get(k) ?? 0) + weight);
  }
}

const utf8 = new TextEncoder();
const CACHE_LIMIT = 1 << 16;

/** The JSON layout of a saved tokenizer. */
interface BpeFile {
  format: 'candor-bpe';
  version: 1;
  preTokenizer: 'gpt2';
  /** Merge r is [a, b] and makes id 256 + r. */
  merges: [number, number][];
}

export class BpeTokenizer {
  /** Merge r as ids [a, b]; it makes id 256 + r. */
  private readonly merges: readonly (readonly [number, number])[];
  /** pairKey(a, b) -> merge rank. */
  private readonly ranks = new Map<number, number>();
  /** The bytes each id stands for. */
  private readonly bytes: Uint8Array[] = [];
  /** piece -> ids; most text repeats the same words, so encoding each distinct piece once pays. */
  private readonly cache = new Map<string, number[]>();

  /** Throws an ArgumentError (a FormatError from fromJSON/load) for bad ids or merges past BPE_LIMITS. */
  constructor(merges: readonly (readonly [number, number])[]) {
    if (256 + merges.length > BPE_LIMITS.vocabSize)
      throw new ArgumentError(
        `BpeTokenizer: ${merges.length} merges make ${256 + merges.length} tokens; ` +
          `the limit is ${BPE_LIMITS.vocabSize} tokens (${BPE_LIMITS.vocabSize - 256} merges)`,
      );
    // Every length and the total are checked before any token's bytes are allocated.
    const lengths = new Array<number>(256).fill(1);
    let total = 256;
    for (let r = 0; r < merges.length; r++) {
      const id = 256 + r;
      const m = merges[r] as readonly unknown[] | undefined; // a hole in a sparse array is undefined
      if (!Array.isArray(m) || m.length !== 2)
        throw new ArgumentError(`BpeTokenizer: merge ${r} is ${String(m)}; expected an [a, b] pair of ids`);
      const [a, b] = m as [number, number];
      if (![a, b].every((x) => Number.isInteger(x) && x >= 0 && x < id))
        throw new ArgumentError(`BpeTokenizer: merge ${r} is [${a}, ${b}]; both ids must be integers below ${id}`);
      const k = pairKey(a, b);
      if (this.ranks.has(k))
        throw new ArgumentError(`BpeTokenizer: merge ${r} repeats the pair [${a}, ${b}] of merge ${this.ranks.get(k)}`);
      this.ranks.set(k, r);
      const n = lengths[a] + lengths[b];
      if (n > BPE_LIMITS.tokenBytes)
        throw new ArgumentError(
          `BpeTokenizer: merge ${r} [${a}, ${b}] makes token ${id} of ${n} bytes; ` +
            `the limit is ${BPE_LIMITS.tokenBytes} bytes per token`,
        );
      total += n;
      if (total > BPE_LIMITS.totalBytes)
        throw new ArgumentError(
          `BpeTokenizer: tokens 0 to ${id} stand for ${total} bytes together; the limit is ${BPE_LIMITS.totalBytes}`,
        );
      lengths.push(n);
    }
    for (let b = 0; b < 256; b++) this.bytes.push(Uint8Array.of(b));
    for (const [a, b] of merges) {
      const joined = new Uint8Array(this.bytes[a].length + this.bytes[b].length);
      joined.set(this.bytes[a]);
      joined.set(this.bytes[b], this.bytes[a].length);
      this.bytes.push(joined);
    }
    this.merges = merges.map(([a, b]) => [a, b] as const);
  }

  /** Learns up to vocabSize - 256 merges from `corpus` (a text, or texts that are pre-tokenised separately). */
  static train(corpus: string | Iterable<string>, { vocabSize, minFrequency = 2 }: BpeTrainOptions): BpeTokenizer {
    if (!Number.isInteger(vocabSize) || vocabSize < 256 || vocabSize > BPE_LIMITS.vocabSize)
      throw new ArgumentError(
        `BpeTokenizer.train: vocabSize must be an integer in [256, ${BPE_LIMITS.vocabSize}], got ${vocabSize}`,
      );
    if (!Number.isInteger(minFrequency) || minFrequency < 1)
      throw new ArgumentError(`BpeTokenizer.train: minFrequency must be a positive integer, got ${minFrequency}`);
    // Distinct pieces with their counts: merges are learnt on these "words", weighted by count.
    const pieceCounts = new Map<string, number>();
    for (const text of typeof corpus === 'string' ? [corpus] : corpus) {
      for (const p of preTokenize(text)) pieceCounts.set(p, (pieceCounts.get(p) ?? 0) + 1);
    }
    const words: number[][] = [];
    const weights: number[] = [];
    for (const [p, n] of pieceCounts) {
      words.push(Array.from(utf8.encode(p)));
      weights.push(n);
    }
    // Pair counts, and for each pair the words that (may) contain it: entries are never removed from
    // a word set when a merge takes the pair away, the merge loop just finds nothing to do there.
    const counts = new Map<number, number>();
    const where = new Map<number, Set<number>>();
    const index = (k: number, w: number) => {
      let s = where.get(k);
      if (!s) where.set(k, (s = new Set()));
      s.add(w);
    };
    words.forEach((sym, w) => {
      addPairs(counts, sym, weights[w]);
      for (let i = 0; i + 1 < sym.length; i++) index(pairKey(sym[i], sym[i + 1]), w);
    });
    const heap = new PairHeap();
    for (const [k, c] of counts) heap.push(c, k);
    /** Bytes per id, so no merge makes a token past BPE_LIMITS.tokenBytes (a long run of one symbol could). */
    const lengths = new Array<number>(256).fill(1);
    let total = 256;

    const merges: [number, number][] = [];
    while (256 + merges.length < vocabSize && heap.size > 0) {
      const { count, key } = heap.pop();
      if (counts.get(key) !== count) continue; // stale: the pair's count changed after this entry
      if (count < minFrequency) break;
      const a = Math.floor(key / ID_LIMIT),
        b = key % ID_LIMIT,
        id = 256 + merges.length;
      const n = lengths[a] + lengths[b];
      if (n > BPE_LIMITS.tokenBytes) continue; // never merged (a later count change may push it again: skipped again)
      if (total + n > BPE_LIMITS.totalBytes) break;
      lengths.push(n);
      total += n;
      merges.push([a, b]);
      // Count changes of this merge over every affected word: old pairs out, new pairs in.
      const delta = new Map<number, number>();
      for (const w of where.get(key) ?? []) {
        const before = words[w];
        const after = mergePair(before, a, b, id);
        if (after.length === before.length) continue;
        addPairs(delta, before, -weights[w]);
        addPairs(delta, after, weights[w]);
        for (let i = 0; i + 1 < after.length; i++)
          if (after[i] === id || after[i + 1] === id) index(pairKey(after[i], after[i + 1]), w);
        words[w] = after;
      }
      where.delete(key);
      for (const [k, d] of delta) {
        if (d === 0) continue;
        const c = (counts.get(k) ?? 0) + d;
        if (c > 0) {
          counts.set(k, c);
          heap.push(c, k);
        } else counts.delete(k);
      }
    }
    return new BpeTokenizer(merges);
  }

  /** 256 byte tokens plus one per merge. */
  get vocabSize(): number {
    return this.bytes.length;
  }

  /** The merges as [a, b] id pairs, in rank order (merge r makes id 256 + r). */
  getMerges(): [number, number][] {
    return this.merges.map(([a, b]) => [a, b]);
  }

  /** The bytes token `id` stands for (a copy). */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    return this.bytes[id].slice();
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.bytes.length)
      throw new ArgumentError(`BpeTokenizer: token id ${id} is outside [0, ${this.bytes.length})`);
  }

  /** The ids of one piece: its bytes, then repeatedly the lowest-ranked adjacent pair merged everywhere. */
  private encodePiece(piece: string): number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let sym = Array.from(utf8.encode(piece));
    while (sym.length > 1) {
      let best = Infinity;
      for (let i = 0; i + 1 < sym.length; i++) {
        const r = this.ranks.get(pairKey(sym[i], sym[i + 1]));
        if (r !== undefined && r < best) best = r;
      }
      if (best === Infinity) break;
      const [a, b] = this.merges[best];
      sym = mergePair(sym, a, b, 256 + best);
    }
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(piece, sym);
    return sym;
  }

  /** Token ids of `text`. */
  encode(text: string): number[] {
    const out: number[] = [];
    for (const p of preTokenize(text)) for (const id of this.encodePiece(p)) out.push(id);
    return out;
  }

  /** The bytes of a token sequence; a prefix of a sequence may end inside a UTF-8 character. */
  decodeBytes(ids: Iterable<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    for (const id of ids) {
      this.checkId(id);
      parts.push(this.bytes[id]);
    }
    return concatArrays(parts, (n) => new Uint8Array(n));
  }

  /** The text of a token sequence; bytes that are not UTF-8 (a cut character) become U+FFFD. */
  decode(ids: Iterable<number>): string {
    // ignoreBOM: a leading U+FEFF is text like any other and must survive the round trip.
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  toJSON(): BpeFile {
    return { format: 'candor-bpe', version: 1, preTokenizer: 'gpt2', merges: this.getMerges() };
  }

  /** A tokenizer from toJSON() output (an object or its JSON text). */
  static fromJSON(json: unknown): BpeTokenizer {
    let v = json;
    if (typeof v === 'string') {
      try {
        v = JSON.parse(v);
      } catch (e) {
        throw new FormatError(`BpeTokenizer.fromJSON: not JSON (${(e as Error).message})`);
      }
    }
    const f = v as Partial<BpeFile> | null;
    if (typeof f !== 'object' || f === null || f.format !== 'candor-bpe')
      throw new FormatError('BpeTokenizer.fromJSON: not a candor-bpe tokenizer (expected format "candor-bpe")');
    if (f.version !== 1)
      throw new FormatError(
        `BpeTokenizer.fromJSON: unsupported version ${String(f.version)} (this build reads version 1)`,
      );
    if (f.preTokenizer !== 'gpt2')
      throw new FormatError(`BpeTokenizer.fromJSON: unknown preTokenizer ${JSON.stringify(f.preTokenizer)}`);
    if (!Array.isArray(f.merges) || !f.merges.every((m) => Array.isArray(m) && m.length === 2))
      throw new FormatError('BpeTokenizer.fromJSON: merges must be a list of [a, b] id pairs');
    try {
      return new BpeTokenizer(f.merges);
    } catch (e) {
      throw new FormatError(`BpeTokenizer.fromJSON: ${(e as Error).message.replace(/^BpeTokenizer: /, '')}`);
    }
  }

  /** Writes the tokenizer as JSON, atomically (readers see the old file or the new one). */
  async save(path: string): Promise<void> {
    await writeFileAtomic(path, JSON.stringify(this.toJSON()));
  }

  static async load(path: string): Promise<BpeTokenizer> {
    return BpeTokenizer.fromJSON(await readFile(path, 'utf8'));
  }
}
