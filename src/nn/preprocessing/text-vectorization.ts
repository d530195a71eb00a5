// TextVectorization (Keras): raw strings -> standardize -> split -> ngrams -> vocabulary indices, as
// int sequences (padded / truncated to outputSequenceLength) or multi_hot / count / tf_idf rows. The
// vocabulary comes from adapt(strings) or `vocabulary`, and is saved in the config. Index 0 is the mask
// token '' and 1 the OOV token '[UNK]' in 'int' mode; the other modes have OOV at 0 and no mask index.
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { Registry } from '../../registry.js';
import { StringTensor, stringInput } from './string-tensor.js';
import { Vocabulary, type OutputMode } from './vocabulary.js';
import { encodeRows } from './encode.js';

export type StandardizeFn = (text: string) => string;
export type SplitFn = (text: string) => string[];

const standardizers = new Registry<StandardizeFn>('TextVectorization standardize', 'standardize function');
const splitters = new Registry<SplitFn>('TextVectorization split', 'split function');

/** Makes a custom standardize function usable by name and savable in a model's config. */
export function registerStandardize(name: string, fn: StandardizeFn): void {
  standardizers.add(name, fn);
}
/** Makes a custom split function usable by name and savable in a model's config. */
export function registerSplit(name: string, fn: SplitFn): void {
  splitters.add(name, fn);
}

/** string.punctuation, as Keras' DEFAULT_STRIP_REGEX. */
const PUNCTUATION = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
/** tf.strings.lower without an encoding lowercases ASCII letters only; so does this. */
const lowerAscii = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
/** tf.strings.split: runs of ASCII whitespace separate tokens; no empty tokens. */
const WHITESPACE = /[ \t\n\v\f\r]+/;

const BUILTIN_STANDARDIZE = ['lower_and_strip_punctuation', 'lower', 'strip_punctuation'] as const;
const BUILTIN_SPLIT = ['whitespace', 'character'] as const;

export interface TextVectorizationArgs extends LayerArgs {
  maxTokens?: number | null;
  standardize?: (typeof BUILTIN_STANDARDIZE)[number] | string | StandardizeFn | null;
  split?: (typeof BUILTIN_SPLIT)[number] | string | SplitFn | null;
  /** n: ngrams of widths 1..n; a list: those widths; null: the split tokens as they are. */
  ngrams?: number | readonly number[] | null;
  outputMode?: Exclude<OutputMode, 'one_hot'>;
  outputSequenceLength?: number | null;
  padToMaxTokens?: boolean;
  vocabulary?: readonly string[] | null;
  idfWeights?: readonly number[] | null;
}

/** A named or registered function's name (for the config); a function must be registered to be saved. */
function fnName<F>(registry: Registry<F>, v: string | F | null, what: string): string | null {
  if (v === null) return null;
  if (typeof v === 'string') return v;
  const name = registry.names.find((n) => registry.find(n)?.value === v);
  if (!name)
    throw new ArgumentError(
      `TextVectorization: the ${what} function is not registered, so it cannot be saved; ` +
        `register it with register${what === 'split' ? 'Split' : 'Standardize'}(name, fn)`,
    );
  return name;
}

export class TextVectorization extends Layer {
  static override readonly className = 'TextVectorization';
  readonly vocab: Vocabulary<string>;
  private readonly standardize: StandardizeFn | null;
  private readonly splitFn: SplitFn | null;
  private readonly widths: number[] | null;
  private readonly args: TextVectorizationArgs;

