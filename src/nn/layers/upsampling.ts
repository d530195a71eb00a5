// UpSampling1D (each step repeated) and UpSampling2D (nearest, or bilinear with half-pixel centres as
// Keras' image resize and PyTorch's interpolate(align_corners=False): image.resize), channels last.
import type { Tensor } from '../../tensor/tensor.js';
import { resize } from '../../ops/image.js';
import { expand, reshape } from '../../ops/views.js';
import { ShapeError, fmtShape } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { inputShapeError, oneInput, oneOf, oneShape, positiveInt, tuple } from './common.js';

/** Repeats every element of `axis` `times` times in place (a, a, b, b, ...). */
function repeatAxis(x: Tensor, axis: number, times: number): Tensor {
  if (times === 1) return x;
  const s = x.shape;
  const spread = [...s.slice(0, axis + 1), 1, ...s.slice(axis + 1)];
  const tiled = [...s.slice(0, axis + 1), times, ...s.slice(axis + 1)];
  const out = [...s.slice(0, axis), s[axis] * times, ...s.slice(axis + 1)];
  return reshape(expand(reshape(x, spread), tiled), out);
}

export interface UpSampling1DArgs extends LayerArgs {
  /** Times each step is repeated; default 2. */
  size?: number;
}

/** [batch, steps, features] -> [batch, steps * size, features], each step repeated. */
export class UpSampling1D extends Layer {
  static override readonly className: string = 'UpSampling1D';
  readonly size: number;

  constructor(args: UpSampling1DArgs = {}) {
    super(args);
    this.size = positiveInt(this, 'size', args.size ?? 2);
  }

  private checkInput(shape: SymShape): SymShape {
    if (shape.length !== 3)
      throw inputShapeError(this, '(None, steps, features)', shape, 'expected rank 3 (batch, steps, features)');
    return [shape[0], shape[1] === null ? null : shape[1] * this.size, shape[2]];
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.checkInput(x.shape);
    return repeatAxis(x, 1, this.size);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), size: this.size };
  }
}

export type Interpolation = 'nearest' | 'bilinear';

export interface UpSampling2DArgs extends LayerArgs {
  /** Upsampling factors for rows and columns; default 2. */
  size?: number | readonly [number, number];
  /** 'nearest' (default) or 'bilinear'. */
  interpolation?: Interpolation;
}

/** [batch, H, W, channels] -> [batch, H * size[0], W * size[1], channels]. */
export class UpSampling2D extends Layer {
  static override readonly className: string = 'UpSampling2D';
  readonly size: [number, number];
  readonly interpolation: Interpolation;

  constructor(args: UpSampling2DArgs = {}) {
    super(args);
    this.size = tuple(this, 'size', args.size ?? 2, 2) as [number, number];
    this.interpolation = oneOf(this, 'interpolation', args.interpolation ?? 'nearest', ['nearest', 'bilinear']);
  }

  private checkInput(shape: SymShape): SymShape {
    if (shape.length !== 4)
      throw inputShapeError(this, '(None, H, W, channels)', shape, 'expected rank 4, channels last');
    const up = (d: number | null, a: number) => (d === null ? null : d * this.size[a]);
    return [shape[0], up(shape[1], 0), up(shape[2], 1), shape[3]];
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.checkInput(x.shape);
    if (this.interpolation === 'bilinear') return resize(x, [x.shape[1] * this.size[0], x.shape[2] * this.size[1]]);
    return repeatAxis(repeatAxis(x, 1, this.size[0]), 2, this.size[1]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), size: [...this.size], interpolation: this.interpolation };
  }
}

registerLayer(UpSampling1D);
registerLayer(UpSampling2D);
