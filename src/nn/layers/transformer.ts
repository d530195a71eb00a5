// TransformerEncoder and TransformerDecoder blocks (KerasNLP), post-norm or pre-norm.
import type { Tensor } from '../../tensor/tensor.js';
import { add } from '../../ops/elementwise.js';
import { drawSeed, mixSeeds } from '../../ops/random.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { firstMask, type MaskArg } from '../masking.js';
import {
  initializerConfig,
  inputShapeError,
  oneInput,
  oneShape,
  positiveInt,
  resolveActivation,
  who,
} from './common.js';
import { MultiHeadAttention, type AttendOptions, type AttentionCache } from './attention.js';
import { LayerNormalization } from './layer-norm.js';
import { Dense } from './dense.js';
import { Dropout } from './dropout.js';
import { buildSublayer } from './sublayers.js';

// TransformerEncoder and TransformerDecoder blocks (KerasNLP): self-attention (causal in the decoder),
// optional cross-attention to encoder outputs in the decoder, and a feed-forward network, each wrapped in
// dropout + residual + LayerNormalization, either after the residual (post-norm, the paper) or before the
// sublayer (pre-norm, normalizeFirst). Sublayers are named after the block so weights save by name.

export interface TransformerArgs extends LayerArgs {
  /** Width of the feed-forward network's hidden layer. */
  intermediateDim: number;
  /** Attention heads; each has keyDim = features / numHeads. */
  numHeads: number;
  /** Dropout on attention probabilities and on each sublayer's output while training. Default 0. */
  dropout?: number;
  /** Activation of the feed-forward hidden layer. Default 'relu'. */
  activation?: string | null;
  /** Default 1e-5 (KerasNLP). */
  layerNormEpsilon?: number;
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  /** Pre-norm (normalize before each sublayer) instead of post-norm. Default false. */
  normalizeFirst?: boolean;
  /** Seed of all the block's dropout masks; default one drawn from the global stream. */
  seed?: number | null;
}

/** One residual sublayer: its norm and its output dropout. */
interface Residual {
  norm: LayerNormalization;
  dropout: Dropout;
}

/** What the encoder and decoder share: arguments, config, the residual wrapper and the feed-forward block. */
abstract class TransformerBlock extends Layer {
  readonly intermediateDim: number;
  readonly numHeads: number;
  readonly dropout: number;
  readonly activation: string;
  readonly layerNormEpsilon: number;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly normalizeFirst: boolean;
  readonly seed: number;
  override supportsMasking = true;
  /** Made by build(): the feed-forward sublayers. */
  protected feedforward?: Residual & { intermediate: Dense; output: Dense };
  /** Counter for sublayer seeds, so each dropout draws its own masks from the block's seed. */
  private seeds = 0;

  constructor(args: TransformerArgs) {
    super(args);
    this.intermediateDim = positiveInt(this, 'intermediateDim', args.intermediateDim);
    this.numHeads = positiveInt(this, 'numHeads', args.numHeads);
    this.dropout = args.dropout ?? 0;
    if (typeof this.dropout !== 'number' || !(this.dropout >= 0 && this.dropout < 1))
      throw new ArgumentError(`${who(this)}: dropout must be a number in [0, 1), got ${JSON.stringify(args.dropout)}`);
    this.activation = resolveActivation(args.activation === undefined ? 'relu' : args.activation).name;
    this.layerNormEpsilon = args.layerNormEpsilon ?? 1e-5;
    if (!(this.layerNormEpsilon > 0))
      throw new ArgumentError(`${who(this)}: layerNormEpsilon must be positive, got ${this.layerNormEpsilon}`);
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform');
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros');
    this.normalizeFirst = args.normalizeFirst ?? false;
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
  }

  /** Common arguments of every sublayer: name under the block, dtype, and a seed derived from the block's. */
  private sub(name: string): { name: string; dtype: 'float32' | 'float64'; seed: number } {
    return { name: `${this.name}/${name}`, dtype: this.dtype, seed: mixSeeds(this.seed, ++this.seeds) };
  }

  /** The [batch, time, features] input shape with known features. */
  protected sequenceShape(shape: SymShape, what = 'input'): SymShape {
    if (shape.length !== 3)
      throw inputShapeError(
        this,
        '(None, time, features)',
        shape,
        `the ${what} must have rank 3 (batch, time, features)`,
      );
    if (shape[2] === null)
      throw new ShapeError(
        `${who(this)}: the feature dimension of the ${what} must be known, got ${formatSymShape(shape)}`,
      );
    const built = this.feedforward?.output.units;
    if (built !== undefined && what === 'input' && shape[2] !== built)
      throw inputShapeError(this, `(None, time, ${built})`, shape, `the last dimension must be ${built}`);
    return shape;
  }

