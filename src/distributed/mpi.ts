// Loads the distributed addon (build/Release/candor_mpi.node, built from kernels/mpi by tools/build-native.js when
// mpicxx is present) and describes its surface. Loading never throws: it returns the addon or why it is missing.
// The addon is opened with RTLD_GLOBAL: Open MPI loads its transport plugins (mca components) with dlopen, and they
// resolve libmpi's symbols globally; under Node's default RTLD_LOCAL they fail with "undefined symbol".
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

/** The addon's version this code speaks; kernels/mpi/napi.cc kVersion must match. */
export const MPI_ADDON_VERSION = 2;

/** The typed arrays the addon sends and receives in place. */
export type MpiArray = Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array;

/** Reduction codes of the addon (mean is a sum scaled in TypeScript). */
export const MPI_REDUCE = { sum: 0, max: 1, min: 2 } as const;

/** What a completed request reports: the sender, tag and element count of a receive; a probe's count in bytes. */
export interface MpiResult {
  readonly source: number;
  readonly tag: number;
  readonly count: number;
}

export interface MpiInit {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  /** The thread level MPI provided (MPI_THREAD_SERIALIZED = 2 runs blocking calls on the JS thread). */
  readonly threadLevel: number;
  /** MPI_Get_library_version's text, e.g. 'Open MPI v4.1.4, package: ...'. */
  readonly library: string;
}

/**
 * kernels/mpi/napi.cc. Every operation returns a request id; wait(id, timeoutMs) blocks until it is done (throws an
 * Error with code CANDOR_DISTRIBUTED_TIMEOUT after timeoutMs, < 0 = no limit; code CANDOR_DISTRIBUTED_MPI when MPI
 * reported an error); test(id) is null while in flight. The arrays must stay untouched until then.
 */
export interface MpiAddon {
  readonly version: number;
  /** Starts the communication thread, which calls MPI_Init_thread; pollMicros = its sleep between idle polls. */
  init(pollMicros: number): MpiInit;
  /** Drains, calls MPI_Finalize; false when that did not end within timeoutMs. */
  finalize(timeoutMs: number): boolean;
  /** MPI_Abort(code) on the communication thread: ends every rank of the job. */
  abort(code: number): void;
  pending(): number;
  /** While on, an operation submitted with nothing else in flight runs on the calling thread in wait(). */
  blocking(on: boolean): void;
  /** send null = in place on recv. op: MPI_REDUCE. */
  allreduce(send: MpiArray | null, recv: MpiArray, op: number): number;
  bcast(buf: MpiArray, root: number): number;
  /** recv.length = size x send.length. */
  allgather(send: MpiArray, recv: MpiArray): number;
  /** counts[r] = rank r's send.length; recv holds their sum. */
  allgatherv(send: MpiArray, recv: MpiArray, counts: Int32Array): number;
  /** send.length = size x recv.length. */
  reduceScatter(send: MpiArray, recv: MpiArray, op: number): number;
  barrier(): number;
  send(buf: MpiArray, dest: number, tag: number): number;
  /** source / tag -1 = any. */
  recv(buf: MpiArray, source: number, tag: number): number;
  probe(source: number, tag: number): number;
  wait(id: number, timeoutMs: number): MpiResult;
  test(id: number): MpiResult | null;
}

export type MpiLoad =
  { readonly addon: MpiAddon; readonly path: string } | { readonly addon?: undefined; reason: string };

let loaded: MpiLoad | undefined;

/** CANDOR_MPI_ADDON, else build/Release/candor_mpi.node at the package root. */
export function mpiAddonPath(): string {
  const override = process.env.CANDOR_MPI_ADDON;
  if (override) return override;
  // This file is dist/src/distributed/mpi.js; the package root is three levels up.
  return fileURLToPath(new URL('../../../build/Release/candor_mpi.node', import.meta.url));
}

/** Whether this process has tried to load the addon (a world of size 1 never does). */
export function mpiAddonTried(): boolean {
  return loaded !== undefined;
}

/** Loads the addon once; later calls return the same result. */
export function loadMpiAddon(): MpiLoad {
  if (loaded) return loaded;
  const path = mpiAddonPath();
  if (!existsSync(path)) return (loaded = { reason: `the MPI addon is not built (${path} is missing)` });
  try {
    const module = { exports: {} as MpiAddon };
    process.dlopen(module, path, constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL);
    const addon = module.exports;
    if (addon.version !== MPI_ADDON_VERSION)
      loaded = {
        reason: `the MPI addon at ${path} is stale (version ${addon.version}, expected ${MPI_ADDON_VERSION})`,
      };
    else loaded = { addon, path };
  } catch (e) {
    loaded = { reason: `the MPI addon at ${path} failed to load: ${(e as Error).message}` };
  }
  return loaded;
}
