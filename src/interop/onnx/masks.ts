// Keras masks in ONNX export. ONNX values carry no mask, so the exporters of mask-making layers (Embedding with
// maskZero, Masking) record, per graph, the bool [batch, steps] value that is their output's mask; a layer that
// passes its input on unchanged keeps it (same value name). Mask-using exporters read it (maskOf), and refuse
// a value that descends from a masked one by a path they cannot follow (assertNoMask): a silent wrong answer
// (a mean over padding steps) is worse than a refusal.
import type { Layer } from '../../nn/layer.js';
import { UnsupportedLayerError } from '../errors.js';
import type { ExportCall } from './exporters.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

const MASKS = new WeakMap<OnnxGraphBuilder, Map<string, string>>();

/** Records `mask` (bool [batch, steps]) as the mask of value `x`. */
export function setOnnxMask(g: OnnxGraphBuilder, x: string, mask: string): void {
  const masks = MASKS.get(g) ?? new Map<string, string>();
  MASKS.set(g, masks);
  masks.set(x, mask);
}

/** The mask value of `x` when a mask-making layer (or a pass-through of its output) made `x`. */
export function maskOf(g: OnnxGraphBuilder, x: string): string | undefined {
  return MASKS.get(g)?.get(x);
}

/** Whether `x` is, or is computed from, a value that carries a mask. */
export function descendsFromMasked(g: OnnxGraphBuilder, x: string): boolean {
  const masks = MASKS.get(g);
  if (!masks || masks.size === 0) return false;
  const producer = new Map<string, readonly string[]>();
  for (const node of g.nodes) for (const out of node.output ?? []) producer.set(out, node.input ?? []);
  const seen = new Set<string>();
  const stack = [x];
  while (stack.length > 0) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    if (masks.has(v)) return true;
    stack.push(...(producer.get(v) ?? []));
  }
  return false;
}

/** Refuses a layer whose Candor call would use a mask on `x` that the export cannot reproduce. */
export function assertNoMask(call: ExportCall, layer: Layer, x: string): void {
  if (descendsFromMasked(call.graph, x))
    throw new UnsupportedLayerError(
      'ONNX export',
      layer.name,
      layer.className,
      'its input carries a Keras mask (Embedding maskZero or Masking) that the layer would use; ONNX values ' +
        'carry no mask',
    );
}
