// Data parallelism through fit (Horovod's and PyTorch DDP's design, Keras' DataParallel name): every rank holds a
// copy of the model, starts from rank 0's weights, reads its shard of each global batch (sharding.ts), and averages
// the gradients in buckets reduced while backward runs (buckets.ts), so the ranks stay identical step by step.
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../nn/variable.js';
import type { Optimizer } from '../optim/index.js';
import { setDefaultStrategy, type FitStrategy, type FitStrategyContext } from '../train/strategy.js';
import type { Logs } from '../train/callbacks.js';
import type { MetricResult, StatefulMetric } from '../train/metrics.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { dispose } from '../tensor/storage.js';
import { concatArrays } from '../tensor/dtype.js';
import * as o from '../ops/index.js';
import { GradientBuckets } from './buckets.js';
import type { Communicator } from './communicator.js';
import { world } from './world.js';
import { shardRowCount, type Shard } from './sharding.js';

/** What DataParallel uses of a communicator. */
export type DataParallelComm = Pick<
  Communicator,
  'rank' | 'size' | 'broadcast' | 'allreduceArray' | 'allreduceArrayAsync' | 'allgatherJson' | 'broadcastJson'
>;

export interface DataParallelOptions {
  /** The most bytes of gradients reduced in one call: PyTorch DDP's default, 25 MiB. */
  bucketBytes?: number;
  /** SyncBatchNorm (batch statistics over all ranks): not supported yet; statistics are per rank (see docs). */
  syncBatchNorm?: boolean;
  /** The communicator (default: the world's, distributed.init()). */
  communicator?: DataParallelComm;
}

export class DataParallel implements FitStrategy {
  readonly name = 'data-parallel';
  readonly bucketBytes: number;
  private readonly given?: DataParallelComm;
  private buckets?: GradientBuckets;
  private ctx?: FitStrategyContext;
  /**
   * The step within the epoch, which says how many rows each rank has: fit tells it (beginStep; a fit resumed from
   * a backup starts past 0); a caller that does not is counted from begin().
   */
  private step = 0;
  /** The current step's rows and weight: read once per weight by gradientReady, so computed once per step. */
  private stepShare?: { rows: number; scale: number };
  /** Rows this rank trained on since the last reduceLogs (the weight of its logs). */
  private epochRows = 0;

  constructor(options: DataParallelOptions = {}) {
    const { bucketBytes = 25 * 2 ** 20, syncBatchNorm = false, communicator } = options;
    if (!Number.isFinite(bucketBytes) || bucketBytes <= 0)
      throw new ArgumentError(`DataParallel: bucketBytes must be a positive number of bytes, got ${bucketBytes}`);
    if (syncBatchNorm)
      throw new ArgumentError(
        "DataParallel: syncBatchNorm is not supported yet; BatchNormalization uses each rank's batch statistics " +
          '(its moving statistics are averaged across ranks at each epoch end); pass syncBatchNorm: false',
      );
    this.bucketBytes = bucketBytes;
    this.given = communicator;
  }

  /** The communicator given, else the world's (of size 1 when distributed.init() was not called). */
  get comm(): DataParallelComm {
    return this.given ?? world().comm;
  }
  get rank(): number {
    return this.comm.rank;
  }
  get worldSize(): number {
    return this.comm.size;
  }
  get chief(): boolean {
    return this.rank === 0;
  }
  get shard(): Shard {
    return { index: this.rank, count: this.worldSize };
  }

  /**
   * Agrees on rank 0's seed (written back to ctx.seed, which fit then uses), checks every rank built the same
   * weights, and broadcasts rank 0's weights (the non-trainable ones too, e.g. moving statistics).
   */
  async begin(ctx: FitStrategyContext): Promise<'train'> {
    const { comm } = this;
    if (ctx.samples === undefined)
      throw new ArgumentError(
        "fit: distributed training reads each rank's shard of tensors; pass tensors, not a dataset",
      );
    ctx.seed = comm.broadcastJson(ctx.seed, 0);
    const weights = ctx.model.weights;
    const signature = weights.map((w) => `${w.dtype}[${w.shape}]`);
    const all = comm.allgatherJson(signature);
    all.forEach((other, rank) => {
      if (other.length !== signature.length || other.some((s, i) => s !== all[0][i]))
        throw new ShapeError(
          `DataParallel: rank ${rank}'s model '${ctx.model.name}' has weights ${other.join(', ')} but rank 0's has ` +
            `${all[0].join(', ')}; every rank must build the same model`,
        );
    });
    if (comm.size > 1)
      for (const w of weights) {
        const value = comm.broadcast(w.value, 0);
        if (value !== w.value) w.assign(value);
      }
    this.buckets = new GradientBuckets(ctx.model.trainableWeights, this.bucketBytes, comm);
    this.ctx = ctx;
    this.step = 0;
    this.stepShare = undefined;
    this.epochRows = 0;
    return 'train';
  }

  /** This step's rows on this rank, and its weight in the global mean: rows / the global batch's rows. */
  private stepRows(): { rows: number; scale: number } {
    return (this.stepShare ??= this.shareOf(this.step));
  }

