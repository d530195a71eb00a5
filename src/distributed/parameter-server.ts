// The parameter-server strategy for fit: the last `servers` ranks hold the trainable parameters, sharded by
// contiguous byte-balanced ranges, and the optimizer state for their shard; ranks 0..W-1 are workers that compute
// gradients, push each shard's slice to its server and pull the updated parameters. Synchronous mode averages the W
// workers' gradients of a step (rows-weighted, as one process with batch W x B); asynchronous mode applies each
// gradient as it arrives, with stale-synchronous parallel's staleness bound.

import type { Tensor } from '../tensor/tensor.js';
import { fromTypedArray } from '../tensor/tensor.js';
import { bytesPerElement, type FloatDType } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { checkOptions } from '../registry.js';
import { getOptimizer, type Optimizer, type OptimizerConfig } from '../optim/optimizer.js';
import type { Variable } from '../nn/variable.js';
import type { Logs } from '../train/callbacks.js';
import type { FitStrategy, FitStrategyContext } from '../train/strategy.js';
import { planShards, type ShardPlan } from './ps-shards.js';
import { H, KIND, Message, TAG } from './ps-messages.js';
import { world } from './world.js';
import type { Communicator } from './communicator.js';
import { ShardState, SspSchedule, type StalenessStats } from './ps-server.js';
import {
  contributeRankFigures,
  finishClusterRound,
  startRankFigures,
  type RankFiguresMeter,
} from './cluster-record.js';

export interface ParameterServerOptions {
  /** How many ranks serve parameters: the last `servers` ranks (default 1). Ranks 0..size-servers-1 train. */
  servers?: number;
  /** 'sync' (default): one update per step from all workers' gradients; 'async': one update per gradient. */
  mode?: 'sync' | 'async';
  /** async: a worker may run at most this many steps ahead of the slowest worker (default 2; 0 = lockstep). */
  staleness?: number;
}

type Pending = { wait(): void };
type Buffer = Float32Array | Float64Array;

/** The part of the Communicator the parameter server uses (point-to-point messages and two JSON collectives). */
export type PsCommunicator = Pick<
  Communicator,
  'rank' | 'size' | 'send' | 'sendAsync' | 'recv' | 'allgatherJson' | 'broadcastJson'
>;

/** What rank 0 tells every rank at begin: the trainable weights' shapes and dtype and the optimizer to run. */
interface Layout {
  shapes: number[][];
  dtype: FloatDType;
  optimizer: OptimizerConfig;
  /** fit's seed: every worker draws rank 0's permutation of the data and takes its shard of it. */
  seed: number;
}

/** Observed over the whole run (every rank gets the same after end()): servers' updates and async staleness. */
export interface ParameterServerStats extends StalenessStats {
  /** Bytes of trainable parameters each server holds, by server. */
  shardBytes: number[];
}

function waitAll(pending: Pending[]): void {
  for (const p of pending.splice(0)) p.wait();
}

export class ParameterServer implements FitStrategy {
  readonly name = 'parameter-server';
  readonly servers: number;
  readonly mode: 'sync' | 'async';
  readonly staleness: number;
  /** Steps and rows this rank trained (workers). */
  steps = 0;
  samples = 0;
  /** Set on every rank by end(). */
  observed?: ParameterServerStats;

  private comm?: PsCommunicator;
  private layout?: Layout;
  private plans: ShardPlan[] = [];
  private bytesPerElement = 4;
  private weights: readonly Variable[] = [];
  // Workers: one push and one reply message per server, and what each server last sent (for async staleness).
  private pushes: Message[] = [];
  private replies: Message[] = [];
  private readVersion: number[] = [];
  private readMinClock: number[] = [];
  // Servers: the shard and what serve() observed.
  private state?: ShardState;
  /** A server's figures for the run record, from begin to end, and the updates its shard took. */
  private figures?: RankFiguresMeter;
  private applied = 0;
  private stats: StalenessStats = { updates: 0, maxStaleness: 0, maxVersionLag: 0 };

