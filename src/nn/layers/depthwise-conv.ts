// DepthwiseConv2D (each input channel convolved with its own depthMultiplier filters; weight
// 'depthwise_kernel' [kh, kw, cin, depthMultiplier]) and SeparableConv2D (a depthwise convolution, then a
// pointwise one: 'pointwise_kernel' [1, 1, cin * depthMultiplier, filters]), in Keras' layouts and names.
import type { Tensor } from '../../tensor/tensor.js';
import { conv2d, depthwiseConv2d } from '../../ops/families/conv.js';
import { registerLayer, type LayerConfig } from '../layer.js';
import type { Variable } from '../variable.js';
import { getInitializer, type Initializer, type InitializerSpec } from '../initializers.js';
import { getRegularizer, type Regularizer, type RegularizerSpec } from '../regularizers.js';
import { BaseConv, type WindowArgs } from './conv.js';
import { initializerConfig, positiveInt, regularizerConfig } from './common.js';

export interface DepthwiseConv2DArgs extends Omit<WindowArgs, 'kernelInitializer' | 'kernelRegularizer'> {
  /** Output channels per input channel; default 1. */
  depthMultiplier?: number;
  /** Default 'glorotUniform'. */
  depthwiseInitializer?: InitializerSpec;
  depthwiseRegularizer?: RegularizerSpec | null;
}

/** The depthwise weight's options are AffineLayer's kernel ones under Keras' names. */
function asKernelArgs(args: DepthwiseConv2DArgs): WindowArgs {
  const { depthwiseInitializer, depthwiseRegularizer, ...rest } = args;
  return { ...rest, kernelInitializer: depthwiseInitializer, kernelRegularizer: depthwiseRegularizer };
}

/** AffineLayer's config with the kernel entries renamed to the depthwise ones. */
function depthwiseConfig(config: LayerConfig): LayerConfig {
  const { kernelInitializer, kernelRegularizer, ...rest } = config;
  return { ...rest, depthwiseInitializer: kernelInitializer, depthwiseRegularizer: kernelRegularizer };
}

/** Depthwise 2-D convolution over [batch, H, W, cin] -> [batch, Ho, Wo, cin * depthMultiplier]. */
export class DepthwiseConv2D extends BaseConv {
  static override readonly className: string = 'DepthwiseConv2D';
  readonly depthMultiplier: number;

  constructor(args: DepthwiseConv2DArgs) {
    super(asKernelArgs(args), 2, false, ['valid', 'same']);
    this.depthMultiplier = positiveInt(this, 'depthMultiplier', args.depthMultiplier ?? 1);
  }

  protected override get inputChannels(): number | undefined {
    return this.kernel?.shape[2];
  }

  protected override outputChannels(cin: number | null): number | null {
    return cin === null ? null : cin * this.depthMultiplier;
  }

  protected override buildWeights(cin: number): void {
    this.kernel = this.addWeight(
      'depthwise_kernel',
      [...this.kernelSize, cin, this.depthMultiplier],
      this.kernelInitializer,
      {
        regularizer: this.kernelRegularizer,
      },
    );
    if (this.useBias)
      this.bias = this.addWeight('bias', [cin * this.depthMultiplier], this.biasInitializer, {
        regularizer: this.biasRegularizer,
      });
  }

  protected override convolve(x: Tensor): Tensor {
    return depthwiseConv2d(x, this.kernel!.value, this.options2d());
  }

  override getConfig(): LayerConfig {
    return { ...depthwiseConfig(super.getConfig()), depthMultiplier: this.depthMultiplier };
  }
}

export interface SeparableConv2DArgs extends DepthwiseConv2DArgs {
  filters: number;
  /** Default 'glorotUniform'. */
  pointwiseInitializer?: InitializerSpec;
  pointwiseRegularizer?: RegularizerSpec | null;
}

/**
 * Depthwise then pointwise convolution: [batch, H, W, cin] -> [batch, Ho, Wo, filters]; the window options
 * apply to the depthwise step, the bias and activation to the result (Keras SeparableConv2D).
 */
export class SeparableConv2D extends BaseConv {
  static override readonly className: string = 'SeparableConv2D';
  readonly filters: number;
  readonly depthMultiplier: number;
  readonly pointwiseInitializer: Initializer;
  readonly pointwiseRegularizer?: Regularizer;
  /** Made by build(): [1, 1, cin * depthMultiplier, filters]. */
  pointwiseKernel?: Variable;

  constructor(args: SeparableConv2DArgs) {
    super(asKernelArgs(args), 2, false, ['valid', 'same']);
    this.filters = positiveInt(this, 'filters', args.filters);
    this.depthMultiplier = positiveInt(this, 'depthMultiplier', args.depthMultiplier ?? 1);
    this.pointwiseInitializer = getInitializer(args.pointwiseInitializer ?? 'glorotUniform');
    this.pointwiseRegularizer = getRegularizer(args.pointwiseRegularizer);
  }

  protected override get inputChannels(): number | undefined {
    return this.kernel?.shape[2];
  }

  protected override outputChannels(): number {
    return this.filters;
  }

  protected override buildWeights(cin: number): void {
    const m = this.depthMultiplier;
    this.kernel = this.addWeight('depthwise_kernel', [...this.kernelSize, cin, m], this.kernelInitializer, {
      regularizer: this.kernelRegularizer,
    });
    this.pointwiseKernel = this.addWeight(
      'pointwise_kernel',
      [1, 1, cin * m, this.filters],
      this.pointwiseInitializer,
      {
        regularizer: this.pointwiseRegularizer,
      },
    );
    if (this.useBias)
      this.bias = this.addWeight('bias', [this.filters], this.biasInitializer, { regularizer: this.biasRegularizer });
  }

  protected override convolve(x: Tensor): Tensor {
    return conv2d(depthwiseConv2d(x, this.kernel!.value, this.options2d()), this.pointwiseKernel!.value);
  }

  override getConfig(): LayerConfig {
    return {
      ...depthwiseConfig(super.getConfig()),
      filters: this.filters,
      depthMultiplier: this.depthMultiplier,
      pointwiseInitializer: initializerConfig(this.pointwiseInitializer),
      pointwiseRegularizer: regularizerConfig(this.pointwiseRegularizer),
    };
  }
}

registerLayer(DepthwiseConv2D);
registerLayer(SeparableConv2D);
