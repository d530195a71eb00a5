// Merge layers, called on a list of tensors: the elementwise ones (Add, Subtract, Multiply, Average, Maximum,
// Minimum; Keras broadcasting of size-1 axes), Concatenate (along one axis) and Dot (batched dot products).
import { Tensor } from '../../tensor/tensor.js';
import { add, cast, div, greater, logicalAnd, maximum, minimum, mul, rsqrt, sub } from '../../ops/elementwise.js';
import { ones } from '../../ops/creation.js';
import { concat } from '../../ops/indexing.js';
import { matmul } from '../../ops/linalg.js';
import { max, sum } from '../../ops/reduce.js';
import { expand, permute, reshape } from '../../ops/views.js';
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
import { toBool, type MaskArg } from '../masking.js';

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

/** An elementwise merge of inputs of one rank; along each axis sizes must agree or be 1 (broadcast). */
abstract class ElementwiseMerge extends Merge {
  override supportsMasking = true;

  /** Keras Merge.compute_mask: a step is kept where every masked input keeps it; none masked, no mask. */
  override computeMask(_inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    const masks = (Array.isArray(mask) ? mask : [mask]).filter((m): m is Tensor => m instanceof Tensor);
    if (masks.length === 0) return undefined;
    return masks.slice(1).reduce((acc, m) => logicalAnd(acc, toBool(m)), toBool(masks[0]));
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

  /** Combines two tensors; the inputs are folded left to right. */
  protected abstract combine(a: Tensor, b: Tensor): Tensor;

  protected override merge(xs: readonly Tensor[]): Tensor {
    return xs.slice(1).reduce((acc, x) => this.combine(acc, x), xs[0]);
  }
}

/** Elementwise sum. */
export class Add extends ElementwiseMerge {
  static override readonly className: string = 'Add';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return add(a, b);
  }
}

/** inputs[0] - inputs[1]; exactly two inputs. */
export class Subtract extends ElementwiseMerge {
  static override readonly className: string = 'Subtract';

  protected override mergeShapes(shapes: readonly SymShape[]): SymShape {
    if (shapes.length !== 2) throw new ArgumentError(`${who(this)} takes exactly 2 inputs, got ${shapes.length}`);
    return super.mergeShapes(shapes);
  }

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return sub(a, b);
  }
}

/** Elementwise product. */
export class Multiply extends ElementwiseMerge {
  static override readonly className: string = 'Multiply';

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return mul(a, b);
  }
}

/** Elementwise mean of the inputs. */
export class Average extends ElementwiseMerge {
  static override readonly className: string = 'Average';

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return add(a, b);
  }

  protected override merge(xs: readonly Tensor[]): Tensor {
    return div(super.merge(xs), xs.length);
  }
}

/** Elementwise maximum. */
export class Maximum extends ElementwiseMerge {
  static override readonly className: string = 'Maximum';

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return maximum(a, b);
  }
}

/** Elementwise minimum. */
export class Minimum extends ElementwiseMerge {
  static override readonly className: string = 'Minimum';

  protected override combine(a: Tensor, b: Tensor): Tensor {
    return minimum(a, b);
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

  override supportsMasking = true;

  /**
   * Keras 3's Concatenate.compute_mask: each input's mask (all-true where it has none), widened to the
   * input's shape, joined along `axis`, then kept where any entry of the last axis is kept. Joining along
   * time ([B, T1, D] and [B, T2, D]) gives [B, T1 + T2] with each input's steps; no mask in, no mask out.
   */
  override computeMask(inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    const masks = Array.isArray(mask) ? mask : [mask];
    if (!Array.isArray(inputs) || !masks.some((m) => m instanceof Tensor)) return undefined;
    const full = inputs.map((x, i) => {
      const m = masks[i];
      if (!(m instanceof Tensor)) return ones(x.shape, 'float32');
      const keep = cast(toBool(m), 'float32');
      return m.rank < x.rank ? expand(reshape(keep, [...m.shape, 1]), x.shape) : keep;
    });
    return greater(max(concat(full, this.axis), -1), 0);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), axis: this.axis };
  }
}

export interface DotArgs extends LayerArgs {
  /**
   * The axis (of both inputs) or axes [of the first, of the second] whose entries are multiplied and summed;
   * not the batch axis (0). Negative values count from the end.
   */
  axes: number | readonly [number, number];
  /** L2-normalize both inputs along the summed axes first, so the output is the cosine similarity. Default false. */
  normalize?: boolean;
}

