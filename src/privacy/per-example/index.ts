// Per-example gradients and their clipping, the engine under DP-SGD: clippedGradientSum gives
// sum_i min(1, C / ||g_i||) g_i with the per-example norms, perExampleGradients every g_i (for tests and
// audits). Layers with a fast rule (rules.ts) are served from one batched forward and backward; a model
// with any other trainable layer runs the generic fallback (fallback.ts), each example alone.
import type { Tensor } from '../../tensor/tensor.js';
import { dispose, keep, tidy } from '../../tensor/storage.js';
import { noGrad } from '../../autograd/tape.js';
import { ArgumentError } from '../../errors.js';
import * as o from '../../ops/index.js';
import type { Model } from '../../train/model.js';
import type { Layer } from '../../nn/layer.js';
import type { Variable } from '../../nn/variable.js';
import { forEachExample } from './fallback.js';
import { allFast, withFastPass, type FastPass } from './fast.js';
import {
  batchSize,
  checkClip,
  checkSeed,
  refuseMixingLayers,
  type BatchLoss,
  type ClipOptions,
  type ClippedGradients,
  type PerExampleBatch,
} from './types.js';

export { ExampleMixingError } from './types.js';
export type { BatchLoss, ClipOptions, ClippedGradients, PerExampleBatch } from './types.js';

/** Builds the model's layers (an inference pass on the batch, nothing recorded) if some are not built yet. */
function ensureBuilt(model: Model, x: Tensor[]): void {
  if (model.flattenLayers().every((l) => l.built)) return;
  noGrad(() => tidy(() => void model.apply(x.length === 1 ? x[0] : x, { training: false })));
}

/** The layers holding weights of `trainable` themselves (not through a sublayer), in model order. */
export function weightOwners(model: Model, trainable: readonly Variable[]): { layer: Layer; weights: Variable[] }[] {
  const wanted = new Set(trainable);
  const owners: { layer: Layer; weights: Variable[] }[] = [];
  const claimed = new Set<Variable>();
  // Deepest layers first, so a container never claims its sublayers' weights.
  for (const layer of [...model.flattenLayers()].reverse()) {
    const own = layer.weights.filter((v) => wanted.has(v) && !claimed.has(v));
    own.forEach((v) => claimed.add(v));
    if (own.length > 0) owners.unshift({ layer, weights: own });
  }
  return owners;
}

interface Prepared {
  n: number;
  weights: Variable[];
  owners: { layer: Layer; weights: Variable[] }[];
}

/** The model's trainable weights and their layers, after the common checks; builds the model first. */
function prepare(op: string, model: Model, batch: PerExampleBatch): Prepared {
  const n = batchSize(op, batch);
  ensureBuilt(model, batch.x);
  refuseMixingLayers(op, model);
  const weights = model.trainableWeights;
  if (weights.length === 0) throw new ArgumentError(`${op}: model '${model.name}' has no trainable weights`);
  return { n, weights, owners: weightOwners(model, weights) };
}

/** The fast pass's per-weight results in `weights` order (the pass gives them in its owners' order). */
function inOrder<T>({ weights, owners }: Prepared, perWeight: readonly T[]): T[] {
  const byWeight = new Map(owners.flatMap((o) => o.weights).map((w, i) => [w, perWeight[i]]));
  return weights.map((w) => byWeight.get(w)!);
}

/** The batched pass with fast rules, when every trainable layer has one and the tape shows the expected ops. */
function tryFast<T>(
  p: Prepared,
  model: Model,
  batch: PerExampleBatch,
  loss: BatchLoss,
  seed: number | undefined,
  use: (pass: FastPass) => T,
): { result: T; preds: Tensor[] } | undefined {
  if (!allFast(p.owners)) return undefined;
  return withFastPass(model, p.owners, batch, loss, seed, p.n, use);
}

const uniqueNames = (layers: readonly Layer[]) => [...new Set(layers.map((l) => l.className))];

