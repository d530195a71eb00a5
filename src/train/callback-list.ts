// The callback list (Keras 3 CallbackList): fans fit's events out to its callbacks in order (the user's,
// History, the progress display, the run record) and owns the stop-training flag they may set.
import type { Callback, Logs } from './callbacks.js';
import type { FitParams } from './callbacks.js';
import type { Model } from './model.js';

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

  /** Calls `hook` on each callback in turn, awaiting those that return a promise. */
  private async emit(hook: Hook, ...args: unknown[]): Promise<void> {
    for (const cb of this.callbacks) {
      const fn = cb[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (fn) await fn.apply(cb, args);
    }
  }

  onTrainBegin(): Promise<void> {
    this.model.stopTraining = false;
    return this.emit('onTrainBegin');
  }
  onEpochBegin(epoch: number): Promise<void> {
    return this.emit('onEpochBegin', epoch);
  }
  onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    return this.emit('onEpochEnd', epoch, logs);
  }
  onBatchBegin(batch: number): Promise<void> {
    return this.emit('onBatchBegin', batch);
  }
  onBatchEnd(batch: number, logs: Logs): Promise<void> {
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
