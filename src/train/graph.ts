// The functional-API graph: topological order of layer calls from inputs to outputs, execution on real
// tensors, and the Keras-like config (layers with their inbound nodes) that rebuilds it.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtValue } from '../errors.js';
import {
  Layer,
  Node,
  SymbolicTensor,
  formatSymShape,
  layerFromConfig,
  type CallArgs,
  type CallContext,
  type LayerConfig,
} from '../nn/layer.js';
import { InputLayer } from '../nn/input.js';
import type { StringTensor } from '../nn/preprocessing/string-tensor.js';

/** Nodes that lead from `inputs` to `outputs`, each after the nodes producing its inputs. */
export function topologicalNodes(inputs: readonly SymbolicTensor[], outputs: readonly SymbolicTensor[]): Node[] {
  const order: Node[] = [];
  const state = new Map<Node, 'visiting' | 'done'>();
  const inputIds = new Set(inputs.map((t) => t.id));
  const visit = (t: SymbolicTensor) => {
    if (inputIds.has(t.id)) return;
    const node = t.node;
    if (!node || node.layer instanceof InputLayer) {
      throw new ArgumentError(`Model: output depends on '${t.name}', which is not one of the model's inputs`);
    }
    const s = state.get(node);
    if (s === 'done') return;
    if (s === 'visiting') throw new ArgumentError(`Model: the graph has a cycle through layer '${node.layer.name}'`);
    state.set(node, 'visiting');
    for (const i of node.inputs) visit(i);
    state.set(node, 'done');
    order.push(node);
  };
  for (const o of outputs) visit(o);
  return order;
}

/** Runs the nodes on real tensors (or raw text, for text layers) bound to the inputs; returns the output tensors. */
export function runGraph(
  nodes: readonly Node[],
  inputs: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
  values: readonly (Tensor | StringTensor)[],
  ctx: CallContext,
): Tensor[] {
  if (values.length !== inputs.length) {
    throw new ArgumentError(
      `Model: expects ${inputs.length} input${inputs.length > 1 ? 's' : ''} ` +
        `(${inputs.map((s) => `'${s.name}' ${formatSymShape(s.shape)}`).join(', ')}), ` +
        `got ${values.length} tensor${values.length > 1 ? 's' : ''}`,
    );
  }
  const bound = new Map<number, Tensor | StringTensor>();
  inputs.forEach((s, i) => {
    const v = values[i];
    const ok = v.rank === s.rank && s.shape.every((d, j) => d === null || d === v.shape[j]);
    if (!ok)
      throw new ShapeError(
        `Model input '${s.name}' expects input ${formatSymShape(s.shape)}, got ${formatSymShape(v.shape)}`,
      );
    bound.set(s.id, v);
  });
  for (const node of nodes) {
    const args = node.inputs.map((s) => bound.get(s.id)!);
    // Arguments recorded at the symbolic call win over the run's (a base called with training: false).
    const out = node.layer.apply(
      node.calledWithList ? args : args[0],
      node.hasCallArgs ? { ...ctx, ...node.callArgs } : ctx,
    );
    const outs = Array.isArray(out) ? out : [out];
    node.outputs.forEach((s, i) => bound.set(s.id, outs[i]));
  }
  return outputs.map((s) => bound.get(s.id) as Tensor); // layers' outputs are tensors
}

/**
 * Where a symbolic tensor comes from: [layer name, node index in that layer, output index], and in an inbound
 * node the call's recorded arguments when there are any (Keras' fourth element, `{ training: false }`).
 */
type TensorRef = [string, number, number] | [string, number, number, CallArgs];

function refOf(t: SymbolicTensor, nodes: readonly Node[]): TensorRef {
  const node = t.node!;
  // Counted among the layer's calls in this graph only: a layer shared with another model (a pruned or
  // fine-tuned copy) has calls there too, which the rebuilt model will not have (Keras remaps them alike).
  // An input's node is not among `nodes`; an InputLayer has that one node.
  const own = node.layer.inboundNodes.filter((n) => nodes.includes(n)).indexOf(node);
  return [node.layer.name, own === -1 ? node.layer.inboundNodes.indexOf(node) : own, node.outputs.indexOf(t)];
}