  /** A self- or cross-attention sublayer with its norm and dropout, built for these query/value shapes. */
  protected attentionBlock(
    name: string,
    query: SymShape,
    value: SymShape,
  ): Residual & { attention: MultiHeadAttention } {
    const features = query[2]!;
    const keyDim = Math.floor(features / this.numHeads);
    if (keyDim < 1)
      throw new ArgumentError(`${who(this)}: numHeads ${this.numHeads} exceeds the ${features} features of the input`);
    const attention = new MultiHeadAttention({
      ...this.sub(name),
      numHeads: this.numHeads,
      keyDim,
      dropout: this.dropout,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
    });
    buildSublayer(attention, [query, value]);
    return { attention, ...this.residual(name, query) };
  }

  private residual(name: string, shape: SymShape): Residual {
    const norm = new LayerNormalization({
      name: `${this.name}/${name}_layer_norm`,
      dtype: this.dtype,
      epsilon: this.layerNormEpsilon,
    });
    buildSublayer(norm, shape);
    const dropout = new Dropout({ ...this.sub(`${name}_dropout`), rate: this.dropout });
    return { norm, dropout };
  }

  /** The feed-forward sublayers, made last (KerasNLP's weight order). */
  protected buildFeedforward(shape: SymShape): void {
    const common = {
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
      dtype: this.dtype,
    };
    const intermediate = new Dense({
      ...common,
      name: `${this.name}/feedforward_intermediate_dense`,
      units: this.intermediateDim,
      activation: this.activation,
    });
    const output = new Dense({ ...common, name: `${this.name}/feedforward_output_dense`, units: shape[2]! });
    const { norm, dropout } = this.residual('feedforward', shape);
    buildSublayer(intermediate, shape);
    buildSublayer(output, [shape[0], shape[1], this.intermediateDim]);
    this.feedforward = { norm, dropout, intermediate, output };
  }

  /** x + dropout(f(norm(x))) (pre-norm) or norm(x + dropout(f(x))) (post-norm). */
  protected residualApply(block: Residual, x: Tensor, ctx: CallContext, f: (x: Tensor) => Tensor): Tensor {
    const inner = f(this.normalizeFirst ? block.norm.call(x, ctx) : x);
    const y = add(x, block.dropout.call(inner, ctx));
    return this.normalizeFirst ? y : block.norm.call(y, ctx);
  }

  protected feedforwardApply(x: Tensor, ctx: CallContext): Tensor {
    const ff = this.feedforward!;
    return this.residualApply(ff, x, ctx, (h) => ff.output.call(ff.intermediate.call(h, ctx), ctx));
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      intermediateDim: this.intermediateDim,
      numHeads: this.numHeads,
      dropout: this.dropout,
      activation: this.activation,
      layerNormEpsilon: this.layerNormEpsilon,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      normalizeFirst: this.normalizeFirst,
      seed: this.seed,
    };
  }
}

/** Options of TransformerEncoder.encode (KerasNLP's call arguments). */
export interface EncodeOptions {
  /** [batch, T]: true for real tokens; padded keys are not attended to. */
  paddingMask?: Tensor | null;
  /** [batch, T, T] (or broadcastable); true = may attend. */
  attentionMask?: Tensor | null;
  training?: boolean;
  seed?: number;
}

export class TransformerEncoder extends TransformerBlock {
  static override readonly className: string = 'TransformerEncoder';
  private selfAttention?: Residual & { attention: MultiHeadAttention };

  constructor(args: TransformerArgs) {
    super(args);
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = this.sequenceShape(oneShape(this, inputShape));
    this.selfAttention = this.attentionBlock('self_attention', shape, shape);
    this.buildFeedforward(shape);
  }

  /** The block on x [batch, T, features] with explicit masks. */
  encode(x: Tensor, options: EncodeOptions = {}): Tensor {
    buildSublayer(this, x.shape);
    this.sequenceShape(x.shape);
    const ctx: CallContext = { training: options.training ?? false, seed: options.seed };
    const sa = this.selfAttention!;
    const attend: AttendOptions = {
      attentionMask: options.attentionMask,
      keyMask: options.paddingMask,
      training: ctx.training,
      seed: ctx.seed,
    };
    const y = this.residualApply(sa, x, ctx, (h) => sa.attention.attend(h, h, attend));
    return this.feedforwardApply(y, ctx);
  }

  /** The input's mask (e.g. from Embedding maskZero) is the padding mask. */
  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor {
    return this.encode(oneInput(this, inputs), {
      paddingMask: firstMask(mask),
      training: ctx.training,
      seed: ctx.seed,
    });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.sequenceShape(oneShape(this, inputShape));
  }

  override sublayers(): Layer[] {
    if (!this.selfAttention || !this.feedforward) return [];
    const { attention, norm } = this.selfAttention;
    const ff = this.feedforward;
    return [attention, norm, ff.norm, ff.intermediate, ff.output];
  }
}

