// Which rows of each epoch a data-parallel rank reads (PyTorch's DistributedSampler, strided): every rank draws
// the same permutation (the same seed), each step's global batch is batchSize x count consecutive entries of it,
// and rank `index` takes entries index, index + count, ... of that global batch.

/** A rank's place among the training ranks. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/**
 * Steps per epoch: the same on every rank (so every rank joins every collective), ceil(samples / global batch).
 * A rank whose share of the last global batch is empty still takes the step, with no rows.
 */
export function shardSteps(samples: number, batchSize: number, shard: Shard): number {
  return Math.ceil(samples / (batchSize * shard.count));
}

/**
 * This rank's rows of step `step`: entries index, index + count, ... of the global batch
 * order[step x batchSize x count, (step + 1) x batchSize x count) (order undefined: the identity, no shuffle).
 */
export function shardRows(
  order: ArrayLike<number> | undefined,
  samples: number,
  batchSize: number,
  shard: Shard,
  step: number,
): Int32Array {
  const rows = new Int32Array(shardRowCount(samples, batchSize, shard, step));
  const start = step * batchSize * shard.count + shard.index;
  for (let i = 0; i < rows.length; i++) rows[i] = order ? order[start + i * shard.count] : start + i * shard.count;
  return rows;
}

/** How many rows rank `index` has in step `step` (what every rank computes to weight the gradient average). */
export function shardRowCount(samples: number, batchSize: number, shard: Shard, step: number): number {
  const start = step * batchSize * shard.count;
  const end = Math.min(start + batchSize * shard.count, samples);
  return Math.max(0, Math.ceil((end - start - shard.index) / shard.count));
}
