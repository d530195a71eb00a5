// TF.js layers models (model.json: modelTopology + weightsManifest, with binary weight shards beside it):
// loadTfjsModel reads one into a Candor model, saveTfjsModel writes one that tf.loadLayersModel reads.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Tensor } from '../../tensor/tensor.js';
import { CandorError, fmtValue } from '../../errors.js';
import { readFileBytes, writeFileAtomic } from '../../io/atomic.js';
import type { Model } from '../../train/model.js';
import { candorVersion } from '../../ledger/record.js';
import { FormatError, InteropError, UnsupportedLayerError } from '../errors.js';
import { fromKerasConfig, toKerasConfig, type KerasLayerFactory } from '../keras/config.js';
import { activationToKeras, parseJsonObject } from '../keras/values.js';
import { assignKerasWeights, kerasModelWeights, withWeightBudget } from '../keras/weights.js';
import { TFJS_IMPORT, checkManifest, encodeWeights, readManifestWeights } from './manifest.js';

/** The one shard saveTfjsModel writes, named as TF.js' converter names shards (before its content hash). */
export const TFJS_SHARD = 'group1-shard1of1';
/** model.json larger than this is not a layers model's (its topology is small; weights live in shards). */
const MAX_MODEL_JSON_BYTES = 64 * 2 ** 20;

/** The model.json a path names: the file itself, or the one in a directory. */
function modelJsonOf(path: string): string {
  try {
    return statSync(path).isDirectory() ? join(path, 'model.json') : path;
  } catch {
    return path;
  }
}

/**
 * Whether a path names a TF.js layers model: a file or folder name ending in '.tfjs', a file named model.json
 * (or *.model.json), or a folder holding a model.json with a weightsManifest (Candor's own model folders hold
 * a model.json too, without one).
 */
export function isTfjsPath(path: string, use: 'load' | 'save'): boolean {
  const name = basename(path.replace(/[\\/]+$/, ''));
  if (name.endsWith('.tfjs') || name === 'model.json' || name.endsWith('.model.json')) return true;
  if (use === 'save') return false;
  const file = join(path, 'model.json');
  try {
    return statSync(path).isDirectory() && existsSync(file) && readFileSync(file, 'utf8').includes('"weightsManifest"');
  } catch {
    return false;
  }
}

export interface LoadTfjsOptions {
  /** Factories for layer classes Candor does not map (see registerKerasLayer). */
  customLayers?: Readonly<Record<string, KerasLayerFactory>>;
}

/**
 * Loads a TF.js layers model (tfjs-layers' model.json and its weight shards; a path to model.json or to its
 * folder) as a Candor model with the same weights. Malformed files give FormatErrors; what Candor cannot
 * express (a layer class or option it lacks, a graph model) gives InteropErrors naming it.
 */
export async function loadTfjsModel(path: string, options: LoadTfjsOptions = {}): Promise<Model> {
  const file = modelJsonOf(path);
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (e) {
    throw new FormatError(`${TFJS_IMPORT}: cannot read ${file} (${(e as Error).message})`);
  }
  if (size > MAX_MODEL_JSON_BYTES)
    throw new FormatError(`${TFJS_IMPORT}: ${file} is ${size} bytes; a layers model's model.json is far smaller`);
  const artifacts: Record<string, unknown> = parseJsonObject(await readFileBytes(file), `${TFJS_IMPORT}: ${file}`);
  if (artifacts.format !== undefined && artifacts.format !== 'layers-model')
    throw new InteropError(
      `${TFJS_IMPORT}: ${file} is a TF.js ${fmtValue(artifacts.format)}; Candor loads layers models ('layers-model')`,
    );
  let topology = artifacts.modelTopology as Record<string, unknown> | undefined;
  // The Python converter nests the Keras config: {keras_version, backend, model_config, training_config}.
  if (topology && typeof topology === 'object' && 'model_config' in topology)
    topology = topology.model_config as Record<string, unknown>;
  if (!topology) throw new FormatError(`${TFJS_IMPORT}: ${file} has no modelTopology`);
  const groups = checkManifest(artifacts.weightsManifest ?? []);
  const values = await readManifestWeights(file, groups);
  let model: Model | undefined;
  try {
    const held = [...values.values()].reduce((a, t) => a + t.size, 0);
    model = withWeightBudget(held, TFJS_IMPORT, () =>
      fromKerasConfig(topology, { format: TFJS_IMPORT, customLayers: options.customLayers }),
    );
    checkTfjsSemantics(model);
    assignWeights(model, values);
    return model;
  } catch (e) {
    model?.dispose();
    throw e;
  } finally {
    for (const t of values.values()) t.dispose();
  }
}

/**
 * Refuses what a TF.js file means differently from what Candor would compute: TF.js' bilinear UpSampling2D
 * samples without half-pixel centres (Candor's and Keras' use them), so the outputs would differ.
 */
