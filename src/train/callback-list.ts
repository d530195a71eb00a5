// The callback list (Keras 3 CallbackList): fans fit's events out to its callbacks in order (the user's,
// History, the progress display, the run record) and owns the stop-training flag they may set.
import type { Callback, Logs } from './callbacks.js';
import type { FitParams } from './callbacks.js';
import type { Model } from './model.js';
import { isPromise } from './epoch-iterator.js';

type Hook = 'onTrainBegin' | 'onEpochBegin' | 'onEpochEnd' | 'onBatchBegin' | 'onBatchEnd';

export class CallbackList {
  constructor(
    private readonly model: Model,
    readonly callbacks: readonly Callback[],
    params: FitParams,
  ) {
    for (const cb of callbacks) cb.setModel?.(model);
    for (const cb of callbacks) cb.setParams?.(params);
  }

  /** Set by a callback (through model.stopTraining, as in Keras) to end training after this batch. */
  get stopTraining(): boolean {
    return this.model.stopTraining;
  }

  /** Per hook, the callbacks that have it, in order (found once: fit calls the batch hooks every step). */
  private readonly withHook = new Map<Hook, Callback[]>();

  /**
   * Calls `hook` on each callback that has it, in turn, awaiting one that returns a promise before the next; a
   * promise only when one did. Synchronous callbacks (History, the progress display) cost fit's steps no event-loop
   * turn.
   */
  private emit(hook: Hook, ...args: unknown[]): Promise<void> | undefined {
    let those = this.withHook.get(hook);
    if (!those) this.withHook.set(hook, (those = this.callbacks.filter((cb) => typeof cb[hook] === 'function')));
    for (let i = 0; i < those.length; i++) {
      const done = (those[i][hook] as (...a: unknown[]) => unknown).apply(those[i], args);
      if (isPromise(done)) return this.emitRest(done, those, i + 1, hook, args);
    }
    return undefined;
  }

  private async emitRest(
    pending: PromiseLike<unknown>,
    those: readonly Callback[],
    from: number,
    hook: Hook,
    args: unknown[],
  ): Promise<void> {
    await pending;
    for (let i = from; i < those.length; i++)
      await (those[i][hook] as (...a: unknown[]) => unknown).apply(those[i], args);
  }

  onTrainBegin(): Promise<void> | undefined {
    this.model.stopTraining = false;
    return this.emit('onTrainBegin');
  }
  onEpochBegin(epoch: number): Promise<void> | undefined {
    return this.emit('onEpochBegin', epoch);
  }
  onEpochEnd(epoch: number, logs: Logs): Promise<void> | undefined {
    return this.emit('onEpochEnd', epoch, logs);
  }
  onBatchBegin(batch: number): Promise<void> | undefined {
    return this.emit('onBatchBegin', batch);
  }
  onBatchEnd(batch: number, logs: Logs): Promise<void> | undefined {
    return this.emit('onBatchEnd', batch, logs);
  }

  /**
   * Every callback's onTrainEnd runs (EarlyStopping restores weights) even if one throws (TerminateOnNaN
   * with raise: true); the first error is rethrown after all ran.
   */
  async onTrainEnd(): Promise<void> {
    let failure: { error: unknown } | undefined;
    for (const cb of this.callbacks) {
      try {
        await cb.onTrainEnd?.();
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
