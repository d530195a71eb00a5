// A parameter server's state, apart from the transport: its shard of the parameters and the optimizer state for it
// (ShardState), and the stale-synchronous schedule of asynchronous mode (SspSchedule: worker clocks, which pulls may
// be answered, and the staleness each update saw).

import { fromTypedArray, type Tensor } from '../tensor/tensor.js';
import { dispose, keep } from '../tensor/storage.js';
import type { FloatDType } from '../tensor/dtype.js';
import type { Optimizer } from '../optim/optimizer.js';
import type { ShardPlan } from './ps-shards.js';

/** One server's parameters (one 1-D tensor per segment) and its optimizer, which only ever sees those segments. */
export class ShardState {
  private params: Tensor[];
  /** Updates applied so far. */
  version = 0;

  /** `initial`: the shard's flat values (copied). */
  constructor(
    readonly plan: ShardPlan,
    readonly dtype: FloatDType,
    readonly optimizer: Optimizer,
    initial: Float32Array | Float64Array,
  ) {
    this.params = keep(
      plan.segments.map((s) => fromTypedArray(initial.slice(s.offset, s.offset + s.length), [s.length])),
    );
  }

  get length(): number {
    return this.plan.end - this.plan.start;
  }

  /** One optimizer update of the shard with this flat gradient (the optimizer's own rule, element by element). */
  apply(grad: Float32Array | Float64Array): void {
    if (this.plan.segments.length === 0) {
      this.version++;
      return;
    }
    const grads = this.plan.segments.map((s) => fromTypedArray(grad.slice(s.offset, s.offset + s.length), [s.length]));
    try {
      const next = this.optimizer.apply(this.params, grads);
      keep(next);
      dispose(this.params);
      this.params = next;
    } finally {
      dispose(grads);
    }
    this.version++;
  }

  /** Writes the shard's flat values into `out`. */
  read(out: Float32Array | Float64Array): void {
    this.plan.segments.forEach((s, i) => out.set(this.params[i].dataSync() as Float32Array, s.offset));
  }

  dispose(): void {
    dispose(this.params);
    this.params = [];
    this.optimizer.dispose();
  }
}

/** What a server observed in asynchronous mode (maxima over its updates). */
export interface StalenessStats {
  updates: number;
  /**
   * The stale-synchronous staleness: the pushing worker's clock minus the slowest worker's clock when the parameters
   * it computed on were sent. The schedule keeps it <= the bound.
   */
  maxStaleness: number;
  /**
   * Updates applied between the parameters' read and the gradient's update (server version now minus the version
   * the gradient was computed on). With W workers and bound s it is at most (W - 1)(2s + 1).
   */
  maxVersionLag: number;
}

/**
 * Stale-synchronous parallel (Ho et al., 2013) for one server: a worker's clock is the number of gradients it pushed;
 * its pull for step c is answered once the slowest unfinished worker's clock is >= c - staleness. Staleness 0 is
 * lockstep. Finished workers hold nobody back.
 */
export class SspSchedule {
  readonly clocks: number[];
  private readonly finished: boolean[];
  /** Workers waiting for parameters, with the clock (step) they will compute next. */
  private readonly waiting = new Map<number, number>();
  readonly stats: StalenessStats = { updates: 0, maxStaleness: 0, maxVersionLag: 0 };

  constructor(
    workers: number,
    readonly staleness: number,
  ) {
    this.clocks = new Array<number>(workers).fill(0);
    this.finished = new Array<boolean>(workers).fill(false);
  }

  /** The slowest unfinished worker's clock (Infinity when all have finished). */
  get minClock(): number {
    let m = Infinity;
    this.clocks.forEach((c, w) => {
      if (!this.finished[w]) m = Math.min(m, c);
    });
    return m;
  }

  get active(): number {
    return this.finished.filter((f) => !f).length;
  }

  /**
   * Records worker `w`'s gradient of step `clock`, computed on parameters of `readVersion` sent when the slowest clock
   * was `readMinClock`, applied when the server is at `version`; the worker then waits for its next parameters.
   */
  push(w: number, clock: number, readVersion: number, readMinClock: number, version: number): void {
    const s = this.stats;
    s.updates++;
    s.maxStaleness = Math.max(s.maxStaleness, clock - readMinClock);
    s.maxVersionLag = Math.max(s.maxVersionLag, version - readVersion);
    this.clocks[w] = clock + 1;
    this.waiting.set(w, clock + 1);
  }

  finish(w: number): void {
    this.finished[w] = true;
    this.waiting.delete(w);
  }

  /** The waiting workers whose pull may be answered now (taken off the waiting list), in worker order. */
  ready(): number[] {
    const min = this.minClock;
    const out = [...this.waiting.entries()]
      .filter(([, c]) => c - min <= this.staleness)
      .map(([w]) => w)
      .sort((a, b) => a - b);
    for (const w of out) this.waiting.delete(w);
    return out;
  }
}
