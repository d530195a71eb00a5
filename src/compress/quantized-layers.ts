// QuantizedDense and QuantizedConv2D: inference-only int8 layers (per-output-channel symmetric int8 weights, per-tensor
// asymmetric uint8 inputs) on the int8 op family, and quantizeLayer, which makes them from a float Dense / Conv2D.
//
// Weights (all non-trainable: the ops have no gradient): 'kernel' int8 in the float layer's layout, 'kernel_scale'
// float32 [out] (the real value of one int8 step of each output channel), 'bias' float32 [out] (zeros when the float
// layer had none; biases stay float32, as in TFLite's and PyTorch's int8 layers, where they are a few hundred
// bytes). The input's quantisation (inputScale, inputZeroPoint) is config: it is fixed by calibration, not learnt.
import type { Tensor } from '../tensor/tensor.js';
import { tensor } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { noGrad } from '../autograd/tape.js';
import { outsideScopes } from '../tensor/storage.js';
import { reshape } from '../ops/views.js';
import { resolveConvPadding } from '../ops/families/conv-padding.js';
import { quantizedConv2d, quantizedMatmul, QUANTIZED_ACTIVATIONS } from '../ops/families/quantized.js';
import type { QuantizedActivation, QuantizedInputParams, QuantizedParams } from '../ops/families/quantized.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { gridCode, roundHalfEven } from '../tensor/round.js';
import {
  Layer,
  formatSymShape,
  registerLayer,
  withWeightSource,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../nn/layer.js';
import type { Initializer } from '../nn/initializers.js';
import type { Variable } from '../nn/variable.js';
import type { ActivationFn } from '../nn/activations.js';
import { Dense } from '../nn/layers/dense.js';
import { BaseConv, Conv2D, type WindowArgs } from '../nn/layers/conv.js';
import {
  asLayerDType,
  inputShapeError,
  oneInput,
  oneShape,
  positiveInt,
  resolveActivation,
  who,
} from '../nn/layers/common.js';

/** The int8 convolution's op options. */
type ConvOptions = QuantizedParams['quantizedConv2d'];

/** The input side of a quantised layer: real value per uint8 step and the code of real 0 (null: uncalibrated). */
export interface InputQuantization {
  inputScale: number;
  inputZeroPoint: number;
}

export interface QuantizedLayerArgs extends LayerArgs {
  /** Activation name; linear and relu run fused in the int8 op, any other after it in float32. */
  activation?: string | null;
  /** Real value of one uint8 input step, > 0; null or omitted: not calibrated yet (the layer refuses to run). */
  inputScale?: number | null;
  /** uint8 code of real 0, an integer in [0, 255]. */
  inputZeroPoint?: number | null;
}

export interface QuantizedDenseArgs extends QuantizedLayerArgs {
  units: number;
}

export type QuantizedConv2DArgs = QuantizedLayerArgs &
  Omit<WindowArgs, 'kernelInitializer' | 'biasInitializer' | 'kernelRegularizer' | 'biasRegularizer' | 'useBias'> & {
    filters: number;
  };

/** The real input range [min, max] a layer's inputs were observed in (calibration). */
export interface InputRange {
  min: number;
  max: number;
}

/**
 * Asymmetric uint8 quantisation of a real range: the range is widened to hold 0, which then has an exact code
 * (padding and ReLU zeros quantise without error). scale = (max - min) / 255 in float32, zeroPoint = round(-min /
 * scale). An all-zero range gets scale 1, zero point 0.
 */
export function inputQuantization(range: InputRange, who = 'inputQuantization'): InputQuantization {
  const { min, max } = range ?? ({} as InputRange);
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max)
    throw new ArgumentError(`${who}: the input range must be finite numbers with min <= max, got [${min}, ${max}]`);
  const lo = Math.min(min, 0),
    hi = Math.max(max, 0);
  if (hi === lo) return { inputScale: 1, inputZeroPoint: 0 };
  // The smallest normal float32 keeps a denormal-sized range from giving scale 0.
  const inputScale = Math.max(Math.fround((hi - lo) / 255), 2 ** -126);
  const inputZeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / inputScale)));
  return { inputScale, inputZeroPoint };
}

