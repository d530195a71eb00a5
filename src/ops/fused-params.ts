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
  // ---- sequence models (recurrent cells, attention): see fused-seq.ts ----
  /** xw, hu [B, 4U] (the step's input and recurrent projections), c [B, U] -> [2, B, U]: next h, next c. */
  lstmCell: Record<string, never>;
  /** xw, hu, c, dh, dc [B, U] (the next states' gradients) -> flat [5 * B * U]: dz [B, 4U] (the gates' pre-activation gradient), dc [B, U]. */
  lstmCellGrad: Record<string, never>;
  /** xw, hu [B, 3U], h [B, U], recurrent bias [3U] (optional) -> next h [B, U] (GRU with resetAfter). */
  gruCell: Record<string, never>;
  /** xw, hu, h, dy [B, U], recurrent bias (optional) -> flat [7 * B * U]: dxw [B, 3U], dhu [B, 3U], dh [B, U]. */
  gruCellGrad: Record<string, never>;
  /** q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv], mask (optional [B or 1, T or 1, S]: bool, or additive in q's dtype) -> [B, T, H, dv]. */
  attention: AttentionParams;
  /** q, k, v, dy [B, T, H, dv], mask (optional) -> flat: dq, dk, dv in their inputs' layouts, one after another. */
  attentionGrad: AttentionParams;
}

/**
 * softmax(scale * q k^T + mask) v per (batch, head). A float mask is added to the logits; a bool mask
 * (and causality) follow Keras' masked softmax: a masked logit gets -1e9 and its probability is then
 * multiplied by 0, so a fully masked row attends to nothing (zeros).
 */
export interface AttentionParams {
  readonly scale: number;
  /** Query i may attend to keys j <= offset + i only (offset: keys cached before the queries). */
  readonly causal: boolean;
  readonly offset: number;
}

export type FusedName = keyof FusedParams;
