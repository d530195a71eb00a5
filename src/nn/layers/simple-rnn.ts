// SimpleRNN (Keras): h_t = activation(x_t @ kernel + h_{t-1} @ recurrentKernel + bias).
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul } from '../../ops/elementwise.js';
import { matmul } from '../../ops/linalg.js';
import { registerLayer } from '../layer.js';
import type { InitializerSpec } from '../initializers.js';
import { Recurrent, type RecurrentArgs } from './recurrent.js';

export type SimpleRNNArgs = RecurrentArgs;

export class SimpleRNN extends Recurrent {
  static override readonly className: string = 'SimpleRNN';

  constructor(args: SimpleRNNArgs) {
    super(args, 1, 1);
  }

  protected override biasSpec(): { shape: number[]; initializer: InitializerSpec } {
    return { shape: [this.units], initializer: this.biasInitializer };
  }

  protected override inputBias(): Tensor | null {
    return this.bias?.value ?? null;
  }

  protected override stepWeights(): Tensor[] {
    return [this.recurrentKernel!.value];
  }

  protected override cell(
    xw: Tensor,
    [h]: readonly Tensor[],
    [rk]: readonly Tensor[],
    recurrentMask: Tensor | null,
  ): { output: Tensor; states: Tensor[] } {
    const next = this.activationFn(add(xw, matmul(recurrentMask ? mul(h, recurrentMask) : h, rk)));
    return { output: next, states: [next] };
  }
}

registerLayer(SimpleRNN);
