// Dropout: during training zeroes each element with probability `rate` and scales the rest by
// 1 / (1 - rate) (inverted dropout), so inference is the identity and needs no rescaling.
import type { Tensor } from '../../tensor/tensor.js';
import { applyDropoutMask, dropout } from '../../ops/families/dropout.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { ArgumentError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import { inputShapeError, oneInput, oneShape, who } from './common.js';

export interface DropoutArgs extends LayerArgs {
  /** Fraction of the inputs to drop, in [0, 1). */
  rate: number;
  /**
   * Shape of the mask, broadcast over the input; null entries take the input's size. E.g. [null, 1, 1, null]
   * drops whole feature maps of an [N, H, W, C] input. Default: the input's shape.
   */
  noiseShape?: readonly (number | null)[] | null;
  /** Seed of the layer's own mask generator. Default: one drawn from the global stream (setSeed). */
  seed?: number | null;
}

export class Dropout extends Layer {
  static override readonly className: string = 'Dropout';
  override supportsMasking = true; // passes its input's mask on, as in Keras 3
  readonly rate: number;
  readonly noiseShape: (number | null)[] | null;
  /**
   * The seed given, or one drawn from the global stream at construction; keys every mask of this layer.
   * getConfig() saves it, so a layer rebuilt from its config draws the same masks.
   */
  readonly seed: number;
  /** The layer's own stream, so masks do not depend on what else draws from the global stream. */
  private readonly generator: RandomStream;

  constructor(args: DropoutArgs) {
    super(args);
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1))
      throw new ArgumentError(`${who(this)}: rate must be a number in [0, 1), got ${JSON.stringify(args.rate)}`);
    this.rate = args.rate;
    this.noiseShape = args.noiseShape ? [...args.noiseShape] : null;
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** The mask shape for an input shape: noiseShape with nulls filled in, checked to broadcast. */
  private maskShape(shape: readonly number[]): number[] {
    if (!this.noiseShape) return [...shape];
    const ns = this.noiseShape;
    const ok = ns.length === shape.length && ns.every((d, i) => d === null || d === 1 || d === shape[i]);
    if (!ok)
      throw inputShapeError(
        this,
        `compatible with noiseShape ${formatSymShape(ns)}`,
        shape,
        'each noiseShape entry must be null, 1 or the input size',
      );
    return ns.map((d, i) => d ?? shape[i]);
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    if (!ctx.training || this.rate === 0) return x;
    // A call seed (fit() passes one per step) gives a mask that depends only on (call seed, layer), so a
    // resumed run redraws the same masks; without one the layer's stream advances call by call.
    const gen = ctx.seed === undefined ? this.generator : new RandomStream(mixSeeds(this.seed, ctx.seed));
    const maskShape = this.maskShape(x.shape);
    // A full-size mask is one fused op (the native backend draws it in its kernel); a broadcast one
    // (noiseShape) is drawn here.
    if (maskShape.every((d, i) => d === x.shape[i])) return dropout(x, this.rate, gen);
    return applyDropoutMask(x, gen.bernoulli(maskShape, 1 - this.rate), this.rate);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      rate: this.rate,
      noiseShape: this.noiseShape ? [...this.noiseShape] : null,
      seed: this.seed,
    };
  }
}

registerLayer(Dropout);
