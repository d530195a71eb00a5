// The run a kernel belongs to: an async context (AsyncLocalStorage) that fit() enters, so that meters
// count the kernels of their own run only, even while other fits run concurrently in the same process
// (Promise.all) and their kernels interleave between awaits. Kernels launched outside every run belong
// to no run.
import { AsyncLocalStorage } from 'node:async_hooks';

/** One run (one fit). Runs nest: a fit started inside another fit's callbacks is a child of that run. */
export interface Run {
  readonly id: number;
  readonly parent?: Run;
}

const storage = new AsyncLocalStorage<Run>();
let nextId = 1;

/** Runs fn (and everything it awaits or schedules) as a new run, a child of the current one if any. */
export function inNewRun<T>(fn: () => T): T {
  return storage.run({ id: nextId++, parent: storage.getStore() }, fn);
}

/** The run the calling code belongs to, or undefined outside every run. */
export function currentRun(): Run | undefined {
  return storage.getStore();
}

/** Whether code of run `run` belongs to `owner` too (the same run or one nested in it). */
export function belongsTo(run: Run | undefined, owner: Run): boolean {
  for (let r = run; r !== undefined; r = r.parent) if (r === owner) return true;
  return false;
}
