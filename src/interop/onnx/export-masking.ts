// ONNX export of Keras masks' sources: the Masking layer, and the mask of a maskZero Embedding (its output is
// Embedding's own exporter's; this registers only the mask, ids != 0, that recurrent and attention layers read).
import type { Masking } from '../../nn/layers/masking-layer.js';
import type { Embedding } from '../../nn/layers/embedding.js';
import { ONNX_DTYPE } from './schema.js';
import { registerOnnxExporter, registerOnnxMaskExporter } from './exporters.js';

// Masking: keep = some feature differs from maskValue (NaN differs from everything, as notEqual says); the
// output is x * keep and its mask keep without the feature axis.
registerOnnxExporter<Masking>('Masking', (layer, [x], call) => {
  const g = call.graph;
  const value = g.array(
    'mask_value',
    layer.dtype === 'float64' ? Float64Array.of(layer.maskValue) : Float32Array.of(layer.maskValue),
    [],
    layer.dtype,
  );
  const differs = g.op('Cast', [g.op('Not', [g.op('Equal', [x, value])])], { to: ONNX_DTYPE.FLOAT });
  const keep = g.op('Greater', [g.op('ReduceMax', [differs], { axes: [-1], keepdims: 1 }), g.floats('zero', [0], [])]);
  call.setOutputMasks([g.op('Squeeze', [keep, g.int64('axes', [-1])])]);
  return [g.op('Mul', [x, g.op('CastLike', [keep, x])])];
});

registerOnnxMaskExporter<Embedding>('Embedding', (layer, [ids], call) => {
  if (!layer.maskZero) return [null];
  const g = call.graph;
  const id = g.op('Cast', [ids], { to: ONNX_DTYPE.INT32 });
  return [g.op('Not', [g.op('Equal', [id, g.array('zero_id', Int32Array.of(0), [], 'int32')])])];
});
