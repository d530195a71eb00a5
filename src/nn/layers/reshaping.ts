// Shape-only layers that keep the batch axis: Flatten ([N, ...] -> [N, prod]), Reshape ([N, ...] -> [N, ...target]).
import type { Tensor } from '../../tensor/tensor.js';
import { reshape } from '../../ops/views.js';
import { ArgumentError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import { inputShapeError, knownSize, oneInput, oneShape, who } from './common.js';

/** [N, d1, d2, ...] -> [N, d1 * d2 * ...]; a rank-1 input [N] becomes [N, 1] (Keras). */
export class Flatten extends Layer {
  static override readonly className: string = 'Flatten';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    if (x.rank === 0) throw inputShapeError(this, '(None, ...)', x.shape, 'needs a batch dimension');
    return reshape(x, [x.shape[0], x.shape.slice(1).reduce((a, b) => a * b, 1)]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    if (shape.length === 0) throw inputShapeError(this, '(None, ...)', shape, 'needs a batch dimension');
    return [shape[0], knownSize(shape.slice(1))];
  }
}

export interface ReshapeArgs extends LayerArgs {
  /** The per-sample output shape (no batch axis); one entry may be -1, inferred from the input size. */
  targetShape: readonly number[];
}

export class Reshape extends Layer {
  static override readonly className: string = 'Reshape';
  readonly targetShape: number[];

  constructor(args: ReshapeArgs) {
    super(args);
    const t = [...(args.targetShape ?? [])];
    const unknowns = t.filter((d) => d === -1).length;
    if (!args.targetShape || unknowns > 1 || !t.every((d) => d === -1 || (Number.isInteger(d) && d >= 1))) {
      throw new ArgumentError(
        `${who(this)}: targetShape must be positive integers with at most one -1, ` +
          `got ${JSON.stringify(args.targetShape)}`,
      );
    }
    this.targetShape = t;
  }

  /** The target shape with -1 resolved from the elements per sample of the input (null if unknown). */
  private resolve(inputShape: SymShape): (number | null)[] {
    if (inputShape.length === 0) throw inputShapeError(this, '(None, ...)', inputShape, 'needs a batch dimension');
    const perSample = knownSize(inputShape.slice(1));
    const fixed = this.targetShape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const want = this.targetShape.includes(-1) ? `a multiple of ${fixed}` : String(fixed);
    const fail = () =>
      inputShapeError(
        this,
        `(None, ...) with ${want} elements per sample`,
        inputShape,
        `cannot reshape ${perSample} elements per sample to target shape ${formatSymShape(this.targetShape)}`,
      );
    if (!this.targetShape.includes(-1)) {
      if (perSample !== null && perSample !== fixed) throw fail();
      return [...this.targetShape];
    }
    if (perSample === null) return this.targetShape.map((d) => (d === -1 ? null : d));
    if (perSample % fixed !== 0) throw fail();
    return this.targetShape.map((d) => (d === -1 ? perSample / fixed : d));
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = oneInput(this, inputs);
    return reshape(x, [x.shape[0], ...(this.resolve(x.shape) as number[])]);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    return [shape[0], ...this.resolve(shape)];
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), targetShape: [...this.targetShape] };
  }
}

registerLayer(Flatten);
registerLayer(Reshape);
