// Grad samplers (as Opacus'): one weight's per-example gradients from its op's saved inputs (A) and the
// gradient of the op's output (G) in one batched backward. Each gives the per-example squared norms without
// materialising the gradients where that is cheaper ("ghost clipping", Li et al. 2021; mixed per layer by
// cost, Bu et al. 2022), and the clipped sum sum_i c_i g_i directly ("book-keeping": one GEMM for Dense).
import type { Tensor } from '../../tensor/tensor.js';
import * as o from '../../ops/index.js';
import { batchMatmul } from '../../ops/linalg.js';
import { windows } from '../../ops/windows.js';
import { CONV, type Padding2D, type Shape4 } from '../../ops/families/conv.js';
import { fusedRunner } from '../../ops/fused.js';
import { layerNorm } from '../../ops/families/layer-norm.js';

const runConv = fusedRunner(CONV);

/** The most elements of per-example gradients a sampler keeps at once (64 MiB of float32) to save work. */
const MAX_KEPT = 2 ** 24;

/** One weight's per-example gradients, lazily: n examples, weight shape `shape`. */
export interface WeightGrads {
  /** ||g_i||^2 for each example: [n]. */
  norms2(): Tensor;
  /** sum_i c_i g_i for c [n]: the weight's shape. */
  clipped(c: Tensor): Tensor;
  /** Every g_i: [n, ...shape]. */
  perExample(): Tensor;
}

/** c [n] shaped to scale a [n, ...] tensor of rank `rank` along its first axis. */
const perRow = (c: Tensor, rank: number) => o.reshape(c, [c.shape[0], ...Array<number>(rank - 1).fill(1)]);
const restAxes = (rank: number) => Array.from({ length: rank - 1 }, (_, i) => i + 1);

/** Gradients given as a whole: p [n, ...shape] (small weights: biases, norm scales, ...). */
export function materialised(p: Tensor, shape: readonly number[]): WeightGrads {
  return {
    norms2: () => o.sum(o.square(p), restAxes(p.rank)),
    clipped: (c) => o.reshape(o.sum(o.mul(p, perRow(c, p.rank)), [0]), shape),
    perExample: () => o.reshape(p, [p.shape[0], ...shape]),
  };
}

/**
 * W in Z = A W with A [n, T, d] (the rows of one example together) and G = dZ [n, T, u]: g_i = A_i^T G_i.
 * Norms by the Gram trick sum((A_i A_i^T) * (G_i G_i^T)) when 2 T^2 < d u, else from g_i itself
 * (and ||a_i||^2 ||g_i||^2 when T = 1).
 */
export function linear(a: Tensor, g: Tensor, shape: readonly number[]): WeightGrads {
  const [n, t, d] = a.shape,
    u = g.shape[2];
  const ghost = t === 1 || 2 * t * t < d * u;
  // Materialised for the norms, the per-example gradients also make the clipped sum cheaply (n d u, not n T d u).
  let per: Tensor | undefined;
  const perExample = () => (per ??= batchMatmul(a, g, true, false));
  return {
    norms2: () => {
      if (t === 1) return o.mul(o.sum(o.square(a), [1, 2]), o.sum(o.square(g), [1, 2]));
      if (ghost) return o.sum(o.mul(batchMatmul(a, a, false, true), batchMatmul(g, g, false, true)), [1, 2]);
      return o.sum(o.square(perExample()), [1, 2]);
    },
    clipped: (c) => {
      if (per) return o.reshape(o.matmul(o.reshape(c, [1, n]), o.reshape(per, [n, d * u])), shape);
      const scaled = o.reshape(o.mul(g, perRow(c, 3)), [1, n * t, u]);
      return o.reshape(batchMatmul(o.reshape(a, [1, n * t, d]), scaled, true, false), shape);
    },
    perExample: () => o.reshape(perExample(), [n, ...shape]),
  };
}

/** The conv2d window parameters as the tape keeps them. */
export interface ConvWindow {
  readonly strides: readonly [number, number];
  readonly dilations: readonly [number, number];
  readonly pads: Padding2D;
}

/**
 * A conv2d filter [kh, kw, cin, cout] (shape: the weight's own, e.g. Conv1D's [k, cin, cout]) from the input
 * x [n, H, W, cin] and G = dy [n, Ho, Wo, cout]. With few output positions T = Ho * Wo (2 T^2 < d u, d = kh kw
 * cin), norms by the Gram trick on the input unfolded per example (im2col: the A of a linear layer over the T
 * positions); otherwise from each example's filter gradient (the backend's conv2dBackpropFilter on one
 * example), reduced to its norm at once so that memory stays flat. The clipped sum is one filter gradient of
 * the batch with dy scaled per example.
 */
