// ONNX export of pooling: Max/AveragePooling1D/2D as MaxPool / AveragePool on channels-first values (Keras'
// 'same' average leaves the padding out of the count: count_include_pad 0), and the global poolings as
// ReduceMean / ReduceMax over the spatial axes of the channels-last value (keepdims as the layer).
import type { Layer } from '../../nn/layer.js';
import type {
  AveragePooling2D,
  GlobalAveragePooling2D,
  GlobalMaxPooling2D,
  MaxPooling2D,
} from '../../nn/layers/pooling.js';
import type {
  AveragePooling1D,
  GlobalAveragePooling1D,
  GlobalMaxPooling1D,
  MaxPooling1D,
} from '../../nn/layers/pooling1d.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';
import { channelsFirst, channelsLast, windowPadding } from './export-layout.js';

type WindowPooling = Layer & { poolSize: number | number[]; strides: number | number[]; padding: 'valid' | 'same' };

function exportPool(opType: 'MaxPool' | 'AveragePool', layer: WindowPooling, x: string, call: ExportCall): string[] {
  const g = call.graph;
  const kernel = typeof layer.poolSize === 'number' ? [layer.poolSize] : layer.poolSize;
  const strides = typeof layer.strides === 'number' ? [layer.strides] : layer.strides;
  const rank = kernel.length;
  const pad = windowPadding(
    layer.padding,
    call.inputShapes[0].slice(1, -1),
    kernel,
    strides,
    kernel.map(() => 1),
  );
  const attributes = {
    kernel_shape: kernel,
    strides,
    ...pad,
    ...(opType === 'AveragePool' ? { count_include_pad: 0 } : {}),
  };
  const y = g.node(opType, [channelsFirst(g, x, rank)], attributes, 1, `${call.prefix}/${opType}`)[0];
  return [channelsLast(g, y, rank)];
}

registerOnnxExporter<MaxPooling2D>('MaxPooling2D', (layer, [x], call) => exportPool('MaxPool', layer, x, call));
registerOnnxExporter<AveragePooling2D>('AveragePooling2D', (layer, [x], call) =>
  exportPool('AveragePool', layer, x, call),
);
registerOnnxExporter<MaxPooling1D>('MaxPooling1D', (layer, [x], call) => exportPool('MaxPool', layer, x, call));
registerOnnxExporter<AveragePooling1D>('AveragePooling1D', (layer, [x], call) =>
  exportPool('AveragePool', layer, x, call),
);

type GlobalPooling = Layer & { keepdims: boolean };

/** A reduction over the spatial axes 1 .. rank - 2 of a channels-last value. */
function exportGlobal(opType: 'ReduceMean' | 'ReduceMax', layer: GlobalPooling, x: string, call: ExportCall): string[] {
  const axes = call.inputShapes[0].slice(1, -1).map((_, i) => i + 1);
  return [call.graph.node(opType, [x], { axes, keepdims: layer.keepdims ? 1 : 0 }, 1, `${call.prefix}/${opType}`)[0]];
}

registerOnnxExporter<GlobalAveragePooling2D>('GlobalAveragePooling2D', (layer, [x], call) =>
  exportGlobal('ReduceMean', layer, x, call),
);
registerOnnxExporter<GlobalMaxPooling2D>('GlobalMaxPooling2D', (layer, [x], call) =>
  exportGlobal('ReduceMax', layer, x, call),
);
// Keras' GlobalAveragePooling1D averages only the unmasked steps: sum(x * mask) / sum(mask) over time.
registerOnnxExporter<GlobalAveragePooling1D>(
  'GlobalAveragePooling1D',
  (layer, [x], call) => {
    const g = call.graph;
    const mask = call.inputMasks[0];
    if (!mask) return exportGlobal('ReduceMean', layer, x, call);
    const m = g.op('Unsqueeze', [g.op('CastLike', [mask, x]), g.int64('axes', [-1])]);
    const keepdims = layer.keepdims ? 1 : 0;
    const sumOverTime = (v: string) => g.op('ReduceSum', [v, g.int64('axes', [1])], { keepdims });
    return [g.op('Div', [sumOverTime(g.op('Mul', [x, m])), sumOverTime(m)])];
  },
  { readsMasks: true },
);
// GlobalMaxPooling1D ignores the mask, as Keras' does.
registerOnnxExporter<GlobalMaxPooling1D>(
  'GlobalMaxPooling1D',
  (layer, [x], call) => exportGlobal('ReduceMax', layer, x, call),
  { readsMasks: true },
);
