// Keras model configs <-> Candor models: Sequential and functional models as Keras 3 (.keras config.json)
// and Keras 2 / TF.js (legacy .h5 model_config, TF.js modelTopology) write them, with registerKerasLayer()
// to supply a Candor layer for a class Candor does not map (Lambda, custom classes).
import { Layer, type LayerConfig, type Node, type SymbolicTensor } from '../../nn/layer.js';
import '../../nn/layers/index.js'; // registers the built-in layers layerFromConfig makes
import { InputLayer } from '../../nn/input.js';
import { Sequential } from '../../train/sequential.js';
import { Model } from '../../train/model.js';
import { graphFromConfig, type GraphConfig } from '../../train/graph.js';
import { ArgumentError, CandorError, fmtValue } from '../../errors.js';
import { FormatError, InteropError, UnsupportedLayerError } from '../errors.js';
import {
  candorClassOf,
  KERAS_LAYER_CLASSES,
  layerConfigFromKeras,
  layerConfigToKeras,
  makeCheckedLayer,
} from './layer-config.js';
import { camel, isObject, kerasObject, snake, type Json, type JsonObject, type KerasFlavor } from './values.js';

/** Makes the Candor layer that replaces a Keras class, from the Keras layer's config (snake_case, as saved). */
export type KerasLayerFactory = (kerasConfig: JsonObject, entry: JsonObject) => Layer;

const registered = new Map<string, KerasLayerFactory>();

/**
 * Supplies a Candor layer for a Keras class Candor does not map (a Lambda, a custom class): loading a Keras or
 * TF.js model calls `factory` with the layer's saved config. The class name is Keras' class_name (or a Keras 3
 * registered_name, 'package>Class'). Registering a name again replaces its factory.
 */
export function registerKerasLayer(className: string, factory: KerasLayerFactory): void {
  if (typeof className !== 'string' || className === '')
    throw new ArgumentError(`registerKerasLayer: className must be a non-empty string, got ${fmtValue(className)}`);
  if (typeof factory !== 'function')
    throw new ArgumentError(`registerKerasLayer('${className}'): factory must be a function, got ${fmtValue(factory)}`);
  registered.set(className, factory);
}

export interface FromKerasOptions {
  /** Factories for classes Candor does not map, for this call (they win over registerKerasLayer's). */
  customLayers?: Readonly<Record<string, KerasLayerFactory>>;
  /** How errors name the source: 'Keras import' (default), 'TF.js import'. */
  format?: string;
}

/** The class names Keras writes for models (a layer config holding layers). */
export const KERAS_MODEL_CLASSES: readonly string[] = ['Sequential', 'Functional', 'Model'];

interface Ctx {
  readonly format: string;
  readonly custom: Readonly<Record<string, KerasLayerFactory>>;
}

/**
 * A Candor model from a Keras model config: the parsed config.json of a .keras file, the model_config of a legacy
 * .h5 file, or a TF.js modelTopology ({class_name, config}; a JSON string is parsed). Layers are unbuilt-free:
 * the model is built (weights initialized) whenever the config gives its input shape.
 */
export function fromKerasConfig(config: unknown, options: FromKerasOptions = {}): Model {
  const ctx: Ctx = { format: options.format ?? 'Keras import', custom: options.customLayers ?? {} };
  let entry = config;
  if (typeof entry === 'string') {
    try {
      entry = JSON.parse(entry) as unknown;
    } catch (e) {
      throw new FormatError(`${ctx.format}: the model config is not JSON (${(e as Error).message})`);
    }
  }
  let layer: Layer;
  try {
    layer = layerFromKeras(entry as Json, ctx);
  } catch (e) {
    // Shapes that do not fit together, and the like, found while the model is assembled.
    if (e instanceof CandorError && !(e instanceof InteropError) && !(e instanceof FormatError))
      throw new InteropError(`${ctx.format}: ${e.message}`);
    // A typed array too long to make, or a config nested past the stack: no real model (a damaged or hostile file).
    if (e instanceof RangeError)
      throw new FormatError(
        `${ctx.format}: the config cannot be built (shapes too large or nesting too deep: ${e.message})`,
      );
    throw e;
  }
  if (!(layer instanceof Model))
    throw new InteropError(`${ctx.format}: the config describes a ${layer.className} layer, not a model`);
  return layer;
}

