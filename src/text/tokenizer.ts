// Keras' text Tokenizer (keras.preprocessing.text): word (or character) indices by frequency, with
// Keras' exact splitting, ordering, numWords/oovToken rules and its to_json() format.
//
// Index 0 is reserved (padding); the oovToken, when given, is index 1; then words by descending count,
// ties in order of first appearance (Python's stable sort over an insertion-ordered dict).
import { ArgumentError } from '../errors.js';
import { FormatError } from '../io/safetensors.js';
import { fromTypedArray, type Tensor } from '../tensor/tensor.js';
import { parseOrderedCounts, pyDumps, type PyJson } from './pyjson.js';

/** Keras' default `filters`: ASCII punctuation (except the apostrophe), tab and newline. */
export const KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n';

export interface TextToWordSequenceOptions {
  /** Characters replaced by `split` before splitting (default KERAS_FILTERS). */
  filters?: string;
  lower?: boolean;
  split?: string;
}

/**
 * Keras text_to_word_sequence: lower-cases, turns every filter character into `split`, splits on
 * `split` and drops empty pieces. Characters are code points, as in Python.
 */
export function textToWordSequence(
  text: string,
  { filters = KERAS_FILTERS, lower = true, split = ' ' }: TextToWordSequenceOptions = {},
): string[] {
  if (split === '') throw new ArgumentError('textToWordSequence: split must not be empty');
  let s = lower ? text.toLowerCase() : text;
  if (filters.length > 0) s = s.replace(filterPattern(filters), () => split); // a function: '$' in split is literal
  return s.split(split).filter((w) => w !== '');
}

const filterPatterns = new Map<string, RegExp>();

/** A character class matching any one of `filters` (code points, as Python's str.translate sees them). */
function filterPattern(filters: string): RegExp {
  let re = filterPatterns.get(filters);
  if (!re) {
    re = new RegExp(`[${[...filters].map((ch) => ch.replace(/[\\\]^-]/u, '\\$&')).join('')}]`, 'gu');
    filterPatterns.set(filters, re);
  }
  return re;
}

export interface TokenizerOptions extends TextToWordSequenceOptions {
  /** Keep only the numWords - 1 most frequent words in textsToSequences (null: all). */
  numWords?: number | null;
  /** Every character is a token (filters and split are not applied). */
  charLevel?: boolean;
  /** Stands for words outside the vocabulary (index 1); without it they are dropped. */
  oovToken?: string | null;
}

/** A text, or a text already split into tokens (Keras accepts lists of strings too). */
export type TextInput = string | readonly string[];

export type MatrixMode = 'binary' | 'count' | 'tfidf' | 'freq';

/** A short description of a JSON value for an error (never the whole of a large or deeply nested one). */
function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object' && v !== null) return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

export class Tokenizer {
  readonly numWords: number | null;
  readonly filters: string;
  readonly lower: boolean;
  readonly split: string;
  readonly charLevel: boolean;
  readonly oovToken: string | null;
  /** Texts seen by fitOnTexts. */
  documentCount = 0;
  /** Occurrences of each token over all fitted texts, in first-appearance order. */
  readonly wordCounts = new Map<string, number>();
  /** Number of fitted texts each token occurs in, in first-appearance order. */
  readonly wordDocs = new Map<string, number>();
  /** Token -> index (1-based; the oovToken is 1). Rebuilt by every fitOnTexts. */
  wordIndex = new Map<string, number>();
  /** Index -> token. */
  indexWord = new Map<number, string>();
  /** Index -> number of documents containing it. */
  indexDocs = new Map<number, number>();

  constructor({
    numWords = null,
    filters = KERAS_FILTERS,
    lower = true,
    split = ' ',
    charLevel = false,
    oovToken = null,
  }: TokenizerOptions = {}) {
    if (numWords !== null && (!Number.isInteger(numWords) || numWords < 0))
      throw new ArgumentError(`Tokenizer: numWords must be a non-negative integer or null, got ${numWords}`);
    if (split === '') throw new ArgumentError('Tokenizer: split must not be empty');
    this.numWords = numWords;
    this.filters = filters;
    this.lower = lower;
    this.split = split;
    this.charLevel = charLevel;
    this.oovToken = oovToken;
  }

  /** The tokens of one text, as Keras splits it (characters when charLevel or when given a list). */
  tokenize(text: TextInput): string[] {
    if (typeof text !== 'string') return text.map((t) => (this.lower ? t.toLowerCase() : t));
    if (this.charLevel) return [...(this.lower ? text.toLowerCase() : text)];
    return textToWordSequence(text, { filters: this.filters, lower: this.lower, split: this.split });
  }

