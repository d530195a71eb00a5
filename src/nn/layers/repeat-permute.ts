// Axis-rearranging layers: RepeatVector ([N, F] -> [N, n, F]) and Permute (reorders the non-batch axes).
import type { Tensor } from '../../tensor/tensor.js';
import { broadcastTo, contiguous, permute, unsqueeze } from '../../ops/views.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import { inputShapeError, oneInput, oneShape, positiveInt, who } from './common.js';

export interface RepeatVectorArgs extends LayerArgs {
  /** How many times the vector is repeated. */
  n: number;
}

/** [N, F] -> [N, n, F]: each sample's vector repeated n times (e.g. to feed an encoding to a decoder RNN). */
export class RepeatVector extends Layer {
  static override readonly className: string = 'RepeatVector';
  readonly n: number;

  constructor(args: RepeatVectorArgs) {
    super(args);
    this.n = positiveInt(this, 'n', args.n);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.computeOutputShape(x.shape);
    // A broadcast view made contiguous: the output owns its storage, so later in-place use is safe.
    return contiguous(broadcastTo(unsqueeze(x, 1), [x.shape[0], this.n, x.shape[1]]));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    if (shape.length !== 2) throw inputShapeError(this, '(None, features)', shape, 'expected rank 2');
    return [shape[0], this.n, shape[1]];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), n: this.n };
  }
}

export interface PermuteArgs extends LayerArgs {
  /** A permutation of 1 .. rank - 1 (the batch axis 0 stays first): [2, 1] swaps the two axes of [N, A, B]. */
  dims: readonly number[];
}

/** Reorders the non-batch axes: output axis i + 1 is input axis dims[i]. */
export class Permute extends Layer {
  static override readonly className: string = 'Permute';
  readonly dims: number[];

  constructor(args: PermuteArgs) {
    super(args);
    const dims = Array.isArray(args.dims) ? [...(args.dims as number[])] : [];
    const sorted = [...dims].sort((a, b) => a - b);
    if (dims.length === 0 || !sorted.every((d, i) => d === i + 1))
      throw new ArgumentError(
        `${who(this)}: dims must be a permutation of 1 .. ${Math.max(dims.length, 1)} (axis 0, the batch, ` +
          `stays first), got ${JSON.stringify(args.dims)}`,
      );
    this.dims = dims;
  }

  private check(shape: SymShape): void {
    if (shape.length !== this.dims.length + 1)
      throw inputShapeError(this, `rank ${this.dims.length + 1}`, shape, `dims is ${JSON.stringify(this.dims)}`);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    this.check(x.shape);
    return permute(x, [0, ...this.dims]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.check(shape);
    return [shape[0], ...this.dims.map((d) => shape[d])];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), dims: [...this.dims] };
  }
}

registerLayer(RepeatVector);
registerLayer(Permute);