  /** `comm`: the world's communicator (world().comm, looked up at begin) unless given. */
  constructor(options: ParameterServerOptions = {}, comm?: PsCommunicator) {
    checkOptions('ParameterServer', options, ['servers', 'mode', 'staleness']);
    const { servers = 1, mode = 'sync', staleness = 2 } = options;
    if (!Number.isInteger(servers) || servers < 1)
      throw new ArgumentError(`ParameterServer: servers must be a positive integer, got ${servers}`);
    if (mode !== 'sync' && mode !== 'async')
      throw new ArgumentError(`ParameterServer: mode must be 'sync' or 'async', got ${String(mode)}`);
    if (!Number.isInteger(staleness) || staleness < 0)
      throw new ArgumentError(`ParameterServer: staleness must be a non-negative integer, got ${staleness}`);
    this.servers = servers;
    this.mode = mode;
    this.staleness = staleness;
    this.comm = comm;
  }

  private get communicator(): PsCommunicator {
    return this.comm ?? world().comm;
  }

  get rank(): number {
    return this.communicator.rank;
  }
  get worldSize(): number {
    return this.communicator.size;
  }
  /** Training ranks: 0..workers-1. */
  get workers(): number {
    return this.worldSize - this.servers;
  }
  get role(): 'worker' | 'server' {
    return this.rank < this.workers ? 'worker' : 'server';
  }
  get chief(): boolean {
    return this.rank === 0;
  }
  get shard(): { index: number; count: number } {
    return { index: this.role === 'worker' ? this.rank : 0, count: this.workers };
  }

  private serverRank(j: number): number {
    return this.workers + j;
  }

  async begin(ctx: FitStrategyContext): Promise<'train' | 'serve'> {
    const comm = this.communicator;
    if (this.workers < 1)
      throw new ArgumentError(
        `ParameterServer: ${this.servers} server(s) need at least ${this.servers + 1} ranks, the world has ` +
          `${comm.size}; run under mpirun -np ${this.servers + 1} or more`,
      );
    // Rank 0 decides the layout (or the error every rank raises), so that no rank is left waiting for another.
    const answer = comm.broadcastJson(comm.rank === 0 ? this.describe(ctx) : undefined, 0) as Layout | string;
    if (typeof answer === 'string') throw new ArgumentError(answer);
    this.layout = answer;
    ctx.seed = answer.seed;
    const mine = this.role === 'worker' ? this.mismatch(ctx.model.trainableWeights, answer) : undefined;
    const problems = comm.allgatherJson(mine ?? null).filter((p): p is string => p !== null);
    if (problems.length > 0) throw new ShapeError(problems[0]);
    const sizes = answer.shapes.map((s) => s.reduce((a, b) => a * b, 1));
    const bpe = (this.bytesPerElement = bytesPerElement(answer.dtype));
    this.plans = planShards(
      sizes,
      this.servers,
      sizes.map(() => bpe),
    );
    if (this.role === 'server') {
      this.figures = startRankFigures();
      this.applied = 0;
      const plan = this.plans[comm.rank - this.workers];
      const init = new Message(answer.dtype, plan.end - plan.start);
      comm.recv(init.message, 0, TAG.init);
      this.state = new ShardState(plan, answer.dtype, getOptimizer(answer.optimizer), init.payload);
      const reply = this.reply(0);
      const sends = Array.from({ length: this.workers }, (_, w) => comm.sendAsync(reply.message, w, TAG.params));
      waitAll(sends);
      return 'serve';
    }
    this.weights = ctx.model.trainableWeights;
    this.pushes = this.plans.map((p) => new Message(answer.dtype, p.end - p.start));
    this.replies = this.plans.map((p) => new Message(answer.dtype, p.end - p.start));
    if (comm.rank === 0) {
      const values = this.weights.map((w) => w.value.dataSync() as Buffer);
      this.plans.forEach((plan, j) => {
        for (const s of plan.segments)
          this.pushes[j].payload.set(values[s.weight].subarray(s.start, s.start + s.length), s.offset);
        comm.send(this.pushes[j].message, this.serverRank(j), TAG.init);
      });
    }
    this.pull(TAG.params);
    this.shareNonTrainable(ctx.model.nonTrainableWeights);
    return 'train';
  }

