// loadKerasModel: a Keras model file into a Candor Model: a Keras 3 .keras archive (config.json + model.weights.h5)
// or a legacy .h5 (the model_config attribute + model_weights/). The architecture is mapped by fromKerasConfig
// (config.ts), the weights loaded by loadKerasWeights' matching; every layer must get its weights.
import { readFileBytes } from '../../io/atomic.js';
import { CandorError, errorMessage } from '../../errors.js';
import { snake } from '../../nn/names.js';
import type { Model } from '../../train/model.js';
import { FormatError, InteropError } from '../errors.js';
import { readKerasArchive, DEFAULT_MAX_KERAS_BYTES } from './archive.js';
import { KERAS_MODEL_CLASSES, fromKerasConfig, type KerasLayerFactory } from './config.js';
import { H5File } from './hdf5.js';
import { loadKerasWeightsFrom, type KerasGroupOf } from './load-weights.js';
import { withWeightBudget } from './weights.js';
import { isObject, type Json } from './values.js';

export interface LoadKerasModelOptions {
  /**
   * Candor layers for Keras classes Candor does not map (a Lambda, a custom class), by Keras class_name (or Keras
   * 3 registered_name, 'package>Class'); each factory gets the layer's saved config. See registerKerasLayer.
   */
  customLayers?: Readonly<Record<string, KerasLayerFactory>>;
  /** Cap on the bytes a .keras archive may inflate to (default 512 MiB). */
  maxBytes?: number;
}

/**
 * Each layer's group in Keras 3 weights, from the config's layer lists: Keras names the n-th layer of a class in a
 * container <class>_n in the order of its layers list, which for a functional model may differ from the order
 * Candor's graph lists them. Keyed by the container's path and the layer's name.
 */
function keras3Groups(config: Json, path = 'layers', out = new Map<string, string>(), depth = 0): Map<string, string> {
  const inner = isObject(config) && isObject(config.config) ? config.config.layers : undefined;
  if (!Array.isArray(inner) || depth > 64) return out;
  const counts = new Map<string, number>();
  for (const entry of inner) {
    if (!isObject(entry) || typeof entry.class_name !== 'string' || !isObject(entry.config)) continue;
    const base = snake(entry.class_name);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    const key = n === 0 ? base : `${base}_${n}`;
    if (typeof entry.config.name === 'string') out.set(`${path}|${entry.config.name}`, key);
    if (KERAS_MODEL_CLASSES.includes(entry.class_name as string))
      keras3Groups(entry, `${path}/${key}/layers`, out, depth + 1);
  }
  return out;
}

/**
 * The model a config describes, with every failure a FormatError or InteropError naming the file. No initializer
 * runs: the weights may hold at most the values `file` can (2 bytes each, float16), so a config declaring huge
 * layers fails before allocating them.
 */
function modelFromConfig(config: Json, file: H5File, label: string, options: LoadKerasModelOptions): Model {
  const format = `Keras import (${label})`;
  try {
    return withWeightBudget(Math.floor(file.byteLength / 2), format, () =>
      fromKerasConfig(config, { customLayers: options.customLayers, format }),
    );
  } catch (e) {
    if (e instanceof FormatError || e instanceof InteropError) throw e;
    // A layer refusing a config value (ArgumentError, ShapeError), or a RangeError from a config nested too deep.
    const kind = e instanceof CandorError ? `${e.constructor.name}: ` : '';
    throw new FormatError(`${label}: the model config cannot be built: ${kind}${errorMessage(e)}`);
  }
}

/** Reads a legacy .h5 model's config: the model_config attribute (JSON) at the file's root. */
function legacyConfig(file: H5File): Json {
  const text = file.root.stringAttr('model_config');
  if (text === undefined)
    throw new FormatError(
      file.root.stringListAttr('layer_names') !== undefined
        ? `${file.label} holds weights only (no model_config); build the model and use loadKerasWeights`
        : `${file.label} is not a Keras model file (no model_config attribute)`,
    );
  try {
    return JSON.parse(text) as Json;
  } catch (e) {
    throw new FormatError(`${file.label}: model_config is not valid JSON: ${errorMessage(e)}`);
  }
}

/**
 * Loads a Keras model file: a Keras 3 `.keras` archive or a legacy `.h5` (Keras 2's model.save, or Keras 3's
 * legacy format), from a path or the file's bytes. The model is built from the saved config and every layer
 * takes its weights from the file; it is not compiled (call compile to fit it). Unknown layer classes are an
 * UnsupportedLayerError naming them: supply replacements with `customLayers` or registerKerasLayer.
 */
export async function loadKerasModel(source: string | Uint8Array, options: LoadKerasModelOptions = {}): Promise<Model> {
  const label = typeof source === 'string' ? source : 'Keras model';
  const bytes = typeof source === 'string' ? await readFileBytes(source) : source;
  let file: H5File;
  let config: Json;
  let groups: KerasGroupOf | undefined;
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
    const archive = readKerasArchive(bytes, label, options.maxBytes ?? DEFAULT_MAX_KERAS_BYTES);
    config = archive.config as Json;
    file = H5File.open(archive.weights, `${label}: model.weights.h5`);
    const byName = keras3Groups(config);
    groups = (path, layer) => byName.get(`${path}|${layer.name}`);
  } else {
    file = H5File.open(bytes, label);
    config = legacyConfig(file);
  }
  const model = modelFromConfig(config, file, label, options);
  try {
    loadKerasWeightsFrom(model, file, { strict: true }, groups);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
