// Pooling over time: MaxPooling1D and AveragePooling1D over windows, GlobalAveragePooling1D (mask-aware, as
// Keras) and GlobalMaxPooling1D.
import type { Tensor } from '../../tensor/tensor.js';
import { div, mul } from '../../ops/elementwise.js';
import { max, mean, sum } from '../../ops/reduce.js';
import { squeeze, unsqueeze } from '../../ops/views.js';
import { avgPool2d, maxPool2d } from '../../ops/families/pool.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { maskAsFloat, sequenceMask, firstMask, type MaskArg } from '../masking.js';
import {
  asLayerDType,
  convOutputLength,
  inputShapeError,
  oneInput,
  oneOf,
  oneShape,
  positiveInt,
  who,
  type Padding,
} from './common.js';

// Global pooling over the time axis of [batch, time, features]: GlobalAveragePooling1D (mask-aware: the
// mean of the unmasked steps, as Keras) and GlobalMaxPooling1D. Both end the mask (no time axis left).

export interface GlobalPooling1DArgs extends LayerArgs {
  /** Keep the time axis with size 1: [batch, 1, features]. Default false. */
  keepdims?: boolean;
}

abstract class GlobalPooling1D extends Layer {
  readonly keepdims: boolean;

  constructor(args: GlobalPooling1DArgs = {}) {
    super(args);
    this.keepdims = args.keepdims ?? false;
  }

  private checkInput(shape: SymShape): void {
    if (shape.length !== 3)
      throw inputShapeError(this, '(None, time, features)', shape, 'expected rank 3 (batch, time, features)');
  }

  protected abstract pool(x: Tensor, mask: Tensor | null): Tensor;

  override call(inputs: Tensor | Tensor[], _ctx: CallContext, mask?: MaskArg): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const m = firstMask(mask);
    return this.pool(x, m ? sequenceMask(who(this), m, x.shape[0], x.shape[1]) : null);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    return this.keepdims ? [shape[0], 1, shape[2]] : [shape[0], shape[2]];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), keepdims: this.keepdims };
  }
}

/** Mean over time; with a mask, sum(x * mask) / sum(mask) over the unmasked steps (NaN if none, as Keras). */
export class GlobalAveragePooling1D extends GlobalPooling1D {
  static override readonly className: string = 'GlobalAveragePooling1D';
  protected override pool(x: Tensor, mask: Tensor | null): Tensor {
    if (!mask) return mean(x, 1, this.keepdims);
    const m = unsqueeze(maskAsFloat(mask, this.dtype), -1);
    return div(sum(mul(x, m), 1, this.keepdims), sum(m, 1, this.keepdims));
  }
}

/** Max over time (Keras ignores the mask here too). */
export class GlobalMaxPooling1D extends GlobalPooling1D {
  static override readonly className: string = 'GlobalMaxPooling1D';
  protected override pool(x: Tensor, _mask: Tensor | null): Tensor {
    return max(x, 1, this.keepdims);
  }
}

registerLayer(GlobalAveragePooling1D);
registerLayer(GlobalMaxPooling1D);

export interface Pooling1DArgs extends LayerArgs {
  /** Window length; default 2. */
  poolSize?: number;
  /** Default (null): the pool size, so windows do not overlap. */
  strides?: number | null;
  /** Default 'valid'. */
  padding?: Padding;
}

/** Pooling over windows of the time axis of [batch, steps, features], through the 2-D pooling ops. */
abstract class Pooling1D extends Layer {
  readonly poolSize: number;
  readonly strides: number;
  readonly padding: Padding;

  constructor(args: Pooling1DArgs = {}) {
    super(args);
    this.poolSize = positiveInt(this, 'poolSize', args.poolSize ?? 2);
    this.strides = positiveInt(this, 'strides', args.strides ?? this.poolSize);
    this.padding = oneOf(this, 'padding', args.padding ?? 'valid', ['valid', 'same']);
  }

  private checkInput(shape: SymShape): SymShape {
    if (shape.length !== 3)
      throw inputShapeError(this, '(None, steps, features)', shape, 'expected rank 3 (batch, steps, features)');
    const out = convOutputLength(shape[1], this.poolSize, this.padding, this.strides, 1);
    if (out !== null && out < 1)
      throw inputShapeError(
        this,
        '(None, steps, features)',
        shape,
        `a window of ${this.poolSize} does not fit with padding '${this.padding}'`,
      );
    return [shape[0], out, shape[2]];
  }

  protected abstract pool(x: Tensor): Tensor;

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.checkInput(x.shape);
    return squeeze(this.pool(unsqueeze(x, 1)), 1);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), poolSize: this.poolSize, strides: this.strides, padding: this.padding };
  }
}

/** Max over windows of steps: [batch, steps, features] -> [batch, pooled steps, features]. */
export class MaxPooling1D extends Pooling1D {
  static override readonly className: string = 'MaxPooling1D';
  protected override pool(x: Tensor): Tensor {
    return maxPool2d(x, [1, this.poolSize], { strides: [1, this.strides], padding: this.padding });
  }
}

/** Mean over windows of steps; with 'same' padding the padded steps are not counted (Keras). */
export class AveragePooling1D extends Pooling1D {
  static override readonly className: string = 'AveragePooling1D';
  protected override pool(x: Tensor): Tensor {
    return avgPool2d(x, [1, this.poolSize], { strides: [1, this.strides], padding: this.padding });
  }
}

registerLayer(MaxPooling1D);
registerLayer(AveragePooling1D);
