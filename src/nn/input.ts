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

  /** dtype 'string': the input takes raw text (string[] / StringTensor) for a text layer. */
  readonly takesText: boolean;

  constructor(args: Omit<LayerArgs, 'dtype'> & { sparse?: boolean; dtype?: LayerArgs['dtype'] | 'string' }) {
    const text = args.dtype === 'string';
    super({ ...args, dtype: text ? undefined : (args.dtype as LayerArgs['dtype']) });
    this.takesText = text;
    if (!this.batchInputShape)
      throw new ArgumentError(
        `InputLayer '${this.name}': needs inputShape (the shape of one sample) or batchInputShape`,
      );
    this.output = new SymbolicTensor(this.batchInputShape, text ? 'string' : this.dtype, this.name, this);
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
    return { name, dtype: this.takesText ? 'string' : dtype, batchInputShape };
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
  /** 'string' for raw text (Keras' dtype="string"): shape [] takes a string[], one string per sample. */
  dtype?: 'float32' | 'float64' | 'string';
}): SymbolicTensor {
  return new InputLayer({ inputShape: shape, batchSize, name: name ?? undefined, dtype }).output;
}