  constructor(args: TextVectorizationArgs = {}) {
    super(args);
    this.args = args;
    const who = `TextVectorization '${this.name}'`;
    const outputMode = args.outputMode ?? 'int';
    if (outputMode === ('one_hot' as OutputMode))
      throw new ArgumentError(`${who}: outputMode 'one_hot' is not supported by TextVectorization (Keras neither)`);
    const std = args.standardize === undefined ? 'lower_and_strip_punctuation' : args.standardize;
    this.standardize = this.resolveStandardize(who, std);
    const split = args.split === undefined ? 'whitespace' : args.split;
    this.splitFn = this.resolveSplit(who, split);
    const ng = args.ngrams ?? null;
    if (ng !== null) {
      const widths = typeof ng === 'number' ? Array.from({ length: ng }, (_, i) => i + 1) : [...ng];
      if (widths.length === 0 || widths.some((w) => !Number.isInteger(w) || w < 1))
        throw new ArgumentError(
          `${who}: ngrams must be a positive integer or a list of them, got ${JSON.stringify(ng)}`,
        );
      this.widths = widths;
    } else this.widths = null;
    const len = args.outputSequenceLength ?? null;
    if (len !== null && outputMode !== 'int')
      throw new ArgumentError(`${who}: outputSequenceLength is only for outputMode 'int', not '${outputMode}'`);
    if (len !== null && (!Number.isInteger(len) || len < 1))
      throw new ArgumentError(`${who}: outputSequenceLength must be a positive integer, got ${len}`);
    this.vocab = new Vocabulary<string>(who, {
      maxTokens: args.maxTokens,
      maskToken: '',
      oovToken: '[UNK]',
      numOovIndices: 1,
      outputMode,
      padToMaxTokens: args.padToMaxTokens,
    });
    if (args.vocabulary) this.vocab.setVocabulary(args.vocabulary, args.idfWeights);
    else if (args.idfWeights) throw new ArgumentError(`${who}: idfWeights need a vocabulary`);
    this.built = true;
  }

  private resolveStandardize(who: string, v: TextVectorizationArgs['standardize']): StandardizeFn | null {
    if (v === null || v === undefined) return null;
    if (typeof v === 'function') return v;
    if (v === 'lower') return lowerAscii;
    if (v === 'strip_punctuation') return (s) => s.replace(PUNCTUATION, '');
    if (v === 'lower_and_strip_punctuation') return (s) => lowerAscii(s).replace(PUNCTUATION, '');
    const fn = standardizers.find(v)?.value;
    if (!fn)
      throw new ArgumentError(
        `${who}: standardize must be null, ${BUILTIN_STANDARDIZE.map((s) => `'${s}'`).join(', ')}, ` +
          `a function or the name of one registered with registerStandardize; got '${v}'`,
      );
    return fn;
  }

  private resolveSplit(who: string, v: TextVectorizationArgs['split']): SplitFn | null {
    if (v === null || v === undefined) return null;
    if (typeof v === 'function') return v;
    if (v === 'whitespace') return (s) => s.split(WHITESPACE).filter((t) => t !== '');
    if (v === 'character') return (s) => Array.from(s);
    const fn = splitters.find(v)?.value;
    if (!fn)
      throw new ArgumentError(
        `${who}: split must be null, 'whitespace', 'character', a function or the name of one ` +
          `registered with registerSplit; got '${v}'`,
      );
    return fn;
  }

  private get who(): string {
    return `TextVectorization '${this.name}'`;
  }

  /** The tokens of one string: standardized, split, then ngrams (all 1-grams first, then 2-grams, ...). */
  tokenize(text: string): string[] {
    const s = this.standardize ? this.standardize(text) : text;
    const parts = this.splitFn ? this.splitFn(s) : [s];
    if (!this.widths) return parts;
    const out: string[] = [];
    for (const w of this.widths) for (let i = 0; i + w <= parts.length; i++) out.push(parts.slice(i, i + w).join(' '));
    return out;
  }

  /** One string per sample: shape [n] or [n, 1] (as Keras, when splitting). */
  private texts(inputs: unknown): readonly string[] {
    const s = stringInput(this.who, inputs);
    if (s.rank === 2 && s.shape[1] !== 1)
      throw new ArgumentError(
        `${this.who}: takes one string per sample (shape [n] or [n, 1]), got shape [${s.shape.join(', ')}]`,
      );
    return s.values;
  }

