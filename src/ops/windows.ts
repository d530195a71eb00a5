// Sliding windows of [N, H, W, C] (im2col from strided slices) and their adjoint (col2im from pads):
// the composite core of convolution, pooling and their gradients.
import { Tensor } from '../tensor/tensor.js';
import { ShapeError } from '../errors.js';
import type { Padding2D } from './families/conv.js';
import { add } from './elementwise.js';
import { concat, pad } from './indexing.js';
import { reshape, slice, unsqueeze } from './views.js';

type Pair = readonly [number, number];

/** Output length of a windowed op along one spatial axis. */
export function windowOutputSize(
  op: string,
  size: number,
  kernel: number,
  stride: number,
  dilation: number,
  pads: Pair,
): number {
  const extent = (kernel - 1) * dilation + 1;
  const out = Math.floor((size + pads[0] + pads[1] - extent) / stride) + 1;
  if (out < 1)
    throw new ShapeError(
      `${op}: window of extent ${extent} does not fit input length ${size} with padding [${pads.join(', ')}]`,
    );
  return out;
}

/**
 * The sliding windows of x [N, H, W, C] as [N, Ho, Wo, kh * kw, C]: one strided slice per kernel tap
 * (row-major tap order), stacked. Padding reads `padValue`.
 */
export function windows(
  x: Tensor,
  kernel: Pair,
  strides: Pair,
  dilations: Pair,
  pads: Padding2D,
  padValue: number,
): Tensor {
  const [n, h, w, c] = x.shape;
  const ho = windowOutputSize('windows', h, kernel[0], strides[0], dilations[0], pads[0]);
  const wo = windowOutputSize('windows', w, kernel[1], strides[1], dilations[1], pads[1]);
  const xp = pad(x, [[0, 0], pads[0], pads[1], [0, 0]], padValue);
  const taps: Tensor[] = [];
  for (let i = 0; i < kernel[0]; i++) {
    for (let j = 0; j < kernel[1]; j++) {
      taps.push(
        unsqueeze(
          slice(xp, [0, i * dilations[0], j * dilations[1], 0], [n, ho, wo, c], [1, strides[0], strides[1], 1]),
          3,
        ),
      );
    }
  }
  return concat(taps, 3);
}

/**
 * The adjoint of windows: g [N, Ho, Wo, kh * kw, C] summed back onto the input [N, H, W, C] they were
 * read from (what lands in the padding is dropped). Taps are added in row-major order.
 */
export function unwindows(
  g: Tensor,
  inputShape: readonly number[],
  kernel: Pair,
  strides: Pair,
  dilations: Pair,
  pads: Padding2D,
): Tensor {
  const [n, h, w, c] = inputShape;
  const [, ho, wo] = g.shape;
  const hp = h + pads[0][0] + pads[0][1],
    wp = w + pads[1][0] + pads[1][1];
  let total: Tensor | undefined;
  for (let i = 0; i < kernel[0]; i++) {
    for (let j = 0; j < kernel[1]; j++) {
      const tap = reshape(slice(g, [0, 0, 0, i * kernel[1] + j, 0], [n, ho, wo, 1, c]), [n, ho, wo, c]);
      const top = i * dilations[0],
        left = j * dilations[1];
      const placed = pad(tap, [
        [0, 0],
        [top, hp - top - (ho - 1) * strides[0] - 1, strides[0] - 1],
        [left, wp - left - (wo - 1) * strides[1] - 1, strides[1] - 1],
        [0, 0],
      ]);
      total = total ? add(total, placed) : placed;
    }
  }
  return slice(total!, [0, pads[0][0], pads[1][0], 0], [n, h, w, c]);
}
