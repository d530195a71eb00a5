// Image augmentation layers (Keras): RandomFlip, RandomRotation, RandomZoom, RandomTranslation and
// RandomContrast. Active only in training (identity in inference); each image of a batch gets its own
// random transform, the same across its channels. Draws are seeded as Dropout's: from the call seed that
// fit() passes each step (so a resumed run draws the same), else from the layer's own stream.
// The geometric ones resample through ops/image.ts, so gradients reach the input.
import type { Tensor } from '../../tensor/tensor.js';
import { add, clip, mul, sub } from '../../ops/elementwise.js';
import { mean } from '../../ops/reduce.js';
import { tensor } from '../../ops/creation.js';
import { RandomStream, drawSeed, mixSeeds } from '../../ops/random.js';
import { outsideScopes } from '../../tensor/storage.js';
import {
  FILL_MODES,
  INTERPOLATIONS,
  affineTransform,
  remapPixels,
  type FillMode,
  type Interpolation,
} from '../../ops/image.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { asLayerDType, oneInput, oneOf, oneShape, who } from './common.js';
import { assertImageShape, onImageBatch } from './preprocessing-image.js';

/** A factor as Keras takes it: a number f (the range [-|f|, |f|]) or a [lower, upper] pair. */
export type Factor = number | readonly [number, number];

export interface RandomImageArgs extends LayerArgs {
  /** Seed of the layer's own stream. Default: one drawn from the global stream (setSeed). */
  seed?: number | null;
}

/** The shared part: seeding, inference identity, per-image uniform draws. */
abstract class RandomImageLayer extends Layer {
  /** The seed given or drawn at construction; getConfig() saves it so a rebuilt layer draws the same. */
  readonly seed: number;
  private readonly generator: RandomStream;

  constructor(args: RandomImageArgs) {
    super(args);
    if (args.seed != null && !(Number.isSafeInteger(args.seed) && args.seed >= 0))
      throw new ArgumentError(`${who(this)}: seed must be a non-negative integer, got ${JSON.stringify(args.seed)}`);
    this.seed = args.seed ?? drawSeed();
    this.generator = new RandomStream(this.seed);
  }

  /** The augmented batch [b, h, w, c]; `gen` draws this call's randomness. */
  protected abstract augment(images: Tensor, gen: RandomStream): Tensor;

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    if (!ctx.training) {
      const x = asLayerDType(this, oneInput(this, inputs));
      assertImageShape(this, x.shape);
      return x;
    }
    const gen = ctx.seed === undefined ? this.generator : new RandomStream(mixSeeds(this.seed, ctx.seed));
    return onImageBatch(this, inputs, (x) => this.augment(x, gen));
  }

  /** n uniform draws in [lo, hi), read to the host (they choose each image's transform). */
  protected uniform(gen: RandomStream, n: number, lo: number, hi: number): Float64Array {
    return outsideScopes(() => {
      const t = gen.uniform([n], lo, hi, 'float64');
      const d = t.dataSync() as Float64Array;
      t.dispose();
      return d;
    });
  }

  /** [lower, upper] of a factor, each in [min, max]; a number f means [max(-|f|, min), |f|]. */
  protected factorRange(name: string, f: Factor, min: number, max: number): [number, number] {
    const fail = () =>
      new ArgumentError(
        `${who(this)}: ${name} must be a number or a [lower, upper] pair in [${min}, ${max}], got ${JSON.stringify(f)}`,
      );
    const ok = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max;
    if (typeof f === 'number') {
      if (!ok(f)) throw fail();
      return [Math.max(-Math.abs(f), min), Math.abs(f)];
    }
    if (!Array.isArray(f) || f.length !== 2 || !f.every(ok)) throw fail();
    return [Math.min(f[0], f[1]), Math.max(f[0], f[1])];
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    assertImageShape(this, shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), seed: this.seed };
  }
}

const factorConfig = (f: Factor | null): number | number[] | null => (typeof f === 'number' || f === null ? f : [...f]);

/** fillMode / interpolation / fillValue, shared by the geometric layers. */
export interface FillArgs {
  /** How points outside the image are filled. Default 'reflect'. */
  fillMode?: FillMode;
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
  /** The value outside the image when fillMode is 'constant'. Default 0. */
  fillValue?: number;
}

abstract class GeometricLayer extends RandomImageLayer {
  readonly fillMode: FillMode;
  readonly interpolation: Interpolation;
  readonly fillValue: number;

  constructor(args: RandomImageArgs & FillArgs) {
    super(args);
    this.fillMode = oneOf(this, 'fillMode', args.fillMode ?? 'reflect', FILL_MODES);
    this.interpolation = oneOf(this, 'interpolation', args.interpolation ?? 'bilinear', INTERPOLATIONS);
    this.fillValue = args.fillValue ?? 0;
    if (!Number.isFinite(this.fillValue))
      throw new ArgumentError(`${who(this)}: fillValue must be a finite number, got ${JSON.stringify(args.fillValue)}`);
  }

