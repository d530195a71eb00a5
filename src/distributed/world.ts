// The world of ranks this process belongs to: init() joins MPI when the process was started by mpirun (or srun),
// else the world has size 1 and no MPI is loaded at all. One world per process; init is idempotent.
import { availableParallelism, hostname } from 'node:os';
import { ArgumentError } from '../errors.js';
import { getBackend } from '../backends/backend.js';
import { getNumThreads, setNumThreads } from '../backends/native/index.js';
import { MpiCommunicator, type CommOptions, type Communicator } from './communicator.js';
import { DistributedError } from './errors.js';
import { loadMpiAddon, type MpiAddon } from './mpi.js';

export interface InitOptions {
  /** A collective or receive not done in this time fails the rank with a DistributedError (default 300_000 ms,
   *  env CANDOR_DISTRIBUTED_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface World {
  readonly rank: number;
  readonly size: number;
  /** This rank's index among the ranks on its host, and how many there are. */
  readonly localRank: number;
  readonly localSize: number;
  /** os.hostname() of this rank, and of every rank by rank. */
  readonly host: string;
  readonly hosts: readonly string[];
  readonly comm: Communicator;
  /** 'mpi (Open MPI 4.1.4)', or 'none' in a world of size 1 without MPI. */
  readonly transport: string;
}

/** The environment variables a launcher sets (Open MPI's mpirun, MPICH / Intel MPI's PMI, PMIx, Slurm's srun). */
const LAUNCHER_VARIABLES = ['OMPI_COMM_WORLD_SIZE', 'PMI_SIZE', 'PMIX_RANK', 'PMI_RANK'];

/** The launcher variable that says this process runs under mpirun / srun, or undefined. */
export function launchedBy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return LAUNCHER_VARIABLES.find((v) => env[v] !== undefined && env[v] !== '');
}

/** The default timeout: CANDOR_DISTRIBUTED_TIMEOUT_MS, else 300 s. */
function defaultTimeout(): number {
  const text = process.env.CANDOR_DISTRIBUTED_TIMEOUT_MS;
  if (text === undefined || text.trim() === '') return 300_000;
  const ms = Number(text);
  if (!Number.isFinite(ms) || ms <= 0)
    throw new ArgumentError(`CANDOR_DISTRIBUTED_TIMEOUT_MS: expected a positive number of milliseconds, got '${text}'`);
  return ms;
}

/** Sleep of the communication thread between polls that found nothing done (CANDOR_MPI_POLL_US, default 20). */
function pollMicros(): number {
  const text = process.env.CANDOR_MPI_POLL_US;
  const us = text === undefined || text.trim() === '' ? 20 : Number(text);
  if (!Number.isInteger(us) || us < 0 || us > 1_000_000)
    throw new ArgumentError(
      `CANDOR_MPI_POLL_US: expected an integer number of microseconds in [0, 1e6], got '${text}'`,
    );
  return us;
}

let joined: { world: World; mpi?: MpiAddon; options: CommOptions; finalized: boolean } | undefined;
let single: World | undefined;

function sizeOneWorld(options: { timeoutMs: number }): World {
  const host = hostname();
  return {
    rank: 0,
    size: 1,
    localRank: 0,
    localSize: 1,
    host,
    hosts: [host],
    comm: new MpiCommunicator(0, 1, undefined, options),
    transport: 'none',
  };
}

/** 'Open MPI 4.1.4' from MPI_Get_library_version's 'Open MPI v4.1.4, package: ...' (its first clause otherwise). */
function libraryName(text: string): string {
  const first = text.split(/[,\n]/)[0].trim();
  return first.replace(/ v(\d)/, ' $1') || 'unknown MPI';
}

/**
 * Joins the world: MPI when launched by mpirun / srun, else a world of size 1. Idempotent (a later call may change
 * timeoutMs). Lowers the native thread count so that ranks on a host x threads <= cores, unless CANDOR_NUM_THREADS
 * is set.
 */
