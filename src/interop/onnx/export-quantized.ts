// ONNX export of the int8 layers as QDQ (opset 13+): the input through QuantizeLinear / DequantizeLinear with the
// layer's uint8 scale and zero point, the int8 kernel through a per-axis DequantizeLinear, then the float MatMul /
// Conv, bias and activation as for Dense / Conv2D. onnxruntime fuses QDQ pairs into its int8 kernels.
import type { QuantizedConv2D, QuantizedDense } from '../../compress/quantized-layers.js';
import { InteropError } from '../errors.js';
import { ONNX_DTYPE } from './schema.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import { exportActivation } from './export-activations.js';
import { activateChannelsLast, permutedWeight } from './export-layout.js';
import { windowConv } from './export-conv.js';

/** x quantised to uint8 and back, as the layer's int8 op sees it. */
function fakeQuantizedInput(layer: QuantizedDense | QuantizedConv2D, x: string, call: ExportCall): string {
  const q = layer.inputQuantization;
  if (!q) throw new InteropError(`ONNX export: ${layer.className} '${layer.name}' is not calibrated (no inputScale)`);
  const g = call.graph;
  const scale = g.floats(`${call.prefix}/input_scale`, [q.inputScale], []);
  const zeroPoint = g.uniqueName(`${call.prefix}/input_zero_point`);
  g.initializers.push({
    name: zeroPoint,
    dims: [],
    dataType: ONNX_DTYPE.UINT8,
    rawData: Uint8Array.of(q.inputZeroPoint),
  });
  const codes = g.node('QuantizeLinear', [x, scale, zeroPoint], {}, 1, `${call.prefix}/QuantizeLinear`)[0];
  return g.node('DequantizeLinear', [codes, scale, zeroPoint], {}, 1, `${call.prefix}/DequantizeLinear`)[0];
}

/** The int8 kernel initializer (as laid out for the op) dequantised per output channel along `axis`. */
function dequantizedKernel(call: ExportCall, kernel: string, scale: string, axis: number): string {
  return call.graph.node('DequantizeLinear', [kernel, scale], { axis }, 1, `${call.prefix}/DequantizeKernel`)[0];
}

registerOnnxExporter<QuantizedDense>('QuantizedDense', (layer, [x], call) => {
  const g = call.graph;
  const w = dequantizedKernel(call, call.weight(layer.kernel!), call.weight(layer.kernelScale!), 1);
  const y = g.node('MatMul', [fakeQuantizedInput(layer, x, call), w], {}, 1, `${call.prefix}/MatMul`)[0];
  const biased = g.node('Add', [y, call.weight(layer.bias!)], {}, 1, `${call.prefix}/Add`)[0];
  return [exportActivation(g, layer.activation, biased, layer)];
});

registerOnnxExporter<QuantizedConv2D>('QuantizedConv2D', (layer, [x], call) => {
  // Candor's [kh, kw, cin, cout] -> ONNX's [cout, cin, kh, kw]: the output channel becomes axis 0.
  const kernel = permutedWeight(call.graph, layer.kernel!, [3, 2, 0, 1]);
  const w = dequantizedKernel(call, kernel, call.weight(layer.kernelScale!), 0);
  const y = windowConv(layer, fakeQuantizedInput(layer, x, call), call, 2, w, call.weight(layer.bias!));
  return [activateChannelsLast(call.graph, y, layer.activation, 2, layer)];
});
