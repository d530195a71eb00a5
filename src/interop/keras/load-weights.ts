// loadKerasWeights: Keras HDF5 weights (Keras 3 .weights.h5, the weights inside a .keras, legacy .h5) into a
// Candor model. Layers are matched as Keras matches them: in a Keras 3 file by class and position in each
// container (the second Dense of a model is layers/dense_1, whatever its name), in a legacy file by layer name.
// Which Keras weight each Candor variable is comes from kerasWeights (weights.ts). Every matched weight is checked
// for count and shape before any is assigned, and the report says which layers got weights and which were missing
// from the file or left over in it.
import type { Layer } from '../../nn/layer.js';
import { snake } from '../../nn/names.js';
import { Model } from '../../train/model.js';
import { fromTypedArray, type Tensor } from '../../tensor/tensor.js';
import { dispose } from '../../tensor/storage.js';
import { readFileBytes } from '../../io/atomic.js';
import { fmtShape } from '../../errors.js';
import { FormatError } from '../errors.js';
import { H5File, H5Group } from './hdf5.js';
import { readKerasArchive, DEFAULT_MAX_KERAS_BYTES } from './archive.js';
import { legacyGroupOrder } from './legacy-order.js';
import { assignKerasWeights, kerasWeights } from './weights.js';
import {
  keras3Datasets,
  legacyLayerGroups,
  legacyRoot,
  readStored,
  type LegacyLayerGroup,
  type StoredWeight,
} from './weight-groups.js';

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

/**
 * @internal A layer's group in a Keras 3 container ('dense_1'), when known from the model's Keras config (a .keras
 * file's); otherwise it is made from the layer's class and position among the container's Candor layers.
 */
export type KerasGroupOf = (containerPath: string, layer: Layer) => string | undefined;

/** One layer's weights found in the file (data read), in kerasWeights(layer) order. */
interface Match {
  layer: Layer;
  path: string;
  stored: StoredWeight[];
}

const isContainer = (layer: Layer): layer is Model => layer instanceof Model;
const list = (xs: readonly string[]) => (xs.length ? xs.join(', ') : 'none');

/** A Keras 3 layer group's datasets, one per Keras weight of the layer (by object path and index). */
function keras3LayerWeights(layer: Layer, group: H5Group, where: string): StoredWeight[] {
  const label = group.file.label;
  const datasets = new Map(keras3Datasets(group).map((d) => [d.name, d.dataset]));
  const specs = kerasWeights(layer);
  const names = specs.map((w) => `${w.path ? `${w.path}/` : ''}vars/${w.index}`);
  if (datasets.size !== specs.length || names.some((n) => !datasets.has(n)))
    throw new FormatError(
      `${label}: layer '${layer.name}' (${layer.className}) takes ${specs.length} weights (${list(names)}), ` +
        `the file's ${where} holds ${datasets.size} (${list([...datasets.keys()])})`,
    );
  return readStored(names.map((name) => ({ name, dataset: datasets.get(name)! })));
}

/** Walks a Keras 3 container ('layers' group) beside the Candor layers it holds, by class and position. */
function matchKeras3(
  layers: readonly Layer[],
  container: H5Group | undefined,
  path: string,
  groupOf: KerasGroupOf | undefined,
  report: KerasWeightsReport,
  matches: Match[],
): void {
  const counts = new Map<string, number>();
  const used = new Set<string>();
  for (const layer of layers) {
    const base = snake(layer.className);
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    const key = groupOf?.(path, layer) ?? (n === 0 ? base : `${base}_${n}`);
    used.add(key);
    const group = container?.group(key);
    const where = `${path}/${key}`;
    if (isContainer(layer)) {
      matchKeras3(layer.layers, group?.group('layers'), `${where}/layers`, groupOf, report, matches);
      continue;
    }
    if (layer.weights.length === 0) continue;
    if (!group || keras3Datasets(group).length === 0) report.missing.push({ layer: layer.name, path: where });
    else matches.push({ layer, path: where, stored: keras3LayerWeights(layer, group, where) });
  }
  for (const key of container?.keys() ?? []) {
    if (used.has(key)) continue;
    const group = container!.group(key);
    if (group && keras3Datasets(group).length > 0) report.extra.push(`${path}/${key}`);
  }
}

/**
 * Matches legacy layer groups to the model's top-level layers by name. A group lists its layer's weights (a nested
 * model's group all of its layers') as Keras saves them; legacyGroupOrder says which is which.
 */
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
    const order = legacyGroupOrder(
      layer,
      group.datasets.map((d) => d.name),
      group.path,
    );
    const stored = readStored(group.datasets);
    for (const part of order)
      matches.push({ layer: part.layer, path: group.path, stored: part.at.map((i) => stored[i]) });
  }
  for (const g of groups) if (!used.has(g.name) && g.datasets.length > 0) report.extra.push(g.path);
}

/** Checks every match's shapes against its layer's Keras weights, and only then assigns them all. */
function assign(matches: Match[], label: string): void {
  const plans = matches.map(({ layer, path, stored }) => {
    const specs = kerasWeights(layer);
    specs.forEach((w, i) => {
      const s = stored[i];
      if (s.shape.length !== w.shape.length || s.shape.some((d, j) => d !== w.shape[j]))
        throw new FormatError(
          `${label}: layer '${layer.name}' (${layer.className}) weight '${w.name}' has shape ${fmtShape(w.shape)}, ` +
            `the file's ${path}/${s.name} has ${fmtShape(s.shape)}`,
        );
    });
    return { layer, values: new Map(specs.map((w, i) => [w.variable, stored[i]])) };
  });
  for (const { layer, values } of plans) {
    const made: Tensor[] = [];
    try {
      assignKerasWeights(
        layer,
        (w) => {
          const { data, shape } = values.get(w.variable)!;
          const t = fromTypedArray(data, shape);
          made.push(t);
          return t;
        },
        label,
      );
    } finally {
      dispose(made);
    }
  }
}

/** Matches and assigns the weights of an open HDF5 file; with `strict`, missing or extra layers are an error. */
export function loadKerasWeightsFrom(
  model: Model,
  file: H5File,
  options: LoadKerasWeightsOptions = {},
  groupOf?: KerasGroupOf,
): KerasWeightsReport {
  const legacy = legacyRoot(file);
  const report: KerasWeightsReport = { layout: legacy ? 'legacy' : 'keras3', loaded: [], missing: [], extra: [] };
  const matches: Match[] = [];
  if (legacy) matchLegacy(model, legacyLayerGroups(legacy), report, matches);
  else {
    if (!file.root.has('layers') && !file.root.has('vars'))
      throw new FormatError(
        `${file.label}: not a Keras weights file (no layers/ group of Keras 3, no layer_names of the legacy format)`,
      );
    matchKeras3(model.layers, file.root.group('layers'), 'layers', groupOf, report, matches);
  }
  if (options.strict !== false && (report.missing.length > 0 || report.extra.length > 0)) {
    const some = (xs: string[]) => list(xs.slice(0, 10)) + (xs.length > 10 ? ', ...' : '');
    throw new FormatError(
      `${file.label} does not match model '${model.name}': layers missing from the file: ` +
        `${some(report.missing.map((m) => `${m.layer} (${m.path})`))}; weights in the file no layer takes: ` +
        `${some(report.extra)} (pass { strict: false } to load the layers that match)`,
    );
  }
  assign(matches, file.label);
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
