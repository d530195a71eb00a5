// Dense: y = activation(x @ kernel + bias) on the last axis of inputs of rank >= 2 (Keras Dense).
import type { Tensor } from '../../tensor/tensor.js';
import { matmul } from '../../ops/linalg.js';
import { reshape } from '../../ops/views.js';
import { formatSymShape, registerLayer, type CallContext, type LayerConfig, type SymShape } from '../layer.js';
import { AffineLayer, type AffineLayerArgs } from './affine.js';
import { asLayerDType, inputShapeError, oneInput, oneShape, positiveInt, who } from './common.js';
import { ShapeError } from '../../errors.js';

export interface DenseArgs extends AffineLayerArgs {
  units: number;
}

export class Dense extends AffineLayer {
  static override readonly className: string = 'Dense';
  override supportsMasking = true; // passes its input's mask on, as in Keras 3
  readonly units: number;
  /** Rank of the input the layer was built on; only for wording the expected shape in errors. */
  private builtRank = 2;

  constructor(args: DenseArgs) {
    super(args);
    this.units = positiveInt(this, 'units', args.units);
  }

  /** Kernel [inputDim, units], bias [units]. */
  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    const inputDim = shape[shape.length - 1];
    if (inputDim === null)
      throw new ShapeError(
        `${who(this)}: the last dimension of the input must be known to build the kernel, got ${formatSymShape(shape)}`,
      );
    this.builtRank = shape.length;
    this.addKernelAndBias([inputDim, this.units], this.units);
  }

  /** Rank >= 2 and, once built, the last dimension the kernel was made for. */
  private checkInput(shape: SymShape): void {
    if (shape.length < 2)
      throw inputShapeError(
        this,
        '(None, ..., features)',
        shape,
        'Dense needs inputs of rank >= 2 (add a batch dimension)',
      );
    const inputDim = this.kernel?.shape[0];
    const last = shape[shape.length - 1];
    if (inputDim !== undefined && last !== null && last !== inputDim) {
      throw inputShapeError(
        this,
        this.builtRank === 2 ? `(None, ${inputDim})` : `(None, ..., ${inputDim})`,
        shape,
        `the last dimension must be ${inputDim}`,
      );
    }
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const kernel = this.kernelValue();
    // Rank > 2: fold the leading axes into one matmul batch, then restore them.
    const y =
      x.rank === 2
        ? matmul(x, kernel)
        : reshape(matmul(reshape(x, [-1, kernel.shape[0]]), kernel), [...x.shape.slice(0, -1), this.units]);
    return this.finish(y);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    return [...shape.slice(0, -1), this.units];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), units: this.units };
  }
}
registerLayer(Dense);