/** An inbound node as saved: the refs of its inputs, each carrying the call's arguments if it had any. */
function inboundRefs(node: Node, nodes: readonly Node[]): TensorRef[] {
  const args = node.callArgs;
  return node.inputs.map((t) => {
    const ref = refOf(t, nodes);
    return node.hasCallArgs ? [ref[0], ref[1], ref[2], { ...args }] : ref;
  });
}

/** The call arguments saved with an inbound node's refs, checked (a file may hold anything). */
function savedCallArgs(layer: Layer, refs: readonly TensorRef[]): CallArgs {
  const saved = refs[0]?.[3];
  if (saved === undefined) return {};
  const known = ['training', ...layer.callOptionNames];
  const entries: [string, unknown][] = typeof saved === 'object' && saved !== null ? Object.entries(saved) : [['', 0]];
  if (entries.some(([k, v]) => !known.includes(k) || typeof v !== 'boolean'))
    throw new ArgumentError(
      `Model config: the call of layer '${layer.name}' has arguments ${fmtValue(saved)}; only ` +
        `${known.map((k) => `'${k}'`).join(', ')} (true or false) can be replayed`,
    );
  return saved;
}

/** The layers called in a graph, each once: the input layers first, then in call order. */
export function graphLayers(inputs: readonly SymbolicTensor[], nodes: readonly Node[]): Layer[] {
  const layers: Layer[] = [];
  for (const t of inputs) if (!layers.includes(t.node!.layer)) layers.push(t.node!.layer);
  for (const n of nodes) if (!layers.includes(n.layer)) layers.push(n.layer);
  return layers;
}

export interface GraphConfig {
  name: string;
  layers: { className: string; name: string; config: LayerConfig; inboundNodes: TensorRef[][] }[];
  inputLayers: TensorRef[];
  outputLayers: TensorRef[];
}

export function graphConfig(
  name: string,
  nodes: readonly Node[],
  inputs: readonly SymbolicTensor[],
  outputs: readonly SymbolicTensor[],
): GraphConfig {
  return {
    name,
    layers: graphLayers(inputs, nodes).map((l) => ({
      className: l.className,
      name: l.name,
      config: l.getConfig(),
      inboundNodes: l.inboundNodes.filter((n) => nodes.includes(n)).map((n) => inboundRefs(n, nodes)),
    })),
    inputLayers: inputs.map((t) => refOf(t, nodes)),
    outputLayers: outputs.map((t) => refOf(t, nodes)),
  };
}

/**
 * Rebuilds layers from a GraphConfig and replays their calls; returns the new inputs and outputs. `make` builds
 * each layer (interop's Keras import passes layers it made from another format's entries).
 */
export function graphFromConfig(
  config: GraphConfig,
  make: (entry: GraphConfig['layers'][number]) => Layer = layerFromConfig,
): { inputs: SymbolicTensor[]; outputs: SymbolicTensor[] } {
  const created = new Map<string, Layer>();
  const produced = new Map<string, SymbolicTensor[][]>();
  for (const entry of config.layers) {
    const layer = make(entry);
    created.set(entry.name, layer);
    produced.set(entry.name, layer instanceof InputLayer ? [[layer.output]] : []);
  }
  const lookup = ([name, node, index]: TensorRef) => {
    const t = produced.get(name)?.[node]?.[index];
    if (!t)
      throw new ArgumentError(
        `Model config: layer '${name}' node ${node} output ${index} is referenced before it exists`,
      );
    return t;
  };
  // Replay calls in config order, retrying entries whose inputs are not ready yet (configs list layers
  // in a valid order, but be lenient).
  const pending = config.layers.flatMap((e) => e.inboundNodes.map((refs) => ({ name: e.name, refs })));
  let progress = true;
  while (pending.length > 0 && progress) {
    progress = false;
    for (let i = 0; i < pending.length; i++) {
      const { name, refs } = pending[i];
      if (!refs.every(([n, node, idx]) => produced.get(n)?.[node]?.[idx])) continue;
      const ins = refs.map(lookup);
      const out = created.get(name)!.apply(ins.length === 1 ? ins[0] : ins, savedCallArgs(created.get(name)!, refs));
      produced.get(name)!.push(Array.isArray(out) ? out : [out]);
      pending.splice(i--, 1);
      progress = true;
    }
  }
  if (pending.length > 0)
    throw new ArgumentError(`Model config: cannot resolve the inputs of layer '${pending[0].name}'`);
  return { inputs: config.inputLayers.map(lookup), outputs: config.outputLayers.map(lookup) };
}
