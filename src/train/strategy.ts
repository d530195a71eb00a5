// The seam through which fit trains across processes (src/distributed/ implements it): which rows of each global
// batch this rank reads, what happens to a step's gradients, how logs are combined, and which rank speaks for the
// run. fit without `distributed` has no strategy and runs exactly as before.
import type { Tensor } from '../tensor/tensor.js';
import type { Variable } from '../nn/variable.js';
import type { Optimizer } from '../optim/index.js';
import type { Model } from './model.js';
import type { Logs } from './callbacks.js';
import type { MetricResult, StatefulMetric } from './metrics.js';

/** What fit tells the strategy when training begins (the model is built by then). */
export interface FitStrategyContext {
  model: Model;
  optimizer: Optimizer;
  epochs: number;
  initialEpoch: number;
  /** Rows per rank per step, as the user passed it: the global batch is batchSize x shard.count. */
  batchSize: number;
  /** The training set's samples (tensors only). Every rank holds the whole set and reads its shard's rows. */
  samples?: number;
  /** fit's seed: the same on every rank (rank 0's, broadcast), so every rank draws the same permutation. */
  seed: number;
}

export interface FitStrategy {
  /** The run record's name for it: 'data-parallel' or 'parameter-server'. */
  readonly name: 'data-parallel' | 'parameter-server';
  readonly rank: number;
  readonly worldSize: number;
  /** Whether this rank shows progress and writes the run's files (checkpoints, run.json, card, ledger): rank 0. */
  readonly chief: boolean;
  /**
   * The training ranks and this rank's index among them: each step's global batch is batchSize x count rows of
   * the epoch's permutation, and this rank takes rows index, index + count, ... (PyTorch's DistributedSampler).
   */
  readonly shard: { index: number; count: number };
  /** fit's start: agree on the seed, broadcast rank 0's weights, start servers. 'serve' when this rank serves. */
  begin(ctx: FitStrategyContext): Promise<'train' | 'serve'>;
  /** A server rank's whole fit: serves the workers until they finish. */
  serve?(): Promise<void>;
  /** Before each training step: its index within the epoch (a fit resumed from a backup starts past 0). */
  beginStep?(step: number): void;
  /** After each step's callbacks: whether any rank asked to stop (the same answer on every rank). */
  agreeStop?(stop: boolean): boolean;
  /** When defined, backward calls it as each weight's gradient becomes final (index into the weights). */
  gradientReady?(index: number, grad: Tensor): void;
  /** Replaces optimizer.applyGradients: average (or push and pull), then update. rows: this rank's batch rows. */
  applyGradients(grads: readonly Tensor[], weights: readonly Variable[], optimizer: Optimizer, rows: number): void;
  /**
   * The logs of the whole cluster (every rank gets the same, so callbacks decide alike on every rank). metrics:
   * the fit's stateful metrics (model.metrics), whose states (stateValues) the strategy may combine and set back,
   * so that their result() is the cluster's; the logs then hold those results.
   */
  reduceLogs(logs: Logs, metrics?: readonly StatefulMetric<MetricResult>[]): Logs;
  /** fit's end (or failure): drain what is in flight, stop servers. */
  end(): Promise<void>;
}

let makeDefault: (() => FitStrategy) | undefined;

/** What `fit({ distributed: true })` makes: src/distributed registers DataParallel (train/ never imports it). */
export function setDefaultStrategy(make: () => FitStrategy): void {
  makeDefault = make;
}

/** A new default strategy (DataParallel), once src/distributed is loaded (the package's index loads it). */
export function defaultStrategy(): FitStrategy | undefined {
  return makeDefault?.();
}
