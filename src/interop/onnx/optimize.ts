// A peephole pass over an exported graph: a Transpose of a Transpose becomes one Transpose, or none when the two
// cancel (the channels-last <-> channels-first pairs between consecutive convolutions and poolings), and nodes
// whose outputs nothing reads are dropped. Exporters stay simple (each transposes around its own op); the
// graph still computes the same values.
import type { GraphProto, NodeProto } from './schema.js';

const permOf = (node: NodeProto): number[] => (node.attribute ?? []).find((a) => a.name === 'perm')?.ints ?? [];

/** Fuses Transpose pairs and removes dead nodes; returns the same graph, changed in place. */
export function optimizeGraph(graph: GraphProto): GraphProto {
  const outputs = new Set((graph.output ?? []).map((o) => o.name!));
  let nodes = graph.node ?? [];
  const producer = new Map<string, NodeProto>();
  for (const node of nodes) for (const out of node.output ?? []) producer.set(out, node);
  /** Renames uses of `from` to `to` in every node. */
  const replaceUses = (from: string, to: string) => {
    for (const node of nodes) node.input = (node.input ?? []).map((i) => (i === from ? to : i));
  };
  for (const node of nodes) {
    if (node.opType !== 'Transpose') continue;
    const inner = producer.get(node.input![0]);
    if (!inner || inner.opType !== 'Transpose') continue;
    // out[i] = inner's out[perm[i]] = x[innerPerm[perm[i]]].
    const innerPerm = permOf(inner);
    const perm = permOf(node).map((p) => innerPerm[p]);
    const source = inner.input![0];
    const out = node.output![0];
    if (perm.every((p, i) => p === i)) {
      if (outputs.has(out)) {
        node.opType = 'Identity';
        node.attribute = [];
        node.input = [source];
      } else {
        replaceUses(out, source);
        node.output = [];
      }
    } else {
      node.input = [source];
      node.attribute = [{ ...node.attribute!.find((a) => a.name === 'perm')!, ints: perm }];
    }
  }
  // Dead nodes, from the end: a node whose outputs no kept node and no graph output reads.
  const live = new Set(outputs);
  const kept: NodeProto[] = [];
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i];
    if (!(node.output ?? []).some((o) => live.has(o))) continue;
    kept.push(node);
    for (const input of node.input ?? []) live.add(input);
  }
  nodes = kept.reverse();
  graph.node = nodes;
  graph.initializer = (graph.initializer ?? []).filter((t) => live.has(t.name!));
  return graph;
}
