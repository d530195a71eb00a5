// The model file formats Candor reads and writes, chosen by a path's name: what `candor convert IN OUT` and
// interop.loadAny / interop.saveAs dispatch on. Each importer and exporter adds its entry here.
import { loadModel, saveModel } from '../train/saving.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { saveOnnx } from './onnx/export.js';
import { loadOnnx } from './onnx/import.js';
import { isTfjsPath, loadTfjsModel, saveTfjsModel } from './tfjs/model.js';
import { loadKerasModel } from './keras/load-model.js';

export interface ModelFormat {
  /** Shown in messages and `candor convert --help`. */
  name: string;
  /** Whether a path names a file (or directory) of this format. */
  matches(path: string): boolean;
  load?(path: string): Promise<Model>;
  save?(model: Model, path: string): Promise<void>;
}

export const MODEL_FORMATS: ModelFormat[] = [
  {
    name: 'ONNX (.onnx)',
    matches: (p) => p.endsWith('.onnx'),
    load: (p) => loadOnnx(p),
    save: (m, p) => saveOnnx(m, p),
  },
  // TF.js layers models: a folder or file named *.tfjs, a model.json file, or a folder whose model.json has a
  // weightsManifest (Candor's own folders hold a model.json without one). Saving: '*.tfjs' or '.../model.json'.
  {
    name: 'TF.js layers model (model.json + shards; save to a .tfjs folder)',
    matches: (p) => isTfjsPath(p, 'load'),
    load: (p) => loadTfjsModel(p),
    save: (m, p) => saveTfjsModel(m, p),
  },
  { name: 'Keras (.keras)', matches: (p) => p.endsWith('.keras'), load: (p) => loadKerasModel(p) },
  { name: 'Keras legacy HDF5 (.h5)', matches: (p) => p.endsWith('.h5'), load: (p) => loadKerasModel(p) },
  // Last: a directory of model.json + safetensors, Candor's own format (any path without a known extension).
  { name: 'Candor model directory', matches: () => true, load: (p) => loadModel(p), save: (m, p) => saveModel(m, p) },
];

export function formatOf(path: string, use: 'load' | 'save'): ModelFormat {
  const format = MODEL_FORMATS.find((f) => f.matches(path))!;
  if (!format[use]) {
    const able = MODEL_FORMATS.filter((f) => f[use]).map((f) => f.name);
    throw new ArgumentError(`${path}: Candor cannot ${use} ${format.name} models; it can ${use}: ${able.join(', ')}`);
  }
  return format;
}

/** Loads a model from any format Candor reads, by the path's name. */
export async function loadAny(path: string): Promise<Model> {
  return formatOf(path, 'load').load!(path);
}

/** Saves a model in the format the path's name says. */
export async function saveAs(model: Model, path: string): Promise<void> {
  await formatOf(path, 'save').save!(model, path);
}