export function conv2d(
  x: Tensor,
  g: Tensor,
  filter: readonly number[],
  p: ConvWindow,
  shape: readonly number[],
  maxKept = MAX_KEPT,
): WeightGrads {
  const [kh, kw, cin, cout] = filter;
  const [n, ho, wo] = g.shape;
  const t = ho * wo,
    d = kh * kw * cin;
  const window = { strides: p.strides, dilations: p.dilations, pads: p.pads };
  const filterGrad = (xs: Tensor, dy: Tensor) =>
    runConv('conv2dBackpropFilter', [xs, dy], { ...window, filterShape: filter as unknown as Shape4 });
  const one = (t: Tensor, i: number) => o.sliceAxis(t, 0, i, i + 1);
  const each = (f: (gi: Tensor) => Tensor) =>
    o.stack(Array.from({ length: n }, (_, i) => f(filterGrad(one(x, i), one(g, i)))));
  const unfolded = () =>
    linear(
      o.reshape(windows(x, [kh, kw], p.strides, p.dilations, p.pads, 0), [n, t, d]),
      o.reshape(g, [n, t, cout]),
      shape,
    );
  // Kept whole when small enough: one reduction for the norms and a GEMV for the clipped sum.
  let per: Tensor | undefined;
  const perExample = () =>
    (per ??= o.reshape(
      each((gi) => gi),
      [n, d * cout],
    ));
  return {
    norms2: () => {
      if (2 * t * t < d * cout) return unfolded().norms2();
      if (n * d * cout <= maxKept) return o.sum(o.square(perExample()), [1]);
      return each((gi) => o.sum(o.square(gi)));
    },
    clipped: (c) => o.reshape(per ? o.matmul(o.reshape(c, [1, n]), per) : filterGrad(x, o.mul(g, perRow(c, 4))), shape),
    perExample: () => o.reshape(perExample(), [n, ...shape]),
  };
}

/**
 * An embedding table [V, D] read by gather at ids [n, ...] with G = d(rows) [n, ..., D]: g_i adds example i's
 * output gradients into the rows of its ids, so repeated ids accumulate before the norm:
 * ||g_i||^2 = sum over token pairs with equal ids of <G_it, G_is>.
 */
export function embedding(ids: Tensor, g: Tensor, shape: readonly number[]): WeightGrads {
  const [v, d] = shape;
  const n = ids.shape[0],
    t = ids.size / n;
  const idx = o.reshape(ids, [n, t]);
  const rows = o.reshape(g, [n, t, d]);
  return {
    norms2: () => {
      const same = o.cast(o.equal(o.reshape(idx, [n, t, 1]), o.reshape(idx, [n, 1, t])), g.dtype);
      return o.sum(o.mul(same, batchMatmul(rows, rows, false, true)), [1, 2]);
    },
    clipped: (c) =>
      o.scatterAdd(o.zeros(shape, g.dtype), o.reshape(idx, [n * t]), o.reshape(o.mul(rows, perRow(c, 3)), [n * t, d])),
    perExample: () => batchMatmul(o.oneHot(idx, v, g.dtype as 'float32' | 'float64'), rows, true, false),
  };
}

/**
 * A weight w of pre-broadcast shape `pre` (aligned to the right of the output) combined elementwise with a
 * per-example operand: p = G (a shift: add, a bias) or G * other (a scale: mul); g_i sums example i's p
 * over the axes w is broadcast along.
 */
export function broadcast(p: Tensor, pre: readonly number[], shape: readonly number[]): WeightGrads {
  const r = p.rank;
  const aligned = [...Array<number>(r - pre.length).fill(1), ...pre];
  const axes = restAxes(r).filter((j) => aligned[j] === 1 && p.shape[j] !== 1);
  const reduced = axes.length ? o.sum(p, axes, true) : p;
  return materialised(o.reshape(reduced, [p.shape[0], ...shape]), shape);
}

/** Whether w of pre-broadcast shape `pre` broadcasts along the batch axis of an output of rank `rank`. */
export function broadcastsOverBatch(pre: readonly number[], rank: number): boolean {
  return pre.length < rank || pre[0] === 1;
}

/** The fused layerNorm's gamma and beta [C] from x [..., C] and G = dy: g_i sums G * xhat (gamma), G (beta). */
export function layerNormScaleShift(x: Tensor, g: Tensor, epsilon: number): { gamma: WeightGrads; beta: WeightGrads } {
  const c = x.shape[x.rank - 1];
  const n = x.shape[0];
  // The normalised input, by the same kernel as the forward pass (unit scale, zero shift).
  const xhat = layerNorm(x, o.ones([c], x.dtype), o.zeros([c], x.dtype), epsilon);
  const perExample = (t: Tensor) => o.sum(o.reshape(t, [n, -1, c]), [1]);
  return {
    gamma: materialised(perExample(o.mul(g, xhat)), [c]),
    beta: materialised(perExample(g), [c]),
  };
}