  /** Learns the vocabulary (and, for tf_idf, document frequencies) from strings, one document each. */
  adapt(data: readonly string[] | StringTensor | Iterable<readonly string[] | StringTensor>): void {
    if (typeof data !== 'object' || data === null || !(Symbol.iterator in data))
      throw new ArgumentError(
        `${this.who}: adapt takes strings (a string[], a StringTensor or an iterable of batches of them)` +
          (typeof data === 'object' && data !== null && Symbol.asyncIterator in data
            ? '; for a Dataset, collect its texts first (for await ... of dataset)'
            : ''),
      );
    const batches: (readonly string[] | StringTensor)[] =
      data instanceof StringTensor || (Array.isArray(data) && (data.length === 0 || typeof data[0] === 'string'))
        ? [data as readonly string[]]
        : [...(data as Iterable<readonly string[] | StringTensor>)];
    const self = this;
    this.vocab.adapt(
      (function* () {
        for (const b of batches) for (const text of self.texts(b)) yield self.tokenize(text);
      })(),
    );
  }

  setVocabulary(vocabulary: readonly string[], idfWeights?: readonly number[]): void {
    this.vocab.setVocabulary(vocabulary, idfWeights);
  }
  getVocabulary(includeSpecialTokens = true): string[] {
    return this.vocab.getVocabulary(includeSpecialTokens);
  }
  vocabularySize(): number {
    return this.vocab.vocabularySize();
  }

  override get takesStrings(): boolean {
    return true;
  }

  override call(inputs: Tensor | Tensor[] | StringTensor): Tensor {
    const texts = this.texts(inputs);
    const mode = this.vocab.outputMode;
    this.vocab.vocabularySize(); // calling before adapt() or a vocabulary is an error, in every mode
    const rows = texts.map((t) => Int32Array.from(this.tokenize(t), (tok) => this.vocab.lookup(tok)));
    if (mode === 'int') {
      const len = this.args.outputSequenceLength ?? rows.reduce((m, r) => Math.max(m, r.length), 0);
      const out = new Int32Array(rows.length * len); // zeros: the mask index pads
      rows.forEach((r, i) => out.set(r.subarray(0, len), i * len));
      return tensor(out, [rows.length, len], 'int32');
    }
    const depth = this.vocab.depth();
    if (mode === 'one_hot') throw new ArgumentError(`${this.who}: outputMode 'one_hot' is not supported`);
    const idf = mode === 'tf_idf' ? this.vocab.idfWeights() : undefined;
    return tensor(encodeRows(this.who, rows, depth, mode, idf), [rows.length, depth]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const batch = (inputShape as SymShape)[0] ?? null;
    if (this.vocab.outputMode === 'int') return [batch, this.args.outputSequenceLength ?? null];
    return [batch, this.vocab.depth()];
  }

  override getConfig(): LayerConfig {
    const v = this.vocab;
    const idf = v.getIdfWeights();
    const std = this.args.standardize === undefined ? 'lower_and_strip_punctuation' : this.args.standardize;
    const split = this.args.split === undefined ? 'whitespace' : this.args.split;
    return {
      ...super.getConfig(),
      maxTokens: v.maxTokens,
      standardize: fnName(standardizers, std, 'standardize'),
      split: fnName(splitters, split, 'split'),
      ngrams: this.args.ngrams === undefined || this.args.ngrams === null ? null : this.args.ngrams,
      outputMode: v.outputMode as Exclude<OutputMode, 'one_hot'>,
      outputSequenceLength: this.args.outputSequenceLength ?? null,
      padToMaxTokens: v.padToMaxTokens,
      vocabulary: v.isSet ? v.getVocabulary(true) : null,
      idfWeights: idf ? idf.slice(0, v.vocabularySize()) : null,
    };
  }
}
registerLayer(TextVectorization);
