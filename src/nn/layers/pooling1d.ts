// Global pooling over time: GlobalAveragePooling1D (mask-aware, as Keras) and GlobalMaxPooling1D.
import type { Tensor } from '../../tensor/tensor.js';
import { div, mul } from '../../ops/elementwise.js';
import { max, mean, sum } from '../../ops/reduce.js';
import { unsqueeze } from '../../ops/views.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { maskAsFloat, sequenceMask, firstMask, type MaskArg } from '../masking.js';
import { asLayerDType, inputShapeError, oneInput, oneShape, who } from './common.js';

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
