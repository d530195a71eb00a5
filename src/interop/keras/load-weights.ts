// loadKerasWeights: Keras HDF5 weights (Keras 3 .weights.h5, the weights inside a .keras, legacy .h5) into a
// Candor model. Layers are matched as Keras matches them: in a Keras 3 file by class and position in each
// container (the second Dense of a model is layers/dense_1, whatever its name), in a legacy file by layer name.
// Every matched weight is checked for count and shape before any is assigned, and the report says which layers
// got weights and which were missing from the file or left over in it.
import type { Layer } from '../../nn/layer.js';
import { snake } from '../../nn/names.js';
import { Model } from '../../train/model.js';
import { fromTypedArray } from '../../tensor/tensor.js';
import { readFileBytes } from '../../io/atomic.js';
import { fmtShape } from '../../errors.js';
import { FormatError } from '../errors.js';
import { H5File, H5Group } from './hdf5.js';
import { readKerasArchive, DEFAULT_MAX_KERAS_BYTES } from './archive.js';
import {
  keras3Datasets,
  legacyLayerGroups,
  legacyRoot,
  readStored,
  type LegacyLayerGroup,
  type StoredWeight,
} from './weight-groups.js';

export type { StoredWeight } from './weight-groups.js';

/**
 * Turns a layer's weights as Keras stores them (Keras' order and layout) into values for `layer.weights` (Candor's
 * order), or throws naming what does not fit. The default takes them as they are: Candor's layers follow Keras'
 * weight order and layouts.
 */
export type KerasWeightAdapter = (layer: Layer, stored: StoredWeight[]) => StoredWeight[];

export interface KerasWeightsReport {
  /** 'keras3' (layers/<class>/vars/<i>) or 'legacy' (per-layer groups with weight_names). */
  layout: 'keras3' | 'legacy';
  /** Layers that got weights: the layer's name, its group in the file and how many weights it took. */
  loaded: { layer: string; path: string; weights: number }[];
  /** Layers with weights for which the file has no group (or an empty one). */
  missing: { layer: string; path: string }[];
  /** Groups of the file holding weights that no layer took. */
  extra: string[];
}

export interface LoadKerasWeightsOptions {
  /**
   * true (default): a layer missing from the file, or weights in the file that no layer takes, is a FormatError
   * and nothing is assigned. false: the layers that match are loaded and the report lists the rest.
   */
  strict?: boolean;
  /** Cap on the bytes a .keras archive may inflate to (default 512 MiB). */
  maxBytes?: number;
}

/** @internal How the loaders name a layer's Keras class and convert its weights. */
export interface MatchHooks {
  /** The Keras class of a Candor layer (default its className), which names its Keras 3 group. */
  kerasClass?: (layer: Layer) => string;
  adapt?: KerasWeightAdapter;
}

/** One layer's stored weights, found in the file (data read). */
interface Match {
  layer: Layer;
  path: string;
  stored: StoredWeight[];
}

const isContainer = (layer: Layer): layer is Model => layer instanceof Model;

/** Walks a Keras 3 container ('layers' group) beside the Candor layers it holds, by class and position. */
function matchKeras3(
  layers: readonly Layer[],
  container: H5Group | undefined,
  path: string,
  hooks: MatchHooks,
  report: KerasWeightsReport,
  matches: Match[],
): void {
  const counts = new Map<string, number>();
  const used = new Set<string>();
  for (const layer of layers) {
    const base = snake(hooks.kerasClass?.(layer) ?? layer.className);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    const key = n === 0 ? base : `${base}_${n}`;
    used.add(key);
    const group = container?.group(key);
    const where = `${path}/${key}`;
    if (isContainer(layer)) {
      matchKeras3(layer.layers, group?.group('layers'), `${where}/layers`, hooks, report, matches);
      continue;
    }
    if (layer.weights.length === 0) continue;
    const datasets = group ? keras3Datasets(group) : [];
    if (datasets.length === 0) report.missing.push({ layer: layer.name, path: where });
    else matches.push({ layer, path: where, stored: readStored(datasets) });
  }
  for (const key of container?.keys() ?? []) {
    if (used.has(key)) continue;
    const group = container!.group(key);
    if (group && keras3Datasets(group).length > 0) report.extra.push(`${path}/${key}`);
  }
}

/** Matches legacy layer groups to the model's top-level layers by name; a nested model's weights are split. */
function matchLegacy(model: Model, groups: LegacyLayerGroup[], report: KerasWeightsReport, matches: Match[]): void {
  const byName = new Map(groups.map((g) => [g.name, g]));
  const used = new Set<string>();
  for (const layer of model.layers) {
    if (layer.weights.length === 0) continue;
    const group = byName.get(layer.name);
    if (!group || group.datasets.length === 0) {
      report.missing.push({ layer: layer.name, path: group?.path ?? layer.name });
      continue;
    }
    used.add(group.name);
    const stored = readStored(group.datasets);
    if (!isContainer(layer)) {
      matches.push({ layer, path: group.path, stored });
      continue;
    }
    // A nested model's group lists all its weights in its weight order: split them by its layers' counts.
    let at = 0;
    for (const sub of layer.flattenLayers().filter((l) => !isContainer(l) && l.weights.length > 0)) {
      const count = sub.weights.length;
      matches.push({ layer: sub, path: group.path, stored: stored.slice(at, at + count) });
      at += count;
    }
    if (at !== stored.length)
      throw new FormatError(
        `${group.path}: nested model '${layer.name}' has ${at} weights, the file holds ${stored.length}`,
      );
  }
  for (const g of groups) if (!used.has(g.name) && g.datasets.length > 0) report.extra.push(g.path);
}

