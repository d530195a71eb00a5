// Gathering a distributed run's accounting: at the end of fit every rank sends its figures (FLOPs, CPU time,
// energy, bytes) to every other in one allgatherJson round; rank 0's RunRecorder merges them into the run record
// (ledger/cluster-merge.ts) and alone writes the run's files. Parameter-server ranks, which serve instead of
// running fit's callbacks, join the same round through contributeRankFigures.
import { EnergyMeter } from '../ledger/energy.js';
import { Meter } from '../ledger/meter.js';
import type { ClusterInfo, RankContribution } from '../ledger/cluster-merge.js';
import type { GatheredCluster, OwnFigures } from '../ledger/recording.js';
import type { FitStrategy } from '../train/strategy.js';
import { world } from './world.js';

/** The communicator's counters this accounting reads (Communicator.stats). */
export interface CommStats {
  bytesSent: number;
  bytesReceived: number;
  seconds: number;
}

/** What the accounting needs of the world (world.ts's World has all of it). */
export interface ClusterWorld {
  readonly rank: number;
  readonly host: string;
  readonly transport: string;
  readonly comm: { allgatherJson<T>(value: T): T[]; readonly stats: CommStats };
}

/** The communicator's counters now: the figures of a fit are differences of two marks. */
export function commMark(w: ClusterWorld): CommStats {
  const { bytesSent, bytesReceived, seconds } = w.comm.stats;
  return { bytesSent, bytesReceived, seconds };
}

function commSince(w: ClusterWorld, from: CommStats | undefined) {
  const now = commMark(w);
  return {
    bytesSent: now.bytesSent - (from?.bytesSent ?? 0),
    bytesReceived: now.bytesReceived - (from?.bytesReceived ?? 0),
    commSeconds: now.seconds - (from?.seconds ?? 0),
  };
}

/** The run record's description of the strategy (a parameter server's mode and staleness when it has them). */
export function clusterInfo(strategy: FitStrategy, w: ClusterWorld): ClusterInfo {
  const ps = strategy as FitStrategy & { mode?: 'sync' | 'async'; staleness?: number };
  return {
    worldSize: strategy.worldSize,
    strategy: strategy.name,
    ...(ps.mode !== undefined ? { mode: ps.mode } : {}),
    ...(ps.mode === 'async' && ps.staleness !== undefined ? { staleness: ps.staleness } : {}),
    transport: w.transport,
  };
}

/** The strategies (one per fit) whose round this process has joined, and those whose rank records the fit. */
const joined = new WeakSet<FitStrategy>();
const recorded = new WeakSet<FitStrategy>();

/**
 * The end-of-fit round: sends this rank's contribution (null: a rank that records nothing) and returns every
 * rank's. Every rank must join it once per fit: workers through their RunRecorder (or joinClusterRound), servers
 * through contributeRankFigures.
 */
export function gatherRankFigures(
  strategy: FitStrategy,
  own: RankContribution | null,
  w: ClusterWorld = world(),
): GatheredCluster {
  joined.add(strategy);
  const all = w.comm.allgatherJson(own);
  return {
    rank: w.rank,
    info: clusterInfo(strategy, w),
    contributions: all.filter((c): c is RankContribution => c !== null),
  };
}

/** RunRecorder, at the start of a distributed fit: this rank's recorder joins the round at the end of fit. */
export function expectRecorder(strategy: FitStrategy): void {
  recorded.add(strategy);
}

/**
 * For a strategy's end() on a worker rank: joins the round (with no figures) when no RunRecorder of this rank
 * does, so that server ranks' contributeRankFigures always meets its match. A no-op when the recorder joins.
 */
export function joinClusterRound(strategy: FitStrategy, w: ClusterWorld = world()): void {
  if (!recorded.has(strategy) && !joined.has(strategy)) gatherRankFigures(strategy, null, w);
}

/** A worker's contribution from its recording's figures, the rows it read and its communication since `from`. */
export function workerContribution(
  w: ClusterWorld,
  own: OwnFigures,
  samples: number,
  from: CommStats | undefined,
): RankContribution {
  return {
    figures: {
      rank: w.rank,
      host: w.host,
      role: 'worker',
      samples,
      steps: own.steps,
      flops: own.compute.total.flops,
      cpuSeconds: own.cpuSeconds,
      wallSeconds: own.wallSeconds,
      ...commSince(w, from),
    },
    compute: own.compute,
    energy: own.energy,
  };
}

/**
 * Rows a worker read: over `epochs` whole epochs of `samples` rows, shard index of count takes rows index,
 * index + count, ... (DistributedSampler); at most steps x batchSize (an epoch stopped early).
 */
export function shardSamples(
  samples: number | undefined,
  shard: { index: number; count: number },
  epochs: number,
  steps: number,
  batchSize: number,
): number {
  const bound = steps * batchSize;
  if (samples === undefined) return bound;
  const perEpoch = samples > shard.index ? Math.floor((samples - 1 - shard.index) / shard.count) + 1 : 0;
  return Math.min(bound, perEpoch * Math.max(epochs, 1));
}

/**
 * A server rank's figures over its serve(): kernels (FLOPs), CPU and wall time, energy (default EnergyMeter) and
 * communication, from startRankFigures() to contributeRankFigures().
 */
export class RankFiguresMeter {
  private readonly meter = new Meter();
  private readonly energy?: EnergyMeter;
  private readonly t0 = performance.now();
  private readonly cpu0 = process.cpuUsage();
  private readonly comm0: CommStats;

  constructor(
    private readonly w: ClusterWorld,
    options: { energy?: boolean } = {},
  ) {
    this.comm0 = commMark(w);
    this.meter.start();
    if (options.energy !== false) this.energy = new EnergyMeter().start();
  }

  /** The rank's contribution now (stops the meters). */
  contribution(role: 'worker' | 'server', counts: { steps: number; samples?: number }): RankContribution {
    this.meter.stop();
    const cpu = process.cpuUsage(this.cpu0);
    const compute = this.meter.snapshot();
    return {
      figures: {
        rank: this.w.rank,
        host: this.w.host,
        role,
        samples: counts.samples ?? 0,
        steps: counts.steps,
        flops: compute.total.flops,
        cpuSeconds: (cpu.user + cpu.system) / 1e6,
        wallSeconds: (performance.now() - this.t0) / 1000,
        ...commSince(this.w, this.comm0),
      },
      compute,
      energy: this.energy?.stop() ?? null,
    };
  }
}

/** Starts a server rank's figures (call it as serve() begins). */
export function startRankFigures(w: ClusterWorld = world(), options: { energy?: boolean } = {}): RankFiguresMeter {
  return new RankFiguresMeter(w, options);
}

/**
 * A server rank's part of the end-of-fit round (call it as serve() returns, after the workers are done): sends its
 * figures to rank 0, whose run record counts them. `steps`: the updates it applied.
 */
export function contributeRankFigures(
  strategy: FitStrategy,
  figures: RankFiguresMeter,
  counts: { steps: number },
  w: ClusterWorld = world(),
): void {
  gatherRankFigures(strategy, figures.contribution('server', counts), w);
}
