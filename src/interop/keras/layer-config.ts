// One layer's config, Keras <-> Candor: the classes mapped, per-class exceptions to the generic snake_case <->
// camelCase rule, the options that provably do nothing (dropped), and the check that Candor kept every other
// option it was given (an option the Candor layer does not echo in getConfig() is refused, never dropped).
import { Layer, layerFromConfig, type LayerConfig } from '../../nn/layer.js';
import { CandorError } from '../../errors.js';
import { InteropError, UnsupportedLayerError } from '../errors.js';
import {
  activationFromKeras,
  activationToKeras,
  camel,
  checkDataFormat,
  dtypeFromKeras,
  dtypeToKeras,
  initializerFromKeras,
  initializerToKeras,
  isObject,
  kerasObject,
  refuse,
  regularizerFromKeras,
  regularizerToKeras,
  snake,
  type Json,
  type JsonObject,
  type KerasFlavor,
  type Where,
} from './values.js';

/** The Keras layer classes Candor maps (same name, same weights); models are handled in config.ts. */
export const KERAS_LAYER_CLASSES: readonly string[] = [
  'InputLayer',
  'Dense',
  'Conv1D',
  'Conv2D',
  'Conv2DTranspose',
  'DepthwiseConv2D',
  'SeparableConv2D',
  'MaxPooling1D',
  'MaxPooling2D',
  'AveragePooling1D',
  'AveragePooling2D',
  'GlobalAveragePooling1D',
  'GlobalAveragePooling2D',
  'GlobalMaxPooling1D',
  'GlobalMaxPooling2D',
  'Flatten',
  'Reshape',
  'Permute',
  'RepeatVector',
  'Dropout',
  'SpatialDropout1D',
  'SpatialDropout2D',
  'GaussianNoise',
  'GaussianDropout',
  'Activation',
  'ReLU',
  'LeakyReLU',
  'ELU',
  'Softmax',
  'PReLU',
  'BatchNormalization',
  'LayerNormalization',
  'GroupNormalization',
  'Add',
  'Subtract',
  'Multiply',
  'Average',
  'Maximum',
  'Minimum',
  'Concatenate',
  'Dot',
  'Embedding',
  'SimpleRNN',
  'LSTM',
  'GRU',
  'Bidirectional',
  'TimeDistributed',
  'MultiHeadAttention',
  'Attention',
  'AdditiveAttention',
  'Masking',
  'ZeroPadding1D',
  'ZeroPadding2D',
  'Cropping1D',
  'Cropping2D',
  'UpSampling1D',
  'UpSampling2D',
  'Rescaling',
  'CenterCrop',
  'Resizing',
];

/** Other names Keras (2 or 3) and TF.js give the same classes. */
const CLASS_ALIASES: Readonly<Record<string, string>> = {
  Convolution1D: 'Conv1D',
  Convolution2D: 'Conv2D',
  Conv2DTranspose: 'Conv2DTranspose',
  Convolution2DTranspose: 'Conv2DTranspose',
  MaxPool1D: 'MaxPooling1D',
  MaxPool2D: 'MaxPooling2D',
  AvgPool1D: 'AveragePooling1D',
  AvgPool2D: 'AveragePooling2D',
  GlobalAvgPool1D: 'GlobalAveragePooling1D',
  GlobalAvgPool2D: 'GlobalAveragePooling2D',
  GlobalMaxPool1D: 'GlobalMaxPooling1D',
  GlobalMaxPool2D: 'GlobalMaxPooling2D',
};

export const candorClassOf = (kerasClass: string): string => CLASS_ALIASES[kerasClass] ?? kerasClass;

/** Keras key (camelCased) -> Candor key, for every class, and per class. */
const RENAMES: Readonly<Record<string, string>> = { batchShape: 'batchInputShape' };
const CLASS_RENAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  LeakyReLU: { alpha: 'negativeSlope' }, // Keras 2 and TF.js; Keras 3 writes negative_slope
};
/** Candor key -> Keras key where Keras 2 (TF.js) spells it otherwise than snake_case of Candor's. */
const KERAS2_NAMES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  LeakyReLU: { negativeSlope: 'alpha' },
};

