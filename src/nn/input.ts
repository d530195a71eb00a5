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
  /** The dtype of the tensors fed in (Keras Input's dtype): 'int32' for token ids. Default 'float32'. */
  dtype?: DType;
  sparse?: boolean;
}

export class InputLayer extends Layer {
  static override readonly className = 'InputLayer';
  readonly output: SymbolicTensor;

  constructor(args: InputLayerArgs) {
    const dtype = args.dtype ?? 'float32';
    // The layer's own dtype is that of weights (it has none); the input's dtype lives on its output.
    super({ ...args, dtype: isFloat(dtype) ? dtype : undefined });
    if (!(DTYPES as readonly unknown[]).includes(dtype))
      throw new DTypeError(
        `InputLayer '${this.name}': dtype must be one of ${DTYPES.join(', ')}, got ${fmtValue(dtype)}`,
      );
    if (args.sparse)
      throw new ArgumentError(`InputLayer '${this.name}': sparse inputs are not supported; feed dense tensors`);
    if (!this.batchInputShape)
      throw new ArgumentError(
        `InputLayer '${this.name}': needs inputShape (the shape of one sample) or batchInputShape`,
      );
    this.output = new SymbolicTensor(this.batchInputShape, dtype, this.name, this);
    const node = new Node(this, [], [this.output]);
    this.output.node = node;
    this.inboundNodes.push(node);
    this.built = true;
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
  /** 'int32' for token ids (an Embedding's input); default 'float32'. */
  dtype?: DType;
}): SymbolicTensor {
  return new InputLayer({ inputShape: shape, batchSize, name: name ?? undefined, dtype }).output;
}