/**
 * Per-output-channel symmetric int8 weights of a float kernel whose last axis is the output channel:
 * scale[j] = max|w[..., j]| / 127 (float32; 1 for an all-zero channel), q = clamp(gridCode(w, scale[j]), -127, 127):
 * the rounding of fakeQuantize and the op's input (w times the float32 reciprocal of the scale), so the int8 model
 * computes what quantisation-aware training trained.
 */
export function quantizeKernel(kernel: Tensor): { values: Int8Array; scale: Float32Array } {
  const w = kernel.dataSync();
  const channels = kernel.shape[kernel.rank - 1];
  const scale = new Float32Array(channels);
  for (let i = 0; i < w.length; i++) {
    const j = i % channels;
    scale[j] = Math.max(scale[j], Math.abs(w[i]));
  }
  for (let j = 0; j < channels; j++) scale[j] = scale[j] === 0 ? 1 : Math.fround(scale[j] / 127);
  const values = new Int8Array(w.length);
  for (let i = 0; i < w.length; i++) values[i] = Math.max(-127, Math.min(127, gridCode(w[i], scale[i % channels])));
  return { values, scale };
}

/** Checks an optional input quantisation from a config; returns it, or null when uncalibrated. */
function checkInputQuantization(layer: Layer, args: QuantizedLayerArgs): InputQuantization | null {
  const { inputScale = null, inputZeroPoint = null } = args;
  if (inputScale === null && inputZeroPoint === null) return null;
  if (!(typeof inputScale === 'number' && Number.isFinite(inputScale) && inputScale > 0))
    throw new ArgumentError(`${who(layer)}: inputScale must be a positive finite number, got ${inputScale}`);
  if (!(Number.isInteger(inputZeroPoint) && inputZeroPoint! >= 0 && inputZeroPoint! <= 255))
    throw new ArgumentError(`${who(layer)}: inputZeroPoint must be an integer in [0, 255], got ${inputZeroPoint}`);
  // float32 so that scale = fround(inputScale * kernelScale) is what every backend and exporter computes.
  return { inputScale: Math.fround(inputScale), inputZeroPoint: inputZeroPoint! };
}

/** What both quantised layers share: the input quantisation, the split activation, and the weights. */
interface QuantizedState {
  readonly quantization: InputQuantization | null;
  readonly fused: QuantizedActivation;
  readonly after: ActivationFn | null;
  /** The op parameters (null when uncalibrated), made once. */
  readonly params: (InputQuantization & { activation: QuantizedActivation }) | null;
  readonly outputScale: OutputScale;
}

function quantizedState(layer: Layer, args: QuantizedLayerArgs): QuantizedState {
  if (layer.dtype !== 'float32')
    throw new ArgumentError(`${who(layer)}: quantised layers compute in float32 only, got dtype ${layer.dtype}`);
  const act = resolveActivation(args.activation);
  const fusedName = QUANTIZED_ACTIVATIONS.find((a) => a === act.name);
  const quantization = checkInputQuantization(layer, args);
  const fused = fusedName ?? 'linear';
  return {
    quantization,
    fused,
    after: fusedName ? null : act.fn,
    params: quantization && { ...quantization, activation: fused },
    outputScale: new OutputScale(),
  };
}

/** The op parameters, or a typed error naming the layer when it was never calibrated. */
function opParams(layer: Layer, state: QuantizedState): InputQuantization & { activation: QuantizedActivation } {
  if (!state.params)
    throw new ArgumentError(
      `${who(layer)} has no input quantisation (inputScale, inputZeroPoint): calibrate it first ` +
        '(compress.quantizeModel, or quantizeLayer with the input range)',
    );
  return state.params;
}

