// LSTM (Keras, Hochreiter & Schmidhuber 1997): Keras gate order i, f, c, o; states [h, c].
import type { Tensor } from '../../tensor/tensor.js';
import type { DType } from '../../tensor/dtype.js';
import { mul } from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';
import { concat } from '../../ops/indexing.js';
import { ones } from '../../ops/creation.js';
import { lstmCell, lstmCellBackward, lstmForward } from '../../ops/families/recurrent.js';
import { registerLayer, type LayerConfig } from '../layer.js';
import type { Initializer, InitializerSpec } from '../initializers.js';
import { getInitializer } from '../initializers.js';
import { GatedRecurrent, type GatedRecurrentArgs } from './recurrent.js';
import type { FusedCell } from './rnn-scan.js';

// LSTM (Keras, Hochreiter & Schmidhuber 1997): gates in Keras order i, f, c, o in the kernel columns; c_t =
// f * c_{t-1} + i * activation(z_c), h_t = o * activation(c_t); states [h, c].

/** The standard LSTM step (sigmoid gates, tanh) as fused ops; states [h, c]. */
const LSTM_CELL: FusedCell = {
  step: (xw, hu, [, c]) => {
    const next = lstmCell(xw, hu, c);
    return [next.h, next.c];
  },
  backward: (xw, hu, [, c], _bias, [dh, dc]) => {
    const [dz, dcPrev] = lstmCellBackward(xw, hu, c, dh, dc);
    return { dxw: dz, dhu: dz, dStates: [null, dcPrev] };
  },
};

export interface LSTMArgs extends GatedRecurrentArgs {
  /** Start the forget gate's bias at 1 (Jozefowicz et al. 2015), the rest from biasInitializer. Default true. */
  unitForgetBias?: boolean;
}

export class LSTM extends GatedRecurrent {
  static override readonly className: string = 'LSTM';
  readonly unitForgetBias: boolean;

  constructor(args: LSTMArgs) {
    super(args, 4, 2);
    this.unitForgetBias = args.unitForgetBias ?? true;
  }

  protected override biasSpec(): { shape: number[]; initializer: InitializerSpec } {
    const u = this.units;
    if (!this.unitForgetBias) return { shape: [4 * u], initializer: this.biasInitializer };
    // [biasInit(u), ones(u), biasInit(2u)] as Keras builds it; an ad-hoc initializer for addWeight.
    const base = getInitializer(this.biasInitializer);
    const init: Initializer = Object.assign(
      (_shape: readonly number[], dtype: DType = 'float32') =>
        concat([base([u], dtype), ones([u], dtype), base([2 * u], dtype)]),
      { config: base.config },
    );
    return { shape: [4 * u], initializer: init };
  }

  protected override inputBias(): Tensor | null {
    return this.bias?.value ?? null;
  }

  protected override stepWeights(): Tensor[] {
    return [this.recurrentKernel!.value];
  }

  protected override cell(
    xw: Tensor,
    [h, c]: readonly Tensor[],
    [rk]: readonly Tensor[],
    recurrentMask: Tensor | null,
  ): { output: Tensor; states: Tensor[] } {
    const hu = matmul(recurrentMask ? mul(h, recurrentMask) : h, rk);
    if (this.standardActivations) {
      const next = lstmCell(xw, hu, c);
      return { output: next.h, states: [next.h, next.c] };
    }
    const act = this.activationFn;
    const { o, cNext } = lstmForward(xw, hu, c, this.recurrentActivationFn, act);
    const hNext = mul(o, act(cNext));
    return { output: hNext, states: [hNext, cNext] };
  }

  protected override fusedCell(): FusedCell | null {
    return this.standardActivations ? LSTM_CELL : null;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), unitForgetBias: this.unitForgetBias };
  }
}

registerLayer(LSTM);
