// Masking (Keras): marks the timesteps whose features all equal maskValue as padding. The output carries a
// [batch, time] mask (true = keep) that later layers honour (LSTM, GRU, attention), and masked timesteps are
// zeroed, as in Keras.
import type { Tensor } from '../../tensor/tensor.js';
import { cast, greater, mul, notEqual } from '../../ops/elementwise.js';
import { max } from '../../ops/reduce.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { MaskArg } from '../masking.js';
import { asLayerDType, inputShapeError, oneInput, oneShape, who } from './common.js';

export interface MaskingArgs extends LayerArgs {
  /** A timestep whose features all equal this value is padding. Default 0. */
  maskValue?: number;
}

export class Masking extends Layer {
  static override readonly className: string = 'Masking';
  override supportsMasking = true;
  readonly maskValue: number;

  constructor(args: MaskingArgs = {}) {
    super(args);
    this.maskValue = args.maskValue ?? 0;
    if (typeof this.maskValue !== 'number' || Number.isNaN(this.maskValue))
      throw new ArgumentError(`${who(this)}: maskValue must be a number, got ${JSON.stringify(args.maskValue)}`);
  }

  /** [batch, time, ...] -> bool [batch, time, ...] without the last axis: some feature differs from maskValue. */
  private keep(x: Tensor): Tensor {
    if (x.rank < 2) throw inputShapeError(this, '(None, ..., features)', x.shape, 'expected rank >= 2');
    return greater(max(cast(notEqual(x, this.maskValue), x.dtype), -1, true), 0);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    return mul(x, cast(this.keep(x), x.dtype));
  }

  override computeMask(inputs: Tensor | Tensor[], _mask: MaskArg | undefined): MaskArg | undefined {
    const keep = this.keep(asLayerDType(this, oneInput(this, inputs)));
    return keep.reshape(keep.shape.slice(0, -1));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    if (shape.length < 2) throw inputShapeError(this, '(None, ..., features)', shape, 'expected rank >= 2');
    return shape;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), maskValue: this.maskValue };
  }
}

registerLayer(Masking);
