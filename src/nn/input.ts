// Input placeholders for the functional API: input({shape}) returns a SymbolicTensor made by an InputLayer.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import {
  Layer,
  Node,
  SymbolicTensor,
  registerLayer,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from './layer.js';

export class InputLayer extends Layer {
  static override readonly className = 'InputLayer';
  readonly output: SymbolicTensor;

  constructor(args: LayerArgs & { sparse?: boolean }) {
    super(args);
    if (!this.batchInputShape)
      throw new ArgumentError(
        `InputLayer '${this.name}': needs inputShape (the shape of one sample) or batchInputShape`,
      );
    this.output = new SymbolicTensor(this.batchInputShape, this.dtype, this.name, this);
    const node = new Node(this, [], [this.output]);
    this.output.node = node;
    this.inboundNodes.push(node);
    this.built = true;
  }

  override get takesStrings(): boolean {
    return true;
  }

  call(inputs: Tensor | Tensor[]): Tensor | Tensor[] {
    return inputs;
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    return inputShape;
  }

  override getConfig(): LayerConfig {
    const { name, dtype, batchInputShape } = super.getConfig();
    return { name, dtype, batchInputShape };
  }
}
registerLayer(InputLayer);

/** A placeholder for one input of a functional model; `shape` excludes the batch dimension. */
export function input({
  shape,
  batchSize,
  name,
  dtype,
}: {
  shape: readonly (number | null)[];
  batchSize?: number;
  name?: string;
  dtype?: 'float32' | 'float64';
}): SymbolicTensor {
  return new InputLayer({ inputShape: shape, batchSize, name: name ?? undefined, dtype }).output;
}