function checkTfjsSemantics(model: Model): void {
  for (const layer of model.flattenLayers())
    if (layer.className === 'UpSampling2D' && layer.getConfig().interpolation === 'bilinear')
      throw new InteropError(
        `${TFJS_IMPORT}: layer '${layer.name}' (UpSampling2D) has interpolation: 'bilinear'; TF.js samples it ` +
          "without half-pixel centres and Candor with them (as Keras), so outputs would differ; only 'nearest' loads",
      );
}

/**
 * Assigns the manifest's weights to the model's layers: by the names TF.js gives them (`layer/kernel`), or, for
 * converter-made names (`lstm/lstm_cell/kernel`), by order among the weights under the layer's name. Every
 * weight of the model must be found and every weight of the file used.
 */
function assignWeights(model: Model, values: Map<string, Tensor>): void {
  const used = new Set<string>();
  for (const { layer, weights } of kerasModelWeights(model)) {
    const own = [...values.keys()].filter((n) => n.startsWith(`${layer.name}/`));
    const exact = weights.every((w) => values.has(`${layer.name}/${w.name}`));
    if (!exact && own.length !== weights.length)
      throw new FormatError(
        `${TFJS_IMPORT}: layer '${layer.name}' (${layer.className}) has weights ` +
          `${weights.map((w) => `'${layer.name}/${w.name}'`).join(', ')}; the file holds ` +
          `${own.length ? own.map((n) => `'${n}'`).join(', ') : 'none under that name'}`,
      );
    assignKerasWeights(
      layer,
      (w, i) => {
        const name = exact ? `${layer.name}/${w.name}` : own[i];
        used.add(name);
        return values.get(name)!;
      },
      TFJS_IMPORT,
    );
  }
  const unused = [...values.keys()].filter((n) => !used.has(n));
  if (unused.length > 0)
    throw new FormatError(`${TFJS_IMPORT}: weights not used by any layer of the model: ${unused.join(', ')}`);
}

/** The mapped Keras classes that tfjs-layers 4.22 has (its serialization registry). */
const TFJS_CLASSES = new Set(
  (
    'InputLayer Dense Conv1D Conv2D Conv2DTranspose DepthwiseConv2D SeparableConv2D MaxPooling1D MaxPooling2D ' +
    'AveragePooling1D AveragePooling2D GlobalAveragePooling1D GlobalAveragePooling2D GlobalMaxPooling1D ' +
    'GlobalMaxPooling2D Flatten Reshape Permute RepeatVector Dropout SpatialDropout1D GaussianNoise GaussianDropout ' +
    'Activation ReLU LeakyReLU ELU Softmax PReLU BatchNormalization LayerNormalization Add Multiply Average Maximum ' +
    'Minimum Concatenate Dot Embedding SimpleRNN LSTM GRU Bidirectional TimeDistributed Masking ZeroPadding2D ' +
    'Cropping2D UpSampling2D Rescaling Sequential Functional'
  ).split(' '),
);

/** An option TF.js ignores or cannot load unless it has its default: `ok` says whether a value is fine. */
interface TfjsOption {
  ok: (value: unknown) => boolean;
  why: string;
}
const isDefault =
  (d: unknown) =>
  (v: unknown): boolean =>
    v === d || (d === null && v === undefined);
const keepdims: TfjsOption = { ok: isDefault(false), why: "TF.js' global pooling has no keepdims" };

/**
 * Per class, the options whose non-default values TF.js (tfjs-layers 4.22) does not honour: it ignores them
 * and computes something else, or fails to load or predict. Each was checked with tf.loadLayersModel.
 */
const TFJS_OPTIONS: Readonly<Record<string, Readonly<Record<string, TfjsOption>>>> = {
  ReLU: {
    negativeSlope: { ok: isDefault(0), why: "TF.js' ReLU reads only max_value" },
    threshold: { ok: isDefault(0), why: "TF.js' ReLU reads only max_value" },
  },
  ELU: { alpha: { ok: isDefault(1), why: "TF.js' ELU layer supports only alpha 1" } },
  Softmax: { axis: { ok: isDefault(-1), why: "TF.js' Softmax layer fails on other axes" } },
  UpSampling2D: {
    interpolation: { ok: isDefault('nearest'), why: "TF.js' bilinear kernel lacks half-pixel centres" },
  },
  Conv2DTranspose: { outputPadding: { ok: isDefault(null), why: 'TF.js drops output_padding' } },
  Conv2D: { groups: { ok: isDefault(1), why: "TF.js' Conv2D has no groups" } },
  Conv1D: { padding: { ok: (v) => v !== 'causal', why: "TF.js' Conv1D fails on causal padding" } },
  GlobalAveragePooling1D: { keepdims },
  GlobalAveragePooling2D: { keepdims },
  GlobalMaxPooling1D: { keepdims },
  GlobalMaxPooling2D: { keepdims },
};