  /** Rank 0's layout, or why the parameter server cannot train this model. */
  private describe(ctx: FitStrategyContext): Layout | string {
    const weights = ctx.model.trainableWeights;
    const dtypes = [...new Set(weights.map((w) => w.dtype))];
    if (dtypes.length !== 1 || (dtypes[0] !== 'float32' && dtypes[0] !== 'float64'))
      return `ParameterServer: the trainable weights must share one float dtype, got ${dtypes.join(', ') || 'none'}`;
    let optimizer: OptimizerConfig;
    try {
      optimizer = ctx.optimizer.getConfig();
      getOptimizer(optimizer).dispose();
    } catch (e) {
      return (
        `ParameterServer: the servers rebuild the model's optimizer from its getConfig(), which failed for ` +
        `${ctx.optimizer.className}: ${(e as Error).message}`
      );
    }
    const c = optimizer.config ?? {};
    if (c.clipnorm != null || c.globalClipnorm != null)
      return (
        `ParameterServer: ${optimizer.className} clips by norm (clipnorm ${c.clipnorm}, globalClipnorm ` +
        `${c.globalClipnorm}), which needs whole weights but each server holds a shard; use clipvalue, or DataParallel`
      );
    return { shapes: weights.map((w) => [...w.shape]), dtype: dtypes[0], optimizer, seed: ctx.seed };
  }

  /** Why this worker's weights differ from rank 0's, or undefined. */
  private mismatch(weights: readonly Variable[], layout: Layout): string | undefined {
    const same =
      weights.length === layout.shapes.length && weights.every((w, i) => shapesEqual(w.shape, layout.shapes[i]));
    if (same) return undefined;
    return (
      `ParameterServer: rank ${this.rank}'s model has trainable weights ` +
      `${weights.map((w) => fmtShape(w.shape)).join(' ')} but rank 0's has ` +
      `${layout.shapes.map((s) => fmtShape(s)).join(' ')}; every rank must build the same model`
    );
  }

  /** Rank 0's non-trainable weights (e.g. batch-norm statistics) to the other workers, which keep them locally. */
  private shareNonTrainable(weights: readonly Variable[]): void {
    const comm = this.communicator;
    if (this.workers === 1) return;
    for (const w of weights) {
      if (w.dtype !== 'float32' && w.dtype !== 'float64') continue;
      if (comm.rank === 0) {
        const data = w.value.dataSync() as Buffer;
        const sends = Array.from({ length: this.workers - 1 }, (_, r) => comm.sendAsync(data, r + 1, TAG.state));
        waitAll(sends);
      } else {
        const data = (
          w.dtype === 'float64' ? new Float64Array(w.value.size) : new Float32Array(w.value.size)
        ) as Buffer;
        comm.recv(data, 0, TAG.state);
        w.assign(fromTypedArray(data, w.shape));
      }
    }
  }

  /** Receives every server's parameters (tag params or final) and installs them in the weights. */
  private pull(tag: number): void {
    const comm = this.communicator;
    this.plans.forEach((_, j) => {
      const r = this.replies[j];
      comm.recv(r.message, this.serverRank(j), tag);
      this.readVersion[j] = r.header[H.version];
      this.readMinClock[j] = r.header[H.minClock];
    });
    const layout = this.layout!;
    const values = layout.shapes.map((s) =>
      layout.dtype === 'float64'
        ? new Float64Array(s.reduce((a, b) => a * b, 1))
        : new Float32Array(s.reduce((a, b) => a * b, 1)),
    );
    this.plans.forEach((plan, j) => {
      const payload = this.replies[j].payload;
      for (const s of plan.segments) values[s.weight].set(payload.subarray(s.offset, s.offset + s.length), s.start);
    });
    this.weights.forEach((w, i) => w.assign(fromTypedArray(values[i], layout.shapes[i])));
  }

