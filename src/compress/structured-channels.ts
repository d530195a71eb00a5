// Which channels survive structured pruning, followed through a model's graph: the removed units or filters of
// the pruned layers, carried through the layers that act per channel, to the layers that consume them.
import { ArgumentError } from '../errors.js';
import type { Layer } from '../nn/layer.js';
import type { GraphTensor, LayerCall, ModelGraph } from './structured-graph.js';

/**
 * The entries of a tensor's last (channel) axis that survive: `keep` (ascending) out of `size`, and the pruned
 * layers whose removals they carry (for error messages). No entry in a map of these means all channels survive.
 */
export interface KeptChannels {
  readonly size: number;
  readonly keep: readonly number[];
  readonly from: readonly string[];
}

/** The layers whose units (Dense) or filters (convolutions) structured pruning removes: their config key. */
export const PRUNABLE: Readonly<Record<string, 'units' | 'filters'>> = {
  Dense: 'units',
  Conv1D: 'filters',
  Conv2D: 'filters',
  SeparableConv2D: 'filters',
};

/** The weight of each prunable layer whose last axis is its units or filters (what ranks them). */
export const UNIT_KERNEL: Readonly<Record<string, string>> = {
  Dense: 'kernel',
  Conv1D: 'kernel',
  Conv2D: 'kernel',
  SeparableConv2D: 'pointwise_kernel',
};

/**
 * What pruning does to one layer: the kept entries of its input's channel axis, of its own units or filters (a
 * pruned layer), and of its output's channel axis (its own, or its input's carried through).
 */
export interface LayerSlices {
  readonly input?: KeptChannels;
  readonly own?: KeptChannels;
  readonly output?: KeptChannels;
}

/** Activations that act on each entry alone (activation(x) of one channel does not read the others). */
const ELEMENTWISE_ACTIVATIONS = new Set([
  'linear', 'relu', 'sigmoid', 'tanh', 'gelu', 'leakyRelu', 'elu', 'selu', 'swish', 'silu', 'softplus', 'relu6',
  'mish', 'hardSwish', 'hardSilu', 'logSigmoid', 'softsign',
]); // prettier-ignore

/** Layers without weights that act on each channel alone (channels last): kept channels pass through them. */
const PER_CHANNEL = new Set([
  'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'MaxPooling1D',
  'MaxPooling2D', 'AveragePooling1D', 'AveragePooling2D', 'GlobalAveragePooling1D', 'GlobalAveragePooling2D',
  'GlobalMaxPooling1D', 'GlobalMaxPooling2D', 'ZeroPadding1D', 'ZeroPadding2D', 'Cropping1D', 'Cropping2D',
  'UpSampling1D', 'UpSampling2D', 'ReLU', 'LeakyReLU', 'ELU', 'Activation',
]); // prettier-ignore

/** Merges whose inputs must keep the same channels (the elementwise ones). */
const ELEMENTWISE_MERGES = new Set(['Add', 'Subtract', 'Multiply', 'Average', 'Maximum', 'Minimum']);

const who = (layer: Layer) => `${layer.className} '${layer.name}'`;
const sources = (ks: readonly (KeptChannels | undefined)[]) => [...new Set(ks.flatMap((k) => k?.from ?? []))];
const quoted = (names: readonly string[]) => names.map((n) => `'${n}'`).join(', ');

function refuse(op: string, layer: Layer, carried: readonly (KeptChannels | undefined)[], why: string): never {
  throw new ArgumentError(
    `${op}: ${who(layer)} ${why}, so the units or filters removed from ${quoted(sources(carried))} cannot be ` +
      `carried through it; leave ${quoted(sources(carried))} whole (the exclude option) or prune other layers`,
  );
}

function sameKept(a: KeptChannels | undefined, b: KeptChannels | undefined): boolean {
  if (!a || !b) return a === b;
  return a.size === b.size && a.keep.length === b.keep.length && a.keep.every((v, i) => v === b.keep[i]);
}

/** The last axis of a tensor, which must be known to say which of its channels survive. */
function channels(op: string, layer: Layer, t: GraphTensor): number {
  const c = t.shape[t.shape.length - 1];
  if (typeof c !== 'number')
    throw new ArgumentError(`${op}: ${who(layer)} has an input whose channel axis is unknown (${t.shape.join(', ')})`);
  return c;
}

/** Whether a config option is absent or has the channels-last value. */
const channelsLast = (config: Record<string, unknown>) =>
  config.dataFormat === undefined || config.dataFormat === 'channelsLast' || config.dataFormat === 'channels_last';

/** The index a possibly negative axis names, in a tensor of `rank` axes. */
const axisOf = (axis: unknown, rank: number) => (typeof axis === 'number' && axis < 0 ? axis + rank : axis);

/** A depthwise convolution's output channels: input channel c makes channels c * m .. c * m + m - 1. */
export function depthwiseKept(kept: KeptChannels, m: number): KeptChannels {
  const keep = kept.keep.flatMap((c) => Array.from({ length: m }, (_, j) => c * m + j));
  return { size: kept.size * m, keep, from: kept.from };
}

/** Flatten of [batch, ...spatial, C] (channels last): channel c at position p lands at p * C + c. */
function flattened(op: string, layer: Layer, t: GraphTensor, kept: KeptChannels): KeptChannels {
  const spatial = t.shape.slice(1, -1);
  if (spatial.some((d) => d === null))
    refuse(op, layer, [kept], `flattens an input of unknown spatial size (${t.shape.join(', ')})`);
  const positions = (spatial as number[]).reduce((a, b) => a * b, 1);
  const keep: number[] = [];
  for (let p = 0; p < positions; p++) for (const c of kept.keep) keep.push(p * kept.size + c);
  return { size: positions * kept.size, keep, from: kept.from };
}