  /** The rows and weight of step `at` (within the epoch), as stepRows caches them for the current step. */
  private shareOf(at: number): { rows: number; scale: number } {
    const { samples, batchSize } = this.ctx!;
    const shard = this.shard;
    const perEpoch = Math.ceil(samples! / (batchSize * shard.count));
    const step = at % perEpoch;
    const rows = shardRowCount(samples!, batchSize, shard, step);
    const total = Math.min(batchSize * shard.count, samples! - step * batchSize * shard.count);
    return { rows, scale: rows / total };
  }

  beginStep(step: number): void {
    this.step = step;
    this.stepShare = undefined;
  }

  /** Whether any rank asked to stop: one int32 max across ranks, so every rank leaves after the same step. */
  agreeStop(stop: boolean): boolean {
    if (this.worldSize === 1) return stop;
    const flag = Int32Array.of(stop ? 1 : 0);
    this.comm.allreduceArray(flag, 'max');
    return flag[0] === 1;
  }

  gradientReady(index: number, grad: Tensor): void {
    this.buckets!.add(index, grad, this.stepRows().scale);
  }

  /**
   * The exact global mean gradient: each rank's batch-mean gradient weighted by its rows, summed over ranks, over
   * the global batch's rows (so uneven and empty shares weigh what they hold), then the optimizer's step.
   */
  applyGradients(grads: readonly Tensor[], weights: readonly Variable[], optimizer: Optimizer, rows: number): void {
    const { rows: expected, scale } = this.stepRows();
    if (rows !== expected)
      throw new ArgumentError(
        `DataParallel: rank ${this.rank} trained on ${rows} rows at step ${this.step}, ` +
          `expected its shard's ${expected}`,
      );
    const mean = this.buckets!.reduce(grads, scale);
    try {
      optimizer.applyGradients(mean, weights);
    } finally {
      dispose(mean);
    }
    this.step++;
    this.stepShare = undefined;
    this.epochRows += rows;
  }

  /**
   * The epoch's logs over all ranks, as tf.distribute reduces metrics: the state values of every metric that has
   * them (stateValues: the loss tracker, the built-in metrics) are summed over ranks in one float64 allreduce and
   * set back, and its log entries are its result() over the summed state, exact for precision, recall, AUC and
   * weighted metrics. Log entries of other metrics (a user's own StatefulMetric, or one whose state differs in
   * size across ranks, e.g. unbuilt on a rank without rows) are each rank's value weighted by the rows it trained
   * on, exact only for means over samples without sample weights. Also averages the float non-trainable weights
   * (BatchNormalization's moving statistics, computed per rank) so that every rank keeps the same model; the sum
   * is in float64, so weights equal on every rank stay exactly equal.
   */
  reduceLogs(logs: Logs, metrics: readonly StatefulMetric<MetricResult>[] = []): Logs {
    const { comm } = this;
    this.averageNonTrainable();
    const states = metrics.map((m) => (m.setStateValues ? m.stateValues?.() : undefined));
    const sizes = states.map((v) => v?.length ?? -1);
    const all = comm.allgatherJson({ logs, rows: this.epochRows, sizes });
    this.epochRows = 0;
    const rows = all.reduce((s, r) => s + r.rows, 0);
    const out: Logs = {};
    for (const key of Object.keys(logs)) {
      let sum = 0;
      for (const r of all) sum += (r.logs[key] ?? 0) * (rows > 0 ? r.rows : 1);
      out[key] = sum / (rows > 0 ? rows : all.length);
    }
    // Summed only where every rank holds a state of the same size (so every rank reduces the same buffer).
    const summed = metrics.flatMap((m, i) =>
      sizes[i] >= 0 && all.every((r) => r.sizes[i] === sizes[i]) ? [{ m, state: states[i]! }] : [],
    );
    if (summed.length === 0) return out;
    const buf = concatArrays(
      summed.map(({ state }) => state),
      (n) => new Float64Array(n),
    );
    if (comm.size > 1) comm.allreduceArray(buf, 'sum');
    let at = 0;
    for (const { m, state } of summed) {
      m.setStateValues!(buf.subarray(at, at + state.length));
      at += state.length;
      const result = m.result();
      // A number is logged under the metric's name; a record (compile_metrics) under its keys; a matrix is not logged.
      const entries: [string, unknown][] = typeof result === 'number' ? [[m.name, result]] : Object.entries(result);
      for (const [key, value] of entries) if (key in out && typeof value === 'number') out[key] = value;
    }
    return out;
  }

  private averageNonTrainable(): void {
    const { comm } = this;
    if (comm.size === 1) return;
    const vars = this.ctx!.model.nonTrainableWeights.filter((w) => w.dtype === 'float32' || w.dtype === 'float64');
    if (vars.length === 0) return;
    const buf = concatArrays(
      vars.map((w) => w.value.dataSync()),
      (n) => new Float64Array(n),
    );
    comm.allreduceArray(buf, 'sum');
    let at = 0;
    for (const w of vars) {
      const part = buf.subarray(at, at + w.value.size).map((v) => v / comm.size);
      at += w.value.size;
      w.assign(o.tensor(w.dtype === 'float64' ? part : Float32Array.from(part), w.shape, w.dtype));
    }
  }

  async end(): Promise<void> {
    this.buckets?.drain();
    this.buckets = undefined;
    this.ctx = undefined;
  }
}

setDefaultStrategy(() => new DataParallel());
