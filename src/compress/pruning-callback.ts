// UpdatePruningStep: the fit() callback that drives magnitude pruning (TF-MOT's callback of that name). It
// counts the steps, updates the masks when the schedule says so, and keeps the pruned weights exactly zero.
import { ArgumentError, fmtValue } from '../errors.js';
import type { Layer } from '../nn/layer.js';
import type { Callback } from '../train/callbacks.js';
import { magnitudeMasks } from './magnitude-mask.js';
import { PruneLowMagnitude } from './prune-low-magnitude.js';

/** Wrappers whose masks update together: one per-layer wrapper, or every globally pruned one. */
interface Group {
  readonly wrappers: readonly PruneLowMagnitude[];
  readonly global: boolean;
}

/** The pruning wrappers in a model (or a layer), in layer order. */
export function pruningWrappers(model: Layer): PruneLowMagnitude[] {
  return model.flattenLayers().filter((l): l is PruneLowMagnitude => l instanceof PruneLowMagnitude);
}

/**
 * Add to fit's callbacks when training a model made by pruneLowMagnitude (Keras users know it from TF-MOT):
 * `fit(x, y, { callbacks: [new UpdatePruningStep()] })`. Without it, a training call of a pruned layer throws.
 * At each batch's start the masks update if the schedule prunes at this step, and the kernels are masked; after
 * the optimizer's update they are masked again, so no optimizer (Adam's momentum included) revives a pruned
 * weight. A custom training loop calls setModel, onTrainBegin, then onBatchBegin / onBatchEnd around each step.
 */
export class UpdatePruningStep implements Callback {
  private model?: Layer;
  private groups: Group[] = [];
  /** The step the next batch runs as. */
  private step = 0;

  setModel(model: Layer): void {
    this.model = model;
  }

  private get wrappers(): PruneLowMagnitude[] {
    return this.groups.flatMap((g) => g.wrappers);
  }

  onTrainBegin(): void {
    if (!this.model) throw new ArgumentError('UpdatePruningStep: setModel(model) must come before onTrainBegin');
    const wrappers = pruningWrappers(this.model);
    const global = wrappers.filter((w) => w.globalPruning);
    if (global.length > 0) {
      const first = JSON.stringify(global[0].pruningSchedule.getConfig());
      const other = global.find((w) => JSON.stringify(w.pruningSchedule.getConfig()) !== first);
      if (other)
        throw new ArgumentError(
          `UpdatePruningStep: globally pruned layers must share one schedule; '${global[0].name}' has ${first}, ` +
            `'${other.name}' has ${fmtValue(other.pruningSchedule.getConfig())}`,
        );
    }
    this.groups = [
      ...wrappers.filter((w) => !w.globalPruning).map((w) => ({ wrappers: [w], global: false })),
      ...(global.length > 0 ? [{ wrappers: global, global: true }] : []),
    ];
    // A model saved during pruning resumes at its step (TF-MOT keeps the step in the model too).
    this.step = wrappers.find((w) => w.built)?.pruningStep ?? 0;
  }

  onBatchBegin(): void {
    for (const group of this.groups) {
      const built = group.wrappers.filter((w) => w.built);
      const [shouldPrune, sparsity] = group.wrappers[0].pruningSchedule.call(this.step);
      if (shouldPrune && built.length > 0) updateMasks(built, group.global, sparsity);
    }
    for (const w of this.wrappers) {
      if (w.built) {
        w.pruningStep = this.step;
        w.applyMasks();
      }
      w.setInStep(true);
    }
  }

  onBatchEnd(): void {
    this.step++;
    for (const w of this.wrappers) {
      // After the optimizer's update: the pruned entries are set back to exactly zero.
      if (w.built) {
        w.applyMasks();
        w.pruningStep = this.step;
      }
      w.setInStep(false);
    }
  }

  onTrainEnd(): void {
    for (const w of this.wrappers) w.setInStep(false);
  }
}

/** New masks at this sparsity: each wrapper's weights on their own, or ranked all together (global). */
function updateMasks(wrappers: readonly PruneLowMagnitude[], global: boolean, sparsity: number): void {
  if (!global) {
    for (const w of wrappers) w.updateMasks(sparsity);
    return;
  }
  const owned = wrappers.flatMap((w) => w.prunedWeights.map((weight) => ({ w, weight })));
  const { masks, threshold } = magnitudeMasks(
    owned.map(({ weight }) => ({ name: weight.name, values: weight.value.dataSync() })),
    sparsity,
  );
  owned.forEach(({ w, weight }, i) => w.setMask(weight, masks[i], threshold));
}
