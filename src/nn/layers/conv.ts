// Convolution layers (channels-last, Keras kernel layouts): Conv1D [k, cin, filters], Conv2D
// [kh, kw, cin / groups, filters] and Conv2DTranspose [kh, kw, filters, cin], on one shared base that the
// depthwise and separable convolutions (depthwise-conv.ts) share too.
import type { Tensor } from '../../tensor/tensor.js';
import { conv1d, conv2d, conv2dTranspose, explicitPadding, type ConvPadding } from '../../ops/families/conv.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { formatSymShape, registerLayer, type CallContext, type LayerConfig, type SymShape } from '../layer.js';
import { AffineLayer, type AffineLayerArgs } from './affine.js';
import {
  asLayerDType,
  convOutputLength,
  inputShapeError,
  oneInput,
  oneShape,
  positiveInt,
  tuple,
  who,
  type Padding,
} from './common.js';
import { transposedOutputSize } from '../../ops/families/conv.js';

/**
 * A convolution layer's padding: Keras' 'valid' / 'same' (and 'causal' for Conv1D), or explicit zero padding
 * as PyTorch's: n on every side, one amount per spatial axis (both sides), or [before, after] per axis
 * ([[top, bottom], [left, right]] in 2-D, [left, right] in 1-D).
 */
export type ConvLayerPadding = Padding | 'causal' | number | readonly number[] | readonly (readonly number[])[];

/** The options every convolution layer shares (the window; not the number of filters). */
export interface WindowArgs extends AffineLayerArgs {
  kernelSize: number | readonly number[];
  /** Default 1. */
  strides?: number | readonly number[];
  /** Default 'valid'. Numbers pad explicitly (see ConvLayerPadding). */
  padding?: ConvLayerPadding;
  /** Default 1. */
  dilationRate?: number | readonly number[];
}

export interface ConvArgs extends WindowArgs {
  filters: number;
  /** Conv2D: channel groups; input group g feeds only output group g (kernel [kh, kw, cin / groups, filters]). */
  groups?: number;
}

export interface Conv1DArgs extends Omit<ConvArgs, 'groups'> {
  /** 'causal' left-pads so output t sees only inputs <= t (WaveNet); the output length is as 'same'. */
  padding?: ConvLayerPadding;
}

export interface Conv2DTransposeArgs extends Omit<ConvArgs, 'groups' | 'padding'> {
  /** 'valid' or 'same' only (Keras). */
  padding?: Padding;
  /** Extra output rows / columns at the bottom / right, each less than the stride; default null (none). */
  outputPadding?: number | readonly number[] | null;
}

/** Explicit [before, after] amounts per spatial axis from a numeric padding, or null for a string mode. */
function explicitAmounts(layer: AffineLayer, padding: ConvLayerPadding, rank: 1 | 2): [number, number][] | null {
  if (typeof padding === 'string') return null;
  const pads =
    rank === 2 ? explicitPadding(padding) : (explicitPadding([0, padding]) ?? explicitPadding([[0, 0], padding]));
  if (!pads) {
    const forms = rank === 2 ? 'n, [h, w] or [[top, bottom], [left, right]]' : 'n or [left, right]';
    throw new ArgumentError(
      `${who(layer)}: padding must be 'valid', 'same' or non-negative integers (${forms}), ` +
        `got ${JSON.stringify(padding)}`,
    );
  }
  return (rank === 2 ? pads : pads.slice(1)).map(([a, b]) => [a, b]);
}

/**
 * The shared convolution layer over `rank` spatial axes. Inputs are [batch, ...spatial, channels]; subclasses
 * say how many output channels there are and make the weights.
 */
export abstract class BaseConv extends AffineLayer {
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly padding: ConvLayerPadding;
  readonly dilationRate: number[];
  /** Explicit [before, after] padding per spatial axis; null for 'valid' / 'same' / 'causal'. */
  private readonly pads: [number, number][] | null;

  constructor(
    args: WindowArgs,
    protected readonly rank: 1 | 2,
    private readonly transposed: boolean,
    modes: readonly string[],
  ) {
    super(args);
    this.kernelSize = tuple(this, 'kernelSize', args.kernelSize, rank);
    this.strides = tuple(this, 'strides', args.strides ?? 1, rank);
    const padding = args.padding ?? 'valid';
    if (typeof padding === 'string' && !modes.includes(padding))
      throw new ArgumentError(
        `${who(this)}: padding must be ${modes.map((m) => `'${m}'`).join(' or ')}` +
          `${transposed ? '' : ' or non-negative integers'}, got ${JSON.stringify(padding)}`,
      );
    if (transposed && typeof padding !== 'string')
      throw new ArgumentError(
        `${who(this)}: padding must be 'valid' or 'same' (Keras), got ${JSON.stringify(padding)}`,
      );
    this.pads = explicitAmounts(this, padding, rank);
    this.padding = typeof padding === 'string' ? padding : JSON.parse(JSON.stringify(padding));
    this.dilationRate = tuple(this, 'dilationRate', args.dilationRate ?? 1, rank);
  }