function entryParts(entry: Json, ctx: Ctx): { cls: string; config: JsonObject; name: string } {
  if (!isObject(entry) || typeof entry.class_name !== 'string')
    throw new FormatError(`${ctx.format}: expected a layer entry {class_name, config}, got ${fmtValue(entry)}`);
  const config = entry.config;
  // Keras 1-2 Sequential configs may be the bare list of layers.
  if (entry.class_name === 'Sequential' && Array.isArray(config))
    return { cls: 'Sequential', config: { layers: config }, name: 'sequential' };
  if (!isObject(config)) throw new FormatError(`${ctx.format}: layer entry '${entry.class_name}' has no config object`);
  return { cls: entry.class_name, config, name: typeof config.name === 'string' ? config.name : entry.class_name };
}

/** The factory given for this entry's class, by class_name or Keras 3 registered_name. */
function customFactory(entry: JsonObject, ctx: Ctx): KerasLayerFactory | undefined {
  for (const key of [entry.registered_name, entry.class_name])
    if (typeof key === 'string') {
      const f = ctx.custom[key] ?? registered.get(key);
      if (f) return f;
    }
  return undefined;
}

/** A Keras 3 entry of a class defined outside Keras (registered_name 'package>Class', or a module not keras'). */
function isCustomClass(entry: JsonObject): boolean {
  const reg = entry.registered_name;
  const mod = entry.module;
  return (
    (typeof reg === 'string' && reg !== entry.class_name) ||
    (typeof mod === 'string' && mod !== 'keras' && !mod.startsWith('keras.'))
  );
}

function layerFromKeras(entry: Json, ctx: Ctx): Layer {
  const { cls, config, name } = entryParts(entry, ctx);
  const factory = customFactory(entry as JsonObject, ctx);
  if (factory) {
    const layer = factory(config, entry as JsonObject);
    if (!(layer instanceof Layer))
      throw new InteropError(`${ctx.format}: the factory registered for '${cls}' returned ${fmtValue(layer)}`);
    return layer;
  }
  if (isCustomClass(entry as JsonObject))
    throw new UnsupportedLayerError(ctx.format, name, cls, 'a custom class; supply one with registerKerasLayer()');
  if (cls === 'Sequential') return sequentialFromKeras(entry as JsonObject, config, ctx);
  if (KERAS_MODEL_CLASSES.includes(cls)) return functionalFromKeras(config, ctx);
  if (!KERAS_LAYER_CLASSES.includes(candorClassOf(cls)))
    throw new UnsupportedLayerError(ctx.format, name, cls, 'supply a replacement with registerKerasLayer()');
  return makeCheckedLayer(layerConfigFromKeras(cls, config, mappingContext(ctx)), cls, ctx.format);
}

function mappingContext(ctx: Ctx) {
  const mapping = {
    format: ctx.format,
    nested: (entry: JsonObject) => {
      const { cls, config } = entryParts(entry, ctx);
      if (!KERAS_LAYER_CLASSES.includes(candorClassOf(cls)))
        throw new UnsupportedLayerError(ctx.format, String(config.name ?? cls), cls, 'inside a wrapper');
      const mapped = layerConfigFromKeras(cls, config, mapping);
      makeCheckedLayer(mapped, cls, ctx.format).dispose(); // checks every option was kept
      return mapped;
    },
  };
  return mapping;
}

const shapeOf = (v: Json | undefined): (number | null)[] | undefined =>
  Array.isArray(v) && v.every((d) => d === null || typeof d === 'number') ? (v as (number | null)[]) : undefined;