/** Random int8 values in [-127, 127] (fresh layers only; quantizeLayer and loading supply real weights). */
const int8Uniform: Initializer = Object.assign(
  (shape: readonly number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Int8Array(n);
    for (let i = 0; i < n; i++) v[i] = ((i * 2654435761) % 255) - 127; // deterministic spread; no RNG needed
    return tensor(v, shape, 'int8');
  },
  { config: { className: 'Int8Spread', config: {} } },
);

/** kernel_scale starts at one step of 1/127 (weights in [-1, 1]). */
const stepScale: Initializer = Object.assign(
  (shape: readonly number[]) => tensor(new Float32Array(shape[0]).fill(1 / 127), shape, 'float32'),
  { config: { className: 'Constant', config: { value: 1 / 127 } } },
);

function addQuantizedWeights(layer: Layer, kernelShape: readonly number[], channels: number) {
  return {
    kernel: layer.addWeight('kernel', kernelShape, int8Uniform, { trainable: false, dtype: 'int8' }),
    kernelScale: layer.addWeight('kernel_scale', [channels], stepScale, { trainable: false }),
    bias: layer.addWeight('bias', [channels], 'zeros', { trainable: false }),
  };
}

/**
 * fround(inputScale * kernelScale[j]): the requantisation multiplier of each output channel, cached with the
 * kernel_scale tensor it was made from (an assign or load swaps that tensor, and the multiplier is made again).
 */
class OutputScale {
  private from?: Tensor;
  private scale?: Tensor;

  get(quantization: InputQuantization, kernelScale: Variable): Tensor {
    if (this.from !== kernelScale.value || !this.scale) {
      this.dispose();
      this.from = kernelScale.value;
      this.scale = outsideScopes(() => noGrad(() => mul(kernelScale.value, quantization.inputScale)));
    }
    return this.scale;
  }

  dispose(): void {
    this.scale?.dispose();
    this.scale = this.from = undefined;
  }
}

function quantizationConfig(state: QuantizedState): Pick<QuantizedLayerArgs, 'inputScale' | 'inputZeroPoint'> {
  return {
    inputScale: state.quantization?.inputScale ?? null,
    inputZeroPoint: state.quantization?.inputZeroPoint ?? null,
  };
}

/** int8 Dense: y = activation(dequant(quant(x) @ kernel) + bias) on the last axis of inputs of rank >= 2. */
export class QuantizedDense extends Layer {
  static override readonly className: string = 'QuantizedDense';
  readonly units: number;
  readonly activation: string;
  private readonly state: QuantizedState;
  kernel?: Variable;
  kernelScale?: Variable;
  bias?: Variable;

  constructor(args: QuantizedDenseArgs) {
    super(args);
    this.units = positiveInt(this, 'units', args.units);
    this.activation = resolveActivation(args.activation).name;
    this.state = quantizedState(this, args);
  }

  /** The input quantisation, or null when not calibrated. */
  get inputQuantization(): InputQuantization | null {
    return this.state.quantization;
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    const inputDim = shape[shape.length - 1];
    if (inputDim === null)
      throw new ShapeError(`${who(this)}: the last dimension of the input must be known, got ${formatSymShape(shape)}`);
    Object.assign(this, addQuantizedWeights(this, [inputDim, this.units], this.units));
  }

  private checkInput(shape: SymShape): void {
    const inputDim = this.kernel?.shape[0];
    const last = shape[shape.length - 1];
    if (shape.length < 2 || (inputDim !== undefined && last !== null && last !== inputDim))
      throw inputShapeError(this, `(None, ..., ${inputDim ?? 'features'})`, shape, 'rank >= 2, features last');
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const params = opParams(this, this.state);
    const kernel = this.kernel!.value;
    const scale = this.state.outputScale.get(params, this.kernelScale!);
    const flat = x.rank === 2 ? x : reshape(x, [-1, kernel.shape[0]]);
    let y = quantizedMatmul(flat, kernel, scale, this.bias!.value, params);
    if (x.rank !== 2) y = reshape(y, [...x.shape.slice(0, -1), this.units]);
    return this.state.after ? this.state.after(y) : y;
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    return [...shape.slice(0, -1), this.units];
  }

