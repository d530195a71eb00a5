// ONNX export of the merge layers: the elementwise ones folded left to right over their inputs as Candor does
// (ONNX broadcasting is Keras' for inputs of one rank), Average as that sum divided by the count, Concatenate
// along its axis, and Dot as one batched MatMul of the inputs transposed and reshaped as the layer does.
import { formatSymShape, type Layer } from '../../nn/layer.js';
import type { Concatenate, Dot } from '../../nn/layers/merge.js';
import { InteropError } from '../errors.js';
import { floatsOf } from './export-constants.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';

/** inputs[0] op inputs[1] op ... , left to right. */
function fold(opType: string, inputs: readonly string[], call: ExportCall): string {
  return inputs
    .slice(1)
    .reduce((acc, x) => call.graph.node(opType, [acc, x], {}, 1, `${call.prefix}/${opType}`)[0], inputs[0]);
}

const ELEMENTWISE: Record<string, string> = {
  Add: 'Add',
  Subtract: 'Sub',
  Multiply: 'Mul',
  Maximum: 'Max',
  Minimum: 'Min',
};
for (const [className, opType] of Object.entries(ELEMENTWISE))
  registerOnnxExporter<Layer>(className, (_layer, inputs, call) => [fold(opType, inputs, call)]);

registerOnnxExporter<Layer>('Average', (layer, inputs, call) => {
  const g = call.graph;
  return [g.op('Div', [fold('Add', inputs, call), floatsOf(g, layer.dtype, 'count', [inputs.length], [])])];
});

registerOnnxExporter<Concatenate>('Concatenate', (layer, inputs, call) => {
  const rank = call.inputShapes[0].length;
  const axis = layer.axis < 0 ? layer.axis + rank : layer.axis;
  return [call.graph.node('Concat', [...inputs], { axis }, 1, `${call.prefix}/Concat`)[0]];
});

/** x -> [B, rest of x, K] and y -> [B, K, rest of y]; MatMul; then the layer's output shape (as merge.ts). */
registerOnnxExporter<Dot>('Dot', (layer, [x, y], call) => {
  const g = call.graph;
  const shapes = call.inputShapes;
  const axesOf = typeof layer.axes === 'number' ? [layer.axes, layer.axes] : layer.axes;
  const [ax, ay] = axesOf.map((a, i) => (a < 0 ? a + shapes[i].length : a));
  const rest = (rank: number, a: number) => Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 0 && i !== a);
  const rx = rest(shapes[0].length, ax),
    ry = rest(shapes[1].length, ay);
  const size = (s: readonly (number | null)[], axes: number[]) =>
    axes.reduce<number | null>((n, i) => (n === null || s[i] === null ? null : n * s[i]!), 1);
  const sx = size(shapes[0], rx),
    sy = size(shapes[1], ry),
    k = shapes[0][ax];
  const out = call.outputShapes[0].slice(1);
  if (sx === null || sy === null || k === null || out.some((d) => d === null))
    throw new InteropError(
      `ONNX export: layer '${layer.name}' (Dot) needs known non-batch sizes, got inputs ` +
        `${shapes.map(formatSymShape).join(' and ')}`,
    );
  if (layer.normalize) {
    x = l2Normalize(call, layer, x, ax);
    y = l2Normalize(call, layer, y, ay);
  }
  const x3 = g.op('Reshape', [g.op('Transpose', [x], { perm: [0, ...rx, ax] }), g.int64('shape', [0, sx, k])]);
  const y3 = g.op('Reshape', [g.op('Transpose', [y], { perm: [0, ay, ...ry] }), g.int64('shape', [0, k, sy])]);
  const product = g.node('MatMul', [x3, y3], {}, 1, `${call.prefix}/MatMul`)[0];
  return [g.op('Reshape', [product, g.int64('shape', [0, ...(out as number[])])])];
});

/** x * 1 / sqrt(max(sum x^2, 1e-12)) along `axis` (Keras l2_normalize, as merge.ts). */
function l2Normalize(call: ExportCall, layer: Layer, x: string, axis: number): string {
  const g = call.graph;
  const squares = g.op('ReduceSum', [g.op('Mul', [x, x]), g.int64('axes', [axis])], { keepdims: 1 });
  const norm = g.op('Sqrt', [g.op('Max', [squares, floatsOf(g, layer.dtype, 'tiny', [1e-12], [])])]);
  return g.op('Div', [x, norm]);
}
