// Quantisation-aware Dense and Conv2D (PyTorch's torch.ao.nn.qat.Linear / Conv2d): the float layers with their
// kernel fake-quantised per output channel (int8, symmetric) and their input per tensor (uint8, with a zero point
// from moving-average min/max observers), so training sees the int8 layers' rounding.
import type { Tensor } from '../tensor/tensor.js';
import { scalar, zeros } from '../ops/creation.js';
import { abs, add, div, equal, mul, where } from '../ops/elementwise.js';
import { max, min } from '../ops/reduce.js';
import { fakeQuantize, type FakeQuantizeParams } from '../ops/families/quantized.js';
import { noGrad } from '../autograd/tape.js';
import { outsideScopes, tidy } from '../tensor/storage.js';
import { ArgumentError } from '../errors.js';
import { registerLayer, type CallContext, type LayerConfig, type SymShape } from '../nn/layer.js';
import type { Variable } from '../nn/variable.js';
import { Dense, type DenseArgs } from '../nn/layers/dense.js';
import { Conv2D, type ConvArgs } from '../nn/layers/conv.js';
import { asLayerDType, oneInput, who } from '../nn/layers/common.js';
import type { Layer } from '../nn/layer.js';
import { inputQuantization, type InputRange } from './quantized-layers.js';

/** uint8 activations: codes [0, 255] with a zero point (asymmetric, per tensor). */
export const ACTIVATION_CODES: FakeQuantizeParams = { quantMin: 0, quantMax: 255 };
/** int8 weights: codes [-127, 127], zero point 0 (symmetric, per output channel). */
export const WEIGHT_CODES: FakeQuantizeParams = { quantMin: -127, quantMax: 127 };

/** The per-output-channel int8 scales of a kernel [..., C]: max |w| over all but the last axis / 127 (1 if 0). */
export function weightScales(kernel: Tensor): Tensor {
  const maxAbs = max(
    abs(kernel),
    kernel.shape.slice(0, -1).map((_, i) => i),
  );
  return where(equal(maxAbs, 0), 1, div(maxAbs, WEIGHT_CODES.quantMax));
}

/** The options quantizeAware passes to each layer (and that its config saves). */
export interface QatOptions {
  /** moving = moving * momentum + batch * (1 - momentum) for the observed input min and max. Default 0.99. */
  momentum?: number;
  /**
   * After this many observed training steps the input ranges stay fixed (PyTorch's disable_observer). A step is
   * one optimizer step of fit / trainOnBatch (one seed), however often a shared layer is called in it. Default null.
   */
  freezeRangesAfterStep?: number | null;
}

/**
 * The fake quantisation of one layer: its observer state (non-trainable weights 'input_min', 'input_max' and
 * 'observed_steps', so that ranges save, load and resume with the model) and the two fake-quantised operands.
 * The ranges get no gradient: the observers set them (fixed within a step), as PyTorch's default QAT does, rather
 * than learning them as TF's fake_quant_with_min_max_vars can; see docs/compression.md.
 */
export class FakeQuantizer {
  readonly momentum: number;
  readonly freezeRangesAfterStep: number | null;
  private state?: { min: Variable; max: Variable; steps: Variable };
  /**
   * Host copies of the state, read from the tensors in `from`: any assign (an observation, a load, setWeights)
   * swaps a variable's tensor, and the copy is read again then, so the forward pass reads nothing otherwise.
   * `operands` are the fake-quantisation scalars of the range (made on first use, disposed with the copy).
   */
  private copy?: { from: readonly Tensor[]; min: number; max: number; steps: number; operands?: Tensor[] };
  /** The seed of the training step last seen, and whether that step observes (see input()). */
  private step?: { seed: number | undefined; observes: boolean };

  constructor(layer: Layer, options: QatOptions) {
    this.momentum = options.momentum ?? 0.99;
    if (!(this.momentum >= 0 && this.momentum < 1))
      throw new ArgumentError(`${who(layer)}: momentum must be in [0, 1), got ${options.momentum}`);
    this.freezeRangesAfterStep = options.freezeRangesAfterStep ?? null;
    const f = this.freezeRangesAfterStep;
    if (f !== null && !(Number.isInteger(f) && f >= 1))
      throw new ArgumentError(`${who(layer)}: freezeRangesAfterStep must be a positive integer or null, got ${f}`);
  }

  /** Adds the observer state to the layer (call from its build()). */
  build(layer: Layer): void {
    const add = (name: string) => layer.addWeight(name, [], 'zeros', { trainable: false });
    this.state = { min: add('input_min'), max: add('input_max'), steps: add('observed_steps') };
  }

  /** The host copy of the state, read again only when a variable's tensor was swapped. */
  private values(): { min: number; max: number; steps: number; operands?: Tensor[] } {
    const s = this.state;
    if (!s) return { min: 0, max: 0, steps: 0 };
    const from = [s.min.value, s.max.value, s.steps.value];
    if (!this.copy || this.copy.from.some((t, i) => t !== from[i])) {
      this.dispose();
      this.copy = { from, min: from[0].item(), max: from[1].item(), steps: from[2].item() };
    }
    return this.copy;
  }

  /** How many training steps have updated the input range (0: none, or not built: the range is not known yet). */
  observedSteps(): number {
    return this.values().steps;
  }

  /** The observed input range, or undefined before any observation. */
  inputRange(): InputRange | undefined {
    const { min, max, steps } = this.values();
    return steps === 0 ? undefined : { min, max };
  }

