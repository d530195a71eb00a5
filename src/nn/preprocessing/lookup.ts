// StringLookup and IntegerLookup (Keras): map strings or integers to indices of a vocabulary, given or
// learnt by adapt(), with mask and OOV tokens, inverse lookup, and one_hot / multi_hot / count / tf_idf
// outputs. The vocabulary is part of the config, so a saved model keeps it (see vocabulary.ts).
import { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { ArgumentError, DTypeError, fmtShape } from '../../errors.js';
import { Layer, registerLayer, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { StringTensor, stringInput } from './string-tensor.js';
import { Vocabulary, type OutputMode, type Token } from './vocabulary.js';
import { categoricalOutputShape, encodeCategorical, integerValues } from './encode.js';

export interface LookupArgs<K extends Token> extends LayerArgs {
  maxTokens?: number | null;
  numOovIndices?: number;
  maskToken?: K | null;
  oovToken?: K;
  vocabulary?: readonly K[] | null;
  idfWeights?: readonly number[] | null;
  invert?: boolean;
  outputMode?: OutputMode;
  padToMaxTokens?: boolean;
}

abstract class IndexLookup<K extends Token> extends Layer {
  readonly vocab: Vocabulary<K>;

  constructor(args: LookupArgs<K>, oovToken: K) {
    super(args);
    this.vocab = new Vocabulary<K>(`${this.className} '${this.name}'`, {
      ...args,
      oovToken: args.oovToken ?? oovToken,
    });
    if (args.vocabulary) this.vocab.setVocabulary(args.vocabulary, args.idfWeights);
    else if (args.idfWeights) throw new ArgumentError(`${this.who}: idfWeights need a vocabulary`);
    this.built = true;
  }

  protected get who(): string {
    return `${this.className} '${this.name}'`;
  }

  /** The keys of the input, flat, and its shape; a typed error for the wrong kind of input. */
  protected abstract keys(inputs: unknown): { keys: K[]; shape: number[] };

  /** Learns the vocabulary: each sample (a row of a [n, k] input, or one value of a [n] input) is a document. */
  adapt(data: unknown): void {
    const { keys, shape } = this.keys(data);
    const k = shape.length > 1 ? shape[shape.length - 1] : 1;
    const docs: K[][] = [];
    for (let i = 0; i < keys.length; i += k) docs.push(keys.slice(i, i + k));
    this.vocab.adapt(docs);
  }

  setVocabulary(vocabulary: readonly K[], idfWeights?: readonly number[]): void {
    this.vocab.setVocabulary(vocabulary, idfWeights);
  }
  getVocabulary(includeSpecialTokens = true): K[] {
    return this.vocab.getVocabulary(includeSpecialTokens);
  }
  vocabularySize(): number {
    return this.vocab.vocabularySize();
  }

  /** The tokens at indices (invert: true), in the shape of `ids`. */
  protected invertValues(ids: Tensor): K[] {
    if (!this.vocab.invert) throw new ArgumentError(`${this.who}: inverse lookup needs invert: true`);
    if (!(ids instanceof Tensor)) throw new DTypeError(`${this.who} (invert: true) takes a tensor of indices`);
    return Array.from(ids.dataSync(), (i) => this.vocab.token(i));
  }

  /** IntegerLookup inverts in call(); StringLookup's tokens are strings, which invertLookup returns. */
  protected abstract invertCall(ids: Tensor): Tensor;

  override call(inputs: Tensor | Tensor[] | StringTensor): Tensor {
    if (this.vocab.invert) return this.invertCall(inputs as Tensor);
    const { keys, shape } = this.keys(inputs);
    const ids = Int32Array.from(keys, (key) => this.vocab.lookup(key));
    const mode = this.vocab.outputMode;
    if (mode === 'int') {
      this.vocab.vocabularySize(); // an unset vocabulary is an error here too
      return tensor(ids, shape, 'int32');
    }
    const idf = mode === 'tf_idf' ? this.vocab.idfWeights() : undefined;
    return encodeCategorical(this.who, ids, shape, this.vocab.depth(), mode, idf);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = inputShape as SymShape;
    return categoricalOutputShape(
      shape,
      this.vocab.outputMode,
      this.vocab.outputMode === 'int' ? 0 : this.vocab.depth(),
    );
  }

  override getConfig(): LayerConfig {
    const v = this.vocab;
    const idf = v.getIdfWeights();
    return {
      ...super.getConfig(),
      maxTokens: v.maxTokens,
      numOovIndices: v.numOovIndices,
      maskToken: v.maskToken,
      oovToken: v.oovToken,
      outputMode: v.outputMode,
      padToMaxTokens: v.padToMaxTokens,
      invert: v.invert,
      vocabulary: v.isSet ? v.getVocabulary(true) : null,
      idfWeights: idf ? idf.slice(0, v.vocabularySize()) : null,
    };
  }
}

export class StringLookup extends IndexLookup<string> {
  static override readonly className = 'StringLookup';

  constructor(args: LookupArgs<string> = {}) {
    super(args, '[UNK]');
  }

  protected keys(inputs: unknown): { keys: string[]; shape: number[] } {
    const s = stringInput(this.who, inputs);
    return { keys: [...s.values], shape: [...s.shape] };
  }

  override get takesStrings(): boolean {
    return !this.vocab.invert;
  }

  /**
   * invert: true gives strings, which cannot flow into the tensor layers of a model: call this instead of
   * apply() (Keras returns a string tensor).
   */
  invertLookup(ids: Tensor): StringTensor {
    const values = this.invertValues(ids);
    if (ids.rank === 0 || ids.rank > 2)
      throw new ArgumentError(`${this.who}: invert takes indices of shape [n] or [n, k], got ${fmtShape(ids.shape)}`);
    return new StringTensor(values, ids.shape);
  }

  protected invertCall(): Tensor {
    throw new ArgumentError(`${this.who}: with invert: true it returns strings; call layer.invertLookup(ids)`);
  }
}
registerLayer(StringLookup);

export class IntegerLookup extends IndexLookup<number> {
  static override readonly className = 'IntegerLookup';

  constructor(args: LookupArgs<number> = {}) {
    super(args, -1);
  }

  protected keys(inputs: unknown): { keys: number[]; shape: number[] } {
    const { values, shape } = integerValues(this.who, inputs);
    return { keys: values, shape };
  }

  protected invertCall(ids: Tensor): Tensor {
    return tensor(Int32Array.from(this.invertValues(ids)), ids.shape, 'int32');
  }
}
registerLayer(IntegerLookup);
