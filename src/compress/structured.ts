// Structured pruning (torch.nn.utils.prune.ln_structured's ranking, but the layers shrink): removes whole Dense
// units and convolution filters of smallest norm and slices the layers that read them, giving a smaller model.
import { ArgumentError } from '../errors.js';
import { layerFromConfig, type Layer, type LayerConfig } from '../nn/layer.js';
import { gather } from '../ops/indexing.js';
import { noGrad } from '../autograd/tape.js';
import { tidy } from '../tensor/storage.js';
import { bytesPerElement } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkOptions, optionKeys } from '../registry.js';
import { Model } from '../train/model.js';
import { modelGraph, type ModelGraph } from './structured-graph.js';
import {
  PRUNABLE,
  UNIT_KERNEL,
  depthwiseKept,
  feedsOutput,
  followChannels,
  type KeptChannels,
  type LayerSlices,
} from './structured-channels.js';

const OP = 'pruneStructured';

/** How units and filters are ranked: the L1 or L2 norm of each one's kernel slice (its incoming weights). */
export type StructuredCriterion = 'l1' | 'l2';

export interface PruneStructuredOptions {
  /**
   * The fraction of units or filters, in [0, 1), removed from every Dense, Conv1D, Conv2D and SeparableConv2D
   * layer (rounded half up; one always stays), except the output layer (whose channels reach a model output) and
   * layers whose channels could not be carried through what reads them (a residual Add, a grouped convolution):
   * those are listed in the report's `skipped`, with the reason. perLayer names a layer to have an error instead.
   */
  ratio?: number;
  /**
   * By layer name: a fraction in [0, 1) of its units or filters to remove, or an integer >= 1 of them to keep.
   * It overrides ratio for those layers; without ratio, only these layers are pruned.
   */
  perLayer?: Record<string, number>;
  /** The norm that ranks units and filters: 'l1' (default) or 'l2'. The smallest are removed. */
  criterion?: StructuredCriterion;
  /** Layers that ratio leaves whole (by name). */
  exclude?: readonly string[];
}

const OPTIONS = optionKeys<PruneStructuredOptions>({ ratio: true, perLayer: true, criterion: true, exclude: true });

/** One layer whose weights changed shape: pruned, or sliced where it reads pruned channels. */
export interface StructuredLayerReport {
  name: string;
  className: string;
  /** Output channels: units of a Dense, filters of a convolution, features of a BatchNormalization. */
  channelsBefore: number;
  channelsAfter: number;
  /** Indices (ascending, in the original layer) of the output channels removed; empty for a layer only sliced. */
  removed: number[];
  paramsBefore: number;
  paramsAfter: number;
}

/** What pruneStructured did, as plain data (for the run record and the card). */
export interface StructuredPruningReport {
  criterion: StructuredCriterion;
  layers: StructuredLayerReport[];
  /** Prunable layers that ratio left whole, and why. */
  skipped: { name: string; reason: string }[];
  paramsBefore: number;
  paramsAfter: number;
  /** Bytes of all weights. */
  bytesBefore: number;
  bytesAfter: number;
}

export interface StructuredPruning<M extends Model> {
  /** A new model (uncompiled, as cloneModel's), its weights copied and sliced from the original's. */
  model: M;
  report: StructuredPruningReport;
}

/** The norm of each unit's (last axis entry's) slice of a kernel [..., units]. */
export function unitNorms(kernel: Tensor, criterion: StructuredCriterion): Float64Array {
  const units = kernel.shape[kernel.rank - 1];
  const data = kernel.dataSync();
  const norms = new Float64Array(units);
  for (let i = 0; i < data.length; i++) {
    const w = Number(data[i]);
    norms[i % units] += criterion === 'l1' ? Math.abs(w) : w * w;
  }
  if (criterion === 'l2') for (let u = 0; u < units; u++) norms[u] = Math.sqrt(norms[u]);
  return norms;
}

/**
 * The `count` units of largest norm, in ascending index order. Ties keep the lower index, so the choice is
 * deterministic.
 */
export function largestUnits(norms: ArrayLike<number>, count: number): number[] {
  const order = Array.from({ length: norms.length }, (_, i) => i).sort((a, b) => norms[b] - norms[a] || a - b);
  return order.slice(0, count).sort((a, b) => a - b);
}