function sequentialFromKeras(entry: JsonObject, config: JsonObject, ctx: Ctx): Sequential {
  if (!Array.isArray(config.layers)) throw new FormatError(`${ctx.format}: Sequential config has no layers list`);
  const layers = withInputLayer(config.layers).map((l) => layerFromKeras(l, ctx));
  const name = typeof config.name === 'string' ? config.name : undefined;
  const model = new Sequential({
    name,
    layers,
    ...(typeof config.trainable === 'boolean' ? { trainable: config.trainable } : {}),
  });
  // Keras 3 records the input shape when no InputLayer carries it.
  const build = isObject(entry.build_config) ? entry.build_config.input_shape : undefined;
  const shape = shapeOf(config.build_input_shape) ?? shapeOf(build);
  if (!model.built && shape && layers.length > 0) model.build(shape);
  return model;
}

/**
 * Keras 2 and TF.js give a Sequential's input shape and dtype to its first layer; an integer dtype there is the
 * input's (token ids for an Embedding), so an InputLayer of that dtype is put first and the layer keeps its own.
 */
function withInputLayer(entries: Json[]): Json[] {
  const first = entries[0];
  if (!isObject(first) || !isObject(first.config)) return entries;
  const { batch_input_shape: shape, dtype, ...rest } = first.config;
  if (shape === undefined || typeof dtype !== 'string' || !/^(u?int\d+|bool|string)$/.test(dtype)) return entries;
  const name = `${typeof rest.name === 'string' ? rest.name : 'layer'}_input`;
  const inputLayer = { class_name: 'InputLayer', config: { name, batch_input_shape: shape, dtype } };
  return [inputLayer, { ...first, config: rest }, ...entries.slice(1)];
}

type Ref = GraphConfig['layers'][number]['inboundNodes'][number][number];

/** [layer, node, index] from Keras 2's [name, node, index, kwargs?] or Keras 3's keras_history. */
function refOf(v: Json, ctx: Ctx): [string, number, number] {
  if (
    !Array.isArray(v) ||
    v.length < 3 ||
    typeof v[0] !== 'string' ||
    !Number.isSafeInteger(v[1]) ||
    !Number.isSafeInteger(v[2])
  )
    throw new FormatError(`${ctx.format}: expected a tensor reference [layer, node, index], got ${fmtValue(v)}`);
  return [v[0], v[1] as number, v[2] as number];
}

/** The call arguments Candor replays (training, the layer's own boolean call options); others are refused. */
function callArgsOf(kwargs: Json | undefined, layerName: string, ctx: Ctx): Record<string, boolean> {
  const out: Record<string, boolean> = {};
  if (kwargs === undefined || kwargs === null) return out;
  if (!isObject(kwargs)) throw new FormatError(`${ctx.format}: layer '${layerName}': call kwargs must be an object`);
  for (const [k, v] of Object.entries(kwargs)) {
    // null is the argument's default (no mask, inherited training); not returning attention scores is too.
    if (v === null || (k === 'return_attention_scores' && v === false)) continue;
    if (typeof v !== 'boolean')
      throw new InteropError(
        `${ctx.format}: layer '${layerName}': the call argument '${k}' = ${fmtValue(v)} cannot be replayed ` +
          '(Candor replays training and boolean call options)',
      );
    out[camel(k)] = v;
  }
  return out;
}

/** Keras 3's {args, kwargs} node: the tensors in args, in order (a list argument is flattened). */
function keras3NodeRefs(node: JsonObject, layerName: string, ctx: Ctx): Ref[] {
  const refs: Ref[] = [];
  const visit = (v: Json): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (v === null) return; // an optional positional argument left out (a mask)
    if (isObject(v) && v.class_name === '__keras_tensor__' && isObject(v.config))
      return void refs.push(refOf(v.config.keras_history, ctx));
    throw new InteropError(
      `${ctx.format}: layer '${layerName}' is called with the non-tensor argument ${fmtValue(v)}; not supported`,
    );
  };
  visit(Array.isArray(node.args) ? node.args : []);
  const args = callArgsOf(node.kwargs, layerName, ctx);
  return Object.keys(args).length > 0 ? refs.map((r) => [...r, args] as Ref) : refs;
}

