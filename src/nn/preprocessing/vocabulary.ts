// The vocabulary behind StringLookup, IntegerLookup and TextVectorization (Keras' IndexLookup): index
// layout, adapt (counting, frequency order, idf), lookup with mask and OOV tokens, and the config fields.
//
// Index layout (as Keras): in 'int' mode [mask token (when set)] [OOV x numOovIndices] [tokens]; in the
// other modes the mask token has no index and mask tokens in the input are dropped. adapt() orders tokens
// by count, high to low, ties broken by the tokens themselves, high to low (Keras' lexsort reversed).
import { ArgumentError } from '../../errors.js';
import { hash32 } from './hash.js';

export type OutputMode = 'int' | 'one_hot' | 'multi_hot' | 'count' | 'tf_idf';
export type Token = string | number;

export interface VocabularyArgs<K extends Token> {
  /** The most indices, mask and OOV included (null: no cap). */
  maxTokens?: number | null;
  numOovIndices?: number;
  maskToken?: K | null;
  oovToken: K;
  outputMode?: OutputMode;
  padToMaxTokens?: boolean;
  invert?: boolean;
}

/** Tokens compare by count, then by value: strings by code points (UTF-8 byte order), numbers numerically. */
function compareTokens(a: Token, b: Token): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a),
    sb = String(b);
  const ia = sa[Symbol.iterator](),
    ib = sb[Symbol.iterator]();
  for (;;) {
    const x = ia.next(),
      y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

/** Keras' inverse document frequency: log(1 + documents / (1 + documents holding the token)). */
export const inverseDocumentFrequency = (docCount: number, documents: number) =>
  Math.log(1 + documents / (1 + docCount));

export class Vocabulary<K extends Token> {
  readonly maxTokens: number | null;
  readonly numOovIndices: number;
  readonly maskToken: K | null;
  readonly oovToken: K;
  readonly outputMode: OutputMode;
  readonly padToMaxTokens: boolean;
  readonly invert: boolean;
  /** The learned or given tokens, without the special ones; undefined until adapted or set. */
  private tokens?: K[];
  private index = new Map<K, number>();
  /** tf_idf only: one weight per index (OOV first), as long as vocabularySize(). */
  private idf?: Float64Array;

  constructor(
    private readonly who: string,
    args: VocabularyArgs<K>,
  ) {
    this.maxTokens = args.maxTokens ?? null;
    this.numOovIndices = args.numOovIndices ?? 1;
    this.maskToken = args.maskToken ?? null;
    this.oovToken = args.oovToken;
    this.outputMode = args.outputMode ?? 'int';
    this.padToMaxTokens = args.padToMaxTokens ?? false;
    this.invert = args.invert ?? false;
    const modes: OutputMode[] = ['int', 'one_hot', 'multi_hot', 'count', 'tf_idf'];
    if (!modes.includes(this.outputMode))
      throw new ArgumentError(
        `${who}: outputMode must be one of ${modes.join(', ')}, got '${String(this.outputMode)}'`,
      );
    if (!Number.isInteger(this.numOovIndices) || this.numOovIndices < 0)
      throw new ArgumentError(`${who}: numOovIndices must be a non-negative integer, got ${this.numOovIndices}`);
    if (this.maxTokens !== null && (!Number.isInteger(this.maxTokens) || this.maxTokens <= this.tokenStart))
      throw new ArgumentError(
        `${who}: maxTokens must be an integer above the ${this.tokenStart} special indices, got ${this.maxTokens}`,
      );
    if (this.invert && this.outputMode !== 'int')
      throw new ArgumentError(`${who}: invert needs outputMode 'int', got '${this.outputMode}'`);
    if (this.padToMaxTokens && (this.outputMode === 'int' || this.maxTokens === null))
      throw new ArgumentError(`${who}: padToMaxTokens needs maxTokens and an outputMode other than 'int'`);
  }

  get oovStart(): number {
    return this.maskToken !== null && this.outputMode === 'int' ? 1 : 0;
  }
  get tokenStart(): number {
    return this.oovStart + this.numOovIndices;
  }
  get isSet(): boolean {
    return this.tokens !== undefined;
  }

  /** Indices in use, mask and OOV included (Keras vocabulary_size). */
  vocabularySize(): number {
    return this.tokenStart + this.need('vocabularySize').length;
  }

  /** The width of multi_hot / count / tf_idf / one_hot outputs. */
  depth(): number {
    return this.padToMaxTokens ? this.maxTokens! : this.vocabularySize();
  }

  private need(op: string): K[] {
    if (!this.tokens)
      throw new ArgumentError(`${this.who}: has no vocabulary (${op}); call adapt(data) first or pass \`vocabulary\``);
    return this.tokens;
  }

  /** The tokens in index order; with special tokens, a token's position is its index. */
  getVocabulary(includeSpecialTokens = true): K[] {
    const tokens = this.need('getVocabulary');
    if (!includeSpecialTokens) return [...tokens];
    const special: K[] = [];
    if (this.oovStart === 1) special.push(this.maskToken!);
    for (let i = 0; i < this.numOovIndices; i++) special.push(this.oovToken);
    return [...special, ...tokens];
  }

  /** The idf weights (tf_idf), one per index. */
  getIdfWeights(): number[] | undefined {
    return this.idf && Array.from(this.idf);
  }

  /** Sets the tokens (with or without the leading special tokens, as Keras) and, for tf_idf, idf weights. */
  setVocabulary(vocabulary: readonly K[], idfWeights?: readonly number[] | null): void {
    const who = this.who;
    if (this.outputMode === 'tf_idf' && !idfWeights)
      throw new ArgumentError(`${who}: outputMode 'tf_idf' needs idfWeights with the vocabulary`);
    if (this.outputMode !== 'tf_idf' && idfWeights)
      throw new ArgumentError(`${who}: idfWeights are only for outputMode 'tf_idf', not '${this.outputMode}'`);
    if (!Array.isArray(vocabulary) || vocabulary.length === 0)
      throw new ArgumentError(`${who}: the vocabulary must be a non-empty array`);
    const special = this.getSpecial();
    const hasSpecial = special.length > 0 && special.every((t, i) => vocabulary[i] === t);
    const tokens = hasSpecial ? vocabulary.slice(special.length) : [...vocabulary];
    const seen = new Set<K>();
    for (const t of tokens) {
      if (seen.has(t)) throw new ArgumentError(`${who}: the vocabulary repeats the token ${JSON.stringify(t)}`);
      seen.add(t);
      if (this.maskToken !== null && t === this.maskToken)
        throw new ArgumentError(
          `${who}: the mask token ${JSON.stringify(t)} may only come first in the vocabulary ` +
            `(special tokens, in order: ${JSON.stringify(special)})`,
        );
      if (this.invert && t === this.oovToken)
        throw new ArgumentError(`${who}: the OOV token ${JSON.stringify(t)} is inside the vocabulary`);
    }
    const size = this.tokenStart + tokens.length;
    if (this.maxTokens !== null && size > this.maxTokens)
      throw new ArgumentError(`${who}: a vocabulary of ${size} indices exceeds maxTokens ${this.maxTokens}`);
    if (idfWeights) {
      if (idfWeights.length !== vocabulary.length)
        throw new ArgumentError(
          `${who}: idfWeights has ${idfWeights.length} values for a vocabulary of ${vocabulary.length}`,
        );
      // Without special tokens, the OOV weights are the mean of the given ones (as Keras).
      const mean = idfWeights.reduce((a, b) => a + b, 0) / idfWeights.length;
      const front = hasSpecial ? [] : new Array<number>(this.tokenStart).fill(mean);
      this.setIdf([...front, ...idfWeights]);
    }
    this.install(tokens);
  }

  private getSpecial(): K[] {
    const s: K[] = this.oovStart === 1 ? [this.maskToken!] : [];
    for (let i = 0; i < this.numOovIndices; i++) s.push(this.oovToken);
    return s;
  }

  private setIdf(weights: number[]): void {
    const depth = this.padToMaxTokens ? this.maxTokens! : weights.length;
    const idf = new Float64Array(depth);
    idf.set(weights.slice(0, depth));
    this.idf = idf;
  }

  private install(tokens: K[]): void {
    this.tokens = tokens;
    this.index = new Map(tokens.map((t, i) => [t, this.tokenStart + i]));
  }

  /** Learns the vocabulary (and document frequencies for tf_idf) from documents, each a list of tokens. */
  adapt(documents: Iterable<readonly K[]>): void {
    const counts = new Map<K, number>(),
      docCounts = new Map<K, number>();
    let n = 0;
    for (const doc of documents) {
      n++;
      for (const t of doc) counts.set(t, (counts.get(t) ?? 0) + 1);
      if (this.outputMode === 'tf_idf') for (const t of new Set(doc)) docCounts.set(t, (docCounts.get(t) ?? 0) + 1);
    }
    if (this.maskToken !== null) counts.delete(this.maskToken);
    counts.delete(this.oovToken);
    let tokens = [...counts.keys()].sort((a, b) => counts.get(b)! - counts.get(a)! || compareTokens(b, a));
    if (this.maxTokens !== null) tokens = tokens.slice(0, this.maxTokens - this.tokenStart);
    if (this.outputMode === 'tf_idf') {
      const idf = tokens.map((t) => inverseDocumentFrequency(docCounts.get(t)!, n));
      // OOV indices get the mean weight: their real document frequency is not known in one pass (Keras).
      const mean = idf.length ? idf.reduce((a, b) => a + b, 0) / idf.length : 0;
      this.setIdf([...new Array<number>(this.tokenStart).fill(mean), ...idf]);
    }
    this.install(tokens);
  }

  /**
   * The index of one token: the mask token gives 0 in 'int' mode and -1 (dropped) otherwise; unknown
   * tokens the OOV index (hashed over numOovIndices > 1, see hash.ts), or an error with no OOV index.
   */
  lookup(token: K): number {
    if (this.maskToken !== null && token === this.maskToken) return this.outputMode === 'int' ? 0 : -1;
    const i = this.index.get(token);
    if (i !== undefined) return i;
    if (this.numOovIndices === 0)
      throw new ArgumentError(
        `${this.who}: ${JSON.stringify(token)} is not in the vocabulary and numOovIndices is 0; ` +
          'set numOovIndices: 1 to map unknown tokens to an OOV index',
      );
    if (this.numOovIndices === 1) return this.oovStart;
    // Keras: IntegerLookup floormod, StringLookup FarmHash64 (ours: hash32, see hash.ts).
    const bucket =
      typeof token === 'number'
        ? ((token % this.numOovIndices) + this.numOovIndices) % this.numOovIndices
        : hash32(token, 0) % this.numOovIndices;
    return this.oovStart + bucket;
  }

  /** invert: the token at an index (the mask token at 0 in 'int' mode with a mask; OOV for the rest). */
  token(i: number): K {
    const tokens = this.need('invert');
    if (this.oovStart === 1 && i === 0) return this.maskToken!;
    const t = i - this.tokenStart;
    return t >= 0 && t < tokens.length && Number.isInteger(t) ? tokens[t] : this.oovToken;
  }

  /** tf_idf weights, one per output column. */
  idfWeights(): Float64Array {
    if (!this.idf) throw new ArgumentError(`${this.who}: tf_idf has no idf weights; call adapt(data) first`);
    return this.idf;
  }
}
