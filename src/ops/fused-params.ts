// Parameters of the fused ops: ops with a composite default that a backend may replace by one kernel.

/** Explicit [before, after] padding per spatial axis, after 'same'/'valid' has been resolved. */
export type Padding2D = readonly [readonly [number, number], readonly [number, number]];

export interface Conv2DParams {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: Padding2D;
}

export interface Pool2DParams {
  readonly poolSize: readonly [number, number];
  readonly strides: readonly [number, number];
  readonly pads: Padding2D;
}

export interface FusedParams {
  softmax: { axis: number };
  logSoftmax: { axis: number };
  /** x [N, H, W, Cin], filter [kh, kw, Cin, Cout] -> [N, Ho, Wo, Cout]. */
  conv2d: Conv2DParams;
  /** dy [N, Ho, Wo, Cout], filter [kh, kw, Cin, Cout] -> dx [N, H, W, Cin]: the input gradient of conv2d. */
  conv2dBackpropInput: Conv2DParams & { readonly inputShape: readonly [number, number, number, number] };
  maxPool2d: Pool2DParams;
  avgPool2d: Pool2DParams;
}

export type FusedName = keyof FusedParams;
