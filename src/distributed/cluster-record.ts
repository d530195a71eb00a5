// Gathering a distributed run's accounting: at the end of fit every rank sends its figures (FLOPs, CPU time,
// energy, bytes) to every other in one allgatherJson round; rank 0's RunRecorder merges them into the run record
// (ledger/cluster-merge.ts) and alone writes the run's files. A parameter server's round is in its end() instead
// (finishClusterRound), once its servers, which serve instead of running fit's callbacks, have left serve().
import { EnergyMeter } from '../ledger/energy.js';
import { Meter } from '../ledger/meter.js';
import type { ClusterInfo, RankContribution } from '../ledger/cluster-merge.js';
import type { GatheredCluster, OwnFigures } from '../ledger/recording.js';
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

/**
 * What the accounting reads of a fit's strategy (train/strategy.ts's FitStrategy has it; named here so that
 * distributed/ does not import train/, which imports this file through the run recorder).
 */
export interface ClusterStrategy {
  readonly name: 'data-parallel' | 'parameter-server';
  readonly rank: number;
  readonly worldSize: number;
  readonly chief: boolean;
  readonly shard: { index: number; count: number };
  /** A parameter server's. */
  readonly mode?: 'sync' | 'async';
  readonly staleness?: number;
}

/** The run record's description of the strategy (a parameter server's mode and staleness when it has them). */
export function clusterInfo(strategy: ClusterStrategy, w: ClusterWorld): ClusterInfo {
  const ps = strategy;
  return {
    worldSize: strategy.worldSize,
    strategy: strategy.name,
    ...(ps.mode !== undefined ? { mode: ps.mode } : {}),
    ...(ps.mode === 'async' && ps.staleness !== undefined ? { staleness: ps.staleness } : {}),
    transport: w.transport,
  };
}

/** The strategies (one per fit) whose round this process has joined, and the recorders waiting for theirs. */
const joined = new WeakSet<ClusterStrategy>();
const pending = new WeakMap<ClusterStrategy, { own: RankContribution; apply(g: GatheredCluster): Promise<void> }>();

/** A fit begins: its strategy's round is still to come (one strategy object may serve several fits). */
export function openClusterRound(strategy: ClusterStrategy): void {
  joined.delete(strategy);
  pending.delete(strategy);
}

/**
 * The end-of-fit round: sends this rank's contribution (null: a rank that records nothing) and returns every
 * rank's. Every rank must join it once per fit: workers through their RunRecorder (or joinClusterRound), servers
 * through contributeRankFigures.
 */
export function gatherRankFigures(
  strategy: ClusterStrategy,
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

/**
 * RunRecorder, for a strategy whose servers serve until the workers' end() (a parameter server): its figures wait
 * for the strategy's end() to run the round (finishClusterRound), and `apply` gets the result.
 */
export function deferRound(
  strategy: ClusterStrategy,
  own: RankContribution,
  apply: (g: GatheredCluster) => Promise<void>,
): void {
  pending.set(strategy, { own, apply });
}

/**
 * The round at the end of a strategy's end() (a parameter server's, after its servers left serve()), on every rank:
 * sends `own` (a server's figures), else this rank's deferred recorder's, else nothing, and hands the result to the
 * recorder, which then writes (rank 0). A no-op when this rank's recorder already joined the round.
 */
export async function finishClusterRound(
  strategy: ClusterStrategy,
  own?: RankContribution,
  w: ClusterWorld = world(),
): Promise<void> {
  if (joined.has(strategy)) return;
  const waiting = pending.get(strategy);
  pending.delete(strategy);
  const gathered = gatherRankFigures(strategy, own ?? waiting?.own ?? null, w);
  await waiting?.apply(gathered);
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
 * A server rank's part of the end-of-fit round, in its strategy's end() (where the workers call
 * finishClusterRound): sends its figures to rank 0, whose run record counts them. `steps`: the updates it applied.
 */
export async function contributeRankFigures(
  strategy: ClusterStrategy,
  figures: RankFiguresMeter,
  counts: { steps: number },
  w: ClusterWorld = world(),
): Promise<void> {
  await finishClusterRound(strategy, figures.contribution('server', counts), w);
}