function inboundNodesOf(entry: JsonObject, layerName: string, ctx: Ctx): Ref[][] {
  const nodes = entry.inbound_nodes ?? [];
  if (!Array.isArray(nodes)) throw new FormatError(`${ctx.format}: layer '${layerName}': inbound_nodes is not a list`);
  return nodes.map((node) => {
    if (isObject(node)) return keras3NodeRefs(node, layerName, ctx);
    if (!Array.isArray(node)) throw new FormatError(`${ctx.format}: layer '${layerName}': bad inbound node`);
    return node.map((ref) => {
      const r = refOf(ref, ctx);
      const args = callArgsOf((ref as Json[])[3], layerName, ctx);
      return (Object.keys(args).length > 0 ? [...r, args] : r) as Ref;
    });
  });
}

/** input_layers / output_layers: a list of refs, or (Keras 3, one tensor) one ref. */
function refList(v: Json | undefined, what: string, ctx: Ctx): [string, number, number][] {
  if (Array.isArray(v) && typeof v[0] === 'string') return [refOf(v, ctx)];
  if (!Array.isArray(v)) throw new FormatError(`${ctx.format}: the functional config's ${what} is not a list`);
  return v.map((r) => refOf(r, ctx));
}

function functionalFromKeras(config: JsonObject, ctx: Ctx): Model {
  if (!Array.isArray(config.layers)) throw new FormatError(`${ctx.format}: functional config has no layers list`);
  const made = new Map<string, Layer>();
  const layers: GraphConfig['layers'] = config.layers.map((entry) => {
    const layer = layerFromKeras(entry, ctx);
    const name = isObject(entry) && typeof entry.name === 'string' ? entry.name : layer.name;
    made.set(name, layer);
    const inbound = inboundNodesOf(entry as JsonObject, name, ctx);
    return { className: layer.className, name, config: { name }, inboundNodes: inbound };
  });
  const graph: GraphConfig = {
    name: typeof config.name === 'string' ? config.name : 'functional',
    layers,
    inputLayers: refList(config.input_layers, 'input_layers', ctx),
    outputLayers: refList(config.output_layers, 'output_layers', ctx),
  };
  let built: { inputs: SymbolicTensor[]; outputs: SymbolicTensor[] };
  try {
    built = graphFromConfig(graph, (e) => made.get(e.name)!);
  } catch (e) {
    if (e instanceof ArgumentError) throw new InteropError(`${ctx.format}: ${e.message}`);
    throw e;
  }
  return new Model({
    name: graph.name,
    inputs: built.inputs.length === 1 ? built.inputs[0] : built.inputs,
    outputs: built.outputs.length === 1 ? built.outputs[0] : built.outputs,
    ...(typeof config.trainable === 'boolean' ? { trainable: config.trainable } : {}),
  });
}

// ---- Candor -> Keras ----

export interface ToKerasOptions {
  /** 'keras3' (default): what a .keras file's config.json holds. 'keras2': legacy .h5 and TF.js modelTopology. */
  flavor?: KerasFlavor;
}

/** Classes Keras calls with positional tensors (Keras 3 args [q, v]) where Candor takes a list. */
const POSITIONAL_INPUTS = new Set(['MultiHeadAttention']);

/** A Candor model's config as Keras writes it ({class_name, config, ...}); a JSON-able object. */
export function toKerasConfig(model: Model, options: ToKerasOptions = {}): JsonObject {
  return modelToKeras(model, options.flavor ?? 'keras3');
}

function entryToKeras(entry: { className: string; config: LayerConfig }, flavor: KerasFlavor): JsonObject {
  const config = layerConfigToKeras(entry, flavor, (e) => entryToKeras(e, flavor));
  return kerasObject('keras.layers', entry.className, config, flavor);
}