  /** One [a0, a1, a2, b0, b1, b2, c0, c1] transform per image, mapping output pixels to input points. */
  protected abstract transforms(gen: RandomStream, b: number, h: number, w: number): Float64Array;

  protected override augment(images: Tensor, gen: RandomStream): Tensor {
    const [b, h, w] = images.shape;
    return affineTransform(images, this.transforms(gen, b, h, w), {
      interpolation: this.interpolation,
      fillMode: this.fillMode,
      fillValue: this.fillValue,
    });
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      fillMode: this.fillMode,
      interpolation: this.interpolation,
      fillValue: this.fillValue,
    };
  }
}

// ----------------------------------------------------------------------------------------- RandomFlip

export type FlipMode = 'horizontal' | 'vertical' | 'horizontal_and_vertical';
const FLIP_MODES: readonly FlipMode[] = ['horizontal', 'vertical', 'horizontal_and_vertical'];

export interface RandomFlipArgs extends RandomImageArgs {
  /** Default 'horizontal_and_vertical'. */
  mode?: FlipMode;
}

/**
 * Flips each image with probability 1/2 (Keras 3: one draw per image, so 'horizontal_and_vertical' flips
 * both axes together or neither).
 */
export class RandomFlip extends RandomImageLayer {
  static override readonly className: string = 'RandomFlip';
  readonly mode: FlipMode;

  constructor(args: RandomFlipArgs = {}) {
    super(args);
    this.mode = oneOf(this, 'mode', args.mode ?? 'horizontal_and_vertical', FLIP_MODES);
  }

  protected override augment(images: Tensor, gen: RandomStream): Tensor {
    const [b, h, w] = images.shape;
    const u = this.uniform(gen, b, 0, 1);
    const horizontal = this.mode !== 'vertical';
    const vertical = this.mode !== 'horizontal';
    return remapPixels(images, (bi, y, x) => {
      const flip = u[bi] <= 0.5;
      const yy = flip && vertical ? h - 1 - y : y;
      const xx = flip && horizontal ? w - 1 - x : x;
      return (bi * h + yy) * w + xx;
    });
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), mode: this.mode };
  }
}

// ------------------------------------------------------------------------------------- RandomRotation

export interface RandomRotationArgs extends RandomImageArgs, FillArgs {
  /**
   * Fraction of a full turn: f rotates by an angle in [-f, f] * 2 pi, [lo, hi] in [lo, hi] * 2 pi.
   * Positive angles rotate counter-clockwise.
   */
  factor: Factor;
}

/** Rotates each image by a random angle about its centre (Keras RandomRotation). */
export class RandomRotation extends GeometricLayer {
  static override readonly className: string = 'RandomRotation';
  readonly factor: Factor;
  private readonly range: [number, number];

  constructor(args: RandomRotationArgs) {
    super(args);
    this.range = this.factorRange('factor', args.factor, -1, 1);
    this.factor = args.factor;
  }

  protected override transforms(gen: RandomStream, b: number, h: number, w: number): Float64Array {
    const [lo, hi] = this.range;
    const angles = this.uniform(gen, b, lo * 2 * Math.PI, hi * 2 * Math.PI);
    const out = new Float64Array(8 * b);
    angles.forEach((a, i) => {
      const cos = Math.cos(a),
        sin = Math.sin(a);
      // Rotation about the centre ((w - 1) / 2, (h - 1) / 2), as Keras builds it.
      const dx = (w - 1 - (cos * (w - 1) - sin * (h - 1))) / 2;
      const dy = (h - 1 - (sin * (w - 1) + cos * (h - 1))) / 2;
      out.set([cos, -sin, dx, sin, cos, dy, 0, 0], 8 * i);
    });
    return out;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), factor: factorConfig(this.factor) };
  }
}

/** A geometric layer with a height and a width factor (zoom, translation), each in [-1, 1]. */
abstract class AxisFactorLayer extends GeometricLayer {
  readonly heightFactor: Factor;
  /** null: the width follows the height's draw (RandomZoom only). */
  readonly widthFactor: Factor | null;
  protected readonly heightRange: [number, number];
  protected readonly widthRange?: [number, number];

  constructor(args: RandomImageArgs & FillArgs & { heightFactor: Factor; widthFactor?: Factor | null }) {
    super(args);
    this.heightRange = this.factorRange('heightFactor', args.heightFactor, -1, 1);
    this.heightFactor = args.heightFactor;
    this.widthFactor = args.widthFactor ?? null;
    if (this.widthFactor !== null) this.widthRange = this.factorRange('widthFactor', this.widthFactor, -1, 1);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      heightFactor: factorConfig(this.heightFactor),
      widthFactor: factorConfig(this.widthFactor),
    };
  }
}

// ----------------------------------------------------------------------------------------- RandomZoom

