// Keras masks in ONNX export. ONNX values carry no mask, so the export records, per graph, the bool [batch, steps]
// value that is a value's mask, as Candor attaches masks to tensors: the exporters of mask-making layers (Embedding
// with maskZero, Masking) record theirs, and export.ts passes masks on as Layer.apply does (through layers that
// support masking; a value passed on unchanged keeps its mask). Mask-using exporters read it (maskOf, or
// call.inputMasks), and refuse a mask they cannot apply (assertNoMask): a silent wrong answer (a mean over padding
// steps) is worse than a refusal.
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

/** Refuses a layer whose Candor call would use a mask on `x` that the export cannot reproduce. */
export function assertNoMask(call: ExportCall, layer: Layer, x: string): void {
  if (maskOf(call.graph, x) !== undefined)
    throw new UnsupportedLayerError(
      'ONNX export',
      layer.name,
      layer.className,
      'its input carries a Keras mask (Embedding maskZero or Masking) that the layer would use; ONNX values ' +
        'carry no mask',
    );
}