  applyGradients(grads: readonly Tensor[], weights: readonly Variable[], optimizer: Optimizer, rows: number): void {
    const comm = this.communicator;
    if (this.role !== 'worker' || !this.layout)
      throw new ArgumentError(
        `ParameterServer.applyGradients: rank ${this.rank} is not a worker or begin() was not called`,
      );
    if (weights.length !== this.weights.length || weights.some((w, i) => w !== this.weights[i]))
      throw new ArgumentError(
        'ParameterServer.applyGradients: the weights are not the trainable weights begin() saw; ' +
          'the parameter server trains one fixed set of weights',
      );
    if (grads.length !== weights.length)
      throw new ArgumentError(
        `ParameterServer.applyGradients: ${grads.length} gradients for ${weights.length} weights`,
      );
    const values = grads.map((g) => g.dataSync() as Buffer);
    const lr = optimizer.getConfig().config?.learningRate;
    const sends = this.plans.map((plan, j) => {
      const m = this.pushes[j];
      for (const s of plan.segments) m.payload.set(values[s.weight].subarray(s.start, s.start + s.length), s.offset);
      m.header[H.kind] = KIND.push;
      m.header[H.clock] = this.steps;
      m.header[H.rows] = rows;
      m.header[H.version] = this.readVersion[j];
      m.header[H.minClock] = this.readMinClock[j];
      m.header[H.learningRate] = typeof lr === 'number' ? lr : NaN;
      return comm.sendAsync(m.message, this.serverRank(j), TAG.push);
    });
    this.pull(TAG.params);
    waitAll(sends);
    this.steps++;
    this.samples += rows;
    // The worker's optimizer updates nothing (its servers' do), but fit and callbacks read its step count (Keras
    // `iterations`: fit's per-step seeds, schedules): it counts this worker's steps.
    optimizer.setState({ iterations: optimizer.iterations + 1, slots: [] });
  }

  /** The workers' mean of each log (rank 0 gathers and answers; servers are serving and take no part). */
  reduceLogs(logs: Logs): Logs {
    const comm = this.communicator;
    if (this.workers === 1 || this.role !== 'worker') return logs;
    const keys = Object.keys(logs).sort();
    const buf = new Float64Array(keys.map((k) => logs[k]));
    if (comm.rank === 0) {
      const sum = Float64Array.from(buf),
        other = new Float64Array(keys.length);
      for (let r = 1; r < this.workers; r++) {
        comm.recv(other, r, TAG.logs);
        other.forEach((v, i) => (sum[i] += v));
      }
      sum.forEach((v, i) => (sum[i] = v / this.workers));
      waitAll(Array.from({ length: this.workers - 1 }, (_, r) => comm.sendAsync(sum, r + 1, TAG.logs)));
      buf.set(sum);
    } else {
      comm.send(buf, 0, TAG.logs);
      comm.recv(buf, 0, TAG.logs);
    }
    return Object.fromEntries(keys.map((k, i) => [k, buf[i]]));
  }

  /** A server's whole fit: updates its shard until every worker is done, then sends all workers the final shard. */
  async serve(): Promise<void> {
    const comm = this.communicator;
    const state = this.state;
    if (!state)
      throw new ArgumentError(`ParameterServer.serve: rank ${this.rank} is not a server or begin() was not called`);
    try {
      if (this.mode === 'sync') this.serveSync(state);
      else this.serveAsync(state);
      const reply = this.reply(state.version);
      waitAll(Array.from({ length: this.workers }, (_, w) => comm.sendAsync(reply.message, w, TAG.final)));
    } finally {
      this.applied = state.version;
      state.dispose();
      this.state = undefined;
    }
  }

  private replyMessage?: Message;
  /** The server's parameters now, in its reply message, with the version and the slowest clock. */
  private reply(minClock: number): Message {
    const state = this.state!;
    this.replyMessage ??= new Message(state.dtype, state.length);
    const m = this.replyMessage;
    state.read(m.payload);
    m.header[H.kind] = KIND.params;
    m.header[H.version] = state.version;
    m.header[H.minClock] = minClock;
    return m;
  }

  /** The constant learning rate a worker's optimizer has now (callbacks may change it), for the server's optimizer. */
  private followLearningRate(state: ShardState, lr: number): void {
    if (Number.isNaN(lr) || typeof state.optimizer.getConfig().config?.learningRate !== 'number') return;
    if (state.optimizer.learningRate !== lr) state.optimizer.learningRate = lr;
  }

