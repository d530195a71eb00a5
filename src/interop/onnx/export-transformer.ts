// ONNX export of the Transformer blocks (TransformerEncoder, TransformerDecoder: attention, norms and the
// feed-forward network, pre- or post-norm) and of the position layers (PositionEmbedding, PositionalEncoding).
import type { Layer, SymShape } from '../../nn/layer.js';
import type { Dense } from '../../nn/layers/dense.js';
import type { LayerNormalization } from '../../nn/layers/layer-norm.js';
import type { MultiHeadAttention } from '../../nn/layers/attention.js';
import type { TransformerDecoder, TransformerEncoder } from '../../nn/layers/transformer.js';
import type { PositionEmbedding, PositionalEncoding } from '../../nn/layers/positional.js';
import { ONNX_DTYPE } from './schema.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import { exportAttention, type AttentionMasks } from './export-attention.js';

// The blocks' sublayers come from sublayers(), in their fixed order: encoder [attention, norm, ff norm,
// ff intermediate, ff output], decoder [self attention, norm, (cross attention, norm,) ff norm, ff intermediate,
// ff output]. Dropout is the identity at inference, so it has no nodes. The norms and Dense layers are exported
// by their own exporters (call.call). A padding mask on the input masks the keys, as the blocks' call does.

/** x + f(norm(x)) (pre-norm) or norm(x + f(x)) (post-norm), f a sublayer. */
function residual(
  block: TransformerEncoder | TransformerDecoder,
  call: ExportCall,
  norm: LayerNormalization,
  x: string,
  shape: SymShape,
  f: (h: string) => string,
): string {
  const normed = (h: string) => call.call(norm, [h], [shape])[0];
  const y = call.graph.op('Add', [x, f(block.normalizeFirst ? normed(x) : x)]);
  return block.normalizeFirst ? y : normed(y);
}

/** The feed-forward residual: output(intermediate(h)). */
function feedforward(
  block: TransformerEncoder | TransformerDecoder,
  call: ExportCall,
  [norm, intermediate, output]: Layer[],
  x: string,
  shape: SymShape,
): string {
  const hidden: SymShape = [shape[0], shape[1], (intermediate as Dense).units];
  return residual(block, call, norm as LayerNormalization, x, shape, (h) => {
    const inner = call.call(intermediate, [h], [shape])[0];
    return call.call(output, [inner], [hidden])[0];
  });
}

/** Self- or cross-attention as a residual sublayer. */
function attention(
  block: TransformerEncoder | TransformerDecoder,
  call: ExportCall,
  [mha, norm]: Layer[],
  x: string,
  shape: SymShape,
  context: string | null,
  masks: AttentionMasks,
): string {
  return residual(block, call, norm as LayerNormalization, x, shape, (h) =>
    exportAttention(mha as MultiHeadAttention, call, h, context ?? h, context ?? h, masks),
  );
}

registerOnnxExporter<TransformerEncoder>(
  'TransformerEncoder',
  (layer, [x], call) => {
    const subs = layer.sublayers();
    const shape = call.inputShapes[0];
    const mask = call.inputMasks[0] ?? null;
    const y = attention(layer, call, subs.slice(0, 2), x, shape, null, { key: mask });
    call.setOutputMasks([mask]);
    return [feedforward(layer, call, subs.slice(2), y, shape)];
  },
  { readsMasks: true },
);

registerOnnxExporter<TransformerDecoder>(
  'TransformerDecoder',
  (layer, [x, encoder], call) => {
    const subs = layer.sublayers();
    const shape = call.inputShapes[0];
    const [decoderMask, encoderMask] = call.inputMasks;
    let y = attention(layer, call, subs.slice(0, 2), x, shape, null, { key: decoderMask, causal: true });
    if (encoder) y = attention(layer, call, subs.slice(2, 4), y, shape, encoder, { key: encoderMask });
    call.setOutputMasks([decoderMask ?? null]);
    return [feedforward(layer, call, subs.slice(encoder ? 4 : 2), y, shape)];
  },
  { readsMasks: true },
);

/** The length of x's time axis (axis 1) as a 1-element int64 vector. */
const timeOf = (call: ExportCall, x: string) =>
  call.graph.op('Slice', [call.graph.op('Shape', [x]), call.graph.int64('start', [1]), call.graph.int64('end', [2])]);

// PositionEmbedding: x + the table's first T rows (T is dynamic: sliced in the graph).
registerOnnxExporter<PositionEmbedding>('PositionEmbedding', (layer, [x], call) => {
  const g = call.graph;
  const rows = g.op('Slice', [
    call.weight(layer.embeddings!),
    g.int64('start', [0]),
    timeOf(call, x),
    g.int64('axes', [0]),
  ]);
  return [g.op('Add', [x, rows])];
});

// PositionalEncoding: sin / cos of position / maxWavelength^(2i/d), computed in float64 as the layer computes it
// on the host (so any length works), then cast to float32.
registerOnnxExporter<PositionalEncoding>('PositionalEncoding', (layer, [x], call) => {
  const g = call.graph;
  const features = call.inputShapes[0][2]!;
  const timescale = Float64Array.from(
    { length: features },
    (_, j) => layer.maxWavelength ** ((2 * Math.floor(j / 2)) / features),
  );
  const even = Uint8Array.from({ length: features }, (_, j) => (j % 2 === 0 ? 1 : 0));
  const length = g.op('Cast', [g.op('Squeeze', [timeOf(call, x), g.int64('axes', [0])])], { to: ONNX_DTYPE.DOUBLE });
  const zero = g.array('zero', Float64Array.of(0), [], 'float64'),
    one = g.array('one', Float64Array.of(1), [], 'float64');
  const position = g.op('Unsqueeze', [g.op('Range', [zero, length, one]), g.int64('axes', [1])]); // [T, 1]
  const angle = g.op('Div', [position, g.array('timescale', timescale, [features], 'float64')]);
  const pe = g.op('Where', [g.array('even', even, [features], 'bool'), g.op('Sin', [angle]), g.op('Cos', [angle])]);
  const to = layer.dtype === 'float64' ? ONNX_DTYPE.DOUBLE : ONNX_DTYPE.FLOAT;
  return [g.op('Add', [x, g.op('Cast', [pe], { to })])];
});
