// Keras masks in ONNX export. ONNX values carry no mask, so the export records, per graph, the bool [batch, steps]
// value that is a value's mask, as Candor attaches masks to tensors: the exporters of mask-making layers (Embedding
// with maskZero, Masking) record theirs, and export.ts passes masks on as Layer.apply does (through layers that
// support masking; a value passed on unchanged keeps its mask). Mask-using exporters read it (maskOf, or
// call.inputMasks); export.ts refuses a mask reaching a layer that would use it but whose exporter cannot apply
// it: a silent wrong answer (a mean over padding steps) is worse than a refusal.
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
