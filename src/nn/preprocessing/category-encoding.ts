// CategoryEncoding and Hashing (Keras): integer categories as one_hot / multi_hot / count rows, and
// strings or integers hashed into numBins bins (see hash.ts for the hash, which differs from Keras').
import { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { ArgumentError, DTypeError, fmtShape } from '../../errors.js';
import { Layer, registerLayer, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { StringTensor, isStringArray } from './string-tensor.js';
import { categoricalOutputShape, encodeCategorical, integerValues, type CategoricalMode } from './encode.js';
import { hash32 } from './hash.js';

type EncodeMode = Exclude<CategoricalMode, 'tf_idf'>;
const ENCODE_MODES: readonly EncodeMode[] = ['one_hot', 'multi_hot', 'count'];

function checkMode(who: string, mode: string, allowed: readonly string[]): void {
  if (!allowed.includes(mode))
    throw new ArgumentError(`${who}: outputMode must be one of ${allowed.join(', ')}, got '${mode}'`);
}

export interface CategoryEncodingArgs extends LayerArgs {
  numTokens: number;
  outputMode?: EncodeMode;
}

export class CategoryEncoding extends Layer {
  static override readonly className = 'CategoryEncoding';
  readonly numTokens: number;
  readonly outputMode: EncodeMode;

  constructor(args: CategoryEncodingArgs) {
    super(args);
    this.numTokens = args.numTokens;
    this.outputMode = args.outputMode ?? 'multi_hot';
    if (!Number.isInteger(this.numTokens) || this.numTokens < 1)
      throw new ArgumentError(`CategoryEncoding '${this.name}': numTokens must be a positive integer`);
    checkMode(`CategoryEncoding '${this.name}'`, this.outputMode, ENCODE_MODES);
    this.built = true;
  }

  override call(inputs: Tensor | Tensor[]): Tensor {
    const who = `CategoryEncoding '${this.name}'`;
    const { values, shape } = integerValues(who, inputs);
    return encodeCategorical(who, values, shape, this.numTokens, this.outputMode);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return categoricalOutputShape(inputShape as SymShape, this.outputMode, this.numTokens);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), numTokens: this.numTokens, outputMode: this.outputMode };
  }
}
registerLayer(CategoryEncoding);

export interface HashingArgs extends LayerArgs {
  numBins: number;
  /** A value (string or integer) hashed to 0, the others to bins 1..numBins-1 (Keras mask_value). */
  maskValue?: string | number | null;
  /** Seeds the hash (a uint32, or two, combined); default 0. */
  salt?: number | readonly [number, number] | null;
  outputMode?: 'int' | EncodeMode;
}

export class Hashing extends Layer {
  static override readonly className = 'Hashing';
  readonly numBins: number;
  readonly maskValue: string | number | null;
  readonly salt: number | readonly [number, number] | null;
  readonly outputMode: 'int' | EncodeMode;
  private readonly seed: number;

  constructor(args: HashingArgs) {
    super(args);
    const who = `Hashing '${this.name}'`;
    this.numBins = args.numBins;
    this.maskValue = args.maskValue ?? null;
    this.salt = args.salt ?? null;
    this.outputMode = args.outputMode ?? 'int';
    const min = this.maskValue === null ? 1 : 2;
    if (!Number.isInteger(this.numBins) || this.numBins < min)
      throw new ArgumentError(`${who}: numBins must be an integer >= ${min}, got ${this.numBins}`);
    checkMode(who, this.outputMode, ['int', ...ENCODE_MODES]);
    const s = this.salt;
    const ok = (v: number) => Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
    if (s !== null && !(typeof s === 'number' ? ok(s) : Array.isArray(s) && s.length === 2 && s.every(ok)))
      throw new ArgumentError(`${who}: salt must be a uint32 or a pair of them, got ${JSON.stringify(s)}`);
    this.seed = s === null ? 0 : typeof s === 'number' ? s : hash32(`${s[0]}:${s[1]}`, 0);
    this.built = true;
  }

  override get takesStrings(): boolean {
    return true;
  }

  /** The bin of one value: integers hash as their decimal strings, as Keras (tf.strings.as_string). */
  bin(value: string | number): number {
    if (this.maskValue !== null && value === this.maskValue) return 0;
    const h = hash32(String(value), this.seed);
    return this.maskValue === null ? h % this.numBins : 1 + (h % (this.numBins - 1));
  }

  override call(inputs: Tensor | Tensor[] | StringTensor): Tensor {
    const who = `Hashing '${this.name}'`;
    let values: (string | number)[], shape: number[];
    if (inputs instanceof StringTensor || isStringArray(inputs)) {
      const s = inputs instanceof StringTensor ? inputs : StringTensor.from(inputs);
      values = [...s.values];
      shape = [...s.shape];
    } else ({ values, shape } = integerValues(who, inputs));
    const bins = Int32Array.from(values, (v) => this.bin(v));
    if (this.outputMode === 'int') return tensor(bins, shape, 'int32');
    return encodeCategorical(who, bins, shape, this.numBins, this.outputMode);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return categoricalOutputShape(inputShape as SymShape, this.outputMode, this.numBins);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      numBins: this.numBins,
      maskValue: this.maskValue,
      salt: this.salt === null ? null : typeof this.salt === 'number' ? this.salt : [...this.salt],
      outputMode: this.outputMode,
    };
  }
}
registerLayer(Hashing);
