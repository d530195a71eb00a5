// Deterministic image preprocessing layers (Keras): Rescaling (x * scale + offset), Resizing (tf.image.resize
// numbers) and CenterCrop. Images are channels last, [batch, height, width, channels] (or one unbatched
// [height, width, channels] image); all three are differentiable w.r.t. their input.
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { slice, squeeze, unsqueeze } from '../../ops/views.js';
import { tensor } from '../../ops/creation.js';
import { INTERPOLATIONS, resize, type Interpolation } from '../../ops/image.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { asLayerDType, inputShapeError, oneInput, oneOf, oneShape, positiveInt, who } from './common.js';

/** A ShapeError unless the shape is an image batch (rank 4) or one image (rank 3). */
export function assertImageShape(layer: Layer, shape: SymShape): void {
  if (shape.length !== 4 && shape.length !== 3)
    throw inputShapeError(
      layer,
      '(None, height, width, channels)',
      shape,
      'images are channels-last [batch, height, width, channels] or one [height, width, channels] image',
    );
}

/**
 * Runs fn on the input as an image batch: a single [h, w, c] image is given a batch axis of 1 and has it
 * removed from the result, as Keras' image layers accept both.
 */
export function onImageBatch(layer: Layer, inputs: Tensor | Tensor[], fn: (images: Tensor) => Tensor): Tensor {
  const x = asLayerDType(layer, oneInput(layer, inputs));
  assertImageShape(layer, x.shape);
  if (x.rank === 4) return fn(x);
  return squeeze(fn(unsqueeze(x, 0)), 0);
}

/** The input shape with height and width replaced (rank 3 or 4). */
function withSize(layer: Layer, inputShape: SymShape | SymShape[], height: number, width: number): SymShape {
  const shape = oneShape(layer, inputShape);
  assertImageShape(layer, shape);
  const out = [...shape];
  out[shape.length - 3] = height;
  out[shape.length - 2] = width;
  return out;
}

// ------------------------------------------------------------------------------------------ Rescaling

export interface RescalingArgs extends LayerArgs {
  /** Multiplies the input: a number, or one per channel (last axis). E.g. 1 / 255. */
  scale: number | readonly number[];
  /** Added after scaling: a number, or one per channel. Default 0. */
  offset?: number | readonly number[];
}

function numbersArg(layer: Layer, name: string, v: unknown): number | number[] {
  const ok = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  if (ok(v)) return v as number;
  if (Array.isArray(v) && v.length > 0 && v.every(ok)) return [...(v as number[])];
  throw new ArgumentError(`${who(layer)}: ${name} must be a finite number or a list of them, got ${JSON.stringify(v)}`);
}

/** x * scale + offset (Keras Rescaling), e.g. scale 1/255 maps [0, 255] pixels to [0, 1]. */
export class Rescaling extends Layer {
  static override readonly className: string = 'Rescaling';
  readonly scale: number | number[];
  readonly offset: number | number[];

  constructor(args: RescalingArgs) {
    super(args);
    this.scale = numbersArg(this, 'scale', args.scale);
    this.offset = numbersArg(this, 'offset', args.offset ?? 0);
  }

  /** A per-channel list as a tensor broadcasting over the last axis (its length checked against it). */
  private operand(x: Tensor, name: string, v: number | number[]): Tensor | number {
    if (typeof v === 'number') return v;
    const channels = x.shape[x.rank - 1];
    if (x.rank === 0 || (v.length !== 1 && v.length !== channels))
      throw inputShapeError(this, `(..., ${v.length})`, x.shape, `${name} has ${v.length} values, one per channel`);
    return tensor(v, [v.length], x.dtype);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    return add(mul(x, this.operand(x, 'scale', this.scale)), this.operand(x, 'offset', this.offset));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }

  override getConfig(): LayerConfig {
    const copy = (v: number | number[]) => (typeof v === 'number' ? v : [...v]);
    return { ...super.getConfig(), scale: copy(this.scale), offset: copy(this.offset) };
  }
}

// ------------------------------------------------------------------------------------------- Resizing

export interface ResizingArgs extends LayerArgs {
  height: number;
  width: number;
  /** Default 'bilinear' (half-pixel centres, no antialiasing, as tf.image.resize). */
  interpolation?: Interpolation;
  /** Crop the largest centred window of the target aspect ratio before resizing. Default false. */
  cropToAspectRatio?: boolean;
}

/** Resizes images to [height, width] (Keras Resizing); the numbers match tf.image.resize. */
export class Resizing extends Layer {
  static override readonly className: string = 'Resizing';
  readonly height: number;
  readonly width: number;
  readonly interpolation: Interpolation;
  readonly cropToAspectRatio: boolean;

  constructor(args: ResizingArgs) {
    super(args);
    this.height = positiveInt(this, 'height', args.height);
    this.width = positiveInt(this, 'width', args.width);
    this.interpolation = oneOf(this, 'interpolation', args.interpolation ?? 'bilinear', INTERPOLATIONS);
    this.cropToAspectRatio = args.cropToAspectRatio ?? false;
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return onImageBatch(this, inputs, (x) =>
      resize(x, [this.height, this.width], {
        interpolation: this.interpolation,
        cropToAspectRatio: this.cropToAspectRatio,
      }),
    );
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return withSize(this, inputShape, this.height, this.width);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      height: this.height,
      width: this.width,
      interpolation: this.interpolation,
      cropToAspectRatio: this.cropToAspectRatio,
    };
  }
}

// ----------------------------------------------------------------------------------------- CenterCrop

export interface CenterCropArgs extends LayerArgs {
  height: number;
  width: number;
}

/**
 * The central [height, width] window of each image (Keras CenterCrop); an image smaller than that on either
 * axis is instead cropped to the target aspect ratio and resized (bilinear), as Keras' smart_resize.
 */
export class CenterCrop extends Layer {
  static override readonly className: string = 'CenterCrop';
  readonly height: number;
  readonly width: number;

  constructor(args: CenterCropArgs) {
    super(args);
    this.height = positiveInt(this, 'height', args.height);
    this.width = positiveInt(this, 'width', args.width);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return onImageBatch(this, inputs, (x) => {
      const [b, h, w, c] = x.shape;
      const dh = h - this.height,
        dw = w - this.width;
      if (dh >= 0 && dw >= 0)
        return slice(x, [0, Math.trunc(dh / 2), Math.trunc(dw / 2), 0], [b, this.height, this.width, c]);
      return resize(x, [this.height, this.width], { interpolation: 'bilinear', cropToAspectRatio: true });
    });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return withSize(this, inputShape, this.height, this.width);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), height: this.height, width: this.width };
  }
}

registerLayer(Rescaling);
registerLayer(Resizing);
registerLayer(CenterCrop);
