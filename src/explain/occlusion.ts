// Occlusion (Zeiler and Fergus 2014, as Captum's Occlusion): slide a window over each sample, replace what it
// covers by a baseline, and give every element the mean score drop of the windows that cover it.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { allocArray, isFloat } from '../tensor/dtype.js';
import * as o from '../ops/index.js';
import type { ExplainContext } from './context.js';
import type { MethodResult, OcclusionOptions } from './types.js';

const OP = 'explain(occlusion)';

/**
 * One number per axis of a sample. Images [N, H, W, C]: a number or two numbers cover H and W, and the
 * channel axis takes `channel` (the whole of C for the window; the window's channel size for the strides).
 */
function perAxis(
  what: string,
  given: number | readonly number[],
  shape: readonly number[],
  image: boolean,
  channel: number,
): number[] {
  const rank = shape.length;
  let full: number[];
  if (typeof given === 'number') full = image ? [given, given, channel] : new Array<number>(rank).fill(given);
  else if (image && given.length === 2) full = [...given, channel];
  else full = [...given];
  if (full.length !== rank)
    throw new ShapeError(
      `${OP}: ${what} [${full.join(', ')}] has ${full.length} numbers for samples ${fmtShape(shape)}; ` +
        `expected ${rank}${image ? ' (or 2 for H, W with every channel)' : ''}`,
    );
  if (!full.every((v) => Number.isInteger(v) && v >= 1))
    throw new ArgumentError(`${OP}: ${what} must be positive integers, got [${full.join(', ')}]`);
  return full;
}

/** Window starts along one axis, Captum's way: 0, s, 2s, ... ceil((d - w) / s) * s; the last may be clipped. */
function starts(size: number, window: number, stride: number): number[] {
  const count = Math.ceil((size - window) / stride) + 1;
  return Array.from({ length: count }, (_, i) => i * stride);
}

/** Flat offsets (row-major in the sample) of the elements a window at `at` covers, clipped to the sample. */
function covered(shape: readonly number[], at: readonly number[], window: readonly number[]): Int32Array {
  const ends = at.map((a, k) => Math.min(a + window[k], shape[k]));
  let offsets = [0];
  for (let k = 0; k < shape.length; k++) {
    const next: number[] = [];
    for (const base of offsets) for (let i = at[k]; i < ends[k]; i++) next.push(base * shape[k] + i);
    offsets = next;
  }
  return Int32Array.from(offsets);
}

/** Every window position: the cartesian product of the starts on each axis, last axis fastest. */
function positions(perAxisStarts: number[][]): number[][] {
  let out: number[][] = [[]];
  for (const axis of perAxisStarts) out = out.flatMap((p) => axis.map((s) => [...p, s]));
  return out;
}

export function occlusion(ctx: ExplainContext, options: OcclusionOptions): MethodResult {
  const x = ctx.inputs;
  const shape = x.shape.slice(1);
  if (options.window === undefined) throw new ArgumentError(`${OP}: options.window is required`);
  const image = isFloat(x.dtype) && shape.length === 3;
  const window = perAxis('window', options.window, shape, image, shape[2]);
  const strides = perAxis('strides', options.strides ?? window, shape, image, window[2]);
  const baseline = options.baseline ?? 0;
  if (typeof baseline !== 'number' || !Number.isFinite(baseline))
    throw new ArgumentError(`${OP}: baseline must be a finite number, got ${String(baseline)}`);
  if (x.dtype === 'int32' && !Number.isInteger(baseline))
    throw new ArgumentError(`${OP}: the baseline of token inputs is a token id, got ${baseline}`);
  window.forEach((w, k) => {
    if (w > shape[k])
      throw new ShapeError(
        `${OP}: window [${window.join(', ')}] is larger than samples ${fmtShape(shape)} on axis ${k + 1}`,
      );
  });

  // With strides past the window, Captum's last start may lie past the end: such windows cover nothing.
  const windows = positions(shape.map((d, k) => starts(d, window[k], strides[k])))
    .map((at) => covered(shape, at, window))
    .filter((cells) => cells.length > 0);
  const size = shape.reduce((a, b) => a * b, 1);
  // How many windows cover each element: the same for every sample.
  const count = new Float64Array(size);
  for (const cells of windows) for (const e of cells) count[e] += 1;

  const data = x.dataSync();
  const scores = ctx.scores;
  const sums = new Float64Array(ctx.n * size);
  const rows = ctx.n * windows.length;
  // Row r occludes window r % windows.length of sample floor(r / windows.length).
  for (let start = 0; start < rows; start += ctx.batchSize) {
    const chunk = Math.min(ctx.batchSize, rows - start);
    const values = allocArray(x.dtype, chunk * size);
    const sampleOf = new Int32Array(chunk);
    for (let j = 0; j < chunk; j++) {
      const r = start + j,
        s = Math.floor(r / windows.length);
      sampleOf[j] = s;
      values.set(data.subarray(s * size, (s + 1) * size), j * size);
      for (const e of windows[r % windows.length]) values[j * size + e] = baseline;
    }
    const occluded: Tensor = o.tensor(values, [chunk, ...shape], x.dtype);
    const occludedScores = ctx.predictScores(occluded, sampleOf);
    occluded.dispose();
    for (let j = 0; j < chunk; j++) {
      const r = start + j,
        s = sampleOf[j];
      const drop = scores[s] - occludedScores[j];
      for (const e of windows[r % windows.length]) sums[s * size + e] += drop;
    }
  }
  const dtype = isFloat(x.dtype) ? x.dtype : 'float32';
  const out = allocArray(dtype, ctx.n * size);
  // Elements no window covers (strides longer than the window) get 0, not 0 / 0.
  for (let i = 0; i < out.length; i++) out[i] = count[i % size] > 0 ? sums[i] / count[i % size] : 0;
  return {
    attributions: o.tensor(out, x.shape, dtype),
    parameters: { window, strides, baseline },
    details: { windows: windows.length },
  };
}
