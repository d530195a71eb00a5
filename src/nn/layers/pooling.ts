// Pooling layers over [batch, H, W, channels]: MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D and
// GlobalMaxPooling2D.
import type { Tensor } from '../../tensor/tensor.js';
import { avgPool2d, maxPool2d } from '../../ops/families/pool.js';
import { max, mean } from '../../ops/reduce.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { convOutputLength, inputShapeError, oneInput, oneOf, oneShape, tuple, type Padding } from './common.js';

export interface Pooling2DArgs extends LayerArgs {
  /** Window size; default 2. */
  poolSize?: number | readonly [number, number];
  /** Default (null): the pool size, so windows do not overlap. */
  strides?: number | readonly [number, number] | null;
  /** Default 'valid'. */
  padding?: Padding;
}

/** Rank-4 inputs only; ShapeError naming the layer otherwise. */
function require4d(layer: Layer, shape: SymShape): void {
  if (shape.length !== 4)
    throw inputShapeError(layer, '(None, H, W, channels)', shape, 'expected rank 4, channels last');
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: Padding;

  constructor(args: Pooling2DArgs = {}) {
    super(args);
    this.poolSize = tuple(this, 'poolSize', args.poolSize ?? 2, 2) as [number, number];
    this.strides = tuple(this, 'strides', args.strides ?? this.poolSize, 2) as [number, number];
    this.padding = oneOf(this, 'padding', args.padding ?? 'valid', ['valid', 'same']);
  }

  /** Checks the rank and that the window fits; returns the output shape. */
  private checkInput(shape: SymShape): SymShape {
    require4d(this, shape);
    const out = [0, 1].map((a) => convOutputLength(shape[a + 1], this.poolSize[a], this.padding, this.strides[a], 1));
    if (out.some((d) => d !== null && d < 1)) {
      throw inputShapeError(
        this,
        '(None, H, W, channels)',
        shape,
        `a ${this.poolSize.join('x')} window does not fit with padding '${this.padding}'`,
      );
    }
    return [shape[0], ...out, shape[3]];
  }

  protected abstract pool(x: Tensor): Tensor;

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.checkInput(x.shape);
    return this.pool(x);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), poolSize: [...this.poolSize], strides: [...this.strides], padding: this.padding };
  }
}

export class MaxPooling2D extends Pooling2D {
  static override readonly className: string = 'MaxPooling2D';
  protected override pool(x: Tensor): Tensor {
    return maxPool2d(x, this.poolSize, { strides: this.strides, padding: this.padding });
  }
}

/** Mean over each window; with 'same' padding the padded positions are not counted (Keras). */
export class AveragePooling2D extends Pooling2D {
  static override readonly className: string = 'AveragePooling2D';
  protected override pool(x: Tensor): Tensor {
    return avgPool2d(x, this.poolSize, { strides: this.strides, padding: this.padding });
  }
}

export interface GlobalPooling2DArgs extends LayerArgs {
  /** Keep H and W as size-1 axes: [N, 1, 1, C] instead of [N, C]. Default false. */
  keepdims?: boolean;
}

abstract class GlobalPooling2D extends Layer {
  readonly keepdims: boolean;

  constructor(args: GlobalPooling2DArgs = {}) {
    super(args);
    this.keepdims = args.keepdims ?? false;
  }

  protected abstract reduce(x: Tensor): Tensor;

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    require4d(this, x.shape);
    return this.reduce(x);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    require4d(this, shape);
    return this.keepdims ? [shape[0], 1, 1, shape[3]] : [shape[0], shape[3]];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), keepdims: this.keepdims };
  }
}

/** Mean over H and W: [N, H, W, C] -> [N, C]. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  static override readonly className: string = 'GlobalAveragePooling2D';
  protected override reduce(x: Tensor): Tensor {
    return mean(x, [1, 2], this.keepdims);
  }
}

/** Max over H and W: [N, H, W, C] -> [N, C]. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  static override readonly className: string = 'GlobalMaxPooling2D';
  protected override reduce(x: Tensor): Tensor {
    return max(x, [1, 2], this.keepdims);
  }
}

registerLayer(MaxPooling2D);
registerLayer(AveragePooling2D);
registerLayer(GlobalAveragePooling2D);
registerLayer(GlobalMaxPooling2D);