/** How many of `units` a layer keeps under a fraction removed or a count kept. */
function keepCount(layer: Layer, units: number, spec: unknown, option: string): number {
  if (typeof spec !== 'number' || !Number.isFinite(spec) || spec < 0 || (spec >= 1 && !Number.isInteger(spec)))
    throw new ArgumentError(
      `${OP}: ${option} for ${layer.className} '${layer.name}' must be a fraction in [0, 1) to remove or an ` +
        `integer >= 1 to keep, got ${JSON.stringify(spec)}`,
    );
  if (spec >= 1 && spec > units)
    throw new ArgumentError(
      `${OP}: ${option} asks ${layer.className} '${layer.name}' to keep ${spec} of its ${units} units or filters`,
    );
  return spec >= 1 ? spec : Math.max(1, units - Math.round(spec * units));
}

/** The weight whose last axis holds a prunable layer's units or filters. */
function kernelOf(layer: Layer): Tensor {
  const kernel = layer.weights.find((v) => v.name === `${layer.name}/${UNIT_KERNEL[layer.className]}`);
  if (!kernel) throw new ArgumentError(`${OP}: ${layer.className} '${layer.name}' is not built (it has no kernel)`);
  return kernel.value;
}

/** Why pruning `layer` alone would be refused (what the ArgumentError says), or undefined when it would not. */
function refusal(graph: ModelGraph, layer: Layer, units: number): string | undefined {
  try {
    followChannels(OP, graph, new Map([[layer, { size: units, keep: [0], from: [layer.name] }]]));
    return undefined;
  } catch (e) {
    if (e instanceof ArgumentError) return e.message.replace(`${OP}: `, '');
    throw e;
  }
}

/**
 * The layers to prune and how many units each keeps. Under ratio, the output layer and the layers whose channels
 * cannot be carried through what reads them are left whole, listed in `skipped` with the reason.
 */
function choose(
  graph: ModelGraph,
  layers: readonly Layer[],
  options: PruneStructuredOptions,
): { counts: Map<Layer, number>; skipped: { name: string; reason: string }[] } {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const perLayer = options.perLayer ?? {};
  const exclude = new Set(options.exclude ?? []);
  for (const name of [...Object.keys(perLayer), ...exclude]) {
    const layer = byName.get(name);
    if (!layer) throw new ArgumentError(`${OP}: no layer named '${name}'; layers: ${[...byName.keys()].join(', ')}`);
    if (!PRUNABLE[layer.className])
      throw new ArgumentError(
        `${OP}: ${layer.className} '${name}' is not prunable; units and filters are removed from ` +
          `${Object.keys(PRUNABLE).join(', ')} layers`,
      );
    if (exclude.has(name) && name in perLayer)
      throw new ArgumentError(`${OP}: layer '${name}' is both in perLayer and in exclude`);
  }
  const counts = new Map<Layer, number>();
  const skipped: { name: string; reason: string }[] = [];
  for (const layer of layers) {
    if (!PRUNABLE[layer.className]) continue;
    const units = kernelOf(layer).shape.at(-1)!;
    if (layer.name in perLayer) {
      counts.set(layer, keepCount(layer, units, perLayer[layer.name], 'perLayer'));
      continue;
    }
    if (options.ratio === undefined || exclude.has(layer.name)) continue;
    const count = keepCount(layer, units, options.ratio, 'ratio');
    const why = feedsOutput(graph, layer) ? 'output layer' : refusal(graph, layer, units);
    if (why) skipped.push({ name: layer.name, reason: why });
    else counts.set(layer, count);
  }
  return { counts, skipped };
}

/**
 * The entries kept of each axis of a weight, by its name: a kernel's input rows and unit columns, a depthwise
 * kernel's input channels, a pointwise kernel's depthwise outputs and filters, a bias and BatchNormalization's
 * gamma, beta and moving statistics (all [channels]) follow the layer's output.
 */
function weightAxes(layer: Layer, weight: string, rank: number, slice: LayerSlices): [number, KeptChannels?][] {
  const m = Number(layer.getConfig().depthMultiplier ?? 1);
  if (weight === 'kernel' && PRUNABLE[layer.className])
    return [
      [rank - 2, slice.input],
      [rank - 1, slice.own],
    ];
  if (weight === 'depthwise_kernel') return [[2, slice.input]];
  if (weight === 'pointwise_kernel')
    return [
      [2, slice.input && depthwiseKept(slice.input, m)],
      [3, slice.own],
    ];
  const perChannel = ['bias', 'gamma', 'beta', 'moving_mean', 'moving_variance'];
  if (perChannel.includes(weight) && (PRUNABLE[layer.className] || slice.output)) return [[0, slice.output]];
  throw new ArgumentError(`${OP}: ${layer.className} '${layer.name}' has weight '${weight}', which it cannot slice`);
}

