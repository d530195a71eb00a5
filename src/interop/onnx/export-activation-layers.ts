// ONNX export of the activation layers with options (ReLU's maxValue / negativeSlope / threshold, LeakyReLU,
// ELU, PReLU's learnt slopes, Softmax along an axis) and of the other elementwise layers: Rescaling and
// Masking (whose [batch, steps] mask is recorded for the layers that use it: masks.ts). A masked input to
// Softmax (which would add -1e9 to masked logits) is refused by export.ts: this exporter does not read masks.
import type { ELU, LeakyReLU, PReLU, ReLU, Softmax } from '../../nn/layers/activation-layers.js';
import type { Masking } from '../../nn/layers/masking-layer.js';
import type { Rescaling } from '../../nn/layers/preprocessing-image.js';
import { floatsOf } from './export-constants.js';
import { registerOnnxExporter } from './exporters.js';
import { setOnnxMask } from './masks.js';

// Keras ReLU: min(x, maxValue) for x > threshold, negativeSlope * (x - threshold) otherwise.
registerOnnxExporter<ReLU>('ReLU', (layer, [x], call) => {
  const g = call.graph;
  const { threshold, negativeSlope, maxValue } = layer;
  let y: string;
  if (threshold === 0 && negativeSlope === 0) y = g.op('Relu', [x]);
  else {
    const t = floatsOf(g, layer.dtype, 'threshold', [threshold], []);
    const below =
      negativeSlope === 0
        ? floatsOf(g, layer.dtype, 'zero', [0], [])
        : g.op('Mul', [g.op('Sub', [x, t]), floatsOf(g, layer.dtype, 'negative_slope', [negativeSlope], [])]);
    y = g.op('Where', [g.op('Greater', [x, t]), x, below]);
  }
  return [maxValue === null ? y : g.op('Min', [y, floatsOf(g, layer.dtype, 'max_value', [maxValue], [])])];
});

registerOnnxExporter<LeakyReLU>('LeakyReLU', (layer, [x], call) => [
  call.graph.node('LeakyRelu', [x], { alpha: { f: layer.negativeSlope } }, 1, `${call.prefix}/LeakyRelu`)[0],
]);

registerOnnxExporter<ELU>('ELU', (layer, [x], call) => [
  call.graph.node('Elu', [x], { alpha: { f: layer.alpha } }, 1, `${call.prefix}/Elu`)[0],
]);

// The slopes [...shape without the batch] broadcast from the right against [N, ...], as PRelu's do.
registerOnnxExporter<PReLU>('PReLU', (layer, [x], call) => [
  call.graph.node('PRelu', [x, call.weight(layer.alpha!)], {}, 1, `${call.prefix}/PRelu`)[0],
]);

registerOnnxExporter<Softmax>('Softmax', (layer, [x], call) => [
  call.graph.node('Softmax', [x], { axis: layer.axis }, 1, `${call.prefix}/Softmax`)[0],
]);

registerOnnxExporter<Rescaling>('Rescaling', (layer, [x], call) => {
  const g = call.graph;
  const operand = (name: string, v: number | number[]) =>
    typeof v === 'number' ? floatsOf(g, layer.dtype, name, [v], []) : floatsOf(g, layer.dtype, name, v);
  const scaled = g.node('Mul', [x, operand('scale', layer.scale)], {}, 1, `${call.prefix}/Mul`)[0];
  return [g.node('Add', [scaled, operand('offset', layer.offset)], {}, 1, `${call.prefix}/Add`)[0]];
});

// keep = any(x != maskValue) over the features (NaN differs from everything, as notEqual says); the output is
// x * keep and keep without its last axis is the mask.
registerOnnxExporter<Masking>('Masking', (layer, [x], call) => {
  const g = call.graph;
  const maskValue = floatsOf(g, layer.dtype, 'mask_value', [layer.maskValue], []);
  const differs = g.op('CastLike', [g.op('Not', [g.op('Equal', [x, maskValue])]), x]);
  const keep = g.op('Greater', [
    g.op('ReduceMax', [differs], { axes: [-1], keepdims: 1 }),
    floatsOf(g, layer.dtype, 'zero', [0], []),
  ]);
  const y = g.node('Mul', [x, g.op('CastLike', [keep, x])], {}, 1, `${call.prefix}/Mul`)[0];
  setOnnxMask(g, y, g.op('Squeeze', [keep, g.int64('axes', [-1])]));
  return [y];
});
