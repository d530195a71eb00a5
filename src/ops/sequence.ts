// Sequence-model ops over the fused kernels of fused-seq.ts: LSTM and GRU cell steps, scaled
// dot-product attention, and the backward passes their gradient rules call.
import type { Tensor } from '../tensor/tensor.js';
import { runFusedOp } from './fused.js';
import type { AttentionParams } from './fused-params.js';
import { unpack } from './fused-seq.js';
import { reshape, slice } from './views.js';

/** One LSTM step (sigmoid gates, tanh activations): xw, hu [B, 4U], c [B, U] -> next h and c [B, U] (views). */
export function lstmCell(xw: Tensor, hu: Tensor, c: Tensor): { h: Tensor; c: Tensor } {
  const [h, cNext] = lstmStates(runFusedOp('lstmCell', [xw, hu, c], {}));
  return { h, c: cNext };
}

/** The two [B, U] rows of packed LSTM states (or their gradients) [2, B, U], as views. */
export function lstmStates(packed: Tensor): [Tensor, Tensor] {
  const [, b, u] = packed.shape;
  const row = (i: number) => reshape(slice(packed, [i, 0, 0], [1, b, u]), [b, u]);
  return [row(0), row(1)];
}

/** The gradient of lstmCell for the next states' gradients dh, dc [B, U]: dz [B, 4U] (for xw and hu alike) and dc [B, U]. */
export function lstmCellBackward(xw: Tensor, hu: Tensor, c: Tensor, dh: Tensor, dc: Tensor): [Tensor, Tensor] {
  const [b, u] = c.shape;
  const [dz, dcPrev] = unpack(runFusedOp('lstmCellGrad', [xw, hu, c, dh, dc], {}), [
    [b, 4 * u],
    [b, u],
  ]);
  return [dz, dcPrev];
}

/** One GRU step (resetAfter, sigmoid gates, tanh): xw, hu [B, 3U], h [B, U], recurrent bias [3U] -> next h. */
export function gruCell(xw: Tensor, hu: Tensor, h: Tensor, recurrentBias: Tensor | null): Tensor {
  return runFusedOp('gruCell', recurrentBias ? [xw, hu, h, recurrentBias] : [xw, hu, h], {});
}

/** The gradient of gruCell for dy [B, U]: dxw, dhu [B, 3U] (dhu also the recurrent bias's, per row) and dh. */
export function gruCellBackward(
  xw: Tensor,
  hu: Tensor,
  h: Tensor,
  dy: Tensor,
  recurrentBias: Tensor | null,
): [Tensor, Tensor, Tensor] {
  const [b, u] = h.shape;
  const [dxw, dhu, dh] = unpack(
    runFusedOp('gruCellGrad', recurrentBias ? [xw, hu, h, dy, recurrentBias] : [xw, hu, h, dy], {}),
    [
      [b, 3 * u],
      [b, 3 * u],
      [b, u],
    ],
  );
  return [dxw, dhu, dh];
}

/**
 * softmax(scale * q k^T + mask) v per (batch, head): q [B, T, H, dk], k [B, S, H, dk], v [B, S, H, dv],
 * mask [B or 1, T or 1, S] added to the logits (float) or bool (true = may attend; Keras' masked softmax,
 * a fully masked row gives zeros) -> [B, T, H, dv].
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor | null, params: AttentionParams): Tensor {
  return runFusedOp('attention', mask ? [q, k, v, mask] : [q, k, v], params);
}

/** The gradient of attention for dy [B, T, H, dv]: dq, dk, dv. */
export function attentionBackward(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dy: Tensor,
  mask: Tensor | null,
  params: AttentionParams,
): [Tensor, Tensor, Tensor] {
  const [dq, dk, dv] = unpack(runFusedOp('attentionGrad', mask ? [q, k, v, dy, mask] : [q, k, v, dy], params), [
    q.shape,
    k.shape,
    v.shape,
  ]);
  return [dq, dk, dv];
}
