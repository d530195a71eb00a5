// GroupNormalization (Keras; Wu & He 2018): splits the channels into groups of consecutive channels and
// normalizes each sample's group over the group's channels and all other non-batch axes; then a per-channel
// gamma and beta. groups = 1 is LayerNormalization over all non-batch axes; groups = channels, InstanceNorm.
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul, rsqrt, sub } from '../../ops/elementwise.js';
import { mean, variance } from '../../ops/reduce.js';
import { permute, reshape } from '../../ops/views.js';
import { ArgumentError } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import {
  asLayerDType,
  initializerConfig,
  inputShapeError,
  oneInput,
  oneShape,
  positiveInt,
  regularizerConfig,
  who,
} from './common.js';

export interface GroupNormalizationArgs extends LayerArgs {
  /** Number of groups; must divide the channels. Default 32 (Keras). */
  groups?: number;
  /** The channel axis. Default -1. */
  axis?: number;
  /** Added to the variance before the square root. Default 0.001 (Keras). */
  epsilon?: number;
  /** Learn beta (an offset per channel). Default true. */
  center?: boolean;
  /** Learn gamma (a scale per channel). Default true. */
  scale?: boolean;
  betaInitializer?: InitializerSpec;
  gammaInitializer?: InitializerSpec;
  betaRegularizer?: RegularizerSpec | null;
  gammaRegularizer?: RegularizerSpec | null;
}

export class GroupNormalization extends Layer {
  static override readonly className: string = 'GroupNormalization';
  readonly groups: number;
  readonly axis: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly betaInitializer: Initializer;
  readonly gammaInitializer: Initializer;
  readonly betaRegularizer?: Regularizer;
  readonly gammaRegularizer?: Regularizer;
  override supportsMasking = true;
  /** Made by build(): [channels]. */
  gamma?: Variable;
  beta?: Variable;

  constructor(args: GroupNormalizationArgs = {}) {
    super(args);
    this.groups = positiveInt(this, 'groups', args.groups ?? 32);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis))
      throw new ArgumentError(`${who(this)}: axis must be an integer, got ${JSON.stringify(args.axis)}`);
    this.epsilon = args.epsilon ?? 0.001;
    if (!(this.epsilon > 0)) throw new ArgumentError(`${who(this)}: epsilon must be positive, got ${this.epsilon}`);
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    this.betaInitializer = getInitializer(args.betaInitializer ?? 'zeros');
    this.gammaInitializer = getInitializer(args.gammaInitializer ?? 'ones');
    this.betaRegularizer = getRegularizer(args.betaRegularizer);
    this.gammaRegularizer = getRegularizer(args.gammaRegularizer);
  }

  /** The channel axis (non-negative) of an input of this shape; an error unless its size is known and splits. */
  private channelAxis(shape: SymShape): number {
    const axis = this.axis < 0 ? this.axis + shape.length : this.axis;
    const expected = `an input whose axis ${this.axis} holds a multiple of ${this.groups} channels`;
    if (axis < 1 || axis >= shape.length)
      throw inputShapeError(this, expected, shape, `axis ${this.axis} is out of range (or the batch axis)`);
    const c = shape[axis];
    if (c === null || c % this.groups !== 0)
      throw inputShapeError(
        this,
        expected,
        shape,
        `${c ?? 'unknown'} channels do not split into ${this.groups} groups`,
      );
    if (this.gamma ?? this.beta) {
      const built = (this.gamma ?? this.beta)!.shape[0];
      if (c !== built) throw inputShapeError(this, expected, shape, `the layer was built for ${built} channels`);
    }
    return axis;
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    const c = shape[this.channelAxis(shape)] as number;
    // Keras order: gamma, beta.
    if (this.scale)
      this.gamma = this.addWeight('gamma', [c], this.gammaInitializer, { regularizer: this.gammaRegularizer });
    if (this.center)
      this.beta = this.addWeight('beta', [c], this.betaInitializer, { regularizer: this.betaRegularizer });
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    let x = asLayerDType(this, oneInput(this, inputs));
    const axis = this.channelAxis(x.shape);
    const last = x.rank - 1;
    // Channels moved last (a view), then [N, ..., groups, channels / groups]; statistics over all but N and groups.
    const order = [...x.shape.keys()].filter((i) => i !== axis).concat(axis);
    if (axis !== last) x = permute(x, order);
    const shape = x.shape;
    const c = shape[last];
    const grouped = reshape(x, [...shape.slice(0, last), this.groups, c / this.groups]);
    const axes = [...grouped.shape.keys()].filter((i) => i !== 0 && i !== last);
    const normalized = mul(
      sub(grouped, mean(grouped, axes, true)),
      rsqrt(add(variance(grouped, axes, true), this.epsilon)),
    );
    let y = reshape(normalized, shape);
    if (this.gamma) y = mul(y, this.gamma.value);
    if (this.beta) y = add(y, this.beta.value);
    // Back to the input's axis order: the inverse permutation.
    return axis === last
      ? y
      : permute(
          y,
          order.map((_, i) => order.indexOf(i)),
        );
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.channelAxis(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      groups: this.groups,
      axis: this.axis,
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

registerLayer(GroupNormalization);
