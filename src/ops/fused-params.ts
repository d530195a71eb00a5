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
  // ---- gradients of convolution and pooling ----
  /** x [N, H, W, Cin], dy [N, Ho, Wo, Cout] -> df [kh, kw, Cin, Cout]: the filter gradient of conv2d. */
  conv2dBackpropFilter: Conv2DParams & { readonly filterShape: readonly [number, number, number, number] };
  /** x [N, H, W, C], dy [N, Ho, Wo, C] -> dx: each dy goes to the first max of its window (NaN counts as the max). */
  maxPool2dBackprop: Pool2DParams;
  /** dy [N, Ho, Wo, C] -> dx [N, H, W, C]: each dy spread evenly over the inputs its window covers. */
  avgPool2dBackprop: Pool2DParams & { readonly inputShape: readonly [number, number, number, number] };
}

export type FusedName = keyof FusedParams;
