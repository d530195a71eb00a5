// ONNX export of the normalization layers. BatchNormalization (inference: the moving statistics) is one Mul
// and one Add with scale = gamma / sqrt(movingVariance + epsilon) and shift = beta - movingMean * scale,
// computed in float64 when exporting, broadcast along the layer's axis (ONNX's BatchNormalization wants the
// channels on axis 1, which would need transposes around it in channels-last models). LayerNormalization over
// trailing axes is opset 17's LayerNormalization; over other axes, and GroupNormalization, it is composed
// from ReduceMean as the layers compute it. Normalization (preprocessing) is a Sub and a Div.
import type { Layer, SymShape } from '../../nn/layer.js';
import type { BatchNormalization } from '../../nn/layers/batch-normalization.js';
import type { GroupNormalization } from '../../nn/layers/group-norm.js';
import type { LayerNormalization } from '../../nn/layers/layer-norm.js';
import type { Normalization } from '../../nn/layers/normalization.js';
import type { Variable } from '../../nn/variable.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { floatsOf } from './export-constants.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';

/** A weight's values as float64. */
const valuesOf = (v: Variable | undefined) => (v ? Float64Array.from(v.value.dataSync()) : undefined);

/** An axis of a rank-`rank` input, non-negative. */
const nonNegative = (axis: number, rank: number) => (axis < 0 ? axis + rank : axis);

registerOnnxExporter<BatchNormalization>('BatchNormalization', (layer, [x], call) => {
  const g = call.graph;
  const rank = call.inputShapes[0].length;
  const axis = nonNegative(layer.axis, rank);
  const mean = valuesOf(layer.movingMean)!,
    variance = valuesOf(layer.movingVariance)!;
  const gamma = valuesOf(layer.gamma),
    beta = valuesOf(layer.beta);
  const scale = mean.map((_, i) => (gamma ? gamma[i] : 1) / Math.sqrt(variance[i] + layer.epsilon));
  const shift = mean.map((m, i) => (beta ? beta[i] : 0) - m * scale[i]);
  // [features, 1, ...]: broadcasts (from the right) along `axis` of the input.
  const dims = [mean.length, ...new Array<number>(rank - 1 - axis).fill(1)];
  const scaled = g.node(
    'Mul',
    [x, floatsOf(g, layer.dtype, `${layer.name}/scale`, scale, dims)],
    {},
    1,
    `${call.prefix}/Mul`,
  );
  const shifted = g.node(
    'Add',
    [scaled[0], floatsOf(g, layer.dtype, `${layer.name}/shift`, shift, dims)],
    {},
    1,
    `${call.prefix}/Add`,
  );
  return shifted;
});

/** A weight shaped to broadcast against the input: its sizes on `axes`, 1 on the other non-batch axes. */
function broadcastWeight(g: OnnxGraphBuilder, v: Variable, shape: SymShape, axes: readonly number[], call: ExportCall) {
  const dims = shape.slice(axes[0]).map((d, i) => (axes.includes(i + axes[0]) ? (d as number) : 1));
  return g.op('Reshape', [call.weight(v), g.int64('shape', dims)]);
}

/** (x - mean) * 1 / sqrt(var + epsilon) over `axes` (biased variance), as the layers compose it. */
function normalizeOver(g: OnnxGraphBuilder, layer: Layer, x: string, axes: readonly number[], epsilon: number) {
  const centred = g.op('Sub', [x, g.op('ReduceMean', [x], { axes: [...axes], keepdims: 1 })]);
  const variance = g.op('ReduceMean', [g.op('Mul', [centred, centred])], { axes: [...axes], keepdims: 1 });
  const std = g.op('Sqrt', [g.op('Add', [variance, floatsOf(g, layer.dtype, 'epsilon', [epsilon], [])])]);
  return g.op('Div', [centred, std]);
}

/** y * gamma + beta, each optional. */
function scaleAndShift(g: OnnxGraphBuilder, y: string, gamma: string | undefined, beta: string | undefined): string {
  if (gamma) y = g.op('Mul', [y, gamma]);
  if (beta) y = g.op('Add', [y, beta]);
  return y;
}

