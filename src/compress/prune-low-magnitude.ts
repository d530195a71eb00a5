// PruneLowMagnitude: the wrapper that magnitude-prunes a layer's kernels during training (TF-MOT's
// prune_low_magnitude wrapper). It holds a 0/1 mask and a threshold per kernel and the pruning step; the
// UpdatePruningStep callback updates the masks on the schedule and keeps the kernels masked.
import type { Tensor } from '../tensor/tensor.js';
import { fromTypedArray } from '../tensor/tensor.js';
import { allocArray } from '../tensor/dtype.js';
import { full } from '../ops/creation.js';
import { ArgumentError, fmtValue } from '../errors.js';
import {
  Layer,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../nn/layer.js';
import type { MaskArg } from '../nn/masking.js';
import type { Variable } from '../nn/variable.js';
import { buildSublayer, layerEntry, type LayerEntry } from '../nn/layers/sublayers.js';
import { layerFromConfig } from '../nn/layer.js';
import { who } from '../nn/layers/common.js';
import { magnitudeMasks } from './magnitude-mask.js';
import { toPruningSchedule, type PruningSchedule, type PruningScheduleConfig } from './pruning-schedule.js';

/**
 * The weights magnitude pruning removes entries of (TF-MOT's prune registry): kernels of Dense, Conv*,
 * the depthwise and pointwise kernels of separable convolutions, recurrent kernels and embeddings. Biases,
 * normalization parameters and the like are never pruned.
 */
export const PRUNABLE_WEIGHTS: readonly string[] = [
  'kernel',
  'depthwise_kernel',
  'pointwise_kernel',
  'recurrent_kernel',
  'embeddings',
];

/** The short name of a weight ('kernel' for 'dense_1/kernel'). */
export const weightShortName = (v: Variable): string => v.name.slice(v.name.lastIndexOf('/') + 1);

/** A layer's weights that magnitude pruning applies to (the layer must be built). */
export function prunableWeights(layer: Layer): Variable[] {
  return layer.weights.filter((v) => PRUNABLE_WEIGHTS.includes(weightShortName(v)));
}

export interface PruneLowMagnitudeArgs extends LayerArgs {
  /** The layer to prune (or its saved entry); it keeps its name, so its weights load by name. */
  layer: Layer | LayerEntry;
  pruningSchedule: PruningSchedule | PruningScheduleConfig;
  /**
   * Prune with one magnitude threshold over every globally pruned layer of the model (all must share the
   * schedule), instead of each layer to the sparsity on its own. Default false.
   */
  globalPruning?: boolean;
}

/** The step counter as saved: a float scalar, exact up to 2^24 steps in float32. */
const STEP_WEIGHT = 'pruning_step';

export class PruneLowMagnitude extends Layer {
  static override readonly className: string = 'PruneLowMagnitude';
  readonly layer: Layer;
  readonly pruningSchedule: PruningSchedule;
  readonly globalPruning: boolean;
  /** The pruned weights of the wrapped layer, and per weight its mask and threshold (set by build). */
  private pruned: { weight: Variable; mask: Variable; threshold: Variable }[] = [];
  private step?: Variable;
  /**
   * Set by UpdatePruningStep between onBatchBegin and onBatchEnd: a training call outside that window
   * means the callback is missing, and the layer would silently not be pruned.
   */
  private inStep = false;

  constructor(args: PruneLowMagnitudeArgs) {
    const inner = args?.layer instanceof Layer ? args.layer : undefined;
    // The wrapper takes the wrapped layer's input shape and dtype, so it can open a Sequential.
    super({
      batchInputShape: inner?.batchInputShape,
      dtype: inner?.dtype,
      ...args,
      name: args?.name ?? (inner ? `prune_low_magnitude_${inner.name}` : undefined),
    });
    if (!args?.layer) throw new ArgumentError(`${who(this)}: a layer to prune is required`);
    if (args.layer instanceof PruneLowMagnitude)
      throw new ArgumentError(`${who(this)}: layer '${args.layer.layer.name}' is already wrapped for pruning`);
    const entry = args.layer instanceof Layer ? undefined : layerEntry(args.layer);
    this.layer =
      inner ?? layerFromConfig({ className: entry!.className, config: { ...entry!.config, dtype: this.dtype } });
    this.pruningSchedule = toPruningSchedule(args.pruningSchedule, who(this));
    if (args.globalPruning !== undefined && typeof args.globalPruning !== 'boolean')
      throw new ArgumentError(`${who(this)}: globalPruning must be true or false, got ${fmtValue(args.globalPruning)}`);
    this.globalPruning = args.globalPruning ?? false;
    this.supportsMasking = this.layer.supportsMasking;
    if (this.layer.built) this.checkPrunable();
  }

  /** The wrapped layer's prunable weights; none is an error naming the layer (it cannot be pruned). */
  private checkPrunable(): Variable[] {
    const found = prunableWeights(this.layer);
    if (found.length === 0)
      throw new ArgumentError(
        `${who(this)}: ${who(this.layer)} has no weight to prune (prunable: ${PRUNABLE_WEIGHTS.join(', ')}; ` +
          `its weights: ${this.layer.weights.map(weightShortName).join(', ') || 'none'})`,
      );
    return found;
  }

  override build(inputShape: SymShape | SymShape[]): void {
    buildSublayer(this.layer, inputShape);
    this.pruned = this.checkPrunable().map((weight) => {
      const short = weightShortName(weight);
      return {
        weight,
        mask: this.addWeight(`${short}_mask`, weight.shape, 'ones', { trainable: false }),
        threshold: this.addWeight(`${short}_threshold`, [], 'zeros', { trainable: false }),
      };
    });
    this.step = this.addWeight(STEP_WEIGHT, [], 'zeros', { trainable: false });
  }

  override computeMask(inputs: Tensor | Tensor[], mask: MaskArg | undefined): MaskArg | undefined {
    return this.layer.computeMask(inputs, mask);
  }

  override get callOptionNames(): readonly string[] {
    return this.layer.callOptionNames;
  }

  override call(inputs: Tensor | Tensor[], ctx: CallContext, mask?: MaskArg): Tensor | Tensor[] {
    if (ctx.training && !this.inStep)
      throw new ArgumentError(
        `${who(this)}: training a pruned layer needs the UpdatePruningStep callback, which updates the masks ` +
          'and keeps the pruned weights at zero; pass callbacks: [new compress.UpdatePruningStep()] to fit ' +
          "(as TF-MOT's prune_low_magnitude requires)",
      );
    // The kernels are kept masked by the callback (before the step and after the optimizer's update),
    // so the wrapped layer computes with exact zeros where the mask is 0.
    return this.layer.apply(inputs, { ...ctx, ...this.callOptions, mask: mask ?? null });
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    return this.layer.computeOutputShape(inputShape);
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      layer: layerEntry(this.layer),
      pruningSchedule: this.pruningSchedule.getConfig(),
      globalPruning: this.globalPruning,
    };
  }

  // ---- What UpdatePruningStep drives ----

  /** The step the next training batch runs as (0 before any); saved with the model, so pruning resumes. */
  get pruningStep(): number {
    return this.step ? this.step.value.item() : 0;
  }
  set pruningStep(step: number) {
    this.step?.assign(full([], step, this.dtype));
  }

  /** The weights this wrapper prunes with their current values (empty before build). */
  get prunedWeights(): readonly Variable[] {
    return this.pruned.map((p) => p.weight);
  }

  /** Opens (true) or closes (false) a training step: training calls are refused outside one. */
  setInStep(open: boolean): void {
    this.inStep = open;
  }

  /** New masks from the weights' magnitudes at this sparsity, each weight on its own (per-layer pruning). */
  updateMasks(sparsity: number): void {
    for (const p of this.pruned) {
      const { masks, threshold } = magnitudeMasks(
        [{ name: p.weight.name, values: p.weight.value.dataSync() }],
        sparsity,
      );
      this.setMask(p.weight, masks[0], threshold);
    }
  }

  /** Sets the mask of one of the pruned weights (global pruning computes them over several layers). */
  setMask(weight: Variable, keep: Uint8Array, threshold: number): void {
    const p = this.pruned.find((q) => q.weight === weight);
    if (!p) throw new ArgumentError(`${who(this)}: '${weight.name}' is not one of its pruned weights`);
    const data = allocArray(this.dtype, keep.length);
    for (let i = 0; i < keep.length; i++) data[i] = keep[i];
    p.mask.assign(fromTypedArray(data, p.weight.shape));
    p.threshold.assign(full([], threshold, this.dtype));
  }

  /** weight = weight * mask, written so that pruned entries are +0 exactly (never -0 or NaN * 0). */
  applyMasks(): void {
    for (const p of this.pruned) {
      const w = p.weight.value.dataSync();
      const m = p.mask.value.dataSync();
      const out = allocArray(p.weight.dtype, w.length);
      for (let i = 0; i < w.length; i++) out[i] = m[i] !== 0 ? w[i] : 0;
      p.weight.assign(fromTypedArray(out, p.weight.shape));
    }
  }
}

registerLayer(PruneLowMagnitude);
