// pruneLowMagnitude and stripPruning on whole models (TF-MOT's prune_low_magnitude / strip_pruning), and the
// pruning report: per layer, how many kernel entries are zero.
import { ArgumentError, fmtValue } from '../errors.js';
import { Layer, SymbolicTensor } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { Sequential } from '../train/sequential.js';
import { checkOptions, optionKeys } from '../registry.js';
import { PruneLowMagnitude, prunableWeights, weightShortName } from './prune-low-magnitude.js';
import type { PruningSchedule, PruningScheduleConfig } from './pruning-schedule.js';

export interface PruneOptions {
  pruningSchedule: PruningSchedule | PruningScheduleConfig;
  /**
   * The names of the layers to prune (a model only). Default: every layer with a prunable weight (kernel,
   * depthwise / pointwise / recurrent kernel, embeddings); a named layer without one is an error.
   */
  layers?: readonly string[];
  /** One magnitude threshold over all the pruned layers' kernels instead of each layer on its own. */
  globalPruning?: boolean;
}

const PRUNE_OPTIONS = optionKeys<PruneOptions>({ pruningSchedule: true, layers: true, globalPruning: true });

/**
 * A model (or layer) whose prunable layers are wrapped in PruneLowMagnitude, as TF-MOT's prune_low_magnitude:
 * the new model shares the original's layers and weights. Compile it, then fit with the UpdatePruningStep
 * callback; stripPruning(pruned) gives the plain model for export. A Layer gives its wrapper (for building a
 * model layer by layer); a Sequential or functional Model gives a model of the same kind.
 */
export function pruneLowMagnitude<T extends Layer>(target: T, options: PruneOptions): T extends Model ? T : Layer;
export function pruneLowMagnitude(target: Layer, options: PruneOptions): Layer {
  checkOptions('pruneLowMagnitude', options, PRUNE_OPTIONS);
  if (!options?.pruningSchedule) throw new ArgumentError('pruneLowMagnitude: options.pruningSchedule is required');
  const { pruningSchedule, globalPruning } = options;
  if (!(target instanceof Model)) {
    if (options.layers !== undefined)
      throw new ArgumentError('pruneLowMagnitude: layers (names to prune) applies to a model, not to one layer');
    if (!(target instanceof Layer)) throw new ArgumentError(`pruneLowMagnitude: expected a Layer or Model`);
    return new PruneLowMagnitude({ layer: target, pruningSchedule, globalPruning });
  }
  const chosen = chosenLayers(target, options.layers);
  return replaceLayers(target, 'pruneLowMagnitude', (layer) =>
    chosen.has(layer) ? new PruneLowMagnitude({ layer, pruningSchedule, globalPruning }) : layer,
  );
}

/** The layers of `model` to wrap: those named (each must be prunable), or every prunable one. */
function chosenLayers(model: Model, names: readonly string[] | undefined): Set<Layer> {
  const top = model.layers;
  const prunable = (l: Layer) => !(l instanceof PruneLowMagnitude) && l.built && prunableWeights(l).length > 0;
  for (const l of top)
    if (l instanceof Model && prunable(l))
      throw new ArgumentError(
        `pruneLowMagnitude: layer '${l.name}' of model '${model.name}' is a nested model; prune it on its own ` +
          '(pruneLowMagnitude(inner)) and build the outer model from the result',
      );
  if (!top.every((l) => l.built))
    throw new ArgumentError(
      `pruneLowMagnitude: model '${model.name}' is not built; give its first layer an inputShape or call ` +
        'model.build() first, so that its kernels exist',
    );
  if (names === undefined) {
    const all = top.filter(prunable);
    if (all.length === 0)
      throw new ArgumentError(`pruneLowMagnitude: model '${model.name}' has no layer with a weight to prune`);
    return new Set(all);
  }
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw new ArgumentError(`pruneLowMagnitude: layers must be a list of layer names, got ${fmtValue(names)}`);
  return new Set(
    names.map((name) => {
      const layer = model.getLayer(name);
      if (layer instanceof PruneLowMagnitude)
        throw new ArgumentError(`pruneLowMagnitude: layer '${name}' is already wrapped for pruning`);
      if (!prunable(layer))
        throw new ArgumentError(
          `pruneLowMagnitude: layer '${name}' (${layer.className}) has no weight to prune; prunable layers of ` +
            `model '${model.name}': ${
              top
                .filter(prunable)
                .map((l) => l.name)
                .join(', ') || 'none'
            }`,
        );
      return layer;
    }),
  );
}