  override dispose(): void {
    this.state.outputScale.dispose();
    super.dispose();
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      ...quantizationConfig(this.state),
    };
  }
}

/** Config keys of the float convolution that a quantised one neither has nor needs. */
const FLOAT_ONLY_KEYS = ['useBias', 'kernelInitializer', 'biasInitializer', 'kernelRegularizer', 'biasRegularizer'];

/** int8 Conv2D over [batch, H, W, channels]; kernel int8 [kh, kw, cin, filters] (groups 1). */
export class QuantizedConv2D extends BaseConv {
  static override readonly className: string = 'QuantizedConv2D';
  readonly filters: number;
  private readonly state: QuantizedState;
  /** The op options of the last input size seen (see convOptions). */
  private lastOptions?: { h: number; w: number; options: ConvOptions };
  kernelScale?: Variable;

  constructor(args: QuantizedConv2DArgs) {
    for (const key of FLOAT_ONLY_KEYS)
      if ((args as unknown as Record<string, unknown>)[key] !== undefined)
        throw new ArgumentError(`QuantizedConv2D: option ${key} belongs to the float Conv2D, not its int8 form`);
    super(args, 2, false, ['valid', 'same']);
    this.filters = positiveInt(this, 'filters', args.filters);
    this.state = quantizedState(this, args);
  }

  get inputQuantization(): InputQuantization | null {
    return this.state.quantization;
  }

  protected override get inputChannels(): number | undefined {
    return this.kernel?.shape[2];
  }

  protected override outputChannels(): number {
    return this.filters;
  }

  protected override buildWeights(cin: number): void {
    Object.assign(this, addQuantizedWeights(this, [...this.kernelSize, cin, this.filters], this.filters));
  }

  protected override convolve(x: Tensor): Tensor {
    const params = opParams(this, this.state);
    const kernel = this.kernel!.value;
    const scale = this.state.outputScale.get(params, this.kernelScale!);
    return quantizedConv2d(x, kernel, scale, this.bias!.value, this.convOptions(params, x, kernel));
  }

  /** The op options for an input's spatial size, kept for the last size seen (a model sees one size). */
  private convOptions(params: QuantizedInputParams, x: Tensor, kernel: Tensor): ConvOptions {
    const [h, w] = [x.shape[1], x.shape[2]];
    if (this.lastOptions?.h !== h || this.lastOptions.w !== w) {
      const { strides, dilations, padding } = this.options2d();
      const pads = resolveConvPadding(
        who(this),
        padding,
        [h, w],
        [kernel.shape[0], kernel.shape[1]],
        strides,
        dilations,
      );
      this.lastOptions = { h, w, options: { ...params, strides, dilations, pads } };
    }
    return this.lastOptions.options;
  }

  override dispose(): void {
    this.state.outputScale.dispose();
    super.dispose();
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    const y = this.convolve(x);
    return this.state.after ? this.state.after(y) : y;
  }

  override getConfig(): LayerConfig {
    const config: LayerConfig = { ...super.getConfig(), filters: this.filters, ...quantizationConfig(this.state) };
    for (const key of FLOAT_ONLY_KEYS) delete config[key];
    return config;
  }
}

registerLayer(QuantizedDense);
registerLayer(QuantizedConv2D);

/** A quantised layer's config and weights (by weight name), before it is made. */
export interface QuantizedPlan {
  className: 'QuantizedDense' | 'QuantizedConv2D';
  config: LayerConfig;
  weights: { kernel: Tensor; kernel_scale: Tensor; bias: Tensor };
}

