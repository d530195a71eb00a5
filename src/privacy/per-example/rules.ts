// The one table of fast per-example rules, keyed by layer class, and the op samplers they use: a layer class
// is listed with the ops that may read its weights on the tape (anything else sends the model to the generic
// fallback), and each op's sampler turns the op's saved inputs and output gradient into per-example grads.
import type { Tensor } from '../../tensor/tensor.js';
import * as o from '../../ops/index.js';
import type { TapeNode } from '../../autograd/tape.js';
import type { Layer } from '../../nn/layer.js';
import { Dense } from '../../nn/layers/dense.js';
import { Conv1D, Conv2D } from '../../nn/layers/conv.js';
import { Embedding } from '../../nn/layers/embedding.js';
import { LayerNormalization } from '../../nn/layers/layer-norm.js';
import { GroupNormalization } from '../../nn/layers/group-norm.js';
import {
  broadcast,
  broadcastsOverBatch,
  conv2d,
  embedding,
  layerNormScaleShift,
  linear,
  type ConvWindow,
  type WeightGrads,
} from './samplers.js';

/** A layer class's fast rule: the ops its weights may be read by, and any condition on its configuration. */
interface FastRule {
  readonly ops: readonly string[];
  readonly eligible?: (layer: Layer) => boolean;
}

const AFFINE = ['biasActivation'];

/** The table. Exact classes only: a subclass may compute otherwise, and goes to the fallback. */
const FAST_RULES = new Map<abstract new (...args: never[]) => Layer, FastRule>([
  [Dense, { ops: ['matmul', ...AFFINE] }],
  [Conv1D, { ops: ['conv2d', ...AFFINE] }],
  // Grouped convolutions read slices of the filter (a depthwise one another op): the fallback serves them.
  [Conv2D, { ops: ['conv2d', ...AFFINE], eligible: (l) => (l as Conv2D).groups === 1 }],
  [Embedding, { ops: ['gather'] }],
  [LayerNormalization, { ops: ['layerNorm', 'mul', 'add'] }],
  [GroupNormalization, { ops: ['mul', 'add'] }],
]);

/** The layer's fast rule, if its class has one and this layer qualifies. */
export function fastRuleOf(layer: Layer): FastRule | undefined {
  const rule = FAST_RULES.get(layer.constructor as abstract new (...args: never[]) => Layer);
  return rule && (rule.eligible?.(layer) ?? true) ? rule : undefined;
}

/** Where a weight is read on the tape: the op, which of its inputs, and the weight's shape there (after reshapes). */
export interface WeightUse {
  readonly node: TapeNode;
  readonly input: number;
  readonly shape: readonly number[];
}

/** A sampler's plan: the tape tensor whose gradient it needs, and what it makes of that gradient. */
export interface Sampling {
  readonly wrt: Tensor;
  readonly make: (g: Tensor) => WeightGrads;
}

type Sampler = (use: WeightUse, shape: readonly number[], n: number) => Sampling | undefined;

/** A shift or scale of a per-example tensor by a weight broadcast over the batch (add / mul). */
function elementwise(scale: boolean): Sampler {
  return ({ node, input, shape: pre }, shape, n) => {
    const out = node.outputs[0];
    const other = node.inputs[1 - input];
    if (node.inputs.length !== 2 || out.shape[0] !== n || !broadcastsOverBatch(pre, out.rank)) return undefined;
    return { wrt: out, make: (g) => broadcast(scale ? o.mul(g, other) : g, pre, shape) };
  };
}

/** The op samplers, keyed by tape op name. Each returns undefined when the op's layout is not the expected one. */
const SAMPLERS: Record<string, Sampler> = {
  matmul: ({ node, input }, shape, n) => {
    const { transA, transB } = node.params as { transA: boolean; transB: boolean };
    const [a] = node.inputs;
    if (input !== 1 || transA || transB || a.rank !== 3 || a.shape[0] !== 1 || a.shape[1] % n !== 0) return undefined;
    const t = a.shape[1] / n;
    const perExample = (x: Tensor) => o.reshape(x, [n, t, x.shape[2]]);
    return { wrt: node.outputs[0], make: (g) => linear(perExample(a), perExample(g), shape) };
  },
  conv2d: ({ node, input, shape: filter }, shape, n) => {
    const [x] = node.inputs;
    if (input !== 1 || x.shape[0] !== n) return undefined;
    return { wrt: node.outputs[0], make: (g) => conv2d(x, g, filter, node.params as ConvWindow, shape) };
  },
  gather: ({ node, input }, shape, n) => {
    const ids = node.inputs[1];
    if (input !== 0 || (node.params as { axis: number }).axis !== 0 || ids.rank < 1 || ids.shape[0] !== n)
      return undefined;
    return { wrt: node.outputs[0], make: (g) => embedding(ids, g, shape) };
  },
  // activation(y + bias): the bias's gradient is that of y, the pre-activation.
  biasActivation: ({ node, input, shape: pre }, shape, n) => {
    const [y] = node.inputs;
    if (input !== 1 || y.shape[0] !== n) return undefined;
    return { wrt: y, make: (g) => broadcast(g, pre, shape) };
  },
  add: elementwise(false),
  mul: elementwise(true),
  layerNorm: ({ node, input }, _shape, n) => {
    const [x] = node.inputs;
    if (input === 0 || x.shape[0] !== n) return undefined;
    const { epsilon } = node.params as { epsilon: number };
    return {
      wrt: node.outputs[0],
      make: (g) => {
        const { gamma, beta } = layerNormScaleShift(x, g, epsilon);
        return input === 1 ? gamma : beta;
      },
    };
  },
};

/** The sampler of a weight's use, if the rule allows its op and the op's layout is as expected. */
export function samplingOf(rule: FastRule, use: WeightUse, shape: readonly number[], n: number): Sampling | undefined {
  if (!rule.ops.includes(use.node.op)) return undefined;
  return SAMPLERS[use.node.op]?.(use, shape, n);
}
