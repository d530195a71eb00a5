// ONNX export of MultiHeadAttention, decomposed into MatMul / Reshape / Transpose / Softmax (opset 17 has no
// Attention op), with Keras' padding masks and the causal mask as Candor applies them.
import type { MultiHeadAttention } from '../../nn/layers/attention.js';
import type { Variable } from '../../nn/variable.js';
import { MASKED_LOGIT } from '../../ops/families/attention.js';
import { ONNX_DTYPE } from './schema.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import { floatsOf } from './export-constants.js';

// Shapes: query [B, T, F], value and key [B, S, F']. Each projection is one MatMul with the Keras EinsumDense
// kernel [F, heads, dim] reshaped to [F, heads * dim] (the stored weight itself, reshaped in the graph, so a
// weight shared with another layer is stored once), then [B, len, heads, dim] and heads moved before len.
// The masks combine as Keras' _compute_attention_mask: query rows AND value/key columns AND causality
// (key j <= query i); a masked logit gets -1e9 and its probability is multiplied by 0 (masked softmax), so a
// fully masked row attends to nothing, exactly as Candor's attention op.

/** The masks of one attention computation: bool [B, T] (query) and [B, S] (keys), or null. */
export interface AttentionMasks {
  query?: string | null;
  value?: string | null;
  key?: string | null;
  causal?: boolean;
}

/** x [B, len, F] @ kernel [F, heads, dim] (+ bias [heads, dim]) -> [B, heads, len, dim] (or [B, heads, dim, len]). */
function project(
  g: OnnxGraphBuilder,
  call: ExportCall,
  x: string,
  kernel: Variable,
  bias: Variable | undefined,
  keyLayout: boolean,
): string {
  const [features, heads, dim] = kernel.shape;
  const w = g.op('Reshape', [call.weight(kernel), g.int64('shape', [features, heads * dim])]);
  let y = g.op('MatMul', [x, w]);
  if (bias) y = g.op('Add', [y, g.op('Reshape', [call.weight(bias), g.int64('shape', [heads * dim])])]);
  y = g.op('Reshape', [y, g.int64('shape', [0, 0, heads, dim])]);
  return g.op('Transpose', [y], { perm: keyLayout ? [0, 2, 3, 1] : [0, 2, 1, 3] });
}

/** Dimension `axis` of x as an int64 scalar. */
const dimOf = (g: OnnxGraphBuilder, x: string, axis: number) =>
  g.op('Gather', [g.op('Shape', [x]), g.int64('axis', [axis], [])], { axis: 0 });

/** The combined bool mask [B or 1, T or 1, S], or null when nothing masks. */
function combinedMask(g: OnnxGraphBuilder, query: string, keys: string, masks: AttentionMasks): string | null {
  const parts: string[] = [];
  const axes = (axis: number) => g.int64('axes', [axis]);
  if (masks.query) parts.push(g.op('Unsqueeze', [masks.query, axes(2)]));
  for (const m of [masks.value, masks.key]) if (m) parts.push(g.op('Unsqueeze', [m, axes(1)]));
  if (masks.causal) {
    const range = (n: string) => g.op('Range', [g.int64('start', [0], []), n, g.int64('delta', [1], [])]);
    const i = g.op('Unsqueeze', [range(dimOf(g, query, 1)), axes(1)]);
    const j = g.op('Unsqueeze', [range(dimOf(g, keys, 1)), axes(0)]);
    parts.push(g.op('Unsqueeze', [g.op('LessOrEqual', [j, i]), axes(0)])); // [1, T, S]
  }
  if (parts.length === 0) return null;
  return parts.reduce((acc, m) => g.op('And', [acc, m]));
}

/**
 * The ONNX nodes of a MultiHeadAttention computation on query [B, T, F] and value (and key) [B, S, F'];
 * returns the output [B, T, outputDim]. Transformer blocks call it for their attention sublayers.
 */
export function exportAttention(
  layer: MultiHeadAttention,
  call: ExportCall,
  query: string,
  value: string,
  key: string,
  masks: AttentionMasks,
): string {
  const g = call.graph;
  const q = project(g, call, query, layer.queryKernel!, layer.queryBias, false);
  const k = project(g, call, key, layer.keyKernel!, layer.keyBias, true);
  const v = project(g, call, value, layer.valueKernel!, layer.valueBias, false);
  // Keras scales the query before the product.
  const float = (base: string, value: number) => floatsOf(g, layer.dtype, base, [value], []);
  const scaled = g.op('Mul', [q, float('scale', 1 / Math.sqrt(layer.keyDim))]);
  let logits = g.op('MatMul', [scaled, k]); // [B, heads, T, S]
  const mask = combinedMask(g, query, key, masks);
  let m: string | null = null;
  if (mask) {
    const to = layer.dtype === 'float64' ? ONNX_DTYPE.DOUBLE : ONNX_DTYPE.FLOAT;
    m = g.op('Cast', [g.op('Unsqueeze', [mask, g.int64('axes', [1])])], { to });
    const off = g.op('Mul', [g.op('Sub', [float('one', 1), m]), float('masked_logit', MASKED_LOGIT)]);
    logits = g.op('Add', [logits, off]);
  }
  let probs = g.op('Softmax', [logits], { axis: -1 });
  if (m) probs = g.op('Mul', [probs, m]);
  const heads = layer.numHeads,
    valueDim = layer.valueDim;
  let context = g.op('Transpose', [g.op('MatMul', [probs, v])], { perm: [0, 2, 1, 3] }); // [B, T, heads, dv]
  context = g.op('Reshape', [context, g.int64('shape', [0, 0, heads * valueDim])]);
  const out = layer.outputKernel!.shape[2];
  const w = g.op('Reshape', [call.weight(layer.outputKernel!), g.int64('shape', [heads * valueDim, out])]);
  let y = g.op('MatMul', [context, w]);
  if (layer.outputBias) y = g.op('Add', [y, call.weight(layer.outputBias)]);
  return y;
}

registerOnnxExporter<MultiHeadAttention>(
  'MultiHeadAttention',
  (layer, [query, value, key], call) => {
    const [queryMask, valueMask, keyMask] = call.inputMasks;
    // As MultiHeadAttention.call: the key's mask counts only when a key is given (else the key is the value).
    const masks = {
      query: queryMask,
      value: valueMask,
      key: key ? keyMask : null,
      causal: call.callOptions.useCausalMask ?? false,
    };
    call.setOutputMasks([queryMask ?? null]);
    return [exportAttention(layer, call, query, value, key ?? value, masks)];
  },
  { readsMasks: true, callOptions: ['useCausalMask'] },
);