export function init(options: InitOptions = {}): World {
  if (options.timeoutMs !== undefined && !(Number.isFinite(options.timeoutMs) && options.timeoutMs > 0))
    throw new ArgumentError(`distributed.init: timeoutMs must be a positive number, got ${options.timeoutMs}`);
  const timeoutMs = options.timeoutMs ?? defaultTimeout();
  if (joined) {
    if (joined.finalized)
      throw new DistributedError('distributed.init: MPI was finalised', 'CANDOR_DISTRIBUTED_FINALIZED');
    joined.options.timeoutMs = timeoutMs;
    return joined.world;
  }
  const by = launchedBy();
  if (!by) {
    const opts = { timeoutMs };
    joined = { world: sizeOneWorld(opts), options: opts, finalized: false };
    return joined.world;
  }
  const load = loadMpiAddon();
  if (!load.addon)
    throw new DistributedError(
      `distributed.init: this process was started by an MPI launcher (${by} is set) but ${load.reason}. ` +
        "Install MPI (Debian / Ubuntu: apt-get install openmpi-bin libopenmpi-dev), then rebuild Candor's native " +
        'addons (npm rebuild candor, or node tools/build-native.js in the package)',
      'CANDOR_DISTRIBUTED_UNAVAILABLE',
    );
  const mpi = load.addon;
  let info;
  try {
    info = mpi.init(pollMicros());
  } catch (e) {
    throw new DistributedError(`distributed.init: ${(e as Error).message}`, 'CANDOR_DISTRIBUTED_MPI');
  }
  const opts = { timeoutMs };
  const comm = new MpiCommunicator(info.rank, info.size, mpi, opts);
  const host = hostname();
  const hosts = comm.allgatherJson(host);
  const world: World = {
    rank: info.rank,
    size: info.size,
    localRank: info.localRank,
    localSize: info.localSize,
    host,
    hosts,
    comm,
    transport: `mpi (${libraryName(info.library)})`,
  };
  joined = { world, mpi, options: opts, finalized: false };
  process.once('exit', atExit);
  shareCores(world);
  return world;
}

/**
 * At exit without finalize(): a clean exit with nothing in flight finalises MPI. A failure (or a request still in
 * flight, e.g. after a timeout) leaves MPI as it is: the launcher sees a rank exit with an error or without
 * MPI_Finalize and ends the job (mpirun does at once; other ranks' waits time out in any case). MPI_Abort would end
 * it too, but kills this process before the launcher has forwarded its last output, the error message included.
 */
function atExit(code: number): void {
  if (!joined?.mpi || joined.finalized) return;
  joined.finalized = joined.options.finalized = true;
  if (code === 0 && joined.mpi.pending() === 0) joined.mpi.finalize(10_000);
}

/** Ranks on a host x native threads <= the host's cores: lowers the thread count (one line says so). */
function shareCores(w: World): void {
  if (process.env.CANDOR_NUM_THREADS || getBackend().name !== 'native') return;
  const cores = availableParallelism();
  const threads = getNumThreads();
  if (threads * w.localSize <= cores) return;
  const n = Math.max(1, Math.floor(cores / w.localSize));
  setNumThreads(n);
  if (w.localRank === 0)
    console.error(
      `candor: ${w.localSize} ranks on ${w.host} x ${threads} native threads > ${cores} cores: ` +
        `using ${n} thread${n > 1 ? 's' : ''} per rank (CANDOR_NUM_THREADS overrides)`,
    );
}

/** init()'s world, or the world of size 1 when init was not called. */
export function world(): World {
  return joined?.world ?? (single ??= sizeOneWorld({ timeoutMs: defaultTimeout() }));
}

/**
 * Joins the world when a launcher (mpirun, srun) started this process and init() was not called: what a distributed
 * fit does first, so that its ranks never train alone, each believing itself rank 0.
 */
export function joinLaunchedWorld(): World {
  return joined || !launchedBy() ? world() : init();
}

/** Whether this process is rank 0 (or not in a world of several). */
export function isChief(): boolean {
  return world().rank === 0;
}

/** Waits for what is in flight and finalises MPI (nothing to do without MPI); collectives then throw. */
export function finalize(): void {
  if (!joined?.mpi || joined.finalized) return;
  const pending = joined.mpi.pending();
  if (!joined.mpi.finalize(joined.options.timeoutMs))
    throw new DistributedError(
      `distributed.finalize on rank ${joined.world.rank}: MPI_Finalize not done after ${joined.options.timeoutMs} ms ` +
        `(${pending} operation(s) were in flight): a rank died or hangs`,
      'CANDOR_DISTRIBUTED_TIMEOUT',
    );
  joined.finalized = joined.options.finalized = true;
}
