// What the windowed exporters (convolution, pooling) share: Candor is channels last (NWC, NHWC) and ONNX's Conv,
// ConvTranspose and pooling ops are channels first, so values are transposed around them (optimize.ts later
// cancels the back-to-back pairs); Keras' 'same' padding as ONNX's explicit pads; weights in ONNX layouts.
import { resolvePadding } from '../../ops/families/conv-padding.js';
import { contiguous, permute, reshape } from '../../ops/views.js';
import { tidy } from '../../tensor/storage.js';
import type { Variable } from '../../nn/variable.js';
import { formatSymShape, type Layer, type SymShape } from '../../nn/layer.js';
import { InteropError } from '../errors.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { exportActivation } from './export-activations.js';

/** [N, ...spatial, C] -> [N, C, ...spatial] for `spatial` spatial axes. */
export function channelsFirst(g: OnnxGraphBuilder, x: string, spatial: number): string {
  return g.op('Transpose', [x], { perm: [0, spatial + 1, ...Array.from({ length: spatial }, (_, i) => i + 1)] });
}

/** [N, C, ...spatial] -> [N, ...spatial, C]. */
export function channelsLast(g: OnnxGraphBuilder, x: string, spatial: number): string {
  return g.op('Transpose', [x], { perm: [0, ...Array.from({ length: spatial }, (_, i) => i + 2), 1] });
}

/** ONNX padding attributes: explicit pads (all begins, then all ends) or SAME_UPPER where sizes are unknown. */
export type WindowPadding = { pads: number[] } | { auto_pad: 'SAME_UPPER' };

/**
 * The padding of a window op over spatial `sizes` (null = unknown): [before, after] per axis given, or Keras'
 * 'valid' / 'same' (the extra row of an odd total at the end, as ONNX's SAME_UPPER).
 */
export function windowPadding(
  mode: string | readonly (readonly [number, number])[],
  sizes: SymShape,
  kernel: readonly number[],
  strides: readonly number[],
  dilations: readonly number[],
): WindowPadding {
  if (typeof mode !== 'string') return { pads: [...mode.map((p) => p[0]), ...mode.map((p) => p[1])] };
  if (mode === 'valid') return { pads: sizes.flatMap(() => [0, 0]) };
  if (sizes.some((d) => d === null)) return { auto_pad: 'SAME_UPPER' };
  // resolvePadding is 2-D: a 1-D window is a 1 x k one.
  const two = <T>(v: readonly T[], one: T) => (v.length === 1 ? [one, v[0]] : v) as [T, T];
  const pairs = resolvePadding(
    'ONNX export',
    'same',
    two(sizes as number[], 1),
    two(kernel, 1),
    two(strides, 1),
    two(dilations, 1),
  ).slice(2 - sizes.length);
  return { pads: [...pairs.map((p) => p[0]), ...pairs.map((p) => p[1])] };
}

/** The known spatial sizes of a channels-last shape, or an InteropError naming the layer when one is unknown. */
export function knownSpatial(layer: Layer, shape: SymShape, why: string): number[] {
  const spatial = shape.slice(1, -1);
  if (spatial.some((d) => d === null))
    throw new InteropError(
      `ONNX export: layer '${layer.name}' (${layer.className}): ${why} needs known spatial sizes, ` +
        `got input shape ${formatSymShape(shape)}`,
    );
  return spatial as number[];
}

/** Initializers already made per graph for a weight in a layout (a shared layer's weight is stored once). */
const LAID_OUT = new WeakMap<OnnxGraphBuilder, Map<Variable, Map<string, string>>>();

/**
 * An initializer holding weight `v` with its axes permuted by `perm` (as ONNX Transpose) and then given
 * `dims` (same element order; default the permuted shape).
 */
export function permutedWeight(g: OnnxGraphBuilder, v: Variable, perm: readonly number[], dims?: number[]): string {
  const byVar = LAID_OUT.get(g) ?? new Map<Variable, Map<string, string>>();
  LAID_OUT.set(g, byVar);
  const made = byVar.get(v) ?? new Map<string, string>();
  byVar.set(v, made);
  const key = `${perm.join(',')}/${dims?.join(',') ?? ''}`;
  const known = made.get(key);
  if (known) return known;
  const shape = perm.map((a) => v.shape[a]);
  const data = tidy(() => reshape(contiguous(permute(v.value, perm)), dims ?? shape).dataSync());
  const name = g.array(v.name, data, dims ?? shape, v.dtype);
  made.set(key, name);
  return name;
}

/**
 * The activation of a channels-first result, then the transpose back to channels last. Elementwise
 * activations run before the transpose (so a following window op's transpose cancels it); softmax, which is
 * over the channels (the last axis in Candor), runs after it.
 */
export function activateChannelsLast(
  g: OnnxGraphBuilder,
  y: string,
  activation: string,
  spatial: number,
  layerName: string,
): string {
  if (activation === 'softmax') return exportActivation(g, activation, channelsLast(g, y, spatial), layerName);
  return channelsLast(g, exportActivation(g, activation, y, layerName), spatial);
}
