// model.summary(): the Keras table of layers, output shapes and parameter counts.
import type { Layer, SymShape } from '../nn/layer.js';
import { formatSymShape } from '../nn/layer.js';
import type { Model } from './model.js';

function fmtBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB'];
  let v = bytes, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
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

export function summaryText(model: Model, outputShapes?: Map<Layer, SymShape | SymShape[]>): string {
  const widths = [32, 26, 15];
  const row = (cells: string[]) => `│ ${cells[0].padEnd(widths[0] - 2)} │ ${cells[1].padEnd(widths[1] - 2)} │ ${cells[2].padStart(widths[2] - 2)} │`;
  const rule = (l: string, m: string, r: string) => l + widths.map((w) => '─'.repeat(w)).join(m) + r;
  const lines = [`Model: "${model.name}"`, rule('┌', '┬', '┐'), row(['Layer (type)', 'Output Shape', 'Param #']), rule('├', '┼', '┤')];
  const layers = model.layers.filter((l) => l.className !== 'InputLayer' || model.isFunctional);
  layers.forEach((layer, i) => {
    const shape = outputShapes?.get(layer);
    const shapeText = shape ? (Array.isArray(shape[0]) ? `[${(shape as SymShape[]).map(formatSymShape).join(', ')}]` : formatSymShape(shape as SymShape)) : outputShapeOf(layer);
    lines.push(row([`${layer.name} (${layer.className})`, shapeText, count(layer.built ? layer.countParams() : 0)]));
    if (i < layers.length - 1) lines.push(rule('├', '┼', '┤'));
  });
  lines.push(rule('└', '┴', '┘'));
  const total = model.countParams();
  const trainable = model.trainableWeights.reduce((s, v) => s + v.value.size, 0);
  const bytesOf = (vs: readonly { value: { size: number; dtype: string } }[]) => vs.reduce((s, v) => s + v.value.size * (v.value.dtype === 'float64' ? 8 : 4), 0);
  lines.push(` Total params: ${count(total)} (${fmtBytes(bytesOf(model.weights))})`);
  lines.push(` Trainable params: ${count(trainable)} (${fmtBytes(bytesOf(model.trainableWeights))})`);
  lines.push(` Non-trainable params: ${count(total - trainable)} (${fmtBytes(bytesOf(model.nonTrainableWeights))})`);
  return lines.join('\n');
}
