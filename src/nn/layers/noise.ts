// Regularizing noise layers, active only in training and seeded as Dropout is: GaussianNoise (adds N(0, stddev)),
// GaussianDropout (multiplies by N(1, rate / (1 - rate))), SpatialDropout1D/2D (drop whole feature maps).
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { Dropout, type DropoutArgs } from './dropout.js';
import { asLayerDType, inputShapeError, oneInput, oneOf, oneShape, who } from './common.js';

interface NoiseArgs extends LayerArgs {
  /** Seed of the layer's own noise generator. Default: one drawn from the global stream (setSeed). */
  seed?: number | null;
}

/** A layer that perturbs its input while training: the identity at inference; the seeding rules of Dropout. */
abstract class NoiseLayer extends Layer {
  override supportsMasking = true;
  /** The seed given, or one drawn at construction; saved, so a rebuilt layer draws the same noise. */
  readonly seed: number;
  private readonly generator: RandomStream;

  constructor(args: NoiseArgs) {
    super(args);
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** The noisy input, drawing from `gen`. */
  protected abstract perturb(x: Tensor, gen: RandomStream): Tensor;
  /** Whether the layer changes anything (a rate or stddev of 0 does not). */
  protected abstract get active(): boolean;

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    if (!ctx.training || !this.active) return x;
    // A call seed (fit() passes one per step) keys the noise by (call seed, layer), as Dropout does.
    return this.perturb(x, ctx.seed === undefined ? this.generator : new RandomStream(mixSeeds(this.seed, ctx.seed)));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), seed: this.seed };
  }
}

export interface GaussianNoiseArgs extends NoiseArgs {
  /** Standard deviation of the added noise. */
  stddev: number;
}

/** Adds zero-mean Gaussian noise of standard deviation stddev while training. */
export class GaussianNoise extends NoiseLayer {
  static override readonly className: string = 'GaussianNoise';
  readonly stddev: number;

  constructor(args: GaussianNoiseArgs) {
    super(args);
    if (typeof args.stddev !== 'number' || !(args.stddev >= 0) || !Number.isFinite(args.stddev))
      throw new ArgumentError(`${who(this)}: stddev must be a number >= 0, got ${JSON.stringify(args.stddev)}`);
    this.stddev = args.stddev;
  }

  protected override get active(): boolean {
    return this.stddev > 0;
  }

  protected override perturb(x: Tensor, gen: RandomStream): Tensor {
    return add(x, gen.normal(x.shape, 0, this.stddev, x.dtype));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), stddev: this.stddev };
  }
}

export interface GaussianDropoutArgs extends NoiseArgs {
  /** Drop probability, in [0, 1): the noise is N(1, rate / (1 - rate)) (variance), as Keras. */
  rate: number;
}

/** Multiplies by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate)) while training. */
export class GaussianDropout extends NoiseLayer {
  static override readonly className: string = 'GaussianDropout';
  readonly rate: number;

  constructor(args: GaussianDropoutArgs) {
    super(args);
    if (typeof args.rate !== 'number' || !(args.rate >= 0 && args.rate < 1))
      throw new ArgumentError(`${who(this)}: rate must be a number in [0, 1), got ${JSON.stringify(args.rate)}`);
    this.rate = args.rate;
  }

  protected override get active(): boolean {
    return this.rate > 0;
  }

  protected override perturb(x: Tensor, gen: RandomStream): Tensor {
    return mul(x, gen.normal(x.shape, 1, Math.sqrt(this.rate / (1 - this.rate)), x.dtype));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), rate: this.rate };
  }
}

export type DataFormat = 'channelsLast' | 'channelsFirst';

export interface SpatialDropoutArgs extends Omit<DropoutArgs, 'noiseShape'> {
  /** Where the channels are (SpatialDropout2D): 'channelsLast' [N, H, W, C] (default) or 'channelsFirst'. */
  dataFormat?: DataFormat;
}

/** Dropout of whole channels: one draw per (sample, channel), shared along the other axes. */
abstract class SpatialDropout extends Dropout {
  readonly dataFormat: DataFormat;

  constructor(args: SpatialDropoutArgs, rank: number) {
    if ((args as DropoutArgs).noiseShape != null)
      throw new ArgumentError('SpatialDropout: the noise shape follows from dataFormat; noiseShape cannot be given');
    const format = args.dataFormat ?? 'channelsLast';
    // [N, 1, ..., 1, C] or [N, C, 1, ..., 1]: null takes the input's size.
    const ones = new Array<number>(rank - 2).fill(1);
    const noiseShape = format === 'channelsFirst' ? [null, null, ...ones] : [null, ...ones, null];
    super({ ...args, noiseShape });
    this.dataFormat = oneOf(this, 'dataFormat', format, ['channelsLast', 'channelsFirst']);
  }

  private checkRank(shape: SymShape): void {
    const rank = this.noiseShape!.length;
    if (shape.length !== rank)
      throw inputShapeError(this, `rank ${rank}`, shape, rank === 3 ? '(batch, steps, channels)' : 'an image batch');
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    this.checkRank(oneInput(this, inputs).shape);
    return super.call(inputs, ctx);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkRank(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    const { noiseShape: _derived, ...config } = super.getConfig();
    return { ...config, ...(this.noiseShape!.length === 4 ? { dataFormat: this.dataFormat } : {}) };
  }
}

/** [N, steps, C]: drops whole channels (the same for every step). */
export class SpatialDropout1D extends SpatialDropout {
  static override readonly className: string = 'SpatialDropout1D';
  constructor(args: Omit<SpatialDropoutArgs, 'dataFormat'>) {
    super(args, 3);
  }
}

/** [N, H, W, C] (or [N, C, H, W] with dataFormat 'channelsFirst'): drops whole feature maps. */
export class SpatialDropout2D extends SpatialDropout {
  static override readonly className: string = 'SpatialDropout2D';
  constructor(args: SpatialDropoutArgs) {
    super(args, 4);
  }
}

registerLayer(GaussianNoise);
registerLayer(GaussianDropout);
registerLayer(SpatialDropout1D);
registerLayer(SpatialDropout2D);
