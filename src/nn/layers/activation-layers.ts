// Activation functions with options, as layers (Keras): LeakyReLU, PReLU (a learned slope), ReLU (maxValue,
// negativeSlope, threshold), ELU and Softmax (axis, honouring a mask).
import type { Tensor } from '../../tensor/tensor.js';
import { add, cast, elu, greater, leakyRelu, minimum, mul, sub, where } from '../../ops/elementwise.js';
import { softmax } from '../../ops/families/softmax.js';
import { MASKED_LOGIT } from '../../ops/families/attention.js';
import { reshape } from '../../ops/views.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import { Layer, registerLayer, type CallContext, type LayerArgs, type LayerConfig, type SymShape } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import { firstMask, toBool, type MaskArg } from '../masking.js';
import { rememberLogits } from '../logits.js';
import {
  asLayerDType,
  initializerConfig,
  inputShapeError,
  oneInput,
  oneShape,
  regularizerConfig,
  who,
} from './common.js';

/** A finite number >= 0 (or > 0 when `positive`), else an ArgumentError naming the layer and the option. */
function nonNegative(layer: Layer, arg: string, value: unknown, positive = false): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (positive && value === 0))
    throw new ArgumentError(
      `${who(layer)}: ${arg} must be a ${positive ? 'positive' : 'non-negative'} number, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** An elementwise layer: output shape = input shape, the input's mask passed on. */
abstract class ElementwiseActivation extends Layer {
  override supportsMasking = true;
  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }
}

export interface LeakyReLUArgs extends LayerArgs {
  /** Slope for x < 0. Default 0.3 (Keras). */
  negativeSlope?: number;
}

/** x for x > 0, negativeSlope * x otherwise. */
export class LeakyReLU extends ElementwiseActivation {
  static override readonly className: string = 'LeakyReLU';
  readonly negativeSlope: number;

  constructor(args: LeakyReLUArgs = {}) {
    super(args);
    // One word for one thing: Keras 3's name, and a pointer to it for Keras 2 / TF.js code.
    if ((args as { alpha?: unknown }).alpha !== undefined)
      throw new ArgumentError(`${who(this)}: alpha is Keras 2's name for the slope; pass negativeSlope instead`);
    this.negativeSlope = nonNegative(this, 'negativeSlope', args.negativeSlope ?? 0.3);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return leakyRelu(asLayerDType(this, oneInput(this, inputs)), this.negativeSlope);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), negativeSlope: this.negativeSlope };
  }
}

export interface ReLUArgs extends LayerArgs {
  /** Largest output (null: unbounded). */
  maxValue?: number | null;
  /** Slope below the threshold. Default 0. */
  negativeSlope?: number;
  /** Inputs at or below it go to the negative branch. Default 0. */
  threshold?: number;
}

/** Keras ReLU: min(x, maxValue) for x > threshold, negativeSlope * (x - threshold) otherwise. */
export class ReLU extends ElementwiseActivation {
  static override readonly className: string = 'ReLU';
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;

  constructor(args: ReLUArgs = {}) {
    super(args);
    // Keras rejects negative values of all three; then the negative branch is <= 0 <= maxValue.
    this.maxValue = args.maxValue == null ? null : nonNegative(this, 'maxValue', args.maxValue);
    this.negativeSlope = nonNegative(this, 'negativeSlope', args.negativeSlope ?? 0);
    this.threshold = nonNegative(this, 'threshold', args.threshold ?? 0);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    const below = this.negativeSlope === 0 ? 0 : mul(sub(x, this.threshold), this.negativeSlope);
    const y = where(greater(x, this.threshold), x, below);
    return this.maxValue === null ? y : minimum(y, this.maxValue);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      maxValue: this.maxValue,
      negativeSlope: this.negativeSlope,
      threshold: this.threshold,
    };
  }
}

export interface ELUArgs extends LayerArgs {
  /** Scale of the negative branch alpha * (e^x - 1). Default 1. */
  alpha?: number;
}

export class ELU extends ElementwiseActivation {
  static override readonly className: string = 'ELU';
  readonly alpha: number;

  constructor(args: ELUArgs = {}) {
    super(args);
    const alpha = args.alpha ?? 1;
    if (typeof alpha !== 'number' || !Number.isFinite(alpha))
      throw new ArgumentError(`${who(this)}: alpha must be a finite number, got ${JSON.stringify(args.alpha)}`);
    this.alpha = alpha;
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return elu(asLayerDType(this, oneInput(this, inputs)), this.alpha);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), alpha: this.alpha };
  }
}

export interface SoftmaxArgs extends LayerArgs {
  /** The axis normalized over. Default -1. */
  axis?: number;
}

