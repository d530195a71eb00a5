// The generic per-example engine: each example alone (a batch of one), forward and backward. Slow (B small
// passes) but exact for any model, whatever its layers compute.
import type { Tensor } from '../../tensor/tensor.js';
import { tidy } from '../../tensor/storage.js';
import { valueAndGrads } from '../../autograd/grad.js';
import { withPhase } from '../../autograd/annotations.js';
import { sliceAxis } from '../../ops/views.js';
import { mixSeeds } from '../../ops/random.js';
import type { Model } from '../../train/model.js';
import type { Variable } from '../../nn/variable.js';
import type { BatchLoss, PerExampleBatch } from './types.js';

/** Example i of the batch, as a batch of one. */
export function exampleOf(batch: PerExampleBatch, i: number): PerExampleBatch {
  const one = (t: Tensor) => sliceAxis(t, 0, i, i + 1);
  return { x: batch.x.map(one), y: batch.y?.map(one), sampleWeight: batch.sampleWeight && one(batch.sampleWeight) };
}

/**
 * The seed of example i's pass: distinct per example (as the rows of a batch draw distinct dropout masks),
 * reproducible from the step's seed; undefined leaves stochastic layers on their own streams.
 */
export function exampleSeed(seed: number | undefined, i: number): number | undefined {
  return seed === undefined ? undefined : mixSeeds(seed, i);
}

/** Runs the model in training mode on `x` (a list of inputs), as fit's step does. */
export function forward(model: Model, x: Tensor[], seed: number | undefined): Tensor[] {
  const out = model.apply(x.length === 1 ? x[0] : x, { training: true, seed });
  return Array.isArray(out) ? out : [out];
}

/**
 * Calls visit(i, grads, preds) with example i's gradient (of its own loss, aligned with `weights`) and its
 * outputs, for each example in turn; everything a pass makes is freed when visit returns, except what visit
 * returns (kept in the caller's scope).
 */
export function forEachExample(
  model: Model,
  weights: readonly Variable[],
  batch: PerExampleBatch,
  n: number,
  loss: BatchLoss,
  seed: number | undefined,
  visit: (i: number, grads: Tensor[], preds: Tensor[]) => void,
): void {
  for (let i = 0; i < n; i++)
    tidy(() => {
      const one = exampleOf(batch, i);
      let preds: Tensor[] = [];
      const { grads } = withPhase('backward', () =>
        valueAndGrads(
          () =>
            withPhase('forward', () => {
              preds = forward(model, one.x, exampleSeed(seed, i));
              return loss(preds, one.y, one.sampleWeight);
            }),
          weights,
        ),
      );
      visit(i, grads, preds);
    });
}