registerOnnxExporter<LayerNormalization>('LayerNormalization', (layer, [x], call) => {
  const g = call.graph;
  const shape = call.inputShapes[0];
  const rank = shape.length;
  const list = typeof layer.axis === 'number' ? [layer.axis] : layer.axis;
  const axes = [...new Set(list.map((a) => nonNegative(a, rank)))].sort((a, b) => a - b);
  const trailing = axes.every((a, i) => a === rank - axes.length + i);
  if (trailing) {
    // gamma / beta have the normalized axes' sizes, which is what LayerNormalization's Scale and B take.
    const sizes = axes.map((a) => shape[a] as number);
    const scale = layer.gamma
      ? call.weight(layer.gamma)
      : floatsOf(
          g,
          layer.dtype,
          `${layer.name}/ones`,
          new Array<number>(sizes.reduce((n, d) => n * d, 1)).fill(1),
          sizes,
        );
    const inputs = [x, scale, ...(layer.beta ? [call.weight(layer.beta)] : [])];
    const attributes = { axis: axes[0], epsilon: { f: layer.epsilon } };
    return [g.node('LayerNormalization', inputs, attributes, 1, `${call.prefix}/LayerNormalization`)[0]];
  }
  const gamma = layer.gamma && broadcastWeight(g, layer.gamma, shape, axes, call);
  const beta = layer.beta && broadcastWeight(g, layer.beta, shape, axes, call);
  return [scaleAndShift(g, normalizeOver(g, layer, x, axes, layer.epsilon), gamma, beta)];
});

/** [N, ..., C] -> [N, ..., groups, C / groups], normalized over all but N and the group axis, and back. */
registerOnnxExporter<GroupNormalization>('GroupNormalization', (layer, [x], call) => {
  const g = call.graph;
  const shape = call.inputShapes[0];
  const rank = shape.length;
  const axis = nonNegative(layer.axis, rank);
  const last = rank - 1;
  // Channels moved last, as the layer does.
  const order = [...shape.keys()].filter((i) => i !== axis).concat(axis);
  const moved = axis === last ? x : g.op('Transpose', [x], { perm: order });
  const c = shape[axis] as number;
  // Reshape's 0 copies the input's size on that axis (the batch and any unknown step count).
  const grouped = g.op('Reshape', [
    moved,
    g.int64('shape', [...new Array<number>(last).fill(0), layer.groups, c / layer.groups]),
  ]);
  const axes = Array.from({ length: rank + 1 }, (_, i) => i).filter((i) => i !== 0 && i !== last);
  const normalized = g.op('Reshape', [normalizeOver(g, layer, grouped, axes, layer.epsilon), g.op('Shape', [moved])]);
  const y = scaleAndShift(
    g,
    normalized,
    layer.gamma && call.weight(layer.gamma),
    layer.beta && call.weight(layer.beta),
  );
  return [axis === last ? y : g.op('Transpose', [y], { perm: order.map((_, i) => order.indexOf(i)) })];
});

// Normalization (the preprocessing layer): (x - mean) / max(sqrt(variance), floor), or its inverse, with the
// statistics as the layer holds them (given or adapted) and the standard deviation computed at export.
registerOnnxExporter<Normalization>('Normalization', (layer, [x], call) => {
  const g = call.graph;
  const { mean, variance, shape, minStd } = layer.statistics()!;
  const std = variance.map((v) => Math.max(Math.sqrt(Math.fround(v)), minStd));
  const m = floatsOf(g, layer.dtype, `${layer.name}/mean`, mean, shape),
    s = floatsOf(g, layer.dtype, `${layer.name}/std`, std, shape);
  if (layer.invert) return [g.op('Add', [g.op('Mul', [x, s]), m])];
  return [g.node('Div', [g.op('Sub', [x, m]), s], {}, 1, `${call.prefix}/Div`)[0]];
});