  /** Input channels the weights were built for (undefined before build). */
  protected abstract get inputChannels(): number | undefined;
  /** Output channels for `cin` input channels. */
  protected abstract outputChannels(cin: number | null): number | null;
  /** Makes the weights for `cin` input channels (checked by the subclass). */
  protected abstract buildWeights(cin: number): void;

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    const cin = shape[shape.length - 1];
    if (cin === null)
      throw new ShapeError(
        `${who(this)}: the channel (last) dimension of the input must be known to build the kernel, ` +
          `got ${formatSymShape(shape)}`,
      );
    this.buildWeights(cin);
  }

  /** Output length along spatial axis `axis` (Keras conv_output_length / deconv_output_length). */
  protected outputLength(size: number | null, axis: number): number | null {
    const k = this.kernelSize[axis],
      s = this.strides[axis],
      d = this.dilationRate[axis];
    if (size === null) return null;
    if (this.pads) {
      const [before, after] = this.pads[axis];
      return Math.floor((size + before + after - (k - 1) * d - 1) / s) + 1;
    }
    return convOutputLength(size, k, this.padding as Padding | 'causal', s, d);
  }

  /** Checks rank, channels and that the window fits; returns the output shape. */
  protected checkInput(shape: SymShape): SymShape {
    const spatial = this.rank === 1 ? 'L' : 'H, W';
    const expected = `(None, ${spatial}, ${this.inputChannels ?? 'channels'})`;
    if (shape.length !== this.rank + 2)
      throw inputShapeError(
        this,
        expected,
        shape,
        `expected rank ${this.rank + 2} (batch, ${spatial}, channels), channels last`,
      );
    const cin = this.inputChannels,
      channels = shape[shape.length - 1];
    if (cin !== undefined && channels !== null && channels !== cin)
      throw inputShapeError(this, expected, shape, `the last (channel) dimension must be ${cin}`);
    const out = shape.slice(1, -1).map((d, i) => this.outputLength(d, i));
    out.forEach((d, i) => {
      if (d !== null && d < 1) {
        const extent = (this.kernelSize[i] - 1) * this.dilationRate[i] + 1;
        throw inputShapeError(
          this,
          expected,
          shape,
          `a window of extent ${extent} does not fit spatial size ${shape[i + 1]} with padding ` +
            `${JSON.stringify(this.padding)}`,
        );
      }
    });
    return [shape[0], ...out, this.outputChannels(channels)];
  }

  /** The convolution itself, on an input in the layer dtype. */
  protected abstract convolve(x: Tensor): Tensor;

  /** Strides, padding (explicit amounts when numeric) and dilations for the 2-D ops. */
  protected options2d(): { strides: [number, number]; padding: ConvPadding; dilations: [number, number] } {
    return {
      strides: this.strides as [number, number],
      padding: this.pads ? [this.pads[0], this.pads[1]] : (this.padding as Padding),
      dilations: this.dilationRate as [number, number],
    };
  }

  /** Explicit [before, after] padding of a 1-D layer, null for a string mode. */
  protected pads1d(): [number, number] | null {
    return this.pads ? this.pads[0] : null;
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    return this.finish(this.convolve(x));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      dilationRate: [...this.dilationRate],
    };
  }
}

/**
 * The convolutions with `filters` output channels and one 'kernel': [...kernelSize, cin / groups, filters],
 * or [...kernelSize, filters, cin] when `transposed` (Keras' layout for Conv2DTranspose, whose kernel maps
 * filters back to cin).
 */
abstract class FilterConv extends BaseConv {
  readonly filters: number;
  readonly groups: number;

