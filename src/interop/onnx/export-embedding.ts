// ONNX export of Embedding: Gather of the table's rows by the ids (cast to int32 unless the graph input
// already is int). With maskZero, the [batch, steps] mask ids != 0 is recorded for the layers that use it
// (masks.ts); the output values themselves are the table rows either way.
import type { Embedding } from '../../nn/layers/embedding.js';
import { registerOnnxExporter } from './exporters.js';
import { setOnnxMask } from './masks.js';
import { ONNX_DTYPE } from './schema.js';

const INTEGER_TYPES: readonly number[] = [ONNX_DTYPE.INT32, ONNX_DTYPE.INT64];

registerOnnxExporter<Embedding>('Embedding', (layer, [x], call) => {
  const g = call.graph;
  const input = g.inputs.find((i) => i.name === x);
  const isInt = input !== undefined && INTEGER_TYPES.includes(input.type?.tensorType?.elemType ?? 0);
  const ids = isInt ? x : g.op('Cast', [x], { to: ONNX_DTYPE.INT32 });
  const y = g.node('Gather', [call.weight(layer.embeddings!), ids], { axis: 0 }, 1, `${call.prefix}/Gather`)[0];
  if (layer.maskZero) {
    const zero = g.array('zero_id', Int32Array.of(0), [], 'int32');
    setOnnxMask(g, y, g.op('Not', [g.op('Equal', [ids, zero])]));
  }
  return [y];
});
