// The one rule for which process of a distributed world writes files: rank 0 alone.
import { world, type World } from './world.js';

/**
 * Whether this process writes model files (model.save, model.saveWeights), checkpoints (ModelCheckpoint), CSV logs
 * (CSVLogger) and TensorBoard events: in a world of size > 1 (distributed.init() under mpirun or srun), rank 0
 * alone; in a world of size 1, always. The other ranks' files would be the same (their weights and logs are rank
 * 0's after every step), and several writers of one path race, or, on a file system shared by several hosts, one
 * host could take another's live temp file for a dead writer's. It depends on the world only, not on `record` or
 * on which strategy trains: a rank that does not write returns without error, its record kept in memory.
 */
export function writesFiles(w: Pick<World, 'rank' | 'size'> = world()): boolean {
  return w.size === 1 || w.rank === 0;
}