  /** Each step: every unfinished worker's gradient, in rank order, averaged by rows; one update; replies to all. */
  private serveSync(state: ShardState): void {
    const comm = this.communicator;
    const inbox = new Message(state.dtype, state.length);
    const sum = new Float64Array(state.length);
    const grad = state.dtype === 'float64' ? new Float64Array(state.length) : new Float32Array(state.length);
    const active = Array.from({ length: this.workers }, (_, w) => w);
    const sends: Pending[] = [];
    while (active.length > 0) {
      sum.fill(0);
      let rows = 0,
        clock = -1,
        lr = NaN;
      const pushed: number[] = [];
      for (const w of [...active]) {
        comm.recv(inbox.message, w, TAG.push);
        const h = inbox.header;
        if (h[H.kind] === KIND.done) {
          active.splice(active.indexOf(w), 1);
          continue;
        }
        if (clock >= 0 && h[H.clock] !== clock)
          throw new ArgumentError(
            `ParameterServer (sync): server rank ${this.rank} got step ${h[H.clock]} from worker ${w} while ` +
              `collecting step ${clock}; sync mode needs every worker at the same step`,
          );
        clock = h[H.clock];
        const r = h[H.rows];
        const g = inbox.payload;
        for (let k = 0; k < sum.length; k++) sum[k] += r * g[k];
        rows += r;
        lr = h[H.learningRate];
        pushed.push(w);
      }
      if (pushed.length === 0) break;
      // No rows anywhere this step (cannot happen in fit, where every step has rows): nothing to average.
      if (rows > 0) {
        for (let k = 0; k < sum.length; k++) grad[k] = sum[k] / rows;
        this.followLearningRate(state, lr);
        state.apply(grad);
        this.stats.updates++;
      }
      waitAll(sends);
      const reply = this.reply(clock + 1);
      for (const w of pushed) sends.push(comm.sendAsync(reply.message, w, TAG.params));
    }
    waitAll(sends);
  }

  /** Each gradient updates the shard as it arrives; a worker's next parameters wait for the staleness bound. */
  private serveAsync(state: ShardState): void {
    const comm = this.communicator;
    const inbox = new Message(state.dtype, state.length);
    const schedule = new SspSchedule(this.workers, this.staleness);
    const sends: Pending[] = [];
    while (schedule.active > 0) {
      const { source } = comm.recv(inbox.message, 'any', TAG.push);
      const h = inbox.header;
      if (h[H.kind] === KIND.done) schedule.finish(source);
      else {
        schedule.push(source, h[H.clock], h[H.version], h[H.minClock], state.version);
        // A step in which the worker had no rows (its share of the last global batch) moves its clock only.
        if (h[H.rows] > 0) {
          this.followLearningRate(state, h[H.learningRate]);
          state.apply(inbox.payload);
        }
      }
      const ready = schedule.ready();
      if (ready.length === 0) continue;
      waitAll(sends);
      const reply = this.reply(schedule.minClock);
      for (const w of ready) sends.push(comm.sendAsync(reply.message, w, TAG.params));
    }
    waitAll(sends);
    this.stats = { ...schedule.stats };
  }

  async end(): Promise<void> {
    const comm = this.communicator;
    if (this.role === 'worker' && this.layout) {
      const done = this.plans.map((_, j) => {
        const m = this.pushes[j];
        m.header[H.kind] = KIND.done;
        return comm.sendAsync(m.headerOnly, this.serverRank(j), TAG.push);
      });
      this.pull(TAG.final);
      waitAll(done);
      this.layout = undefined;
    }
    // The run record's round (every rank, once per fit, whether or not it records): only now have the servers left
    // serve(), so only now can they send their figures; rank 0's recorder, which deferred its round, then writes.
    const figures = this.figures;
    this.figures = undefined;
    if (figures) await contributeRankFigures(this, figures, { steps: this.applied });
    else await finishClusterRound(this);
    const all = comm.allgatherJson(this.role === 'server' ? this.stats : null);
    const servers = all.filter((s): s is StalenessStats => s !== null);
    this.observed = {
      updates: Math.max(0, ...servers.map((s) => s.updates)),
      maxStaleness: Math.max(0, ...servers.map((s) => s.maxStaleness)),
      maxVersionLag: Math.max(0, ...servers.map((s) => s.maxVersionLag)),
      shardBytes: this.plans.map((p) => (p.end - p.start) * this.bytesPerElement),
    };
  }
}
