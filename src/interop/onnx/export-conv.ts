// ONNX export of the convolutions: Conv1D, Conv2D (groups), DepthwiseConv2D and SeparableConv2D as Conv, and
// Conv2DTranspose as ConvTranspose, each between transposes to channels first and back (export-layout.ts), with
// the kernels permuted to ONNX's [out, in / group, ...k] ([in, out, kh, kw] for ConvTranspose) and Keras'
// padding as explicit pads (the 'same' extra row at the end, 'causal' on the left).
import { explicitPadding, resolvePadding } from '../../ops/families/conv-padding.js';
import { transposedOutputSize } from '../../ops/families/conv.js';
import type { BaseConv, Conv1D, Conv2D, Conv2DTranspose } from '../../nn/layers/conv.js';
import type { DepthwiseConv2D, SeparableConv2D } from '../../nn/layers/depthwise-conv.js';
import type { AttributeValue } from './graph-builder.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import {
  activateChannelsLast,
  channelsFirst,
  knownSpatial,
  permutedWeight,
  windowPadding,
  type WindowPadding,
} from './export-layout.js';

/** Candor's kernel [...k, a, b] -> ONNX's [b, a, ...k] (rank 1 or 2 spatial axes). */
const KERNEL_PERM = { 1: [2, 1, 0], 2: [3, 2, 0, 1] } as const;

/** The layer's padding as ONNX attributes for an input of the call's shape. */
function convPadding(layer: BaseConv, call: ExportCall, rank: 1 | 2): WindowPadding {
  const { padding, kernelSize, strides, dilationRate } = layer;
  if (padding === 'causal') return { pads: [(kernelSize[0] - 1) * dilationRate[0], 0] };
  let mode: string | [number, number][] = padding as string;
  if (typeof padding !== 'string') {
    // The numeric forms the layer accepted (conv.ts): n, [h, w] or [[t, b], [l, r]]; n or [l, r] in 1-D.
    const pads =
      rank === 2 ? explicitPadding(padding) : (explicitPadding([0, padding]) ?? explicitPadding([[0, 0], padding]));
    mode = pads!.slice(2 - rank).map(([a, b]) => [a, b]);
  }
  const sizes = call.inputShapes[0].slice(1, -1);
  return windowPadding(mode, sizes, kernelSize, strides, dilationRate);
}

/** The layer's window Conv of channels-last `x`, with its bias: a channels-first result. */
export function windowConv(
  layer: BaseConv,
  x: string,
  call: ExportCall,
  rank: 1 | 2,
  weight: string,
  bias: string | undefined,
  attributes: Record<string, AttributeValue> = {},
  nodeName = 'Conv',
): string {
  const g = call.graph;
  const inputs = [channelsFirst(g, x, rank), weight, ...(bias ? [bias] : [])];
  const window = { kernel_shape: layer.kernelSize, strides: layer.strides, dilations: layer.dilationRate };
  const pad = convPadding(layer, call, rank);
  return g.node('Conv', inputs, { ...window, ...pad, ...attributes }, 1, `${call.prefix}/${nodeName}`)[0];
}

/** The window Conv, the activation and the transpose back to channels last. */
function exportConv(layer: BaseConv, x: string, call: ExportCall, rank: 1 | 2, weight: string, group = 1): string {
  const y = windowConv(layer, x, call, rank, weight, layer.bias && call.weight(layer.bias), { group });
  return activateChannelsLast(call.graph, y, layer.activation, rank, layer);
}

registerOnnxExporter<Conv1D>('Conv1D', (layer, [x], call) => [
  exportConv(layer, x, call, 1, permutedWeight(call.graph, layer.kernel!, KERNEL_PERM[1])),
]);

registerOnnxExporter<Conv2D>('Conv2D', (layer, [x], call) => [
  exportConv(layer, x, call, 2, permutedWeight(call.graph, layer.kernel!, KERNEL_PERM[2]), layer.groups),
]);

/** The depthwise kernel [kh, kw, cin, m] as ONNX's [cin * m, 1, kh, kw] (output channel c * m + j, as Candor). */
function depthwiseWeight(call: ExportCall, layer: DepthwiseConv2D | SeparableConv2D): string {
  const [kh, kw, cin, m] = layer.kernel!.shape;
  return permutedWeight(call.graph, layer.kernel!, [2, 3, 0, 1], [cin * m, 1, kh, kw]);
}

// One group per input channel.
registerOnnxExporter<DepthwiseConv2D>('DepthwiseConv2D', (layer, [x], call) => [
  exportConv(layer, x, call, 2, depthwiseWeight(call, layer), layer.kernel!.shape[2]),
]);

// The depthwise Conv (window options, no bias), then a 1x1 Conv with the bias, then the activation.
registerOnnxExporter<SeparableConv2D>('SeparableConv2D', (layer, [x], call) => {
  const g = call.graph;
  const group = layer.kernel!.shape[2];
  const depthwise = windowConv(layer, x, call, 2, depthwiseWeight(call, layer), undefined, { group }, 'Depthwise');
  const pointwise = permutedWeight(g, layer.pointwiseKernel!, KERNEL_PERM[2]);
  const inputs = [depthwise, pointwise, ...(layer.bias ? [call.weight(layer.bias)] : [])];
  const y = g.node('Conv', inputs, { kernel_shape: [1, 1] }, 1, `${call.prefix}/Pointwise`)[0];
  return [activateChannelsLast(g, y, layer.activation, 2, layer)];
});

/**
 * ConvTranspose with Keras' output size: the pads are those of the forward convolution that maps the output
 * size back to the input's (conv2dTranspose in ops/families/conv.ts), and output_padding the rows that
 * remain (the trailing stride - extent rows of 'valid' with a stride above the kernel, or outputPadding).
 */
registerOnnxExporter<Conv2DTranspose>('Conv2DTranspose', (layer, [x], call) => {
  const g = call.graph;
  const sizes = knownSpatial(layer, call.inputShapes[0], 'Conv2DTranspose (Keras output sizes)');
  const k = layer.kernelSize,
    s = layer.strides,
    d = layer.dilationRate;
  const padding = layer.padding as 'valid' | 'same';
  const out = sizes.map((n, a) =>
    transposedOutputSize(n, k[a], padding, s[a], d[a], layer.outputPadding ? layer.outputPadding[a] : null),
  );
  const pairs = resolvePadding(
    'ONNX export',
    padding,
    out as [number, number],
    k as [number, number],
    s as [number, number],
    d as [number, number],
  );
  const outputPadding = [0, 1].map((a) => {
    const [before, after] = pairs[a];
    // ONNX: out = s (n - 1) + output_padding + extent - before - after.
    return out[a] - (s[a] * (sizes[a] - 1) + (k[a] - 1) * d[a] + 1 - before - after);
  });
  const w = permutedWeight(g, layer.kernel!, KERNEL_PERM[2]);
  const y = g.node(
    'ConvTranspose',
    [channelsFirst(g, x, 2), w, ...(layer.bias ? [call.weight(layer.bias)] : [])],
    {
      kernel_shape: k,
      strides: s,
      dilations: d,
      pads: [pairs[0][0], pairs[1][0], pairs[0][1], pairs[1][1]],
      output_padding: outputPadding,
    },
    1,
    `${call.prefix}/ConvTranspose`,
  )[0];
  return [activateChannelsLast(g, y, layer.activation, 2, layer)];
});