  /** Counts tokens and (re)builds wordIndex over everything fitted so far. */
  fitOnTexts(texts: Iterable<TextInput>): void {
    for (const text of texts) {
      this.documentCount++;
      const seq = this.tokenize(text);
      for (const w of seq) this.wordCounts.set(w, (this.wordCounts.get(w) ?? 0) + 1);
      for (const w of new Set(seq)) this.wordDocs.set(w, (this.wordDocs.get(w) ?? 0) + 1);
    }
    // Array.prototype.sort is stable: equal counts keep first-appearance order, as Python's sort does.
    const sorted = [...this.wordCounts].sort((a, b) => b[1] - a[1]).map(([w]) => w);
    const vocab = this.oovToken === null ? sorted : [this.oovToken, ...sorted];
    // As Python's dict(zip(...)): a repeated key (the oovToken also seen as a word) takes its last index.
    this.wordIndex = new Map();
    vocab.forEach((w, i) => this.wordIndex.set(w, i + 1));
    this.rebuildInverse();
  }

  /** indexWord and indexDocs from wordIndex and wordDocs (Keras builds them the same way). */
  private rebuildInverse(): void {
    this.indexWord = new Map([...this.wordIndex].map(([w, i]) => [i, w]));
    this.indexDocs = new Map();
    for (const [w, c] of this.wordDocs) {
      const i = this.wordIndex.get(w);
      if (i !== undefined) this.indexDocs.set(i, c);
    }
  }

  /** Whether index i is kept by numWords (Keras: `if num_words and i >= num_words` drops it). */
  private kept(i: number): boolean {
    return !this.numWords || i < this.numWords;
  }

  private get oovIndex(): number | undefined {
    return this.oovToken === null ? undefined : this.wordIndex.get(this.oovToken);
  }

  /** Each text as token indices; unknown or beyond-numWords tokens become the oov index, or are dropped. */
  textsToSequences(texts: Iterable<TextInput>): number[][] {
    const oov = this.oovIndex;
    const out: number[][] = [];
    for (const text of texts) {
      const vect: number[] = [];
      for (const w of this.tokenize(text)) {
        const i = this.wordIndex.get(w);
        if (i !== undefined && this.kept(i)) vect.push(i);
        else if (oov !== undefined) vect.push(oov); // unknown, or beyond numWords
      }
      out.push(vect);
    }
    return out;
  }

  /** Each sequence back to text: its tokens joined by ' ' (for characters too, as Keras does). */
  sequencesToTexts(sequences: Iterable<Iterable<number>>): string[] {
    const oov = this.oovIndex;
    const oovWord = oov === undefined ? undefined : this.indexWord.get(oov);
    const out: string[] = [];
    for (const seq of sequences) {
      const words: string[] = [];
      for (const i of seq) {
        const w = this.indexWord.get(i);
        if (w !== undefined && this.kept(i)) words.push(w);
        else if (oovWord !== undefined) words.push(oovWord);
      }
      out.push(words.join(' '));
    }
    return out;
  }

  /**
   * Keras sequences_to_matrix: float32 [texts, numWords] rows of 'binary' presence, 'count', 'freq'
   * (count / length) or 'tfidf' (1 + ln(count)) * ln(1 + docs / (1 + docsWithWord)). Index 0 stays 0.
   */
  sequencesToMatrix(sequences: readonly (readonly number[])[], mode: MatrixMode = 'binary'): Tensor {
    const n = this.numWords ?? (this.wordIndex.size > 0 ? this.wordIndex.size + 1 : 0);
    if (!n) throw new ArgumentError('Tokenizer.sequencesToMatrix: set numWords or fit the tokenizer first');
    if (mode === 'tfidf' && this.documentCount === 0)
      throw new ArgumentError("Tokenizer.sequencesToMatrix: fit the tokenizer before using mode 'tfidf'");
    const out = new Float32Array(sequences.length * n);
    sequences.forEach((seq, row) => {
      if (seq.length === 0) return;
      const counts = new Map<number, number>();
      for (const j of seq) if (j < n) counts.set(j, (counts.get(j) ?? 0) + 1);
      for (const [j, c] of counts) {
        let v: number;
        if (mode === 'count') v = c;
        else if (mode === 'freq') v = c / seq.length;
        else if (mode === 'binary') v = 1;
        else if (mode === 'tfidf')
          v = (1 + Math.log(c)) * Math.log(1 + this.documentCount / (1 + (this.indexDocs.get(j) ?? 0)));
        else
          throw new ArgumentError(
            `Tokenizer.sequencesToMatrix: unknown mode '${mode as string}'; expected binary, count, tfidf or freq`,
          );
        out[row * n + j] = v;
      }
    });
    return fromTypedArray(out, [sequences.length, n]);
  }

  /** textsToSequences then sequencesToMatrix. */
  textsToMatrix(texts: Iterable<TextInput>, mode: MatrixMode = 'binary'): Tensor {
    return this.sequencesToMatrix(this.textsToSequences(texts), mode);
  }