export interface RandomZoomArgs extends RandomImageArgs, FillArgs {
  /**
   * Vertical zoom, as a fraction in [-1, 1]: positive zooms out, negative in; f means [-f, f]. E.g. 0.2:
   * each image is zoomed by a factor in [0.8, 1.2].
   */
  heightFactor: Factor;
  /** Horizontal zoom; null (default) zooms both axes by the same draw, keeping the aspect ratio. */
  widthFactor?: Factor | null;
}

/** Zooms each image in or out about its centre (Keras RandomZoom). */
export class RandomZoom extends AxisFactorLayer {
  static override readonly className: string = 'RandomZoom';

  constructor(args: RandomZoomArgs) {
    super(args);
  }

  protected override transforms(gen: RandomStream, b: number, h: number, w: number): Float64Array {
    const zy = this.uniform(gen, b, 1 + this.heightRange[0], 1 + this.heightRange[1]);
    const zx = this.widthRange ? this.uniform(gen, b, 1 + this.widthRange[0], 1 + this.widthRange[1]) : zy;
    const out = new Float64Array(8 * b);
    for (let i = 0; i < b; i++)
      out.set([zx[i], 0, ((w - 1) / 2) * (1 - zx[i]), 0, zy[i], ((h - 1) / 2) * (1 - zy[i]), 0, 0], 8 * i);
    return out;
  }
}

// ---------------------------------------------------------------------------------- RandomTranslation

export interface RandomTranslationArgs extends RandomImageArgs, FillArgs {
  /** Vertical shift as a fraction of the height in [-1, 1] (positive: down); f means [-f, f]. */
  heightFactor: Factor;
  /** Horizontal shift as a fraction of the width in [-1, 1] (positive: right); f means [-f, f]. */
  widthFactor: Factor;
}

/** Shifts each image by a random offset (Keras RandomTranslation). */
export class RandomTranslation extends AxisFactorLayer {
  static override readonly className: string = 'RandomTranslation';

  constructor(args: RandomTranslationArgs) {
    if (args.widthFactor == null)
      throw new ArgumentError(`RandomTranslation: widthFactor is required (a number or a [lower, upper] pair)`);
    super(args);
  }

  protected override transforms(gen: RandomStream, b: number, h: number, w: number): Float64Array {
    const dy = this.uniform(gen, b, this.heightRange[0], this.heightRange[1]);
    const dx = this.uniform(gen, b, this.widthRange![0], this.widthRange![1]);
    const out = new Float64Array(8 * b);
    for (let i = 0; i < b; i++) out.set([1, 0, -dx[i] * w, 0, 1, -dy[i] * h, 0, 0], 8 * i);
    return out;
  }
}

// ------------------------------------------------------------------------------------- RandomContrast

export interface RandomContrastArgs extends RandomImageArgs {
  /**
   * f in [0, 1]: each image's contrast factor is drawn from [1 - f, 1 + f]; a pair [lo, hi] draws from
   * [1 - lo, 1 + hi].
   */
  factor: Factor;
  /** The pixel range the output is clipped to. Default [0, 255]. */
  valueRange?: readonly [number, number];
}

/**
 * Scales each image's deviation from its per-channel mean by a random factor and clips to valueRange:
 * (x - mean) * factor + mean (Keras RandomContrast, as documented: a number f gives [1 - f, 1 + f]).
 */
export class RandomContrast extends RandomImageLayer {
  static override readonly className: string = 'RandomContrast';
  readonly factor: Factor;
  readonly valueRange: [number, number];
  private readonly range: [number, number];

  constructor(args: RandomContrastArgs) {
    super(args);
    const f = args.factor;
    const ok = (v: unknown) => typeof v === 'number' && v >= 0 && v <= 1;
    if (!(ok(f) || (Array.isArray(f) && f.length === 2 && f.every(ok))))
      throw new ArgumentError(
        `${who(this)}: factor must be a number or a [lower, upper] pair in [0, 1], got ${JSON.stringify(f)}`,
      );
    this.factor = f;
    this.range = typeof f === 'number' ? [f, f] : [f[0], f[1]];
    const vr = args.valueRange ?? [0, 255];
    if (!(Array.isArray(vr) && vr.length === 2 && vr.every(Number.isFinite) && vr[0] < vr[1]))
      throw new ArgumentError(
        `${who(this)}: valueRange must be [low, high] with low < high, got ${JSON.stringify(vr)}`,
      );
    this.valueRange = [vr[0], vr[1]];
  }

  protected override augment(images: Tensor, gen: RandomStream): Tensor {
    const b = images.shape[0];
    const factors = tensor(this.uniform(gen, b, 1 - this.range[0], 1 + this.range[1]), [b, 1, 1, 1], images.dtype);
    const m = mean(images, [1, 2], true);
    return clip(add(mul(sub(images, m), factors), m), this.valueRange[0], this.valueRange[1]);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), factor: factorConfig(this.factor), valueRange: [...this.valueRange] };
  }
}

registerLayer(RandomFlip);
registerLayer(RandomRotation);
registerLayer(RandomZoom);
registerLayer(RandomTranslation);
registerLayer(RandomContrast);
