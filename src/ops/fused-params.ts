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

/** Activations whose derivative is a function of their output, so a fused kernel can apply them with the
 *  bias and a backward kernel needs only the output. The order is the native addon's. */
export const FUSED_ACTIVATIONS = ['linear', 'relu', 'sigmoid', 'tanh'] as const;
export type FusedActivation = (typeof FUSED_ACTIVATIONS)[number];

/** Keras' Adam (AdamW with weightDecay > 0) for one step; alpha = sqrt(1 - beta2^t) / (1 - beta1^t). */
export interface AdamStepParams {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly alpha: number;
}

/** Keras' SGD (momentum, Nesterov, decoupled weight decay) for one step. */
export interface SgdStepParams {
  readonly lr: number;
  readonly weightDecay: number;
  readonly momentum: number;
  readonly nesterov: boolean;
}

/** Inverted dropout with the mask drawn from a Philox stream at a given counter (src/ops/random.ts). */
export interface DropoutParams {
  readonly seed: number;
  readonly counter: number;
  readonly rate: number;
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
  // Training-step fusions (src/ops/train-fused.ts).
  /** activation(z + bias): z [..., C], bias [C]. */
  biasActivation: { readonly activation: FusedActivation };
  /** (dy, y) -> dy * activation'(z), from the activation's output y: the backward of biasActivation. */
  activationGrad: { readonly activation: FusedActivation };
  /** (logits [..., C], labels int32 [...]) -> [...]: -log softmax(logits)[label]. */
  sparseSoftmaxCrossEntropy: Record<string, never>;
  /** (logits, labels, dy [...]) -> (softmax(logits) - onehot(labels)) * dy: its gradient. */
  sparseSoftmaxCrossEntropyGrad: Record<string, never>;
  /** (params..., grads..., m..., v...) -> [params'..., m'..., v'...] flattened into one vector. */
  adamStep: AdamStepParams;
  /** (params..., grads..., velocities... when momentum) -> [params'..., velocities'...] flattened. */
  sgdStep: SgdStepParams;
  /** x * keep / (1 - rate), keep = Generator(seed, counter).bernoulli(x.shape, 1 - rate): inverted dropout. */
  dropout: DropoutParams;
  /** (x [..., C], gamma [C], beta [C]) -> (x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis. */
  layerNorm: { readonly epsilon: number };
  /** (x, gamma, dy) -> [dx (x.size) | dgamma (C)] flattened: layerNorm's gradient (dbeta is sum(dy)). */
  layerNormGrad: { readonly epsilon: number };
  // ---- gradients of convolution and pooling ----
  /** x [N, H, W, Cin], dy [N, Ho, Wo, Cout] -> df [kh, kw, Cin, Cout]: the filter gradient of conv2d. */
  conv2dBackpropFilter: Conv2DParams & { readonly filterShape: readonly [number, number, number, number] };
  /** x [N, H, W, C], dy [N, Ho, Wo, C] -> dx: each dy goes to the first max of its window (NaN counts as the max). */
  maxPool2dBackprop: Pool2DParams;
  /** dy [N, Ho, Wo, C] -> dx [N, H, W, C]: each dy spread evenly over the inputs its window covers. */
  avgPool2dBackprop: Pool2DParams & { readonly inputShape: readonly [number, number, number, number] };
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