  constructor(
    args: ConvArgs,
    rank: 1 | 2,
    private readonly transposedKernel: boolean,
    modes: readonly string[],
  ) {
    super(args, rank, transposedKernel, modes);
    this.filters = positiveInt(this, 'filters', args.filters);
    this.groups = positiveInt(this, 'groups', args.groups ?? 1);
    // Only Conv2D implements groups: refuse rather than ignore them elsewhere.
    if (this.groups !== 1 && (rank !== 2 || transposedKernel))
      throw new ArgumentError(`${who(this)}: groups is supported by Conv2D only, got groups ${this.groups}`);
    if (this.filters % this.groups !== 0)
      throw new ArgumentError(`${who(this)}: filters (${this.filters}) must be divisible by groups (${this.groups})`);
  }

  protected override get inputChannels(): number | undefined {
    const k = this.kernel?.shape[this.rank + (this.transposedKernel ? 1 : 0)];
    return k === undefined ? undefined : k * this.groups;
  }

  protected override outputChannels(): number {
    return this.filters;
  }

  protected override buildWeights(cin: number): void {
    if (cin % this.groups !== 0)
      throw new ShapeError(`${who(this)}: input channels (${cin}) must be divisible by groups (${this.groups})`);
    const inner = this.transposedKernel ? [this.filters, cin] : [cin / this.groups, this.filters];
    this.addKernelAndBias([...this.kernelSize, ...inner], this.filters);
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), filters: this.filters };
  }
}

/** 1-D convolution over [batch, steps, channels]; kernel [k, cin, filters]. */
export class Conv1D extends FilterConv {
  static override readonly className: string = 'Conv1D';
  constructor(args: Conv1DArgs) {
    super(args, 1, false, ['valid', 'same', 'causal']);
  }
  protected override convolve(x: Tensor): Tensor {
    const [k] = this.kernelSize,
      [stride] = this.strides,
      [dilation] = this.dilationRate;
    // 'causal' pads (k - 1) * dilation steps on the left only.
    const padding = this.padding === 'causal' ? ([(k - 1) * dilation, 0] as const) : (this.pads1d() ?? this.padding);
    return conv1d(x, this.kernel!.value, { stride, padding: padding as Padding | [number, number], dilation });
  }
}

/** 2-D convolution over [batch, H, W, channels]; kernel [kh, kw, cin / groups, filters]. */
export class Conv2D extends FilterConv {
  static override readonly className: string = 'Conv2D';
  constructor(args: ConvArgs) {
    super(args, 2, false, ['valid', 'same']);
  }
  protected override convolve(x: Tensor): Tensor {
    return conv2d(x, this.kernelValue(), { ...this.options2d(), groups: this.groups });
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), groups: this.groups };
  }
}

/**
 * Transposed 2-D convolution (the input gradient of Conv2D); kernel [kh, kw, filters, cin]. Output
 * H * stride with 'same', (H - 1) * stride + max(extent, stride) with 'valid'; with outputPadding p,
 * (H - 1) * stride + extent - 2 * pad + p (pad = floor(extent / 2) for 'same', 0 for 'valid'), as Keras.
 */
export class Conv2DTranspose extends FilterConv {
  static override readonly className: string = 'Conv2DTranspose';
  readonly outputPadding: [number, number] | null;

  constructor(args: Conv2DTransposeArgs) {
    super(args, 2, true, ['valid', 'same']);
    const op = args.outputPadding ?? null;
    this.outputPadding = null;
    if (op !== null) {
      const pads = typeof op === 'number' ? [op, op] : [...op];
      if (pads.length !== 2 || !pads.every((p, a) => Number.isInteger(p) && p >= 0 && p < this.strides[a]))
        throw new ArgumentError(
          `${who(this)}: outputPadding must be non-negative integers less than the strides ` +
            `${JSON.stringify(this.strides)}, got ${JSON.stringify(op)}`,
        );
      this.outputPadding = pads as [number, number];
    }
  }

  protected override outputLength(size: number | null, axis: number): number | null {
    if (size === null) return null;
    const pad = this.outputPadding ? this.outputPadding[axis] : null;
    const k = this.kernelSize[axis];
    return transposedOutputSize(size, k, this.padding as Padding, this.strides[axis], this.dilationRate[axis], pad);
  }

  protected override convolve(x: Tensor): Tensor {
    const { strides, dilations } = this.options2d();
    const padding = this.padding as Padding;
    return conv2dTranspose(x, this.kernel!.value, { strides, dilations, padding, outputPadding: this.outputPadding });
  }

  override getConfig(): LayerConfig {
    return { ...super.getConfig(), outputPadding: this.outputPadding ? [...this.outputPadding] : null };
  }
}

registerLayer(Conv1D);
registerLayer(Conv2D);
registerLayer(Conv2DTranspose);
