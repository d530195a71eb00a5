// Where a Keras HDF5 weights file keeps each layer's weights, for both layouts:
// Keras 3 (model.weights.h5 in a .keras, or .weights.h5): layers/<snake_case class>[_n]/vars/<i>, with the n-th
// layer of a class in a container named <class>_n (Keras names them by class and position, not by layer name),
// nested layers under their attribute names and nested models under <model>/layers/...;
// legacy (.h5 from model.save or save_weights in Keras 2, or Keras 3's legacy format): a group per top-level
// layer named after it (under model_weights/ in a full model file), whose weight_names attribute lists its
// datasets in the layer's weight order.
import { FormatError } from '../errors.js';
import { H5Dataset, H5Group, type H5File } from './hdf5.js';

/** One stored weight: its path relative to the layer's group, and its values. */
export interface StoredWeight {
  name: string;
  shape: number[];
  data: Float32Array | Float64Array;
}

/** Keras' order of visiting attributes when it saves: public names sorted, then private ('_x') ones. */
const attributeKey = (name: string) => (name.startsWith('_') ? `~${name}` : name);
const byAttribute = (a: string, b: string) =>
  attributeKey(a) < attributeKey(b) ? -1 : attributeKey(a) > attributeKey(b) ? 1 : 0;

/** The datasets of a `vars` group in index order (0, 1, ..., 10: numeric, not by name). */
function varsDatasets(vars: H5Group): H5Dataset[] {
  const keys = vars.keys();
  if (!keys.every((k) => /^(0|[1-9]\d{0,8})$/.test(k)))
    throw new FormatError(`${vars.file.label}: ${vars.path} holds members other than numbered variables: ${keys}`);
  return keys
    .map(Number)
    .sort((a, b) => a - b)
    .map((i) => {
      const d = vars.child(String(i));
      if (!(d instanceof H5Dataset)) throw new FormatError(`${vars.file.label}: ${vars.path}/${i} is not a dataset`);
      return d;
    });
}

/**
 * The datasets under a Keras 3 layer group, with names relative to it: its own vars first ('vars/0', ...), then
 * those of nested layers ('cell/vars/0'), in the order Keras saves them. Data is not read here.
 */
export function keras3Datasets(group: H5Group, prefix = '', depth = 0): { name: string; dataset: H5Dataset }[] {
  if (depth > 64) throw new FormatError(`${group.file.label}: ${group.path} nests groups over 64 deep`);
  const out: { name: string; dataset: H5Dataset }[] = [];
  const vars = group.group('vars');
  if (vars) varsDatasets(vars).forEach((d, i) => out.push({ name: `${prefix}vars/${i}`, dataset: d }));
  for (const key of group
    .keys()
    .filter((k) => k !== 'vars')
    .sort(byAttribute)) {
    const child = group.child(key);
    if (child instanceof H5Group) out.push(...keras3Datasets(child, `${prefix}${key}/`, depth + 1));
  }
  return out;
}

/** Reads the named datasets of a layer into StoredWeights. */
export function readStored(list: { name: string; dataset: H5Dataset }[]): StoredWeight[] {
  return list.map(({ name, dataset }) => ({ name, ...dataset.readFloats() }));
}

/** A legacy layer group: its name and its datasets in weight_names order (not read yet). */
export interface LegacyLayerGroup {
  name: string;
  path: string;
  datasets: { name: string; dataset: H5Dataset }[];
}

/** The file's root of legacy layer groups: model_weights/ in a full model file, the root in a weights file. */
export function legacyRoot(file: H5File): H5Group | undefined {
  const root = file.root;
  const weights = root.has('model_weights') ? root.group('model_weights') : root;
  return weights?.stringListAttr('layer_names') !== undefined ? weights : undefined;
}

/** The layer groups of a legacy file in layer_names order (layers without weights included, with none). */
export function legacyLayerGroups(root: H5Group): LegacyLayerGroup[] {
  const label = root.file.label;
  const names = root.stringListAttr('layer_names') ?? [];
  const seen = new Set<string>();
  return names.map((name) => {
    if (seen.has(name)) throw new FormatError(`${label}: layer_names lists '${name}' twice`);
    seen.add(name);
    const group = root.group(name);
    if (!group) throw new FormatError(`${label}: layer_names lists '${name}' but ${root.path} has no such group`);
    const weightNames = group.attrs()['weight_names'] === undefined ? [] : (group.stringListAttr('weight_names') ?? []);
    const datasets = weightNames.map((w) => {
      const dataset = group.resolve(w);
      if (!(dataset instanceof H5Dataset))
        throw new FormatError(`${label}: weight '${w}' listed by ${group.path} is not a dataset there`);
      return { name: w, dataset };
    });
    return { name, path: group.path, datasets };
  });
}
