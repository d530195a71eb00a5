// GRU (Keras, Cho et al. 2014): Keras gate order z, r, h; resetAfter (default) is PyTorch's GRU.
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';
import { split } from '../../ops/indexing.js';
import { contiguous, reshape, slice } from '../../ops/views.js';
import { gruCell, gruCellBackward, gruForward, gruMix } from '../../ops/families/recurrent.js';
import { registerLayer, type LayerConfig } from '../layer.js';
import type { InitializerSpec } from '../initializers.js';
import { GatedRecurrent, type GatedRecurrentArgs } from './recurrent.js';
import type { FusedCell } from './rnn-scan.js';

// GRU (Keras, Cho et al. 2014): gates in Keras order z, r, h in the kernel columns. resetAfter (default, =
// PyTorch's GRU) applies the reset gate after the recurrent matmul and keeps a separate recurrent bias
// (bias [2, 3 * units]: input row, recurrent row); resetAfter = false applies it before (bias [3 * units]).

/** The standard GRU step (resetAfter, sigmoid gates, tanh) as fused ops; states [h]. */
const GRU_CELL: FusedCell = {
  step: (xw, hu, [h], bias) => [gruCell(xw, hu, h, bias)],
  backward: (xw, hu, [h], bias, [dh]) => {
    const [dxw, dhu, dhDirect] = gruCellBackward(xw, hu, h, dh, bias);
    return { dxw, dhu, dStates: [dhDirect] };
  },
};

export interface GRUArgs extends GatedRecurrentArgs {
  /** Reset gate after the recurrent matmul (Keras 2+ default, cuDNN and PyTorch convention). Default true. */
  resetAfter?: boolean;
}

export class GRU extends GatedRecurrent {
  static override readonly className: string = 'GRU';
  readonly resetAfter: boolean;

  constructor(args: GRUArgs) {
    super(args, 3, 1);
    this.resetAfter = args.resetAfter ?? true;
  }

  protected override biasSpec(): { shape: number[]; initializer: InitializerSpec } {
    return { shape: this.resetAfter ? [2, 3 * this.units] : [3 * this.units], initializer: this.biasInitializer };
  }

  /** The input bias: the whole bias, or its first row with resetAfter. */
  protected override inputBias(): Tensor | null {
    const b = this.bias?.value;
    if (!b) return null;
    return this.resetAfter ? reshape(slice(b, [0, 0], [1, 3 * this.units]), [3 * this.units]) : b;
  }

  /** resetAfter: [recurrentKernel, recurrentBias?]; reset before: the kernel's z|r and h column blocks. */
  protected override stepWeights(): Tensor[] {
    const u = this.units;
    const rk = this.recurrentKernel!.value;
    if (this.resetAfter) {
      const b = this.bias?.value;
      return b ? [rk, reshape(slice(b, [1, 0], [1, 3 * u]), [3 * u])] : [rk];
    }
    // Reset before: the candidate's recurrent matmul sees r * h, so the kernel is used in two parts
    // (made contiguous once per call, not once per step).
    return [contiguous(slice(rk, [0, 0], [u, 2 * u])), contiguous(slice(rk, [0, 2 * u], [u, u]))];
  }

  protected override cell(
    xw: Tensor,
    [h]: readonly Tensor[],
    weights: readonly Tensor[],
    recurrentMask: Tensor | null,
  ): { output: Tensor; states: Tensor[] } {
    const u = this.units;
    const act = this.activationFn,
      gate = this.recurrentActivationFn;
    const hd = recurrentMask ? mul(h, recurrentMask) : h;
    let next: Tensor;
    if (this.resetAfter) {
      const [rk, recurrentBias] = weights;
      const hu = matmul(hd, rk);
      if (this.standardActivations) {
        next = gruCell(xw, hu, h, recurrentBias ?? null);
      } else {
        const { z, hh } = gruForward(xw, hu, recurrentBias, gate, act);
        next = gruMix(z, h, hh);
      }
    } else {
      const [rkZR, rkH] = weights;
      const [xzr, xh] = split(xw, [2 * u, u], 1);
      const [z, r] = split(gate(add(xzr, matmul(hd, rkZR))), 2, 1);
      next = gruMix(z, h, act(add(xh, matmul(mul(r, hd), rkH))));
    }
    return { output: next, states: [next] };
  }

  protected override fusedCell(): FusedCell | null {
    return this.resetAfter && this.standardActivations ? GRU_CELL : null;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), resetAfter: this.resetAfter };
  }
}

registerLayer(GRU);
