// Convolution layers (channels-last, Keras kernel layouts): Conv1D [k, cin, filters], Conv2D
// [kh, kw, cin, filters] and Conv2DTranspose [kh, kw, filters, cin], on one shared base.
import type { Tensor } from '../../tensor/tensor.js';
import { conv1d, conv2d, conv2dTranspose } from '../../ops/families/conv.js';
import { pad } from '../../ops/indexing.js';
import { ShapeError } from '../../errors.js';
import { formatSymShape, registerLayer, type CallContext, type LayerConfig, type SymShape } from '../layer.js';
import { AffineLayer, type AffineLayerArgs } from './affine.js';
import {
  asLayerDType,
  convOutputLength,
  deconvOutputLength,
  inputShapeError,
  oneInput,
  oneOf,
  oneShape,
  positiveInt,
  tuple,
  who,
  type Padding,
} from './common.js';

export interface ConvArgs extends AffineLayerArgs {
  filters: number;
  kernelSize: number | readonly number[];
  /** Default 1. */
  strides?: number | readonly number[];
  /** Default 'valid'. */
  padding?: Padding;
  /** Default 1. */
  dilationRate?: number | readonly number[];
}

export interface Conv1DArgs extends Omit<ConvArgs, 'padding'> {
  /** 'causal' left-pads so output t sees only inputs <= t (WaveNet); the output length is as 'same'. */
  padding?: Padding | 'causal';
}

/**
 * The shared convolution layer over `rank` spatial axes. Inputs are [batch, ...spatial, channels];
 * the kernel is [...kernelSize, cin, filters], or [...kernelSize, filters, cin] when `transposed`
 * (Keras' layout for Conv2DTranspose, whose kernel maps filters back to cin).
 */
abstract class BaseConv extends AffineLayer {
  readonly filters: number;
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly padding: Padding | 'causal';
  readonly dilationRate: number[];

  constructor(
    args: Conv1DArgs,
    private readonly rank: 1 | 2,
    private readonly transposed: boolean,
    paddings: readonly (Padding | 'causal')[],
  ) {
    super(args);
    this.filters = positiveInt(this, 'filters', args.filters);
    this.kernelSize = tuple(this, 'kernelSize', args.kernelSize, rank);
    this.strides = tuple(this, 'strides', args.strides ?? 1, rank);
    this.padding = oneOf(this, 'padding', args.padding ?? 'valid', paddings);
    this.dilationRate = tuple(this, 'dilationRate', args.dilationRate ?? 1, rank);
  }

  /** Input channels the kernel was built for (undefined before build). */
  private get inputChannels(): number | undefined {
    return this.kernel?.shape[this.rank + (this.transposed ? 1 : 0)];
  }

  override build(inputShape: SymShape | SymShape[]): void {
    const shape = oneShape(this, inputShape);
    this.checkInput(shape);
    const cin = shape[shape.length - 1];
    if (cin === null)
      throw new ShapeError(
        `${who(this)}: the channel (last) dimension of the input must be known to build the kernel, ` +
          `got ${formatSymShape(shape)}`,
      );
    this.addKernelAndBias(
      [...this.kernelSize, ...(this.transposed ? [this.filters, cin] : [cin, this.filters])],
      this.filters,
    );
  }

  /** Output length along spatial axis `axis` (Keras conv_output_length / deconv_output_length). */
  private outputLength(size: number | null, axis: number): number | null {
    const k = this.kernelSize[axis],
      s = this.strides[axis],
      d = this.dilationRate[axis];
    // Transposed layers only accept 'valid' and 'same' (checked in the constructor).
    return this.transposed
      ? deconvOutputLength(size, k, this.padding as Padding, s, d)
      : convOutputLength(size, k, this.padding, s, d);
  }

  /** Checks rank, channels and that the window fits; returns the output shape. */
  private checkInput(shape: SymShape): SymShape {
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
          `a window of extent ${extent} does not fit spatial size ${shape[i + 1]} with padding '${this.padding}'`,
        );
      }
    });
    return [shape[0], ...out, this.filters];
  }

  /** The convolution itself, on an input in the layer dtype. */
  protected abstract convolve(x: Tensor, kernel: Tensor): Tensor;

  /** Strides, padding and dilations for the 2-D ops (Conv2D and Conv2DTranspose accept no 'causal'). */
  protected options2d(): { strides: [number, number]; padding: Padding; dilations: [number, number] } {
    return {
      strides: this.strides as [number, number],
      padding: this.padding as Padding,
      dilations: this.dilationRate as [number, number],
    };
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const x = asLayerDType(this, oneInput(this, inputs));
    this.checkInput(x.shape);
    return this.finish(this.convolve(x, this.kernel!.value));
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape {
    return this.checkInput(oneShape(this, inputShape));
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      filters: this.filters,
      kernelSize: [...this.kernelSize],
      strides: [...this.strides],
      padding: this.padding,
      dilationRate: [...this.dilationRate],
    };
  }
}

/** 1-D convolution over [batch, steps, channels]; kernel [k, cin, filters]. */
export class Conv1D extends BaseConv {
  static override readonly className: string = 'Conv1D';
  constructor(args: Conv1DArgs) {
    super(args, 1, false, ['valid', 'same', 'causal']);
  }
  protected override convolve(x: Tensor, kernel: Tensor): Tensor {
    const [k] = this.kernelSize,
      [stride] = this.strides,
      [dilation] = this.dilationRate;
    if (this.padding !== 'causal') return conv1d(x, kernel, { stride, padding: this.padding, dilation });
    return conv1d(
      pad(x, [
        [0, 0],
        [(k - 1) * dilation, 0],
        [0, 0],
      ]),
      kernel,
      { stride, padding: 'valid', dilation },
    );
  }
}

/** 2-D convolution over [batch, H, W, channels]; kernel [kh, kw, cin, filters]. */
export class Conv2D extends BaseConv {
  static override readonly className: string = 'Conv2D';
  constructor(args: ConvArgs) {
    super(args, 2, false, ['valid', 'same']);
  }
  protected override convolve(x: Tensor, kernel: Tensor): Tensor {
    return conv2d(x, kernel, this.options2d());
  }
}

/**
 * Transposed 2-D convolution (the input gradient of Conv2D); kernel [kh, kw, filters, cin]. Output
 * H * stride with 'same', (H - 1) * stride + max(extent, stride) with 'valid'.
 */
export class Conv2DTranspose extends BaseConv {
  static override readonly className: string = 'Conv2DTranspose';
  constructor(args: ConvArgs) {
    super(args, 2, true, ['valid', 'same']);
  }
  protected override convolve(x: Tensor, kernel: Tensor): Tensor {
    return conv2dTranspose(x, kernel, this.options2d());
  }
}

registerLayer(Conv1D);
registerLayer(Conv2D);
registerLayer(Conv2DTranspose);
