// Input placeholders for the functional API: input({shape}) returns a SymbolicTensor made by an InputLayer.
import type { Tensor } from '../tensor/tensor.js';
import { DTYPES, isFloat, type DType } from '../tensor/dtype.js';
import { ArgumentError, DTypeError, fmtValue } from '../errors.js';
import {
  Layer,
  Node,
  SymbolicTensor,
  registerLayer,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from './layer.js';

export interface InputLayerArgs extends Omit<LayerArgs, 'dtype'> {
  /**
   * The dtype of what is fed in (Keras Input's dtype): 'int32' for token ids, 'string' for raw text
   * (string[] / StringTensor, for a text layer). Default 'float32'.
   */
  dtype?: DType | 'string';
  sparse?: boolean;
}

export class InputLayer extends Layer {
  static override readonly className = 'InputLayer';
  /** The placeholder this layer feeds to a graph (its one node's output, made by the constructor). */
  override get output(): SymbolicTensor {
    return this.inboundNodes[0].outputs[0];
  }

  constructor(args: InputLayerArgs) {
    const dtype = args.dtype ?? 'float32';
    // The layer's own dtype is that of weights (it has none); the input's dtype lives on its output.
    super({ ...args, dtype: dtype !== 'string' && isFloat(dtype) ? dtype : undefined });
    if (!(DTYPES as readonly unknown[]).includes(dtype) && dtype !== 'string')
      throw new DTypeError(
        `InputLayer '${this.name}': dtype must be one of ${DTYPES.join(', ')} or 'string', got ${fmtValue(dtype)}`,
      );
    if (args.sparse)
      throw new ArgumentError(`InputLayer '${this.name}': sparse inputs are not supported; feed dense tensors`);
    if (!this.batchInputShape)
      throw new ArgumentError(
        `InputLayer '${this.name}': needs inputShape (the shape of one sample) or batchInputShape`,
      );
    const output = new SymbolicTensor(this.batchInputShape, dtype, this.name, this);
    const node = new Node(this, [], [output]);
    output.node = node;
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
    const { name, batchInputShape } = super.getConfig();
    return { name, dtype: this.output.dtype, batchInputShape };
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
  /** 'int32' for token ids (an Embedding's input), 'string' for raw text (a text layer's); default 'float32'. */
  dtype?: DType | 'string';
}): SymbolicTensor {
  return new InputLayer({ inputShape: shape, batchSize, name: name ?? undefined, dtype }).output;
}
