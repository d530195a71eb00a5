// LayerNormalization (Keras, Ba et al. 2016): normalizes each sample over `axis` (the features) with its
// own mean and variance, the same in training and inference, then scales by gamma and shifts by beta.
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul, rsqrt, sub } from '../../ops/elementwise.js';
import { mean, variance } from '../../ops/reduce.js';
import { reshape } from '../../ops/views.js';
import { layerNorm } from '../../ops/families/layer-norm.js';
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
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import {
  asLayerDType,
  initializerConfig,
  inputShapeError,
  oneInput,
  oneShape,
  regularizerConfig,
  who,
} from './common.js';

export interface LayerNormalizationArgs extends LayerArgs {
  /** The axis or axes normalized over (and that gamma/beta span). Default -1. */
  axis?: number | readonly number[];
  /** Added to the variance before the square root. Default 0.001 (Keras). */
  epsilon?: number;
  /** Learn beta (an offset). Default true. */
  center?: boolean;
  /** Learn gamma (a scale). Default true. */
  scale?: boolean;
  betaInitializer?: InitializerSpec;
  gammaInitializer?: InitializerSpec;
  betaRegularizer?: RegularizerSpec | null;
  gammaRegularizer?: RegularizerSpec | null;
}

export class LayerNormalization extends Layer {
  static override readonly className: string = 'LayerNormalization';
  readonly axis: number | number[];
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly betaInitializer: Initializer;
  readonly gammaInitializer: Initializer;
  readonly betaRegularizer?: Regularizer;
  readonly gammaRegularizer?: Regularizer;
  override supportsMasking = true;
  /** Made by build(): shaped as the input's normalized axes. */
  gamma?: Variable;
  beta?: Variable;
  /** Rank and the non-negative, sorted normalized axes of the input the layer was built on. */
  private spec?: { rank: number; axes: number[]; sizes: number[] };

  constructor(args: LayerNormalizationArgs = {}) {
    super(args);
    const axis = args.axis ?? -1;
    const list = typeof axis === 'number' ? [axis] : [...axis];
    if (list.length === 0 || !list.every(Number.isInteger))
      throw new ArgumentError(
        `${who(this)}: axis must be an integer or a non-empty list of them, got ${JSON.stringify(args.axis)}`,
      );
    this.axis = typeof axis === 'number' ? axis : list;
    this.epsilon = args.epsilon ?? 0.001;
    if (!(this.epsilon > 0)) throw new ArgumentError(`${who(this)}: epsilon must be positive, got ${this.epsilon}`);
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    this.betaInitializer = getInitializer(args.betaInitializer ?? 'zeros');
    this.gammaInitializer = getInitializer(args.gammaInitializer ?? 'ones');
    this.betaRegularizer = getRegularizer(args.betaRegularizer);
    this.gammaRegularizer = getRegularizer(args.gammaRegularizer);
  }

  /** The normalized axes for an input of this shape (non-negative, sorted, not the batch axis). */
  private axes(shape: SymShape): number[] {
    const list = typeof this.axis === 'number' ? [this.axis] : this.axis;
    const axes = [...new Set(list.map((a) => (a < 0 ? a + shape.length : a)))].sort((a, b) => a - b);
    if (axes.some((a) => a < 1 || a >= shape.length))
      throw inputShapeError(
        this,
        `an input with axis ${JSON.stringify(this.axis)}`,
        shape,
        `axis ${JSON.stringify(this.axis)} is out of range for rank ${shape.length} ` +
          '(the batch axis cannot be normalized over)',
      );
    return axes;
  }

  private checkInput(shape: SymShape): void {
    const s = this.spec;
    if (!s) return;
    const expected = formatSymShape(
      Array.from({ length: s.rank }, (_, i) => (s.axes.includes(i) ? s.sizes[s.axes.indexOf(i)] : null)),
    );
    if (shape.length !== s.rank) throw inputShapeError(this, expected, shape, `expected rank ${s.rank}`);
    s.axes.forEach((a, i) => {
      if (shape[a] !== null && shape[a] !== s.sizes[i])
        throw inputShapeError(this, expected, shape, `axis ${a} must have size ${s.sizes[i]}`);
    });
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    const axes = this.axes(shape);
    const sizes = axes.map((a) => shape[a]);
    if (sizes.some((d) => d === null))
      throw new ShapeError(
        `${who(this)}: the normalized axes of the input must be known, got ${formatSymShape(shape)}`,
      );
    this.spec = { rank: shape.length, axes, sizes: sizes as number[] };
    // Keras order: gamma, beta.
    if (this.scale)
      this.gamma = this.addWeight('gamma', sizes as number[], this.gammaInitializer, {
        regularizer: this.gammaRegularizer,
      });
    if (this.center)
      this.beta = this.addWeight('beta', sizes as number[], this.betaInitializer, {
        regularizer: this.betaRegularizer,
      });
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const { axes } = this.spec!;
    // The usual case (last axis, scale and offset) is one fused op, forward and backward.
    if (axes.length === 1 && axes[0] === x.rank - 1 && this.gamma && this.beta)
      return layerNorm(x, this.gamma.value, this.beta.value, this.epsilon);
    // gamma/beta reshaped to broadcast: their sizes on the normalized axes, 1 elsewhere.
    const paramShape = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
    let y = mul(sub(x, mean(x, axes, true)), rsqrt(add(variance(x, axes, true), this.epsilon)));
    if (this.gamma) y = mul(y, reshape(this.gamma.value, paramShape));
    if (this.beta) y = add(y, reshape(this.beta.value, paramShape));
    return y;
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.axes(shape);
    this.checkInput(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      axis: typeof this.axis === 'number' ? this.axis : [...this.axis],
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: initializerConfig(this.betaInitializer),
      gammaInitializer: initializerConfig(this.gammaInitializer),
      betaRegularizer: regularizerConfig(this.betaRegularizer),
      gammaRegularizer: regularizerConfig(this.gammaRegularizer),
    };
  }
}

registerLayer(LayerNormalization);
