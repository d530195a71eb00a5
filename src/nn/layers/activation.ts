// Activation: applies a named activation function elementwise (Keras Activation layer).
import type { Tensor } from '../../tensor/tensor.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { ActivationFn } from '../activations.js';
import { oneInput, oneShape, resolveActivation } from './common.js';

export interface ActivationArgs extends LayerArgs {
  /** Activation name, camelCase or snake_case ('relu', 'leaky_relu', ...). */
  activation: string;
}

export class Activation extends Layer {
  static override readonly className: string = 'Activation';
  override supportsMasking = true; // passes its input's mask on, as in Keras 3
  readonly activation: string;
  private readonly fn: ActivationFn;

  constructor(args: ActivationArgs) {
    super(args);
    const act = resolveActivation(args.activation);
    this.activation = act.name;
    this.fn = act.fn;
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return this.fn(oneInput(this, inputs));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), activation: this.activation };
  }
}

registerLayer(Activation);
