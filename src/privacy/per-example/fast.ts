// The fast per-example engine: one forward recorded on a tape, one backward giving each weight's op the
// gradient of its output (G), and the samplers (rules.ts) making per-example norms and clipped sums from the
// op's saved inputs and G. The backward skips the batch gradients of the weights themselves (no one needs them).
import type { Tensor } from '../../tensor/tensor.js';
import { TensorScope } from '../../tensor/storage.js';
import { Tape, popTape, pushTape } from '../../autograd/tape.js';
import { backward } from '../../autograd/grad.js';
import { withPhase } from '../../autograd/annotations.js';
import * as o from '../../ops/index.js';
import type { Model } from '../../train/model.js';
import type { Layer } from '../../nn/layer.js';
import type { Variable } from '../../nn/variable.js';
import { forward } from './fallback.js';
import { fastRuleOf, samplingOf, type Sampling, type WeightUse } from './rules.js';
import type { WeightGrads } from './samplers.js';
import type { BatchLoss, PerExampleBatch } from './types.js';

/** The ops through which a weight may reach the op that uses it: reshapes keep its element order. */
const VIEWS = new Set(['reshape']);

/** Which tape nodes read each tensor (by key), for following a weight to its use. */
class TapeIndex {
  private readonly readers = new Map<number, { node: Tape['nodes'][number]; input: number }[]>();
  constructor(tape: Tape) {
    for (const node of tape.nodes)
      node.inputs.forEach((t, input) => {
        const list = this.readers.get(t.key);
        if (list) list.push({ node, input });
        else this.readers.set(t.key, [{ node, input }]);
      });
  }

  /** The one op that reads `w` (through reshapes), with the keys of w and its views; undefined if not one. */
  use(w: Tensor): { use: WeightUse; keys: number[] } | undefined {
    let t = w;
    const keys = [w.key];
    for (;;) {
      const readers = this.readers.get(t.key) ?? [];
      if (readers.length !== 1) return undefined;
      const { node, input } = readers[0];
      if (!VIEWS.has(node.op)) return { use: { node, input, shape: t.shape }, keys };
      t = node.outputs[0];
      keys.push(t.key);
    }
  }
}

/** The layers owning the trainable weights, and whether every one has a fast rule. */
export function allFast(owners: readonly { layer: Layer }[]): boolean {
  return owners.every(({ layer }) => fastRuleOf(layer) !== undefined);
}

export interface FastPass {
  /** The batch loss (mean). */
  value: number;
  preds: Tensor[];
  /** Per trainable weight, in the order given. */
  grads: WeightGrads[];
}

/**
 * Runs the batched pass and hands `use` the per-example gradients; returns what `use` returns, with every
 * other tensor the pass made freed (use's result and the preds are moved to the caller's scope). Returns
 * undefined, having freed everything, when some weight is not read as its rule expects (the caller then runs
 * the fallback).
 */
export function withFastPass<T>(
  model: Model,
  owners: readonly { layer: Layer; weights: Variable[] }[],
  batch: PerExampleBatch,
  loss: BatchLoss,
  seed: number | undefined,
  n: number,
  use: (pass: FastPass) => T,
): { result: T; preds: Tensor[] } | undefined {
  const tape = new Tape();
  const weights = owners.flatMap((w) => w.weights);
  for (const w of weights) tape.tracked.add(w.value.key);
  const scope = new TensorScope();
  try {
    let preds: Tensor[];
    let value: Tensor;
    pushTape(tape);
    try {
      [preds, value] = withPhase('forward', () => {
        const out = forward(model, batch.x, seed);
        return [out, loss(out, batch.y, batch.sampleWeight)] as const;
      });
    } finally {
      popTape(tape);
    }
    const index = new TapeIndex(tape);
    const samplings: Sampling[] = [];
    const viewKeys: number[] = [];
    for (const { layer, weights: own } of owners) {
      const rule = fastRuleOf(layer)!;
      for (const w of own) {
        const found = index.use(w.value);
        const sampling = found && samplingOf(rule, found.use, w.shape, n);
        if (!sampling) return undefined;
        samplings.push(sampling);
        viewKeys.push(...found!.keys);
      }
    }
    // The weights' own batch gradients are not needed: untracked, the ops' rules skip them. The tensors
    // whose gradients the samplers need are tracked (a pre-activation that depends on no weight may not be).
    for (const k of viewKeys) tape.tracked.delete(k);
    for (const s of samplings) tape.tracked.add(s.wrt.key);
    // G for B * loss: each example's own (weighted) loss, whatever the batch size.
    const result = withPhase('backward', () => {
      const gs = backward(
        tape,
        [value],
        [o.full(value.shape, n, value.dtype)],
        samplings.map((s) => s.wrt.key),
      );
      const grads = samplings.map((s, i) => s.make(gs[i] ?? o.zerosLike(s.wrt)));
      return use({ value: value.item(), preds, grads });
    });
    scope.keep([result, preds]);
    return { result, preds };
  } finally {
    scope[Symbol.dispose]();
    tape.dispose();
  }
}