/** Options of TransformerDecoder.decode (KerasNLP's call arguments). */
export interface DecodeOptions {
  /** The encoder's outputs [batch, S, features], for a decoder built with cross-attention. */
  encoderOutputs?: Tensor;
  /** [batch, T]: true for real decoder tokens (not used with a cache: cached decoding feeds real tokens). */
  decoderPaddingMask?: Tensor | null;
  /** [batch, S]: true for real encoder tokens. */
  encoderPaddingMask?: Tensor | null;
  training?: boolean;
  seed?: number;
}

export class TransformerDecoder extends TransformerBlock {
  static override readonly className: string = 'TransformerDecoder';
  private selfAttention?: Residual & { attention: MultiHeadAttention };
  private crossAttention?: Residual & { attention: MultiHeadAttention };

  constructor(args: TransformerArgs) {
    super(args);
  }

  /** Decoder shape, and the encoder's when called on [decoderSequence, encoderOutputs] (cross-attention). */
  private shapes(inputShape: SymShape | SymShape[]): { decoder: SymShape; encoder?: SymShape } {
    const list = Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : [inputShape as SymShape];
    if (list.length > 2)
      throw new ArgumentError(
        `${who(this)} takes a decoder sequence or [decoderSequence, encoderOutputs], got a list of ${list.length}`,
      );
    const decoder = this.sequenceShape(list[0]);
    const encoder = list[1] ? this.sequenceShape(list[1], 'encoder outputs') : undefined;
    if (this.built && !!encoder !== !!this.crossAttention) {
      throw new ArgumentError(
        `${who(this)} was built ${this.crossAttention ? 'with' : 'without'} cross-attention, so it must be called ` +
          (this.crossAttention ? 'on [decoderSequence, encoderOutputs]' : 'on the decoder sequence alone'),
      );
    }
    return { decoder, encoder };
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const { decoder, encoder } = this.shapes(inputShape);
    this.selfAttention = this.attentionBlock('self_attention', decoder, decoder);
    if (encoder) this.crossAttention = this.attentionBlock('cross_attention', decoder, encoder);
    this.buildFeedforward(decoder);
  }

  /** The block with explicit masks and, optionally, a self-attention cache for incremental decoding. */
  decode(x: Tensor, options?: DecodeOptions): Tensor;
  decode(x: Tensor, options: DecodeOptions, cache: AttentionCache | null): { output: Tensor; cache: AttentionCache };
  decode(
    x: Tensor,
    options: DecodeOptions = {},
    cache?: AttentionCache | null,
  ): Tensor | { output: Tensor; cache: AttentionCache } {
    const enc = options.encoderOutputs;
    buildSublayer(this, enc ? [x.shape, enc.shape] : x.shape);
    this.shapes(enc ? [x.shape, enc.shape] : x.shape);
    const ctx: CallContext = { training: options.training ?? false, seed: options.seed };
    const sa = this.selfAttention!;
    let grown: AttentionCache | undefined;
    // Self-attention is causal; with a cache, the new positions follow the cached ones.
    const selfOptions: AttendOptions = {
      keyMask: cache === undefined ? options.decoderPaddingMask : null,
      useCausalMask: true,
      training: ctx.training,
      seed: ctx.seed,
    };
    let y = this.residualApply(sa, x, ctx, (h) => {
      if (cache === undefined) return sa.attention.attend(h, h, selfOptions);
      const r = sa.attention.attendCached(h, h, cache, selfOptions);
      grown = r.cache;
      return r.output;
    });
    const ca = this.crossAttention;
    if (ca)
      y = this.residualApply(ca, y, ctx, (h) =>
        ca.attention.attend(h, enc!, { keyMask: options.encoderPaddingMask, training: ctx.training, seed: ctx.seed }),
      );
    const output = this.feedforwardApply(y, ctx);
    return cache === undefined ? output : { output, cache: grown! };
  }

  /** Inputs: the decoder sequence, or [decoderSequence, encoderOutputs]; their masks are the padding masks. */
  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    const masks = Array.isArray(mask) ? mask : [mask ?? null];
    return this.decode(list[0], {
      encoderOutputs: list[1],
      decoderPaddingMask: masks[0],
      encoderPaddingMask: masks[1],
      training: ctx.training,
      seed: ctx.seed,
    });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.shapes(inputShape).decoder;
  }

  /** The output keeps the decoder sequence's mask. */
  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    return firstMask(mask);
  }

  override sublayers(): Layer[] {
    if (!this.selfAttention || !this.feedforward) return [];
    const ff = this.feedforward;
    const cross = this.crossAttention ? [this.crossAttention.attention, this.crossAttention.norm] : [];
    return [this.selfAttention.attention, this.selfAttention.norm, ...cross, ff.norm, ff.intermediate, ff.output];
  }
}

registerLayer(TransformerEncoder);
registerLayer(TransformerDecoder);