function layerToKeras(layer: Layer, flavor: KerasFlavor): JsonObject {
  if (layer instanceof Model) return modelToKeras(layer, flavor);
  const entry = entryToKeras({ className: layer.className, config: layer.getConfig() }, flavor);
  const input = layer.inboundNodes[0]?.inputs;
  if (flavor === 'keras3' && input && input.length > 0 && !(layer instanceof InputLayer))
    entry.build_config = { input_shape: input.length === 1 ? [...input[0].shape] : input.map((t) => [...t.shape]) };
  return entry;
}

function modelToKeras(model: Model, flavor: KerasFlavor): JsonObject {
  if (model instanceof Sequential) return sequentialToKeras(model, flavor);
  if (!model.isFunctional)
    throw new InteropError(`Keras export: model '${model.name}' is a subclass model; Keras configs hold graphs only`);
  return functionalToKeras(model, flavor);
}

function inputLayerEntry(name: string, shape: readonly (number | null)[], dtype: string, flavor: KerasFlavor) {
  const config = layerConfigToKeras(
    { className: 'InputLayer', config: { name, dtype, batchInputShape: [...shape] } },
    flavor,
    () => ({}),
  );
  return kerasObject('keras.layers', 'InputLayer', config, flavor);
}

function sequentialToKeras(model: Sequential, flavor: KerasFlavor): JsonObject {
  const start = model.input;
  const layers = model.layers.map((l) => layerToKeras(l, flavor));
  if (start && flavor === 'keras3')
    layers.unshift(inputLayerEntry(start.name, start.shape, String(start.dtype), flavor));
  else if (start && layers.length > 0) {
    // Keras 2 and TF.js: the first layer carries the input shape.
    const first = layers[0].config as JsonObject;
    first.batch_input_shape = [...start.shape];
    if (start.dtype !== 'float32') first.dtype = String(start.dtype);
  }
  const config: JsonObject = { name: model.name, trainable: model.trainable, layers };
  if (flavor === 'keras3') config.dtype = kerasObject('keras', 'DTypePolicy', { name: model.dtype }, flavor);
  const out = kerasObject('keras', 'Sequential', config, flavor);
  if (start && flavor === 'keras3') out.build_config = { input_shape: [...start.shape] };
  return out;
}

/** Where a symbolic tensor comes from, as Candor's graph config numbers nodes. */
function historyOf(t: SymbolicTensor): [string, number, number] {
  const node = t.node!;
  return [node.layer.name, node.layer.inboundNodes.indexOf(node), node.outputs.indexOf(t)];
}

function nodeToKeras(node: Node, flavor: KerasFlavor): Json {
  const kwargs: JsonObject = {};
  for (const [k, v] of Object.entries(node.callArgs)) if (v !== undefined) kwargs[snake(k)] = v;
  if (flavor === 'keras2') return node.inputs.map((t) => [...historyOf(t), kwargs]);
  const tensors = node.inputs.map((t) => ({
    class_name: '__keras_tensor__',
    config: { shape: [...t.shape], dtype: String(t.dtype), keras_history: historyOf(t) },
  }));
  const args = POSITIONAL_INPUTS.has(node.layer.className) || !node.calledWithList ? tensors : [tensors];
  return { args, kwargs };
}

function functionalToKeras(model: Model, flavor: KerasFlavor): JsonObject {
  const nodes = model.graphNodes;
  const layers = model.layers.map((layer) => {
    const entry =
      layer instanceof InputLayer
        ? inputLayerEntry(layer.name, layer.output.shape, String(layer.output.dtype), flavor)
        : layerToKeras(layer, flavor);
    entry.name = layer.name;
    entry.inbound_nodes = layer.inboundNodes.filter((n) => nodes.includes(n)).map((n) => nodeToKeras(n, flavor));
    return entry;
  });
  const config: JsonObject = {
    name: model.name,
    trainable: model.trainable,
    layers,
    input_layers: model.inputs.map(historyOf),
    output_layers: model.outputs.map(historyOf),
  };
  if (flavor === 'keras2') return { class_name: 'Model', config };
  const out = kerasObject('keras.src.models.functional', 'Functional', config, flavor);
  out.registered_name = 'Functional';
  return out;
}
