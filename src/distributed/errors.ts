// The typed error of distributed runs: MPI missing under mpirun, an operation not done in time (a rank died or
// hangs), an error MPI reported. `code` tells them apart for callers that retry or report.
import { CandorError } from '../errors.js';

export type DistributedErrorCode =
  | 'CANDOR_DISTRIBUTED_UNAVAILABLE'
  | 'CANDOR_DISTRIBUTED_TIMEOUT'
  | 'CANDOR_DISTRIBUTED_MPI'
  | 'CANDOR_DISTRIBUTED_FINALIZED';

/** A distributed operation that cannot be done: the message names the operation, the rank and what to do. */
export class DistributedError extends CandorError {
  constructor(
    message: string,
    readonly code: DistributedErrorCode,
  ) {
    super(message);
  }
}
