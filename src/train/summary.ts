// model.summary(): the Keras table of layers, output shapes and parameter counts, with Keras' "Connected to"
// column for functional models that branch.
import type { Layer, Node, SymShape, SymbolicTensor } from '../nn/layer.js';
import { formatSymShape } from '../nn/layer.js';
import type { Model } from './model.js';

function fmtBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = bytes,
    u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(2)} ${units[u]}`;
}

const count = (n: number) => n.toLocaleString('en-US');

function outputShapeOf(layer: Layer): string {
  const node = layer.inboundNodes[0];
  if (node) {
    const shapes = node.outputs.map((o) => formatSymShape(o.shape));
    return shapes.length === 1 ? shapes[0] : `[${shapes.join(', ')}]`;
  }
  return '?';
}

/** 'dense[0][0]': the producing layer, its node index and the output index (Keras' notation). */
function refOf(t: SymbolicTensor): string {
  const node = t.node!;
  return `${node.layer.name}[${node.layer.inboundNodes.indexOf(node)}][${node.outputs.indexOf(t)}]`;
}

/**
 * Keras' test for the plain table: a Sequential or subclass model, or a functional chain (one input,
 * one output, every call with one input, no layer called twice, no tensor used twice). Others get the
 * "Connected to" column.
 */
function isSequentialLike(model: Model, nodes: readonly Node[]): boolean {
  if (!model.isFunctional) return true;
  if (model.inputs.length > 1 || model.outputs.length > 1) return false;
  const layers = new Set<Layer>(),
    consumed = new Set<number>();
  for (const node of nodes) {
    if (node.inputs.length > 1 || layers.has(node.layer)) return false;
    layers.add(node.layer);
    for (const t of node.inputs) {
      if (consumed.has(t.id)) return false;
      consumed.add(t.id);
    }
  }
  return true;
}

export interface SummaryOptions {
  /** Adds Keras' "Trainable" column (show_trainable): Y or N, each layer's flag, to check what fine-tuning freezes. */
  showTrainable?: boolean;
}

export function summaryText(
  model: Model,
  outputShapes?: Map<Layer, SymShape | SymShape[]>,
  { showTrainable = false }: SummaryOptions = {},
): string {
  const nodes = model.isFunctional ? model.graphNodes : [];
  const connected = !isSequentialLike(model, nodes);
  const layers = model.layers.filter((l) => l.className !== 'InputLayer' || model.isFunctional);
  const header = [
    'Layer (type)',
    'Output Shape',
    'Param #',
    ...(connected ? ['Connected to'] : []),
    ...(showTrainable ? ['Trainable'] : []),
  ];
  const rows = layers.map((layer) => {
    const shape = outputShapes?.get(layer);
    const shapeText = shape
      ? Array.isArray(shape[0])
        ? `[${(shape as SymShape[]).map(formatSymShape).join(', ')}]`
        : formatSymShape(shape as SymShape)
      : outputShapeOf(layer);
    const cells = [
      `${layer.name} (${layer.className})`,
      shapeText,
      layer.built ? count(layer.countParams()) : '0 (unbuilt)',
    ];
    if (connected) {
      const inbound = nodes.filter((n) => n.layer === layer).flatMap((n) => n.inputs.map(refOf));
      cells.push(inbound.length ? inbound.join(', ') : '-');
    }
    if (showTrainable) cells.push(layer.trainable ? 'Y' : 'N');
    return cells;
  });
  // Keras' widths, widened where a cell would not fit (a long layer name or shape).
  const widths = [32, 26, 15, ...(connected ? [22] : []), ...(showTrainable ? [11] : [])].map((w, i) =>
    Math.max(w, ...[header, ...rows].map((r) => r[i].length + 2)),
  );
  const row = (cells: string[]) =>
    `│${cells.map((c, i) => ` ${i === 2 ? c.padStart(widths[i] - 2) : c.padEnd(widths[i] - 2)} `).join('│')}│`;
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => '─'.repeat(w)).join(m) + r;
  const lines = [`Model: "${model.name}"`, rule('┌', '┬', '┐'), row(header), rule('├', '┼', '┤')];
  rows.forEach((cells, i) => {
    lines.push(row(cells));
    if (i < rows.length - 1) lines.push(rule('├', '┼', '┤'));
  });
  lines.push(rule('└', '┴', '┘'));
  const total = model.countParams();
  const trainable = model.trainableWeights.reduce((s, v) => s + v.value.size, 0);
  const bytesOf = (vs: readonly { value: { size: number; dtype: string } }[]) =>
    vs.reduce((s, v) => s + v.value.size * (v.value.dtype === 'float64' ? 8 : 4), 0);
  lines.push(` Total params: ${count(total)} (${fmtBytes(bytesOf(model.weights))})`);
  lines.push(` Trainable params: ${count(trainable)} (${fmtBytes(bytesOf(model.trainableWeights))})`);
  lines.push(` Non-trainable params: ${count(total - trainable)} (${fmtBytes(bytesOf(model.nonTrainableWeights))})`);
  return lines.join('\n');
}
