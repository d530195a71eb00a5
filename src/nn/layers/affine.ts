// AffineLayer: what Dense and the convolutions share — a weight and optional bias with their
// initializers and regularizers, an activation, and the config entries for all of them.
// Naming: "kernel" in Candor's code means a backend function (src/backends, kernels/), except the Keras
// weight name 'kernel' (and its config keys kernelInitializer / kernelRegularizer), kept for Keras compatibility.
import type { Tensor } from '../../tensor/tensor.js';
import { biasActivation } from '../../ops/families/train-step.js';
import { Layer, type LayerArgs, type LayerConfig } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import type { ActivationFn } from '../activations.js';
import { initializerConfig, regularizerConfig, resolveActivation } from './common.js';

export interface AffineLayerArgs extends LayerArgs {
  /** Activation name (camelCase or snake_case); null or omitted = linear. */
  activation?: string | null;
  useBias?: boolean;
  kernelInitializer?: InitializerSpec;
  biasInitializer?: InitializerSpec;
  kernelRegularizer?: RegularizerSpec | null;
  biasRegularizer?: RegularizerSpec | null;
}

export abstract class AffineLayer extends Layer {
  readonly activation: string;
  readonly useBias: boolean;
  readonly kernelInitializer: Initializer;
  readonly biasInitializer: Initializer;
  readonly kernelRegularizer?: Regularizer;
  readonly biasRegularizer?: Regularizer;
  private readonly activationFn: ActivationFn;
  /** Made by build(); undefined before. */
  kernel?: Variable;
  bias?: Variable;

  constructor(args: AffineLayerArgs) {
    super(args);
    const act = resolveActivation(args.activation);
    this.activation = act.name;
    this.activationFn = act.fn;
    this.useBias = args.useBias ?? true;
    this.kernelInitializer = getInitializer(args.kernelInitializer ?? 'glorotUniform');
    this.biasInitializer = getInitializer(args.biasInitializer ?? 'zeros');
    this.kernelRegularizer = getRegularizer(args.kernelRegularizer);
    this.biasRegularizer = getRegularizer(args.biasRegularizer);
  }

  /** Creates 'kernel' (and 'bias' of length `units` when useBias); call from build(). */
  protected addKernelAndBias(kernelShape: readonly number[], units: number): void {
    this.kernel = this.addWeight('kernel', kernelShape, this.kernelInitializer, {
      regularizer: this.kernelRegularizer,
    });
    if (this.useBias)
      this.bias = this.addWeight('bias', [units], this.biasInitializer, { regularizer: this.biasRegularizer });
  }

  /** The kernel the layer computes with: its weight (quantisation-aware training substitutes a fake-quantised one). */
  protected kernelValue(): Tensor {
    return this.kernel!.value;
  }

  /**
   * activation(y + bias); the bias broadcasts along the last (channel) axis. relu and tanh run fused
   * with the bias add (one kernel forward, one backward); sigmoid and softmax stay separate so the
   * cross-entropies can find their logits (nn/logits.ts).
   */
  protected finish(y: Tensor): Tensor {
    if (!this.bias) return this.activationFn(y);
    if (this.activation === 'relu' || this.activation === 'tanh' || this.activation === 'linear')
      return biasActivation(y, this.bias.value, this.activation);
    return this.activationFn(biasActivation(y, this.bias.value));
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: initializerConfig(this.kernelInitializer),
      biasInitializer: initializerConfig(this.biasInitializer),
      kernelRegularizer: regularizerConfig(this.kernelRegularizer),
      biasRegularizer: regularizerConfig(this.biasRegularizer),
    };
  }
}
