// Merge layers, called on a list of tensors: Add (elementwise sum, Keras broadcasting of size-1 axes)
// and Concatenate (along one axis).
import type { Tensor } from '../../tensor/tensor.js';
import { add } from '../../ops/elementwise.js';
import { concat } from '../../ops/indexing.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../layer.js';
import { who } from './common.js';

function mergeError(layer: Layer, expected: string, shapes: readonly SymShape[]): ShapeError {
  return new ShapeError(`${who(layer)} expects ${expected}, got ${shapes.map(formatSymShape).join(', ')}`);
}

/** A layer over a list of at least two inputs; subclasses check the shapes and combine the tensors. */
abstract class Merge extends Layer {
  /** The inputs as a list of at least two; `null` stands for a call on a single input. */
  private list<T>(inputs: T[] | null): T[] {
    if (!inputs || inputs.length < 2) {
      throw new ArgumentError(
        `${who(this)} must be called on a list of at least 2 inputs, ` +
          `got ${inputs ? `a list of ${inputs.length}` : 'a single input'}`,
      );
    }
    return inputs;
  }

  /** Validates the input shapes (ShapeError naming the layer) and returns the output shape. */
  protected abstract mergeShapes(shapes: readonly SymShape[]): SymShape;
  protected abstract merge(xs: readonly Tensor[]): Tensor;

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const xs = this.list(Array.isArray(inputs) ? inputs : null);
    this.mergeShapes(xs.map((x) => x.shape));
    return this.merge(xs);
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    // A single shape arrives as a flat list of dimensions, a list of shapes as a list of lists.
    return this.mergeShapes(this.list(Array.isArray(inputShape[0]) ? (inputShape as SymShape[]) : null));
  }
}

/** Elementwise sum of inputs of one rank; along each axis sizes must agree or be 1 (broadcast). */
export class Add extends Merge {
  static override readonly className: string = 'Add';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  protected override mergeShapes(shapes: readonly SymShape[]): SymShape {
    const rank = shapes[0].length;
    const fail = () => mergeError(this, 'inputs of one shape (or sizes of 1 that broadcast)', shapes);
    if (shapes.some((s) => s.length !== rank)) throw fail();
    // Keras' elementwise rule: an unknown size stays unknown; 1 broadcasts; other sizes must be equal.
    return Array.from({ length: rank }, (_, i) =>
      shapes.reduce<number | null>((acc, s) => {
        const d = s[i];
        if (acc === null || d === null) return null;
        if (acc === 1) return d;
        if (d === 1 || d === acc) return acc;
        throw fail();
      }, 1),
    );
  }

  protected override merge(xs: readonly Tensor[]): Tensor {
    return xs.slice(1).reduce((acc, x) => add(acc, x), xs[0]);
  }
}

export interface ConcatenateArgs extends LayerArgs {
  /** Axis to join along; default -1 (features). */
  axis?: number;
}

/** Joins inputs along `axis`; all other sizes must agree. */
export class Concatenate extends Merge {
  static override readonly className: string = 'Concatenate';
  readonly axis: number;

  constructor(args: ConcatenateArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis))
      throw new ArgumentError(`${who(this)}: axis must be an integer, got ${JSON.stringify(args.axis)}`);
  }

  protected override mergeShapes(shapes: readonly SymShape[]): SymShape {
    const rank = shapes[0].length;
    const axis = this.axis < 0 ? this.axis + rank : this.axis;
    const expected = `inputs of one rank whose sizes agree except on axis ${this.axis}`;
    if (axis < 0 || axis >= rank || shapes.some((s) => s.length !== rank)) throw mergeError(this, expected, shapes);
    return Array.from({ length: rank }, (_, i) => {
      if (i === axis)
        return shapes.some((s) => s[i] === null) ? null : shapes.reduce((n, s) => n + (s[i] as number), 0);
      const known = shapes.map((s) => s[i]).filter((d): d is number => d !== null);
      if (known.some((d) => d !== known[0])) throw mergeError(this, expected, shapes);
      // Unknown only if unknown in every input.
      return known.length > 0 ? known[0] : null;
    });
  }

  protected override merge(xs: readonly Tensor[]): Tensor {
    return concat(xs, this.axis);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), axis: this.axis };
  }
}

registerLayer(Add);
registerLayer(Concatenate);
