// Embedding (Keras): integer ids [batch, ...] -> rows of a learnt [inputDim, outputDim] table, by gather.
import { checkOnHost } from '../../ops/trace.js';
import type { Tensor } from '../../tensor/tensor.js';
import { cast, notEqual } from '../../ops/elementwise.js';
import { gather } from '../../ops/indexing.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import type { MaskArg } from '../masking.js';
import {
  initializerConfig,
  inputShapeError,
  oneInput,
  oneShape,
  positiveInt,
  regularizerConfig,
  who,
} from './common.js';

// Embedding (Keras): maps integer ids [batch, ...] to rows of a learnt table [inputDim, outputDim] by
// gather, so the gradient is a scatter-add into the used rows; maskZero marks id 0 as padding.

export interface EmbeddingArgs extends LayerArgs {
  /** Vocabulary size: ids are in [0, inputDim). */
  inputDim: number;
  /** Size of each embedding vector. */
  outputDim: number;
  /** Default 'randomUniform' (Keras 'uniform': RandomUniform(-0.05, 0.05)). */
  embeddingsInitializer?: InitializerSpec;
  embeddingsRegularizer?: RegularizerSpec | null;
  /** Id 0 is padding: the output carries a mask (id != 0) that downstream layers (LSTM, attention) honour. */
  maskZero?: boolean;
  /** Length of the input sequences when fixed (Keras 2): fills an unknown time dimension in shapes. */
  inputLength?: number | null;
}

export class Embedding extends Layer {
  static override readonly className: string = 'Embedding';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: Initializer;
  readonly embeddingsRegularizer?: Regularizer;
  readonly maskZero: boolean;
  readonly inputLength: number | null;
  /** Made by build(): [inputDim, outputDim]. */
  embeddings?: Variable;

  constructor(args: EmbeddingArgs) {
    super(args);
    this.inputDim = positiveInt(this, 'inputDim', args.inputDim);
    this.outputDim = positiveInt(this, 'outputDim', args.outputDim);
    this.embeddingsInitializer = getInitializer(args.embeddingsInitializer ?? 'randomUniform');
    this.embeddingsRegularizer = getRegularizer(args.embeddingsRegularizer);
    this.maskZero = args.maskZero ?? false;
    this.inputLength = args.inputLength ?? null;
    if (this.inputLength !== null) positiveInt(this, 'inputLength', this.inputLength);
    // Only a maskZero embedding makes a mask (Keras: supports_masking = mask_zero).
    this.supportsMasking = this.maskZero;
  }

  override build(_inputShape: SymShape | SymShape[]): void {
    this.embeddings = this.addWeight('embeddings', [this.inputDim, this.outputDim], this.embeddingsInitializer, {
      regularizer: this.embeddingsRegularizer,
    });
  }

  /**
   * The ids as int32, checked on the host (ids are small): each must be a whole number in [0, inputDim).
   * Float ids are accepted when whole (a NaN or 2.5 would otherwise be truncated to a valid-looking row).
   */
  private ids(x: Tensor): Tensor {
    // checkOnHost: a compiled step checks every replay's ids too.
    checkOnHost(x, (t) => {
      const data = t.dataSync();
      for (let i = 0; i < data.length; i++) {
        const id = data[i];
        if (!(Number.isInteger(id) && id >= 0 && id < this.inputDim)) {
          const what = Number.isInteger(id) ? 'is outside' : 'is not an integer in';
          throw new ArgumentError(
            `${who(this)}: id ${id} at flat index ${i} of the ${t.dtype} input ${what} [0, ${this.inputDim}) ` +
              `(inputDim ${this.inputDim}); expected whole-number ids`,
          );
        }
      }
    });
    return cast(x, 'int32');
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.checkLength(x.shape);
    return gather(this.embeddings!.value, this.ids(x), 0);
  }

  private checkLength(shape: SymShape): void {
    const len = this.inputLength;
    if (len !== null && (shape.length < 2 || (shape[1] !== null && shape[1] !== len))) {
      throw inputShapeError(this, `(None, ${len})`, shape, `inputLength is ${len}`);
    }
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkLength(shape);
    const filled =
      this.inputLength !== null && shape[1] === null ? [shape[0], this.inputLength, ...shape.slice(2)] : shape;
    return [...filled, this.outputDim];
  }

  /** id != 0 when maskZero (same shape as the ids); otherwise no mask. */
  override computeMask(inputs: Tensor | Tensor[], _mask: MaskArg | undefined): MaskArg | undefined {
    return this.maskZero ? notEqual(cast(oneInput(this, inputs), 'int32'), 0) : undefined;
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      embeddingsInitializer: initializerConfig(this.embeddingsInitializer),
      embeddingsRegularizer: regularizerConfig(this.embeddingsRegularizer),
      maskZero: this.maskZero,
      inputLength: this.inputLength,
    };
  }
}

registerLayer(Embedding);