/** The layer's weights with the pruned entries removed. */
function slicedWeights(layer: Layer, slice: LayerSlices): Tensor[] {
  return layer.weights.map((v) =>
    tidy(() => {
      let t = v.value;
      for (const [axis, kept] of weightAxes(layer, v.name.slice(layer.name.length + 1), t.rank, slice))
        if (kept) t = gather(t, kept.keep, axis);
      return t === v.value ? t.clone() : t;
    }),
  );
}

const removedOf = (k: KeptChannels | undefined): number[] => {
  if (!k) return [];
  const keep = new Set(k.keep);
  return Array.from({ length: k.size }, (_, i) => i).filter((i) => !keep.has(i));
};

const bytesOf = (layer: Layer) => layer.weights.reduce((s, v) => s + v.value.size * bytesPerElement(v.dtype), 0);

/**
 * A new model with whole units (Dense) and filters (Conv1D, Conv2D, SeparableConv2D) removed: in each chosen layer
 * the ones whose kernel slice has the smallest norm. The layers reading them shrink to match: the next Dense or
 * convolution loses the matching input rows (after a Flatten, those of every spatial position, channels last), a
 * BatchNormalization or DepthwiseConv2D between them its entries; pooling, dropout, padding and elementwise
 * activations pass channels through, Concatenate on the channel axis offsets them. Anything else a pruned channel
 * would reach (Add of branches keeping different channels, Reshape, Softmax, a model output) is refused with an
 * ArgumentError naming the layer. The original model is left as it was.
 */
export function pruneStructured<M extends Model>(model: M, options: PruneStructuredOptions): StructuredPruning<M> {
  if (!(model instanceof Model)) throw new ArgumentError(`${OP}: expected a Sequential or functional model`);
  checkOptions(OP, options, OPTIONS);
  if (options.ratio === undefined && options.perLayer === undefined)
    throw new ArgumentError(`${OP}: give ratio (for every prunable layer) or perLayer (by layer name)`);
  const criterion = options.criterion ?? 'l1';
  if (criterion !== 'l1' && criterion !== 'l2')
    throw new ArgumentError(`${OP}: criterion must be 'l1' or 'l2', got ${JSON.stringify(criterion)}`);
  const graph = modelGraph(model, OP);
  const layers = model.layers;
  const { counts, skipped } = choose(graph, layers, options);
  const own = new Map<Layer, KeptChannels>();
  for (const [layer, count] of counts) {
    const norms = unitNorms(kernelOf(layer), criterion);
    if (count < norms.length)
      own.set(layer, { size: norms.length, keep: largestUnits(norms, count), from: [layer.name] });
  }
  const slices = followChannels(OP, graph, own);

  const config = model.getConfig() as LayerConfig & { layers: { config: LayerConfig }[] };
  const entries = config.layers.map((entry) => {
    const layer = layers.find((l) => l.name === entry.config.name);
    const kept = layer && own.get(layer);
    return kept ? { ...entry, config: { ...entry.config, [PRUNABLE[layer.className]]: kept.keep.length } } : entry;
  });
  const pruned = layerFromConfig({ className: model.className, config: { ...config, layers: entries } }) as M;
  const report: StructuredLayerReport[] = [];
  noGrad(() => {
    for (const layer of layers) {
      const target = pruned.getLayer(layer.name);
      const slice = layer.weights.length > 0 ? slices.get(layer) : undefined; // pooling, dropout: nothing to slice
      const values = slice ? slicedWeights(layer, slice) : layer.getWeights();
      target.setWeights(values);
      values.forEach((t) => t.dispose());
      if (!slice) continue;
      const channels = slice.output;
      const before = channels?.size ?? kernelOf(layer).shape.at(-1)!;
      report.push({
        name: layer.name,
        className: layer.className,
        channelsBefore: before,
        channelsAfter: channels?.keep.length ?? before,
        removed: removedOf(channels),
        paramsBefore: layer.countParams(),
        paramsAfter: target.countParams(),
      });
    }
  });
  return {
    model: pruned,
    report: {
      criterion,
      layers: report,
      skipped,
      paramsBefore: model.countParams(),
      paramsAfter: pruned.countParams(),
      bytesBefore: bytesOf(model),
      bytesAfter: bytesOf(pruned),
    },
  };
}
