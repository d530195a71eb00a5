// Remembers the logits behind softmax and sigmoid activations, so the cross-entropy losses can take the
// stable logits path for them (Keras does the same on TensorFlow through `_keras_logits`): no clipping
// of probabilities, so confidently wrong predictions still get a gradient.
import type { Tensor } from '../tensor/tensor.js';

export type LogitsKind = 'softmax' | 'sigmoid';

const origins = new WeakMap<Tensor, { kind: LogitsKind; logits: Tensor }>();

/** Notes that `output` = kind(logits) over the last axis; returns output. */
export function rememberLogits(output: Tensor, kind: LogitsKind, logits: Tensor): Tensor {
  origins.set(output, { kind, logits });
  return output;
}

/** The logits `output` was computed from by `kind`, if known and still alive. */
export function logitsBehind(output: Tensor, kind: LogitsKind): Tensor | undefined {
  const origin = origins.get(output);
  return origin && origin.kind === kind && !origin.logits.isDisposed ? origin.logits : undefined;
}
