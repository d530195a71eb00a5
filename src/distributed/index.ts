// Distributed training over MPI (the package's `distributed` namespace): the world, its communicator, the errors.
export { init, world, isChief, finalize, launchedBy } from './world.js';
export type { InitOptions, World } from './world.js';
export { writesFiles } from './writes-files.js';
export { MpiCommunicator } from './communicator.js';
export type {
  Communicator,
  CommunicatorStats,
  Pending,
  PendingReduce,
  Received,
  ReduceArray,
  ReduceOp,
  Source,
} from './communicator.js';
export { DistributedError } from './errors.js';
export type { DistributedErrorCode } from './errors.js';
export { loadMpiAddon, mpiAddonPath, mpiAddonTried, MPI_ADDON_VERSION } from './mpi.js';
export type { MpiAddon, MpiArray, MpiInit, MpiLoad, MpiResult } from './mpi.js';
export {
  contributeRankFigures,
  finishClusterRound,
  gatherRankFigures,
  startRankFigures,
  RankFiguresMeter,
} from './cluster-record.js';
export type { ClusterWorld, CommStats } from './cluster-record.js';
export { DataParallel } from './data-parallel.js';
export type { DataParallelOptions, DataParallelComm } from './data-parallel.js';
export { ParameterServer } from './parameter-server.js';
export type { ParameterServerOptions, ParameterServerStats } from './parameter-server.js';
export { planShards } from './ps-shards.js';
export type { ShardPlan, ShardSegment } from './ps-shards.js';