  /**
   * The input fake-quantised per tensor with the observed range; in training (of a trainable layer, until the
   * freeze step) the batch's min and max update the range first, as PyTorch's observer runs before its fake-quant.
   * A step is one training step's seed (fit, trainOnBatch and Model.stepSeed give each step its own): a layer
   * called several times in a step observes every call but counts the step once, and the step's first call
   * decides whether it is frozen. Calls without a seed (apply(x, { training: true })) each count as a step.
   * Before any observation (inference of an untrained layer) the input passes unchanged: there is no range yet.
   */
  input(layer: Layer, x: Tensor, ctx: CallContext): Tensor {
    let observed = false;
    if (ctx.training && layer.trainable) {
      const first = ctx.seed === undefined || ctx.seed !== this.step?.seed;
      if (first) {
        const f = this.freezeRangesAfterStep;
        this.step = { seed: ctx.seed, observes: f === null || this.values().steps < f };
      }
      observed = this.step!.observes;
      if (observed) this.observe(x, first);
    }
    const copy = this.values();
    if (copy.steps === 0) return x;
    if (copy.operands) return fakeQuantize(x, copy.operands[0], copy.operands[1], ACTIVATION_CODES);
    // The int8 layer's own input quantisation (quantized-layers.ts), so that both round alike.
    const { inputScale, inputZeroPoint } = inputQuantization(copy, who(layer));
    const make = () => [scalar(inputScale, x.dtype), scalar(inputZeroPoint, x.dtype)];
    // A range that an observation just changed is used once: only a fixed one keeps its scalars.
    const [scale, zeroPoint] = observed ? make() : (copy.operands = outsideScopes(make));
    return fakeQuantize(x, scale, zeroPoint, ACTIVATION_CODES);
  }

  /**
   * min/max = the batch's on the first observation, then their moving averages; steps += 1 on a step's first
   * call. Outside autograd. The host copy takes the new values (two reads: the range the next forward uses).
   */
  private observe(x: Tensor, countStep: boolean): void {
    const s = this.state!;
    const steps = this.values().steps;
    noGrad(() =>
      tidy(() => {
        for (const [v, batch] of [
          [s.min, min(x)],
          [s.max, max(x)],
        ] as const)
          v.assign(steps === 0 ? batch : add(mul(v.value, this.momentum), mul(batch, 1 - this.momentum)));
        if (countStep) s.steps.assign(add(s.steps.value, 1));
      }),
    );
    this.dispose();
    const from = [s.min.value, s.max.value, s.steps.value];
    this.copy = { from, min: from[0].item(), max: from[1].item(), steps: steps + (countStep ? 1 : 0) };
  }

  /** Frees the cached fake-quantisation scalars (the layer's dispose calls it; they are remade on demand). */
  dispose(): void {
    for (const t of this.copy?.operands ?? []) t.dispose();
    if (this.copy) this.copy.operands = undefined;
  }

  /** The kernel fake-quantised per output channel (last axis), symmetric int8; the scales carry no gradient. */
  kernel(kernel: Tensor): Tensor {
    const scales = noGrad(() => weightScales(kernel));
    return fakeQuantize(kernel, scales, zeros(scales.shape, kernel.dtype), WEIGHT_CODES);
  }

  getConfig(): QatOptions {
    return { momentum: this.momentum, freezeRangesAfterStep: this.freezeRangesAfterStep };
  }
}

export interface QatDenseArgs extends DenseArgs, QatOptions {}

/** Dense trained through fake quantisation (see FakeQuantizer); convertQat makes it an int8 layer. */
export class QatDense extends Dense {
  static override readonly className: string = 'QatDense';
  readonly quantizer: FakeQuantizer;

  constructor(args: QatDenseArgs) {
    super(args);
    this.quantizer = new FakeQuantizer(this, args);
  }
  override build(inputShape: SymShape | SymShape[]): void {
    super.build(inputShape);
    this.quantizer.build(this);
  }
  protected override kernelValue(): Tensor {
    return this.quantizer.kernel(super.kernelValue());
  }
  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    return super.call(this.quantizer.input(this, asLayerDType(this, oneInput(this, inputs)), ctx), ctx);
  }
  override getConfig(): LayerConfig {
    return { ...super.getConfig(), ...this.quantizer.getConfig() };
  }
  override dispose(): void {
    this.quantizer.dispose();
    super.dispose();
  }
}

export interface QatConv2DArgs extends ConvArgs, QatOptions {}

/** Conv2D (groups 1) trained through fake quantisation (see FakeQuantizer); convertQat makes it an int8 layer. */
export class QatConv2D extends Conv2D {
  static override readonly className: string = 'QatConv2D';
  readonly quantizer: FakeQuantizer;

  constructor(args: QatConv2DArgs) {
    super(args);
    if (this.groups !== 1)
      throw new ArgumentError(`${who(this)}: the int8 convolution has no groups; got groups ${this.groups}`);
    this.quantizer = new FakeQuantizer(this, args);
  }
  override build(inputShape: SymShape | SymShape[]): void {
    super.build(inputShape);
    this.quantizer.build(this);
  }
  protected override kernelValue(): Tensor {
    return this.quantizer.kernel(super.kernelValue());
  }
  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor {
    return super.call(this.quantizer.input(this, asLayerDType(this, oneInput(this, inputs)), ctx), ctx);
  }
  override getConfig(): LayerConfig {
    return { ...super.getConfig(), ...this.quantizer.getConfig() };
  }
  override dispose(): void {
    this.quantizer.dispose();
    super.dispose();
  }
}

registerLayer(QatDense);
registerLayer(QatConv2D);
