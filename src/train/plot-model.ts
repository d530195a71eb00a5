// plotModel (Keras keras.utils.plot_model): the layer graph of a functional or Sequential model as an SVG
// file, one box per layer (name, class, optionally shapes and dtype) in rows by depth from the inputs,
// and an arrow for each connection. No dependency: the SVG is written by hand.
import { ArgumentError } from '../errors.js';
import { formatSymShape, type Layer, type Node, type SymShape } from '../nn/layer.js';
import { checkOptions, optionKeys } from '../registry.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Model } from './model.js';

export interface PlotModelOptions {
  /** Show each layer's input and output shapes (default false). */
  showShapes?: boolean;
  /** Show each layer's dtype (default false). */
  showDtype?: boolean;
  /** Show layer names above their class (default true). */
  showLayerNames?: boolean;
}

const OPTIONS = optionKeys<PlotModelOptions>({ showShapes: true, showDtype: true, showLayerNames: true });

interface Box {
  layer: Layer;
  depth: number;
  /** The layer's first call in this model, for its shapes (none for an unbuilt Sequential). */
  node?: Node;
  lines: string[];
  x: number;
  y: number;
  width: number;
}

const ROW_HEIGHT = 90;
const LINE_HEIGHT = 16;
const CHAR_WIDTH = 7.2; // of 12px monospace text
const GAP = 24;
const MARGIN = 20;

/** The boxes (one per layer, by depth) and edges (producer, consumer) of the model's graph. */
function layerGraph(model: Model): { boxes: Box[]; edges: [Box, Box][] } {
  const boxes = new Map<Layer, Box>();
  const box = (layer: Layer, depth: number, node?: Node): Box => {
    let b = boxes.get(layer);
    if (!b) boxes.set(layer, (b = { layer, depth, node, lines: [], x: 0, y: 0, width: 0 }));
    b.depth = Math.max(b.depth, depth);
    return b;
  };
  const edges: [Box, Box][] = [];
  if (model.isFunctional) {
    for (const t of model.inputs) box(t.node!.layer, 0, t.node);
    // Topological order: a node's producers have their final depth when it is placed.
    for (const node of model.graphNodes) {
      const producers = node.inputs.map((t) => boxes.get(t.node!.layer)!);
      const b = box(node.layer, 1 + Math.max(...producers.map((p) => p.depth)), node);
      for (const p of producers) if (!edges.some(([a, c]) => a === p && c === b)) edges.push([p, b]);
    }
  } else {
    // A Sequential: a chain, from its input layer when it has one.
    const stack = model.layers;
    if (stack.length === 0) throw new ArgumentError(`plotModel: model '${model.name}' has no layers`);
    const first = stack[0].inboundNodes.at(-1)?.inputs[0]?.node;
    let prev: Box | undefined = first && first.inputs.length === 0 ? box(first.layer, 0, first) : undefined;
    for (const layer of stack) {
      const b = box(layer, prev ? prev.depth + 1 : 0, layer.inboundNodes.at(-1));
      if (prev) edges.push([prev, b]);
      prev = b;
    }
  }
  return { boxes: [...boxes.values()], edges };
}

const shapes = (list: readonly { shape: SymShape }[]) =>
  list.length === 0 ? '' : list.map((t) => formatSymShape(t.shape)).join(', ');

function boxLines(b: Box, options: PlotModelOptions): string[] {
  const lines = [options.showLayerNames === false ? b.layer.className : `${b.layer.name} (${b.layer.className})`];
  if (options.showShapes) {
    const input = b.node ? shapes(b.node.inputs) : '';
    const output = b.node ? shapes(b.node.outputs) : '?';
    lines.push(input ? `${input} -> ${output}` : output);
  }
  if (options.showDtype) lines.push(b.layer.dtype);
  return lines;
}

const escape = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The SVG text of the model's graph (what plotModel writes). */
export function modelToSvg(model: Model, options: PlotModelOptions = {}): string {
  checkOptions('plotModel', options, OPTIONS);
  if (!model.isFunctional && model.className !== 'Sequential')
    throw new ArgumentError(
      `plotModel: model '${model.name}' is a subclass model, whose layers have no graph to plot; ` +
        'plot a functional or Sequential model',
    );
  const { boxes, edges } = layerGraph(model);
  const rows: Box[][] = [];
  for (const b of boxes) (rows[b.depth] ??= []).push(b);
  const boxHeight = (n: number) => 12 + n * LINE_HEIGHT;
  let width = 0;
  for (const b of boxes) {
    b.lines = boxLines(b, options);
    b.width = Math.ceil(Math.max(...b.lines.map((l) => l.length)) * CHAR_WIDTH + 24);
  }
  const rowWidths = rows.map((row) => row.reduce((s, b) => s + b.width, 0) + GAP * (row.length - 1));
  width = Math.max(...rowWidths) + 2 * MARGIN;
  rows.forEach((row, depth) => {
    let x = (width - rowWidths[depth]) / 2;
    for (const b of row) {
      b.x = x;
      b.y = MARGIN + depth * ROW_HEIGHT;
      x += b.width + GAP;
    }
  });
  const lineCount = Math.max(...boxes.map((b) => b.lines.length));
  const height = MARGIN * 2 + (rows.length - 1) * ROW_HEIGHT + boxHeight(lineCount);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${escape(model.name)}</title>`,
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" ' +
      'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#444"/></marker></defs>',
  ];
  for (const [from, to] of edges) {
    const x1 = from.x + from.width / 2,
      y1 = from.y + boxHeight(from.lines.length);
    const x2 = to.x + to.width / 2,
      y2 = to.y;
    const mid = (y1 + y2) / 2;
    out.push(
      `<path class="edge" d="M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2}" fill="none" stroke="#444" ` +
        'marker-end="url(#arrow)"/>',
    );
  }
  for (const b of boxes) {
    out.push(`<g class="layer" id="${escape(b.layer.name)}">`);
    out.push(
      `<rect x="${b.x}" y="${b.y}" width="${b.width}" height="${boxHeight(b.lines.length)}" rx="4" ` +
        'fill="#eef3fb" stroke="#345"/>',
    );
    b.lines.forEach((line, i) =>
      out.push(
        `<text x="${b.x + b.width / 2}" y="${b.y + 18 + i * LINE_HEIGHT}" text-anchor="middle" ` +
          `font-family="monospace" font-size="12">${escape(line)}</text>`,
      ),
    );
    out.push('</g>');
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** Writes the model's graph as an SVG file at `path` (atomically) and returns the SVG text. */
export async function plotModel(model: Model, path: string, options: PlotModelOptions = {}): Promise<string> {
  const svg = modelToSvg(model, options);
  await writeFileAtomic(path, svg);
  return svg;
}