const any = () => true;
const is = (x: Json) => (v: Json) => v === x;
/**
 * Options with no effect on what the layer computes at these values (implementation choices, features off):
 * dropped. A null value is always Keras' default and is dropped before this table is read.
 */
const NEUTRAL: Readonly<Record<string, (v: Json, config: JsonObject) => boolean>> = {
  sparse: is(false),
  ragged: is(false),
  optional: is(false),
  implementation: any, // RNN kernels' loop structure: the same function
  unroll: any,
  useCudnn: any,
  timeMajor: is(false),
  synchronized: is(false),
  renorm: is(false),
  renormClipping: (_v, c) => c.renorm !== true, // read only with renorm
  renormMomentum: (_v, c) => c.renorm !== true,
  fused: any,
  rmsScaling: is(false),
  groups: is(1),
  causal: is(false),
  autocast: is(true),
  padToAspectRatio: is(false),
  fillMode: (_v, c) => c.pad_to_aspect_ratio !== true,
  fillValue: (_v, c) => c.pad_to_aspect_ratio !== true,
  antialias: is(false),
  loraAlpha: (_v, c) => c.lora_rank == null,
};

/** Keys whose one-element list Candor takes as a number (1D pooling and upsampling, BN's axis). */
const SCALARS: Readonly<Record<string, readonly string[]>> = {
  MaxPooling1D: ['poolSize', 'strides'],
  AveragePooling1D: ['poolSize', 'strides'],
  UpSampling1D: ['size'],
  BatchNormalization: ['axis'],
};

/** Candor classes whose config holds dataFormat (its value spelt 'channelsLast'). */
const HAS_DATA_FORMAT = new Set(['SpatialDropout2D']);

/** Builds the Candor layer for a Keras layer entry that is not a model (config.ts handles those). */
export type LayerMaker = (entry: JsonObject) => Layer;

export interface FromKerasContext {
  /** 'Keras import', 'TF.js import'. */
  readonly format: string;
  /** Maps a nested entry (Bidirectional's and TimeDistributed's `layer`) to a Candor {className, config}. */
  readonly nested: (entry: JsonObject, where: Where) => { className: string; config: LayerConfig };
}

/** The Keras layer config (the `config` of an entry) as a Candor config for `className`; values converted. */
export function layerConfigFromKeras(
  className: string,
  kerasConfig: JsonObject,
  ctx: FromKerasContext,
): { className: string; config: LayerConfig } {
  const cls = candorClassOf(className);
  const name = typeof kerasConfig.name === 'string' ? kerasConfig.name : cls.toLowerCase();
  const where: Where = { format: ctx.format, layer: name, className };
  if (!KERAS_LAYER_CLASSES.includes(cls)) throw new UnsupportedLayerError(ctx.format, name, className);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(kerasConfig)) {
    if (key === 'data_format') {
      checkDataFormat(where, value);
      if (HAS_DATA_FORMAT.has(cls)) out.dataFormat = 'channelsLast';
      continue;
    }
    if (value === null) continue;
    const k = CLASS_RENAMES[cls]?.[camel(key)] ?? RENAMES[camel(key)] ?? camel(key);
    if (NEUTRAL[k]?.(value, kerasConfig)) continue;
    out[k] = valueFromKeras(cls, k, key, value, kerasConfig, where, ctx);
  }
  return { className: cls, config: out as LayerConfig };
}

function valueFromKeras(
  cls: string,
  k: string,
  key: string,
  value: Json,
  kerasConfig: JsonObject,
  where: Where,
  ctx: FromKerasContext,
): unknown {
  if (k === 'dtype') return dtypeFromKeras(where, value, cls === 'InputLayer');
  if (k.endsWith('Initializer')) return initializerFromKeras(where, key, value);
  if (k.endsWith('Regularizer')) return regularizerFromKeras(where, key, value);
  if (k === 'activation' || k === 'recurrentActivation') return activationFromKeras(where, key, value);
  if (k === 'layer') {
    if (!isObject(value)) refuse(where, key, value, 'expected a layer entry {class_name, config}');
    return ctx.nested(forwardEntry(value), where);
  }
  if (k === 'backwardLayer') return checkBackwardLayer(where, value, kerasConfig.layer);
  if (SCALARS[cls]?.includes(k) && Array.isArray(value) && value.length === 1) return value[0];
  return value;
}

