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

  /** A tokenizer from toJSON() text or Keras' to_json(); counts keep their saved order. */
  static fromJSON(json: string): Tokenizer {
    let parsed: { class_name?: unknown; config?: Record<string, unknown> };
    try {
      parsed = JSON.parse(json) as typeof parsed;
    } catch (e) {
      throw new FormatError(`Tokenizer.fromJSON: not JSON (${(e as Error).message})`);
    }
    const c = parsed?.config;
    if (typeof c !== 'object' || c === null)
      throw new FormatError('Tokenizer.fromJSON: expected {"class_name": "Tokenizer", "config": {...}}');
    const str = (k: string): string => {
      if (typeof c[k] !== 'string') throw new FormatError(`Tokenizer.fromJSON: config.${k} must be a string`);
      return c[k] as string;
    };
    const t = new Tokenizer({
      numWords: (c.num_words as number | null | undefined) ?? null,
      filters: (c.filters as string | undefined) ?? KERAS_FILTERS,
      lower: (c.lower as boolean | undefined) ?? true,
      split: (c.split as string | undefined) ?? ' ',
      charLevel: (c.char_level as boolean | undefined) ?? false,
      oovToken: (c.oov_token as string | null | undefined) ?? null,
    });
    t.documentCount = (c.document_count as number | undefined) ?? 0;
    for (const [w, n] of parseOrderedCounts(str('word_counts'), 'word_counts')) t.wordCounts.set(w, n);
    for (const [w, n] of parseOrderedCounts(str('word_docs'), 'word_docs')) t.wordDocs.set(w, n);
    t.wordIndex = new Map(parseOrderedCounts(str('word_index'), 'word_index'));
    // index_word and index_docs follow from these, as in Keras' tokenizer_from_json.
    t.rebuildInverse();
    return t;
  }
}