/**
 * Keras Dot (batch_dot) of two inputs: for each sample, sums x * y over axes[0] of x and axes[1] of y; the
 * output holds x's remaining axes then y's, e.g. [B, T, D] . [B, S, D] over axes 2 -> [B, T, S]. Two rank-2
 * inputs give [B, 1].
 */
export class Dot extends Merge {
  static override readonly className: string = 'Dot';
  readonly axes: number | [number, number];
  readonly normalize: boolean;

  constructor(args: DotArgs) {
    super(args);
    const a = args.axes;
    const ok = Number.isInteger(a) || (Array.isArray(a) && a.length === 2 && a.every(Number.isInteger));
    if (!ok) throw new ArgumentError(`${who(this)}: axes must be an integer or two, got ${JSON.stringify(a)}`);
    this.axes = typeof a === 'number' ? a : [a[0], a[1]];
    this.normalize = args.normalize ?? false;
  }

  /** The two summed axes, non-negative, for inputs of these ranks; an error unless both are non-batch axes. */
  private dotAxes(shapes: readonly SymShape[]): [number, number] {
    const axes = typeof this.axes === 'number' ? [this.axes, this.axes] : this.axes;
    const [ax, ay] = axes.map((a, i) => (a < 0 ? a + shapes[i].length : a));
    if (ax < 1 || ax >= shapes[0].length || ay < 1 || ay >= shapes[1].length)
      throw mergeError(this, `two inputs of rank >= 2 with non-batch axes ${JSON.stringify(this.axes)}`, shapes);
    return [ax, ay];
  }

  protected override mergeShapes(shapes: readonly SymShape[]): SymShape {
    if (shapes.length !== 2) throw new ArgumentError(`${who(this)} takes exactly 2 inputs, got ${shapes.length}`);
    const [x, y] = shapes;
    const [ax, ay] = this.dotAxes(shapes);
    const bad = (a: number | null, b: number | null) => a !== null && b !== null && a !== b;
    if (bad(x[0], y[0]) || bad(x[ax], y[ay]))
      throw mergeError(this, `one batch size and equal sizes on the summed axes ${ax} and ${ay}`, shapes);
    const out = [...x.slice(1).filter((_, i) => i + 1 !== ax), ...y.slice(1).filter((_, i) => i + 1 !== ay)];
    return [x[0] ?? y[0], ...(out.length === 0 ? [1] : out)];
  }

  /** x / max(|x|, 1e-6) along `axis` (Keras l2_normalize: x * rsqrt(max(sum x^2, 1e-12))). */
  private l2Normalize(x: Tensor, axis: number): Tensor {
    return mul(x, rsqrt(maximum(sum(mul(x, x), axis, true), 1e-12)));
  }

  protected override merge(xs: readonly Tensor[]): Tensor {
    let [x, y] = xs;
    const [ax, ay] = this.dotAxes(xs.map((t) => t.shape));
    if (this.normalize) {
      x = this.l2Normalize(x, ax);
      y = this.l2Normalize(y, ay);
    }
    const outShape = this.mergeShapes([x.shape, y.shape]) as number[];
    // x -> [B, rest of x, K], y -> [B, K, rest of y]; one batched matmul gives [B, |rest x|, |rest y|].
    const rest = (t: Tensor, a: number) => t.shape.map((_, i) => i).filter((i) => i !== 0 && i !== a);
    const rx = rest(x, ax),
      ry = rest(y, ay);
    const size = (t: Tensor, axes: number[]) => axes.reduce((n, i) => n * t.shape[i], 1);
    const b = x.shape[0],
      k = x.shape[ax];
    const x3 = reshape(permute(x, [0, ...rx, ax]), [b, size(x, rx), k]);
    const y3 = reshape(permute(y, [0, ay, ...ry]), [b, k, size(y, ry)]);
    return reshape(matmul(x3, y3), outShape);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      axes: typeof this.axes === 'number' ? this.axes : [...this.axes],
      normalize: this.normalize,
    };
  }
}

registerLayer(Add);
registerLayer(Subtract);
registerLayer(Multiply);
registerLayer(Average);
registerLayer(Maximum);
registerLayer(Minimum);
registerLayer(Concatenate);
registerLayer(Dot);