/** Keras 3 names Bidirectional's inner layer 'forward_lstm'; Candor adds 'forward_' itself. */
function forwardEntry(entry: JsonObject): JsonObject {
  const config = entry.config;
  if (!isObject(config) || typeof config.name !== 'string' || !config.name.startsWith('forward_')) return entry;
  return { ...entry, config: { ...config, name: config.name.slice('forward_'.length) } };
}

/** Keras 3 writes Bidirectional's backward copy; Candor makes it from the forward one, so it must be that copy. */
function checkBackwardLayer(where: Where, backward: Json, forward: Json | undefined): undefined {
  const strip = (e: Json | undefined) => {
    if (!isObject(e) || !isObject(e.config)) return e;
    const { name: _n, go_backwards: _g, seed: _s, ...rest } = e.config;
    return JSON.stringify({ class_name: e.class_name, rest });
  };
  const fwd = isObject(forward) && isObject(forward.config) ? forward.config.go_backwards : undefined;
  const bwd = isObject(backward) && isObject(backward.config) ? backward.config.go_backwards : undefined;
  if (strip(backward) !== strip(forward) || (bwd ?? true) === (fwd ?? false))
    refuse(where, 'backward_layer', '{...}', 'Candor runs a reversed copy of `layer`; a different backward layer');
  return undefined;
}

/**
 * Makes the Candor layer and checks that it kept every option given: a key absent from its getConfig() is an
 * option the Candor class does not have (refused, naming it). Errors of the Candor constructor are re-raised as
 * InteropErrors naming the Keras layer.
 */
export function makeCheckedLayer(
  entry: { className: string; config: LayerConfig },
  kerasClass: string,
  format: string,
): Layer {
  const where: Where = { format, layer: entry.config.name, className: kerasClass };
  let layer: Layer;
  try {
    layer = layerFromConfig(entry);
  } catch (e) {
    if (e instanceof CandorError && !(e instanceof InteropError))
      throw new InteropError(`${format}: layer '${where.layer}' (${kerasClass}): ${e.message}`);
    throw e;
  }
  const kept = layer.getConfig();
  for (const key of Object.keys(entry.config))
    if (!(key in kept)) {
      layer.dispose();
      refuse(where, snake(key), entry.config[key], `Candor's ${entry.className} has no such option`);
    }
  return layer;
}

/** A Candor layer's config as Keras writes it (snake_case keys, Keras' objects); `batchInputShape` is left out. */
export function layerConfigToKeras(
  entry: { className: string; config: LayerConfig },
  flavor: KerasFlavor,
  nested: (entry: { className: string; config: LayerConfig }) => JsonObject,
): JsonObject {
  const { className: cls, config } = entry;
  if (!KERAS_LAYER_CLASSES.includes(cls)) throw new UnsupportedLayerError('Keras export', config.name, cls);
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(config)) {
    if (k === 'batchInputShape' && cls !== 'InputLayer') continue;
    const key =
      cls === 'InputLayer' && k === 'batchInputShape'
        ? flavor === 'keras3'
          ? 'batch_shape'
          : 'batch_input_shape'
        : ((flavor === 'keras2' ? KERAS2_NAMES[cls]?.[k] : undefined) ?? snake(k));
    // Keras 3's InputLayer takes a dtype name, not a policy (it is the input's dtype).
    out[key] = cls === 'InputLayer' && k === 'dtype' ? String(v) : valueToKeras(k, v, flavor, nested);
  }
  if (cls === 'InputLayer') out.sparse = false;
  return out;
}

function valueToKeras(
  k: string,
  v: unknown,
  flavor: KerasFlavor,
  nested: (entry: { className: string; config: LayerConfig }) => JsonObject,
): Json {
  if (k === 'dtype') return dtypeToKeras(String(v), flavor);
  if (k.endsWith('Initializer')) return initializerToKeras(v, flavor);
  if (k.endsWith('Regularizer')) return regularizerToKeras(v, flavor);
  if (k === 'activation' || k === 'recurrentActivation') return activationToKeras(v);
  if (k === 'dataFormat') return 'channels_last';
  if (k === 'layer') return nested(v as { className: string; config: LayerConfig });
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as Json);
}

export { kerasObject };
