// The per-example gradient API's types and the checks both engines (fast rules, generic fallback) share.
import type { Tensor } from '../../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../../errors.js';
import type { Model } from '../../train/model.js';
import { BatchNormalization } from '../../nn/layers/batch-normalization.js';

export interface ClipOptions {
  /** C: each example's gradient (over all trainable weights together) is scaled to L2 norm at most C. */
  l2NormClip: number;
  /** The training step's seed, for stochastic layers (dropout); as fit() passes to model.apply. */
  seed?: number;
}

/** One batch: inputs, labels and sample weights, each with the examples on axis 0. */
export interface PerExampleBatch {
  x: Tensor[];
  y?: Tensor[];
  sampleWeight?: Tensor;
}

/**
 * The compiled loss of a batch: a mean over its examples (Keras' sum_over_batch_size; with sample weights
 * sum(w_i l_i) / B). The engines call it on the whole batch and on single examples (a batch of one, with the
 * matching slices of y and sampleWeight), so it must read the labels it is given, not labels it closed over.
 */
export type BatchLoss = (preds: Tensor[], y: Tensor[] | undefined, sampleWeight: Tensor | undefined) => Tensor;

export interface ClippedGradients {
  /** Aligned with model.trainableWeights: sum over examples of min(1, C / ||g_i||) g_i. */
  grads: Tensor[];
  /** ||g_i||, the L2 norm over all trainable weights together, unclipped, per example. */
  norms: Float32Array;
  /** The batch loss as the compiled loss gives it (a mean). */
  loss: number;
  /** The forward pass's outputs (training mode), for metrics; the caller disposes them. */
  preds: Tensor[];
  /** Layer class names served by fast rules / by the generic fallback (each once, in model order). */
  fast: string[];
  fallback: string[];
}

/**
 * A layer whose output for one example depends on the other examples of the batch (BatchNormalization in
 * training mode): per-example gradients do not exist for it, so DP-SGD cannot bound one example's influence.
 */
export class ExampleMixingError extends ArgumentError {}

/** The number of examples, checked to agree across x, y and sampleWeight. */
export function batchSize(op: string, batch: PerExampleBatch): number {
  if (typeof batch !== 'object' || batch === null || !Array.isArray(batch.x) || batch.x.length === 0)
    throw new ArgumentError(
      `${op}: batch must be { x: Tensor[], y?: Tensor[], sampleWeight?: Tensor } with x non-empty`,
    );
  const all = [...batch.x, ...(batch.y ?? []), ...(batch.sampleWeight ? [batch.sampleWeight] : [])];
  const n = batch.x[0].shape[0];
  for (const t of all)
    if (t.rank === 0 || t.shape[0] !== n)
      throw new ShapeError(
        `${op}: every tensor of the batch must hold the ${n} examples on axis 0, got shape ${fmtShape(t.shape)}`,
      );
  if (!(n >= 1)) throw new ShapeError(`${op}: the batch holds no examples`);
  return n;
}

export function checkClip(op: string, options: ClipOptions): void {
  const c = options?.l2NormClip;
  if (typeof c !== 'number' || !(c > 0) || !Number.isFinite(c))
    throw new ArgumentError(`${op}: l2NormClip must be a positive finite number, got ${JSON.stringify(c)}`);
  checkSeed(op, options.seed);
}

export function checkSeed(op: string, seed: number | undefined): void {
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0))
    throw new ArgumentError(`${op}: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
}

/**
 * Refuses layers that mix examples in a training forward: BatchNormalization normalises with the batch's
 * statistics unless frozen (a frozen one runs in inference mode, as in Keras, and is accepted).
 */
export function refuseMixingLayers(op: string, model: Model): void {
  for (const layer of model.flattenLayers())
    if (layer instanceof BatchNormalization && layer.trainable)
      throw new ExampleMixingError(
        `${op}: ${layer.className} '${layer.name}' normalises with the statistics of the whole batch, so one ` +
          "example's gradient depends on the others and cannot be clipped on its own; use LayerNormalization or " +
          'GroupNormalization instead (or freeze the layer: trainable = false runs it in inference mode)',
      );
}
