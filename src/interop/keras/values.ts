// Keras config values <-> Candor's: key spelling (snake_case <-> camelCase), dtypes and DTypePolicy objects,
// initializer, regularizer and activation specs. Keras 3 wraps objects as {module, class_name, config,
// registered_name}; Keras 2 and TF.js as {class_name, config}. Anything Candor cannot honour is refused.
import { FormatError, InteropError } from '../errors.js';
import { errorMessage, fmtValue } from '../../errors.js';
import { activationNames } from '../../nn/activations.js';
import { normalizeName } from '../../registry.js';

/** Which Keras writes the config: Keras 3 (.keras), or Keras 2 as legacy .h5 files and TF.js hold it. */
export type KerasFlavor = 'keras3' | 'keras2';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A file's JSON object (model.json, config.json): strict UTF-8, an object at the top, else a FormatError. */
export function parseJsonObject(bytes: Uint8Array, what: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (e) {
    throw new FormatError(`${what} is not valid UTF-8 JSON: ${errorMessage(e)}`);
  }
  if (!isObject(value)) throw new FormatError(`${what} is not a JSON object (got ${fmtValue(value)})`);
  return value;
}

/** 'kernel_initializer' -> 'kernelInitializer'. */
export const camel = (key: string): string => key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
/** 'kernelInitializer' -> 'kernel_initializer' ('l1' and 'conv2d' stay). */
export const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Where a value sits, for messages: "Keras import: layer 'dense' (Dense), option 'kernel_constraint'". */
export interface Where {
  readonly format: string;
  readonly layer: string;
  readonly className: string;
}

export function refuse(where: Where, option: string, value: unknown, why: string): never {
  throw new InteropError(
    `${where.format}: layer '${where.layer}' (${where.className}): option '${option}' = ${fmtValue(value)} ` +
      `is not supported: ${why}`,
  );
}

/** A Keras 3 object wrapper, as Keras 3 writes it ({module, class_name, config, registered_name}). */
export function kerasObject(module: string, className: string, config: Json, flavor: KerasFlavor): JsonObject {
  return flavor === 'keras3'
    ? { module, class_name: className, config, registered_name: null }
    : { class_name: className, config };
}

/** A Keras dtype (a string, or Keras 3's DTypePolicy object) as Candor's, which is float32 or float64. */
export function dtypeFromKeras(where: Where, value: Json, allowInts = false): string {
  const name = isObject(value) && isObject(value.config) ? value.config.name : value;
  const ok = ['float32', 'float64', ...(allowInts ? ['int32', 'bool', 'string'] : [])];
  if (typeof name !== 'string' || !ok.includes(name))
    refuse(where, 'dtype', name, `Candor computes in ${ok.join(' or ')} (mixed precision policies are not supported)`);
  return name;
}

export function dtypeToKeras(dtype: string, flavor: KerasFlavor): Json {
  return flavor === 'keras3' ? kerasObject('keras', 'DTypePolicy', { name: dtype }, flavor) : dtype;
}

/** Keras initializer class -> the config keys it takes (everything else Candor writes is its own detail). */
const INITIALIZER_KEYS: Readonly<Record<string, readonly string[]>> = {
  GlorotUniform: ['seed'],
  GlorotNormal: ['seed'],
  HeUniform: ['seed'],
  HeNormal: ['seed'],
  LecunUniform: ['seed'],
  LecunNormal: ['seed'],
  Zeros: [],
  Ones: [],
  Constant: ['value'],
  Orthogonal: ['gain', 'seed'],
  RandomNormal: ['mean', 'stddev', 'seed'],
  RandomUniform: ['minval', 'maxval', 'seed'],
  TruncatedNormal: ['mean', 'stddev', 'seed'],
  VarianceScaling: ['scale', 'mode', 'distribution', 'seed'],
};
/** TF.js spells two classes its own way. */
const INITIALIZER_ALIASES: Readonly<Record<string, string>> = {
  LeCunNormal: 'LecunNormal',
  LeCunUniform: 'LecunUniform',
};

const MODES: Readonly<Record<string, string>> = { fan_in: 'fanIn', fan_out: 'fanOut', fan_avg: 'fanAvg' };
/** Keras 2 and TF.js 'normal' is the truncated normal (Keras' deprecated alias). */
const DISTRIBUTIONS: Readonly<Record<string, string>> = {
  normal: 'truncatedNormal',
  truncated_normal: 'truncatedNormal',
  untruncated_normal: 'untruncatedNormal',
  uniform: 'uniform',
};
const invert = (table: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k])) as Record<string, string>;