/**
 * The int8 form of a built float Dense or Conv2D: its config (same name, activation and window) with the input
 * quantisation of `inputRange`, and new int8 / float32 weight tensors (the caller owns them). Throws an
 * ArgumentError naming the layer for what int8 cannot do (grouped convolution, float64 layers, unbuilt layers).
 */
export function planQuantizedLayer(layer: Dense | Conv2D, inputRange: InputRange): QuantizedPlan {
  const isDense = layer instanceof Dense;
  if (!isDense && !(layer instanceof Conv2D))
    throw new ArgumentError(`quantizeLayer: expected a Dense or Conv2D layer, got ${layerLabel(layer)}`);
  if (!layer.kernel) throw new ArgumentError(`quantizeLayer: ${who(layer)} is not built (call it on data first)`);
  if (layer.dtype !== 'float32')
    throw new ArgumentError(`quantizeLayer: ${who(layer)} is ${layer.dtype}; int8 layers replace float32 ones`);
  if (!isDense && (layer as Conv2D).groups !== 1)
    throw new ArgumentError(`quantizeLayer: ${who(layer)} has groups ${(layer as Conv2D).groups}; int8 needs 1`);
  const quantization = inputQuantization(inputRange, `quantizeLayer: ${who(layer)}`);
  const float = layer.getConfig();
  for (const key of [...FLOAT_ONLY_KEYS, ...(isDense ? [] : ['groups'])]) delete float[key];
  const config: LayerConfig = { ...float, trainable: false, ...quantization };
  const { values, scale } = quantizeKernel(layer.kernel.value);
  const channels = scale.length;
  const bias = layer.bias ? layer.bias.value.clone() : tensor(new Float32Array(channels), [channels], 'float32');
  return {
    className: isDense ? 'QuantizedDense' : 'QuantizedConv2D',
    config,
    weights: {
      kernel: tensor(values, layer.kernel.shape, 'int8'),
      kernel_scale: tensor(scale, [channels], 'float32'),
      bias,
    },
  };
}

function layerLabel(layer: unknown): string {
  return layer instanceof Layer ? who(layer) : typeof layer;
}

/**
 * A new, built QuantizedDense / QuantizedConv2D equivalent to `layer` for inputs in `inputRange` (per-channel
 * symmetric int8 weights, asymmetric uint8 inputs with 0 exact). The float layer is left as it is.
 */
export function quantizeLayer(layer: Dense, inputRange: InputRange): QuantizedDense;
export function quantizeLayer(layer: Conv2D, inputRange: InputRange): QuantizedConv2D;
export function quantizeLayer(layer: Dense | Conv2D, inputRange: InputRange): QuantizedDense | QuantizedConv2D;
export function quantizeLayer(layer: Dense | Conv2D, inputRange: InputRange): QuantizedDense | QuantizedConv2D {
  const plan = planQuantizedLayer(layer, inputRange);
  const { kernel } = plan.weights;
  const made = plan.className === 'QuantizedDense' ? new QuantizedDense(plan.config as never) : null;
  const q = made ?? new QuantizedConv2D(plan.config as never);
  const inputShape: SymShape =
    q instanceof QuantizedDense
      ? [null, kernel.shape[0]]
      : [null, null, null, kernel.shape[2]]; /* spatial sizes are not needed for the weights */
  const byName = new Map<string, Tensor>(Object.entries(plan.weights).map(([k, t]) => [`${q.name}/${k}`, t]));
  withWeightSource(
    {
      take: (_layer, name, shape, dtype) => {
        const t = byName.get(name);
        if (!t || t.dtype !== dtype || fmtShape(t.shape) !== fmtShape(shape))
          throw new ShapeError(`quantizeLayer: no ${dtype} ${fmtShape(shape)} weight '${name}' was planned`);
        return t;
      },
    },
    () => {
      q.build(inputShape);
      q.built = true;
    },
  );
  return q;
}