/** Checks every match against its layer (count, shapes) and only then assigns them all. */
function assign(matches: Match[], hooks: MatchHooks, label: string): void {
  const plans = matches.map(({ layer, path, stored }) => {
    const values = hooks.adapt ? hooks.adapt(layer, stored) : stored;
    const vars = layer.weights;
    if (values.length !== vars.length)
      throw new FormatError(
        `${label}: layer '${layer.name}' (${layer.className}) has ${vars.length} weights ` +
          `(${vars.map((v) => fmtShape(v.shape)).join(', ')}), the file's ${path} holds ${values.length} ` +
          `(${values.map((s) => fmtShape(s.shape)).join(', ')})`,
      );
    values.forEach((s, i) => {
      const v = vars[i];
      if (s.shape.length !== v.shape.length || s.shape.some((d, j) => d !== v.shape[j]))
        throw new FormatError(
          `${label}: weight '${v.name}' of layer '${layer.name}' (${layer.className}) has shape ` +
            `${fmtShape(v.shape)}, the file's ${path}/${s.name} has ${fmtShape(s.shape)}`,
        );
    });
    return { vars, values };
  });
  for (const { vars, values } of plans) {
    vars.forEach((v, i) => {
      const { data, shape } = values[i];
      const typed =
        v.dtype === 'float64' ? Float64Array.from(data) : data instanceof Float32Array ? data : Float32Array.from(data);
      v.assign(fromTypedArray(typed, shape));
    });
  }
}

/** Matches and assigns the weights of an open HDF5 file; the report (and, when strict, missing/extra) checked. */
export function loadKerasWeightsFrom(
  model: Model,
  file: H5File,
  options: LoadKerasWeightsOptions = {},
  hooks: MatchHooks = {},
): KerasWeightsReport {
  const legacy = legacyRoot(file);
  const layout = legacy ? 'legacy' : 'keras3';
  const report: KerasWeightsReport = { layout, loaded: [], missing: [], extra: [] };
  const matches: Match[] = [];
  if (legacy) matchLegacy(model, legacyLayerGroups(legacy), report, matches);
  else {
    if (!file.root.has('layers') && !file.root.has('vars'))
      throw new FormatError(
        `${file.label}: not a Keras weights file (no layers/ group of Keras 3, no layer_names of the legacy format)`,
      );
    matchKeras3(model.layers, file.root.group('layers'), 'layers', hooks, report, matches);
  }
  if (options.strict !== false && (report.missing.length > 0 || report.extra.length > 0)) {
    const list = (xs: string[]) => (xs.length ? xs.slice(0, 10).join(', ') + (xs.length > 10 ? ', ...' : '') : 'none');
    throw new FormatError(
      `${file.label} does not match model '${model.name}': layers missing from the file: ` +
        `${list(report.missing.map((m) => `${m.layer} (${m.path})`))}; weights in the file no layer takes: ` +
        `${list(report.extra)} (pass { strict: false } to load the layers that match)`,
    );
  }
  assign(matches, hooks, file.label);
  report.loaded = matches.map(({ layer, path, stored }) => ({ layer: layer.name, path, weights: stored.length }));
  return report;
}

/** Opens the HDF5 weights of a file's bytes: a .keras archive's model.weights.h5, or the file itself. */
export function openKerasWeights(bytes: Uint8Array, label: string, maxBytes = DEFAULT_MAX_KERAS_BYTES): H5File {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b)
    return H5File.open(readKerasArchive(bytes, label, maxBytes).weights, `${label}: model.weights.h5`);
  return H5File.open(bytes, label);
}

/**
 * Loads Keras weights into a Candor model built to match: a Keras 3 `.weights.h5` (model.save_weights), a
 * `.keras` file's weights, or a legacy `.h5` (weights or full model). Returns what matched; with `strict`
 * (default) a layer the file lacks, or file weights no layer takes, is an error and nothing is assigned.
 */
export async function loadKerasWeights(
  model: Model,
  source: string | Uint8Array,
  options: LoadKerasWeightsOptions = {},
): Promise<KerasWeightsReport> {
  const label = typeof source === 'string' ? source : 'Keras weights';
  const bytes = typeof source === 'string' ? await readFileBytes(source) : source;
  return loadKerasWeightsFrom(model, openKerasWeights(bytes, label, options.maxBytes), options);
}