/** The activations tfjs-layers 4.22 knows, by their Keras (snake_case) names. */
const TFJS_ACTIVATIONS = new Set(
  (
    'elu gelu gelu_new hard_sigmoid linear log_softmax mish relu relu6 selu sigmoid softmax softplus softsign ' +
    'swish tanh'
  ).split(' '),
);

/**
 * Refuses, by name, a layer TF.js cannot load or would compute differently: a class it lacks, an option value
 * it ignores or fails on (TFJS_OPTIONS), an activation it lacks, or a GRU with reset_after (it has none).
 */
function checkTfjsCanLoad(model: Model): void {
  for (const layer of model.flattenLayers()) {
    if (layer === model) continue;
    const cls = layer.className;
    const inWrapper = layer.name.includes('/'); // Bidirectional's copies: checked through the wrapper
    if (!inWrapper && !TFJS_CLASSES.has(cls)) throw new UnsupportedLayerError('TF.js export', layer.name, cls);
    const config = layer.getConfig();
    const refuse = (option: string, value: unknown, why: string): never => {
      throw new InteropError(
        `TF.js export: layer '${layer.name}' (${cls}) has ${option}: ${fmtValue(value)}, which TF.js does not ` +
          `honour (${why}); TF.js would compute something else or fail to load it`,
      );
    };
    for (const [option, { ok, why }] of Object.entries(TFJS_OPTIONS[cls] ?? {}))
      if (!ok(config[option])) refuse(option, config[option], why);
    for (const option of ['activation', 'recurrentActivation'])
      if (typeof config[option] === 'string' && !TFJS_ACTIVATIONS.has(String(activationToKeras(config[option]))))
        refuse(option, config[option], 'TF.js has no such activation');
    if (cls === 'GRU' && config.resetAfter === true)
      throw new InteropError(
        `TF.js export: layer '${layer.name}' (GRU) has reset_after: true, which TF.js' GRU does not support; ` +
          'use resetAfter: false',
      );
  }
}

/**
 * Saves a model as a TF.js layers model: `path` is a folder (created; conventionally ending in '.tfjs') or a
 * file name model.json, beside which the weights go to one shard, group1-shard1of1-<hash>.bin (named by a
 * prefix of its SHA-256, so that a new shard never overwrites the one an older model.json names). The shard is
 * written first, then model.json, each atomically; then the shards the previous model.json named are removed.
 * A crash at any point leaves a model.json whose shard is there. TF.js computes in float32: weights are written
 * as float32.
 */
export async function saveTfjsModel(model: Model, path: string): Promise<void> {
  const file = basename(path).endsWith('.json') ? path : join(path, 'model.json');
  checkTfjsCanLoad(model);
  let topology: Record<string, unknown>;
  try {
    topology = toKerasConfig(model, { flavor: 'keras2' });
  } catch (e) {
    if (e instanceof CandorError && !(e instanceof InteropError)) throw new InteropError(`TF.js export: ${e.message}`);
    throw e;
  }
  const weights = kerasModelWeights(model).flatMap(({ layer, weights: ws }) =>
    ws.map((w) => ({ name: `${layer.name}/${w.name}`, value: w.variable.value })),
  );
  const { group, bytes } = encodeWeights(weights, TFJS_SHARD);
  const shard = `${TFJS_SHARD}-${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.bin`;
  group.paths = [shard];
  const version = candorVersion();
  const artifacts = {
    modelTopology: { ...topology, keras_version: `candor ${version}`, backend: 'candor' },
    format: 'layers-model',
    generatedBy: `Candor v${version}`,
    convertedBy: null,
    weightsManifest: [group],
  };
  const dir = dirname(file);
  await mkdir(dir, { recursive: true });
  const previous = await previousShards(file);
  await writeFileAtomic(join(dir, shard), bytes);
  await writeFileAtomic(file, JSON.stringify(artifacts));
  for (const name of previous) if (name !== shard) await unlink(join(dir, name)).catch(() => {});
}

/** The shard files (plain names in its folder) that the model.json at `file` names, if it is one. */
async function previousShards(file: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(file, 'utf8')) as { weightsManifest?: { paths?: unknown }[] };
    const paths = (json.weightsManifest ?? []).flatMap((g) => (Array.isArray(g.paths) ? g.paths : []));
    return paths
      .filter((p): p is string => typeof p === 'string')
      .map((p) => p.replace(/^\.\//, ''))
      .filter((p) => p !== '' && !/[\\/]/.test(p) && p !== '.' && p !== '..' && p !== basename(file));
  } catch {
    return [];
  }
}