/**
 * softmax along `axis`. With a mask (Keras: true = keep) masked entries get -1e9 added before the softmax, so
 * they get (nearly) no probability; the mask must broadcast to the input (aligned from the last axis).
 */
export class Softmax extends ElementwiseActivation {
  static override readonly className: string = 'Softmax';
  readonly axis: number;

  constructor(args: SoftmaxArgs = {}) {
    super(args);
    this.axis = args.axis ?? -1;
    if (!Number.isInteger(this.axis))
      throw new ArgumentError(`${who(this)}: axis must be an integer, got ${JSON.stringify(args.axis)}`);
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext, mask?: MaskArg): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    if (this.axis < -x.rank || this.axis >= x.rank)
      throw inputShapeError(this, `an input with axis ${this.axis}`, x.shape, `axis out of range for rank ${x.rank}`);
    const m = firstMask(mask);
    let logits = x;
    if (m) {
      const fits = m.rank <= x.rank && m.shape.every((d, i) => d === 1 || d === x.shape[x.rank - m.rank + i]);
      if (!fits)
        throw new ShapeError(
          `${who(this)}: the mask ${fmtShape(m.shape)} does not broadcast to the input ${fmtShape(x.shape)}`,
        );
      // (1 - mask) * -1e9, as Keras' Softmax layer.
      logits = add(x, mul(sub(1, cast(toBool(m), x.dtype)), MASKED_LOGIT));
    }
    const y = softmax(logits, this.axis);
    // Over the last axis, the cross-entropies can then take the stable logits path, as after Activation('softmax').
    return this.axis === -1 || this.axis === x.rank - 1 ? rememberLogits(y, 'softmax', logits) : y;
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), axis: this.axis };
  }
}

export interface PReLUArgs extends LayerArgs {
  /** Initial slopes. Default 'zeros' (Keras): the layer starts as a ReLU. */
  alphaInitializer?: InitializerSpec;
  alphaRegularizer?: RegularizerSpec | null;
  /**
   * Input axes (1-based: 0 is the batch) along which one slope is shared, e.g. [1, 2] for one slope per channel
   * of [N, H, W, C] images. Default: one slope per input element.
   */
  sharedAxes?: number | readonly number[] | null;
}

/** Parametric ReLU: x for x > 0, alpha * x otherwise, with a learned alpha shaped as the input (without batch). */
export class PReLU extends ElementwiseActivation {
  static override readonly className: string = 'PReLU';
  readonly alphaInitializer: Initializer;
  readonly alphaRegularizer?: Regularizer;
  readonly sharedAxes: number[] | null;
  alpha?: Variable;

  constructor(args: PReLUArgs = {}) {
    super(args);
    this.alphaInitializer = getInitializer(args.alphaInitializer ?? 'zeros');
    this.alphaRegularizer = getRegularizer(args.alphaRegularizer);
    const shared = args.sharedAxes;
    this.sharedAxes = shared == null ? null : typeof shared === 'number' ? [shared] : [...shared];
    if (this.sharedAxes && !this.sharedAxes.every((a) => Number.isInteger(a) && a >= 1))
      throw new ArgumentError(
        `${who(this)}: sharedAxes must be input axes >= 1 (0 is the batch), got ${JSON.stringify(shared)}`,
      );
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    const shared = this.sharedAxes ?? [];
    if (shared.some((a) => a >= shape.length))
      throw inputShapeError(this, `rank > ${Math.max(...shared)}`, shape, `sharedAxes ${JSON.stringify(shared)}`);
    const alphaShape = shape.slice(1).map((d, i) => (shared.includes(i + 1) ? 1 : d));
    if (alphaShape.some((d) => d === null))
      throw inputShapeError(
        this,
        'known sizes on the axes that are not shared',
        shape,
        'the slopes are shaped as the input; share unknown axes with sharedAxes',
      );
    this.alpha = this.addWeight('alpha', alphaShape as number[], this.alphaInitializer, {
      regularizer: this.alphaRegularizer,
    });
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    const alpha = this.alpha!.value;
    const fits = x.rank === alpha.rank + 1 && alpha.shape.every((d, i) => d === 1 || d === x.shape[i + 1]);
    if (!fits) throw inputShapeError(this, `(None, ${alpha.shape.join(', ')})`, x.shape, 'the layer was built for it');
    return where(greater(x, 0), x, mul(x, reshape(alpha, [1, ...alpha.shape])));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return oneShape(this, inputShape);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      alphaInitializer: initializerConfig(this.alphaInitializer),
      alphaRegularizer: regularizerConfig(this.alphaRegularizer),
      sharedAxes: this.sharedAxes ? [...this.sharedAxes] : null,
    };
  }
}

registerLayer(LeakyReLU);
registerLayer(ReLU);
registerLayer(ELU);
registerLayer(Softmax);
registerLayer(PReLU);