export function initializerFromKeras(where: Where, option: string, value: Json): Json {
  const spec = typeof value === 'string' ? { class_name: value, config: {} } : value;
  if (!isObject(spec) || typeof spec.class_name !== 'string')
    refuse(where, option, value, 'expected an initializer name or {class_name, config}');
  const found = Object.keys(INITIALIZER_KEYS).find(
    (k) => normalizeName(k) === normalizeName(INITIALIZER_ALIASES[spec.class_name as string] ?? spec.class_name),
  );
  if (!found) refuse(where, option, spec.class_name, `Candor has the initializers ${Object.keys(INITIALIZER_KEYS)}`);
  const given = isObject(spec.config) ? spec.config : {};
  const config: JsonObject = {};
  for (const [k, v] of Object.entries(given)) {
    if (v === null) continue; // an unset seed
    if (!INITIALIZER_KEYS[found].includes(k)) refuse(where, `${option}.${k}`, v, `${found} has no such option`);
    if (k === 'mode') {
      if (typeof v !== 'string' || !MODES[v]) refuse(where, `${option}.mode`, v, 'expected fan_in, fan_out or fan_avg');
      config.mode = MODES[v];
    } else if (k === 'distribution') {
      if (typeof v !== 'string' || !DISTRIBUTIONS[v])
        refuse(where, `${option}.distribution`, v, 'expected truncated_normal, untruncated_normal or uniform');
      config.distribution = DISTRIBUTIONS[v];
    } else config[k] = v;
  }
  return { className: found, config };
}

export function initializerToKeras(value: unknown, flavor: KerasFlavor): Json {
  const spec = value as { className: string; config: Record<string, unknown> };
  const keys = INITIALIZER_KEYS[spec.className] ?? [];
  const config: JsonObject = {};
  for (const k of keys) {
    const v = spec.config?.[k];
    if (k === 'mode') config[k] = invert(MODES)[v as string] ?? null;
    else if (k === 'distribution') config[k] = invert(DISTRIBUTIONS)[v as string] ?? null;
    else config[k] = v === undefined ? null : (v as Json);
  }
  return kerasObject('keras.initializers', spec.className, config, flavor);
}

/** Keras' L1, L2 and L1L2 regularizers (the penalties Candor's L1L2 computes); null stays null. */
export function regularizerFromKeras(where: Where, option: string, value: Json): Json {
  if (value === null) return null;
  const spec = typeof value === 'string' ? { class_name: value, config: {} } : value;
  const name = isObject(spec) && typeof spec.class_name === 'string' ? spec.class_name.toLowerCase() : '';
  const config = isObject(spec) && isObject(spec.config) ? spec.config : {};
  const num = (k: string, dflt: number) => {
    const v = config[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v)) refuse(where, `${option}.${k}`, v, 'expected a number');
    return v;
  };
  if (name === 'l1') return { className: 'L1L2', l1: num('l1', 0.01), l2: 0 };
  if (name === 'l2') return { className: 'L1L2', l1: 0, l2: num('l2', 0.01) };
  if (name === 'l1l2' || name === 'l1_l2') return { className: 'L1L2', l1: num('l1', 0), l2: num('l2', 0) };
  return refuse(where, option, value, 'Candor has the regularizers L1, L2 and L1L2');
}

export function regularizerToKeras(value: unknown, flavor: KerasFlavor): Json {
  if (value === null || value === undefined) return null;
  const { l1, l2 } = value as { l1: number; l2: number };
  return kerasObject('keras.regularizers', 'L1L2', { l1, l2 }, flavor);
}

/** Keras activation names whose Candor function differs, or that Candor lacks under the same meaning. */
const ACTIVATION_REFUSALS: Readonly<Record<string, string>> = {
  hardsigmoid: 'Keras 2 and TF.js define it as clip(0.2x + 0.5) and Keras 3 as relu6(x + 3) / 6; Candor has neither',
  gelunew: 'the tanh approximation of GELU is not an activation in Candor',
};

/** A Keras activation (a name, or Keras 3's {class_name: 'function', config: name} form) as Candor's name. */
export function activationFromKeras(where: Where, option: string, value: Json): Json {
  const name = isObject(value) ? value.config : value;
  if (name === null) return 'linear';
  if (typeof name !== 'string') return refuse(where, option, value, 'expected an activation name');
  const why = ACTIVATION_REFUSALS[normalizeName(name)];
  if (why) refuse(where, option, name, why);
  const found = activationNames().find((a) => normalizeName(a) === normalizeName(name));
  if (!found) refuse(where, option, name, `Candor's activations are ${activationNames().join(', ')}`);
  return found;
}

export const activationToKeras = (name: unknown): Json => snake(String(name));

/** Keras' data_format: channels_last is what Candor computes in; channels_first is refused. */
export function checkDataFormat(where: Where, value: Json): void {
  if (value !== null && value !== 'channels_last')
    refuse(where, 'data_format', value, 'Candor layers take channels-last inputs (NHWC); transpose the model first');
}
