// ONNX export of Dense: MatMul with the [in, units] kernel (any input rank, as Dense itself), Add of the bias,
// then the activation.
import type { Dense } from '../../nn/layers/dense.js';
import { registerOnnxExporter } from './exporters.js';
import { exportActivation } from './export-activations.js';

registerOnnxExporter<Dense>('Dense', (layer, [x], call) => {
  const g = call.graph;
  let y = g.node('MatMul', [x, call.weight(layer.kernel!)], {}, 1, `${call.prefix}/MatMul`)[0];
  if (layer.bias) y = g.node('Add', [y, call.weight(layer.bias)], {}, 1, `${call.prefix}/Add`)[0];
  return [exportActivation(g, layer.activation, y, layer)];
});