/** Concatenation on the channel axis: each input's kept channels, offset by the channels before it. */
function concatenated(op: string, call: LayerCall, ins: readonly (KeptChannels | undefined)[]): KeptChannels {
  const keep: number[] = [];
  let offset = 0;
  call.inputs.forEach((t, i) => {
    const size = channels(op, call.layer, t);
    const kept = ins[i]?.keep ?? Array.from({ length: size }, (_, c) => c);
    for (const c of kept) keep.push(offset + c);
    offset += size;
  });
  return { size: offset, keep, from: sources(ins) };
}

/**
 * The kept channels of one call's outputs, given those of its inputs and (for a pruned layer) its own. Throws
 * an ArgumentError naming the layer for anything that would not compute the same function on the kept channels.
 */
function carry(
  op: string,
  call: LayerCall,
  ins: readonly (KeptChannels | undefined)[],
  own: KeptChannels | undefined,
): (KeptChannels | undefined)[] {
  const { layer } = call;
  const config = layer.getConfig();
  const kind = layer.className;
  const carried = ins.filter((k) => k !== undefined);
  if (own && config.activation === 'softmax')
    throw new ArgumentError(`${op}: ${who(layer)} ends in a softmax over its units, which pruning would change`);
  if (PRUNABLE[kind] && (config.groups ?? 1) !== 1 && (own || carried.length))
    throw new ArgumentError(`${op}: ${who(layer)} has groups ${config.groups}; grouped convolutions are not pruned`);
  if (carried.length === 0) return call.outputs.map(() => own);
  const rank = call.inputs[0].shape.length;
  if (PRUNABLE[kind]) return [own];
  if (kind === 'BatchNormalization') {
    if (axisOf(config.axis, rank) !== rank - 1) refuse(op, layer, ins, `normalises axis ${config.axis}, not channels`);
    return [ins[0]];
  }
  if (kind === 'DepthwiseConv2D') {
    if (!ELEMENTWISE_ACTIVATIONS.has(String(config.activation)))
      refuse(op, layer, ins, `applies '${config.activation}', which mixes channels`);
    return [depthwiseKept(ins[0]!, Number(config.depthMultiplier))];
  }
  if (kind === 'Flatten') return [rank <= 2 ? ins[0] : flattened(op, layer, call.inputs[0], ins[0]!)];
  if (kind === 'Concatenate') {
    if (axisOf(config.axis, rank) === rank - 1) return [concatenated(op, call, ins)];
    if (ins.every((k) => sameKept(k, ins[0]))) return [ins[0]];
    refuse(op, layer, ins, `joins inputs that keep different channels along axis ${config.axis}`);
  }
  if (ELEMENTWISE_MERGES.has(kind)) {
    if (ins.every((k) => sameKept(k, ins[0]))) return [ins[0]];
    refuse(op, layer, ins, 'adds or multiplies its inputs channel by channel, and they would keep different channels');
  }
  if (PER_CHANNEL.has(kind)) {
    if (!channelsLast(config)) refuse(op, layer, ins, `is channels-first (dataFormat ${config.dataFormat})`);
    if (kind === 'Activation' && !ELEMENTWISE_ACTIVATIONS.has(String(config.activation)))
      refuse(op, layer, ins, `applies '${config.activation}', which mixes channels`);
    return [ins[0]];
  }
  refuse(op, layer, ins, 'is not a layer that structured pruning knows to act channel by channel');
}

/**
 * Follows the kept channels from the pruned layers (`own`, by layer) through the graph; returns each layer's
 * slices. Refuses (naming the layer) a layer called several times with different slices, and any pruned channel
 * that reaches a model output: the output layer's units are never pruned.
 */
export function followChannels(
  op: string,
  graph: ModelGraph,
  own: ReadonlyMap<Layer, KeptChannels>,
): Map<Layer, LayerSlices> {
  const kept = new Map<number, KeptChannels>();
  const slices = new Map<Layer, LayerSlices>();
  for (const call of graph.calls) {
    const ins = call.inputs.map((t) => kept.get(t.id));
    const mine = own.get(call.layer);
    const outs = carry(op, call, ins, mine);
    call.outputs.forEach((t, i) => outs[i] && kept.set(t.id, outs[i]!));
    const slice: LayerSlices = { input: ins[0], own: mine, output: outs[0] };
    const before = slices.get(call.layer);
    if (before && !(sameKept(before.input, slice.input) && sameKept(before.output, slice.output)))
      throw new ArgumentError(
        `${op}: ${who(call.layer)} is called more than once, on inputs that keep different channels`,
      );
    slices.set(call.layer, slice);
  }
  for (const t of graph.outputs) {
    const k = kept.get(t.id);
    if (k)
      throw new ArgumentError(
        `${op}: the units or filters removed from ${quoted(k.from)} would reach the model's output, whose ` +
          `units are never pruned; leave ${quoted(k.from)} whole`,
      );
  }
  for (const [layer, slice] of slices) if (!slice.input && !slice.output) slices.delete(layer);
  return slices;
}

/**
 * Whether the channels of `layer`'s output reach a model output without passing a layer that consumes them
 * (a Dense or convolution): such a layer is an output layer, whose units are never pruned.
 */
export function feedsOutput(graph: ModelGraph, layer: Layer): boolean {
  const reached = new Set<number>();
  for (const call of graph.calls) {
    if (call.layer === layer) call.outputs.forEach((t) => reached.add(t.id));
    else if (!PRUNABLE[call.layer.className] && call.inputs.some((t) => reached.has(t.id)))
      call.outputs.forEach((t) => reached.add(t.id));
  }
  return graph.outputs.some((t) => reached.has(t.id));
}