  /** The same text as Keras' tokenizer.to_json(): loadable by keras' tokenizer_from_json and by fromJSON. */
  toJSON(): string {
    const entries = <K>(m: Map<K, number | string>): PyJson => ({ entries: [...m].map(([k, v]) => [String(k), v]) });
    const config: [string, PyJson][] = [
      ['num_words', this.numWords],
      ['filters', this.filters],
      ['lower', this.lower],
      ['split', this.split],
      ['char_level', this.charLevel],
      ['oov_token', this.oovToken],
      ['document_count', this.documentCount],
      ['word_counts', pyDumps(entries(this.wordCounts))],
      ['word_docs', pyDumps(entries(this.wordDocs))],
      ['index_docs', pyDumps(entries(this.indexDocs))],
      ['index_word', pyDumps(entries(this.indexWord))],
      ['word_index', pyDumps(entries(this.wordIndex))],
    ];
    return pyDumps({
      entries: [
        ['class_name', 'Tokenizer'],
        ['config', { entries: config }],
      ],
    });
  }

  /**
   * A tokenizer from toJSON() text or Keras' to_json(); counts keep their saved order. Anything Keras would
   * not have written is a FormatError naming the field: wrong types, counts that are not positive integers,
   * word indices that are not positive integers (0 is padding) or that two words share, repeated keys.
   */
  static fromJSON(json: string): Tokenizer {
    const fail = (why: string): never => {
      throw new FormatError(`Tokenizer.fromJSON: ${why}`);
    };
    if (typeof json !== 'string') fail(`expected JSON text, got ${json === null ? 'null' : typeof json}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(json);
    } catch (e) {
      fail(`not JSON (${(e as Error).message})`);
    }
    const isObject = (v: unknown): v is Record<string, unknown> =>
      typeof v === 'object' && v !== null && !Array.isArray(v);
    if (!isObject(parsed) || !isObject(parsed.config)) fail('expected {"class_name": "Tokenizer", "config": {...}}');
    const { class_name: className, config: c } = parsed as { class_name?: unknown; config: Record<string, unknown> };
    if (className !== undefined && className !== 'Tokenizer')
      fail(`class_name is ${describe(className)}, expected "Tokenizer"`);
    /** config[k] when it passes `ok`; `fallback` when it is absent (Keras writes every field, null included). */
    const field = <T>(k: string, ok: (v: unknown) => boolean, expected: string, fallback: T): T => {
      const v = c[k];
      if (v === undefined) return fallback;
      if (!ok(v)) fail(`config.${k} must be ${expected}, got ${describe(v)}`);
      return v as T;
    };
    const isCount = (min: number) => (v: unknown) => Number.isSafeInteger(v) && (v as number) >= min;
    const isString = (v: unknown) => typeof v === 'string';
    const isBoolean = (v: unknown) => typeof v === 'boolean';
    const t = new Tokenizer({
      numWords: field<number | null>('num_words', (v) => v === null || isCount(0)(v), 'null or an integer >= 0', null),
      filters: field('filters', isString, 'a string', KERAS_FILTERS),
      lower: field('lower', isBoolean, 'a boolean', true),
      split: field('split', (v) => isString(v) && v !== '', 'a non-empty string', ' '),
      charLevel: field('char_level', isBoolean, 'a boolean', false),
      oovToken: field<string | null>('oov_token', (v) => v === null || isString(v), 'null or a string', null),
    });
    t.documentCount = field('document_count', isCount(0), 'an integer >= 0', 0);
    /** The entries of the nested JSON text config[k], each value an integer >= min. */
    const counts = (k: string, min: number, what: string): [string, number][] => {
      const text = c[k];
      if (typeof text !== 'string') fail(`config.${k} must be a string holding a JSON object`);
      const entries = parseOrderedCounts(text as string, `config.${k}`);
      for (const [w, n] of entries)
        if (!isCount(min)(n)) fail(`config.${k}: ${describe(w)} has ${what} ${n}; expected an integer >= ${min}`);
      return entries;
    };
    for (const [w, n] of counts('word_counts', 1, 'count')) t.wordCounts.set(w, n);
    for (const [w, n] of counts('word_docs', 1, 'document count')) {
      if (n > t.documentCount)
        fail(`config.word_docs: ${describe(w)} is in ${n} documents, but document_count is ${t.documentCount}`);
      t.wordDocs.set(w, n);
    }
    // Index 0 is padding; two words on one index would decode one of them as the other.
    const owner = new Map<number, string>();
    for (const [w, i] of counts('word_index', 1, 'index')) {
      const other = owner.get(i);
      if (other !== undefined) fail(`config.word_index: ${describe(w)} and ${describe(other)} both have index ${i}`);
      owner.set(i, w);
    }
    t.wordIndex = new Map([...owner].map(([i, w]) => [w, i]));
    // index_word and index_docs follow from these, as in Keras' tokenizer_from_json.
    t.rebuildInverse();
    return t;
  }
}