/**
 * The model with each top-level layer replaced by substitute(layer) (the same layer when it returns it): a
 * new Sequential of the layers, or a functional model with the graph replayed through the substitutes.
 */
export function replaceLayers(model: Model, op: string, substitute: (layer: Layer) => Layer): Model {
  if (model instanceof Sequential) {
    const first = model.input ? [model.input] : [];
    return new Sequential({ name: model.name, layers: [...first, ...model.layers.map(substitute)] });
  }
  if (!model.isFunctional)
    throw new ArgumentError(
      `${op}: model '${model.name}' is a subclass model, whose layers cannot be replaced from outside; ` +
        'wrap its layers where its constructor makes them',
    );
  const made = new Map<number, SymbolicTensor>();
  const find = (t: SymbolicTensor) => made.get(t.id) ?? t;
  for (const node of model.graphNodes) {
    const inputs = node.inputs.map(find);
    const out = substitute(node.layer).apply(node.calledWithList ? inputs : inputs[0], { ...node.callArgs });
    const outs = Array.isArray(out) ? out : [out];
    node.outputs.forEach((t, i) => made.set(t.id, outs[i]));
  }
  const outputs = model.outputs.map(find);
  return new Model({
    name: model.name,
    inputs: model.inputs.length > 1 ? model.inputs : model.inputs[0],
    outputs: model.outputs.length > 1 ? outputs : outputs[0],
  });
}

/**
 * The model without its pruning wrappers, as TF-MOT's strip_pruning: the original layer classes holding the
 * masked weights (pruned entries exactly zero), which saves, loads and predicts as an ordinary model. The
 * stripped model shares its layers with the pruned one. A wrapper given alone gives its layer.
 */
export function stripPruning<T extends Layer>(target: T): T extends Model ? T : Layer;
export function stripPruning(target: Layer): Layer {
  if (target instanceof PruneLowMagnitude) {
    if (target.built) target.applyMasks();
    return target.layer;
  }
  if (!(target instanceof Model)) throw new ArgumentError(`stripPruning: expected a Model or a PruneLowMagnitude`);
  for (const l of target.layers)
    if (l instanceof Model && l.flattenLayers().some((x) => x instanceof PruneLowMagnitude))
      throw new ArgumentError(`stripPruning: nested model '${l.name}' holds pruning wrappers; strip it on its own`);
  return replaceLayers(target, 'stripPruning', (layer) =>
    layer instanceof PruneLowMagnitude ? stripPruning(layer) : layer,
  );
}

/** One pruned (or prunable) weight in a PruningReport. */
export interface PrunedWeightReport {
  /** The layer holding the weight ('dense_1'; the wrapped layer's name for a wrapper). */
  layer: string;
  /** The weight's full name ('dense_1/kernel'). */
  weight: string;
  elements: number;
  /** Entries exactly zero. */
  zeros: number;
  /** zeros / elements. */
  sparsity: number;
}

/** What pruning did to a model, as plain data (for the run record and the model card). */
export interface PruningReport {
  weights: PrunedWeightReport[];
  /** Totals over the prunable weights above. */
  elements: number;
  zeros: number;
  sparsity: number;
}

/**
 * The zeros of every prunable weight (kernels; never biases) of a model or layer, pruned, stripped or
 * plain: the sparsity actually reached.
 */
export function pruningReport(target: Layer): PruningReport {
  const weights = prunableWeights(target).map((v) => {
    const data = v.value.dataSync();
    let zeros = 0;
    for (let i = 0; i < data.length; i++) if (data[i] === 0) zeros++;
    const name = v.name;
    const layer = name.slice(0, name.length - weightShortName(v).length - 1);
    return { layer, weight: name, elements: data.length, zeros, sparsity: data.length ? zeros / data.length : 0 };
  });
  const elements = weights.reduce((s, w) => s + w.elements, 0);
  const zeros = weights.reduce((s, w) => s + w.zeros, 0);
  return { weights, elements, zeros, sparsity: elements ? zeros / elements : 0 };
}