/** sum_k ||g_k||^2 over a list of tensors, in float64, read back once. */
function squaredNorm(grads: readonly Tensor[]): number {
  return noGrad(() =>
    tidy(() =>
      grads
        .map((g) => o.sum(o.square(o.cast(g, 'float64'))))
        .reduce((a, b) => o.add(a, b))
        .item(),
    ),
  );
}

/** The per-output concatenation of per-example outputs (each part freed). */
function joinParts(parts: Tensor[][]): Tensor[] {
  return parts[0].map((_, k) => {
    const joined = o.concat(
      parts.map((p) => p[k]),
      0,
    );
    dispose(parts.map((p) => p[k]));
    return joined;
  });
}

/**
 * The clipped sum of per-example gradients of one batch: sum_i min(1, C / ||g_i||) g_i, aligned with
 * model.trainableWeights, where g_i is the gradient of B * loss restricted to example i (its own loss:
 * with B = 1, the ordinary gradient) and ||g_i|| its L2 norm over all trainable weights together.
 * Everything the step makes is freed except grads and preds (the caller's to dispose).
 */
export function clippedGradientSum(
  model: Model,
  batch: PerExampleBatch,
  loss: BatchLoss,
  options: ClipOptions,
): ClippedGradients {
  const op = 'clippedGradientSum';
  checkClip(op, options);
  const p = prepare(op, model, batch);
  const { n, weights } = p;
  const clip = options.l2NormClip;
  const norms = new Float32Array(n);
  const layers = uniqueNames(p.owners.map((w) => w.layer));
  const fast = tryFast(p, model, batch, loss, options.seed, (pass) => {
    const squares = pass.grads.map((g) => g.norms2()).reduce((a, b) => o.add(a, b));
    const factors = new Float32Array(n);
    squares.dataSync().forEach((s, i) => {
      norms[i] = Math.sqrt(s);
      factors[i] = Math.min(1, clip / norms[i]);
    });
    const c = o.tensor(factors, [n], 'float32');
    return { grads: inOrder(p, pass.grads).map((g) => g.clipped(c)), value: pass.value };
  });
  if (fast)
    return { grads: fast.result.grads, norms, loss: fast.result.value, preds: fast.preds, fast: layers, fallback: [] };
  let sums: Tensor[] | undefined;
  const parts: Tensor[][] = [];
  try {
    forEachExample(model, weights, batch, n, loss, options.seed, (i, grads, preds) => {
      const norm = Math.sqrt(squaredNorm(grads));
      norms[i] = norm;
      const factor = Math.min(1, clip / norm);
      const next = keep(grads.map((g, k) => (sums ? o.add(sums[k], o.mul(g, factor)) : o.mul(g, factor))));
      dispose(sums);
      sums = next;
      parts.push(keep(preds));
    });
    const preds = joinParts(parts);
    parts.length = 0;
    const value = noGrad(() => tidy(() => loss(preds, batch.y, batch.sampleWeight).item()));
    return { grads: sums!, norms, loss: value, preds, fast: [], fallback: layers };
  } catch (e) {
    dispose([sums, parts]);
    throw e;
  }
}

/** Every example's gradient: one tensor [B, ...weight.shape] per trainable weight (for tests and audits). */
export function perExampleGradients(
  model: Model,
  batch: PerExampleBatch,
  loss: BatchLoss,
  options: { seed?: number } = {},
): Tensor[] {
  const op = 'perExampleGradients';
  checkSeed(op, options.seed);
  const p = prepare(op, model, batch);
  const { n, weights } = p;
  const fast = tryFast(p, model, batch, loss, options.seed, (pass) =>
    inOrder(p, pass.grads).map((g) => g.perExample()),
  );
  if (fast) {
    dispose(fast.preds);
    return fast.result;
  }
  const each: Tensor[][] = [];
  try {
    forEachExample(model, weights, batch, n, loss, options.seed, (_, grads) => void each.push(keep(grads)));
    return tidy(() =>
      weights.map((_, k) =>
        o.stack(
          each.map((g) => g[k]),
          0,
        ),
      ),
    );
  } finally {
    dispose(each);
  }
}
