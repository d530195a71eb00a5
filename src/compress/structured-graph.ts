// The layer calls of a Sequential or functional model as one list (each call's input and output tensors,
// with ids and shapes), so that structured pruning follows channels through both kinds of model alike.
import { ArgumentError } from '../errors.js';
import type { Layer, SymShape, SymbolicTensor } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { Sequential } from '../train/sequential.js';

/** A tensor flowing between layers: an id unique within the graph, and its shape (batch axis null). */
export interface GraphTensor {
  readonly id: number;
  readonly shape: SymShape;
}

/** One call of a layer, in execution order. */
export interface LayerCall {
  readonly layer: Layer;
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
}

export interface ModelGraph {
  readonly calls: readonly LayerCall[];
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
}

const info = (t: SymbolicTensor): GraphTensor => ({ id: t.id, shape: t.shape });

/**
 * The calls of `model`: a functional model's nodes, or a Sequential's stack as a chain (ids 0..n, shapes from
 * computeOutputShape). A Sequential must know its input shape; subclass models have no graph to follow.
 */
export function modelGraph(model: Model, op: string): ModelGraph {
  if (model.isFunctional) {
    return {
      calls: model.graphNodes.map((n) => ({
        layer: n.layer,
        inputs: n.inputs.map(info),
        outputs: n.outputs.map(info),
      })),
      inputs: model.inputs.map(info),
      outputs: model.outputs.map(info),
    };
  }
  if (model instanceof Sequential) {
    const start = model.input;
    if (!start)
      throw new ArgumentError(
        `${op}: Sequential '${model.name}' does not know its input shape yet; give the first layer an ` +
          'inputShape, or call model.build([null, ...shape]) first',
      );
    let t: GraphTensor = { id: 0, shape: start.shape };
    const calls: LayerCall[] = model.layers.map((layer, i) => {
      const out: GraphTensor = { id: i + 1, shape: layer.computeOutputShape(t.shape) as SymShape };
      const call = { layer, inputs: [t], outputs: [out] };
      t = out;
      return call;
    });
    return { calls, inputs: [{ id: 0, shape: start.shape }], outputs: [t] };
  }
  throw new ArgumentError(
    `${op}: model '${model.name}' is a subclass model, which has no graph of layers to follow; ` +
      'build it as a Sequential or functional model',
  );
}
