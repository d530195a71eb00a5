// BatchNormalization (Keras): normalizes each feature along `axis` with the batch statistics while
// training and with moving averages of them at inference; learns a scale (gamma) and offset (beta).
import type { Tensor } from '../../tensor/tensor.js';
import { add, mul, rsqrt, sub } from '../../ops/elementwise.js';
import { mean, variance } from '../../ops/reduce.js';
import { reshape } from '../../ops/views.js';
import { tidy } from '../../tensor/storage.js';
import { noGrad } from '../../autograd/tape.js';
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

export interface BatchNormalizationArgs extends LayerArgs {
  /** The feature axis (kept); statistics are taken over all the others. Default -1 (channels last). */
  axis?: number;
  /** Default 0.99: moving = moving * momentum + batch * (1 - momentum). */
  momentum?: number;
  /** Added to the variance before the square root. Default 0.001. */
  epsilon?: number;
  /** Learn beta (an offset). Default true. */
  center?: boolean;
  /** Learn gamma (a scale). Default true. */
  scale?: boolean;
  betaInitializer?: InitializerSpec;
  gammaInitializer?: InitializerSpec;
  movingMeanInitializer?: InitializerSpec;
  movingVarianceInitializer?: InitializerSpec;
  betaRegularizer?: RegularizerSpec | null;
  gammaRegularizer?: RegularizerSpec | null;
}

export class BatchNormalization extends Layer {
  static override readonly className: string = 'BatchNormalization';
  override supportsMasking = true; // passes its input's mask on, as in Keras 3
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly betaInitializer: Initializer;
  readonly gammaInitializer: Initializer;
  readonly movingMeanInitializer: Initializer;
  readonly movingVarianceInitializer: Initializer;
  readonly betaRegularizer?: Regularizer;
  readonly gammaRegularizer?: Regularizer;
  /** Made by build(); gamma/beta only when scale/center. movingMean/movingVariance are non-trainable. */
  gamma?: Variable;
  beta?: Variable;
  movingMean?: Variable;
  movingVariance?: Variable;
  /** Rank and the non-negative feature axis of the input the layer was built on. */
  private inputSpec?: { rank: number; axis: number; features: number };

  constructor(args: BatchNormalizationArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis))
      throw new ArgumentError(`${who(this)}: axis must be an integer, got ${JSON.stringify(args.axis)}`);
    this.momentum = args.momentum ?? 0.99;
    this.epsilon = args.epsilon ?? 0.001;
    if (!(this.momentum >= 0 && this.momentum <= 1))
      throw new ArgumentError(`${who(this)}: momentum must be in [0, 1], got ${this.momentum}`);
    if (!(this.epsilon > 0)) throw new ArgumentError(`${who(this)}: epsilon must be positive, got ${this.epsilon}`);
    this.center = args.center ?? true;
    this.scale = args.scale ?? true;
    this.betaInitializer = getInitializer(args.betaInitializer ?? 'zeros');
    this.gammaInitializer = getInitializer(args.gammaInitializer ?? 'ones');
    this.movingMeanInitializer = getInitializer(args.movingMeanInitializer ?? 'zeros');
    this.movingVarianceInitializer = getInitializer(args.movingVarianceInitializer ?? 'ones');
    this.betaRegularizer = getRegularizer(args.betaRegularizer);
    this.gammaRegularizer = getRegularizer(args.gammaRegularizer);
  }

  /** The non-negative feature axis for an input of this rank, or a ShapeError naming the layer. */
  private featureAxis(shape: SymShape): number {
    const a = this.axis < 0 ? this.axis + shape.length : this.axis;
    if (a < 0 || a >= shape.length)
      throw inputShapeError(
        this,
        `an input with axis ${this.axis}`,
        shape,
        `axis ${this.axis} is out of range for rank ${shape.length}`,
      );
    return a;
  }

  /** Same rank and feature count as at build time. */
  private checkInput(shape: SymShape): void {
    const b = this.inputSpec;
    if (!b) return;
    const expected = formatSymShape(Array.from({ length: b.rank }, (_, i) => (i === b.axis ? b.features : null)));
    if (shape.length !== b.rank) throw inputShapeError(this, expected, shape, `expected rank ${b.rank}`);
    const d = shape[b.axis];
    if (d !== null && d !== b.features)
      throw inputShapeError(this, expected, shape, `axis ${this.axis} must have ${b.features} features`);
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    const axis = this.featureAxis(shape);
    const features = shape[axis];
    if (features === null)
      throw new ShapeError(
        `${who(this)}: the feature axis ${this.axis} of the input must be known, got ${formatSymShape(shape)}`,
      );
    this.inputSpec = { rank: shape.length, axis, features };
    // Keras order: gamma, beta, moving_mean, moving_variance.
    if (this.scale)
      this.gamma = this.addWeight('gamma', [features], this.gammaInitializer, { regularizer: this.gammaRegularizer });
    if (this.center)
      this.beta = this.addWeight('beta', [features], this.betaInitializer, { regularizer: this.betaRegularizer });
    this.movingMean = this.addWeight('moving_mean', [features], this.movingMeanInitializer, { trainable: false });
    this.movingVariance = this.addWeight('moving_variance', [features], this.movingVarianceInitializer, {
      trainable: false,
    });
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const { axis, features } = this.inputSpec!;
    // [features] parameters reshaped to broadcast against x: 1 everywhere but the feature axis.
    const paramShape = x.shape.map((_, i) => (i === axis ? features : 1));
    const bcast = (t: Tensor) => reshape(t, paramShape);
    const reduceAxes = x.shape.map((_, i) => i).filter((i) => i !== axis);
    // A frozen layer (trainable = false) runs in inference mode even in training, as in Keras >= 2.1.3,
    // so fine-tuning does not disturb the learnt statistics.
    const training = ctx.training && this.trainable;
    let meanT: Tensor, varT: Tensor;
    if (training) {
      meanT = mean(x, reduceAxes, true);
      varT = variance(x, reduceAxes, true);
      this.updateMovingStats(meanT, varT);
    } else {
      meanT = bcast(this.movingMean!.value);
      varT = bcast(this.movingVariance!.value);
    }
    let y = mul(sub(x, meanT), rsqrt(add(varT, this.epsilon)));
    if (this.gamma) y = mul(y, bcast(this.gamma.value));
    if (this.beta) y = add(y, bcast(this.beta.value));
    return y;
  }

  /** moving = moving * momentum + batch * (1 - momentum) (Keras; biased batch variance), outside autograd. */
  private updateMovingStats(batchMean: Tensor, batchVar: Tensor): void {
    const { features } = this.inputSpec!;
    noGrad(() =>
      tidy(() => {
        for (const [v, batch] of [
          [this.movingMean!, batchMean],
          [this.movingVariance!, batchVar],
        ] as const) {
          v.assign(add(mul(v.value, this.momentum), mul(reshape(batch, [features]), 1 - this.momentum)));
        }
      }),
    );
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.featureAxis(shape);
    this.checkInput(shape);
    return shape;
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      betaInitializer: initializerConfig(this.betaInitializer),
      gammaInitializer: initializerConfig(this.gammaInitializer),
      movingMeanInitializer: initializerConfig(this.movingMeanInitializer),
      movingVarianceInitializer: initializerConfig(this.movingVarianceInitializer),
      betaRegularizer: regularizerConfig(this.betaRegularizer),
      gammaRegularizer: regularizerConfig(this.gammaRegularizer),
    };
  }
}

registerLayer(BatchNormalization);
