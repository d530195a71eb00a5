// Saving and loading models: model.json (architecture config, training config, file hashes),
// weights.safetensors and, when compiled, optimizer.safetensors. Each file is written atomically and
// model.json last, naming the SHA-256 of the others, so a loader never mixes files of two saves.
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { dispose } from '../tensor/storage.js';
import { ArgumentError } from '../errors.js';
import { Layer, layerFromConfig, type LayerConfig } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { FormatError, parseSafetensors, serializeSafetensors } from './safetensors.js';
import { readFileBytes, writeFileAtomic } from './atomic.js';

export const MODEL_FORMAT = 'candor-model';
export const MODEL_FORMAT_VERSION = 1;

export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  version: number;
  model: { className: string; config: LayerConfig };
  /** compile() arguments that can be restored by name, when the model was compiled with named ones. */
  training?: { optimizer: unknown; loss: unknown; metrics?: unknown; weightedMetrics?: unknown; lossWeights?: unknown };
  files: Record<string, { sha256: string; bytes: number }>;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Writes the model under `dir` (created if needed). */
export async function saveModel(model: Model, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const weights = new Map<string, Tensor>();
  for (const v of model.weights) {
    if (weights.has(v.name))
      throw new ArgumentError(`saveModel: two weights are named '${v.name}'; give layers unique names`);
    weights.set(v.name, v.value);
  }
  const files: ModelManifest['files'] = {};
  const write = async (name: string, bytes: Uint8Array) => {
    await writeFileAtomic(join(dir, name), bytes);
    files[name] = { sha256: sha256(bytes), bytes: bytes.length };
  };
  await write('weights.safetensors', serializeSafetensors(weights, { format: MODEL_FORMAT }));
  const training = model.trainingConfig();
  const optimizer = model.optimizer;
  if (optimizer) {
    const state = optimizer.getState();
    try {
      // Slots are keyed by where they live in the optimizer's state ('0/mu/1': chain position / field /
      // parameter), so that loading into another kind of optimizer is detected rather than misassigned.
      const names =
        state.slotNames?.length === state.slots.length
          ? state.slotNames.map((n) => n || '.')
          : state.slots.map((_, i) => `slot_${String(i).padStart(5, '0')}`);
      const slots = new Map(state.slots.map((t, i) => [names[i], t]));
      await write(
        'optimizer.safetensors',
        serializeSafetensors(slots, {
          iterations: String(state.iterations),
          config: JSON.stringify(optimizer.getConfig()),
          slotNames: JSON.stringify(names),
        }),
      );
    } finally {
      dispose(state.slots);
    }
  }
  const manifest: ModelManifest = {
    format: MODEL_FORMAT,
    version: MODEL_FORMAT_VERSION,
    model: { className: model.className, config: model.getConfig() },
    ...(training ? { training } : {}),
    files,
  };
  await writeFileAtomic(join(dir, 'model.json'), JSON.stringify(manifest, null, 2) + '\n');
  // The run record of the last fit, with the hashes of the files just written, beside the model.
  const recorder = model.runRecorder;
  if (recorder?.hasRecord) {
    await recorder.addArtifacts(dir);
    await recorder.finish({ dir });
  }
}

async function readChecked(dir: string, name: string, manifest: ModelManifest): Promise<Uint8Array> {
  const expected = manifest.files[name];
  if (!expected) throw new FormatError(`loadModel: model.json in ${dir} does not list ${name}`);
  const bytes = await readFileBytes(join(dir, name));
  if (bytes.length !== expected.bytes || sha256(bytes) !== expected.sha256) {
    throw new FormatError(
      `loadModel: ${join(dir, name)} does not match the SHA-256 recorded in model.json (was it replaced or partly written?)`,
    );
  }
  return bytes;
}

function parseManifest(text: string, dir: string): ModelManifest {
  let m: ModelManifest;
  try {
    m = JSON.parse(text) as ModelManifest;
  } catch (e) {
    throw new FormatError(`loadModel: ${join(dir, 'model.json')} is not valid JSON: ${(e as Error).message}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(m) || m.format !== MODEL_FORMAT)
    throw new FormatError(
      `loadModel: ${join(dir, 'model.json')} is not a Candor model (format '${String(isObject(m) ? m.format : m)}')`,
    );
  if (!Number.isInteger(m.version) || m.version < 1)
    throw new FormatError(
      `loadModel: ${join(dir, 'model.json')} has no valid format version (got ${JSON.stringify(m.version)})`,
    );
  if (m.version > MODEL_FORMAT_VERSION)
    throw new FormatError(
      `loadModel: model format version ${m.version} is newer than this Candor reads (${MODEL_FORMAT_VERSION})`,
    );
  if (!isObject(m.model) || typeof m.model.className !== 'string' || !isObject(m.model.config) || !isObject(m.files)) {
    throw new FormatError(`loadModel: ${join(dir, 'model.json')} lacks the model config or file list`);
  }
  for (const [name, f] of Object.entries(m.files)) {
    if (!isObject(f) || typeof f.sha256 !== 'string' || !Number.isInteger(f.bytes))
      throw new FormatError(`loadModel: ${join(dir, 'model.json')} has a malformed entry for ${name}`);
  }
  return m;
}

/** Loads a model saved by saveModel: same architecture and weights and, if it was compiled, the same optimizer state. */
export async function loadModel(dir: string): Promise<Model> {
  const manifest = parseManifest(new TextDecoder().decode(await readFileBytes(join(dir, 'model.json'))), dir);
  let layer: Layer;
  try {
    layer = layerFromConfig(manifest.model);
  } catch (e) {
    throw new FormatError(
      `loadModel: the architecture in ${join(dir, 'model.json')} cannot be rebuilt: ${(e as Error).message}`,
    );
  }
  if (!(layer instanceof Model))
    throw new FormatError(`loadModel: ${dir} holds a ${manifest.model.className}, not a model`);
  const model = layer;
  const { tensors } = parseSafetensors(await readChecked(dir, 'weights.safetensors', manifest));
  try {
    const weights = model.weights;
    const missing = weights.filter((v) => !tensors.has(v.name)).map((v) => v.name);
    if (missing.length > 0 || tensors.size !== weights.length) {
      throw new FormatError(
        `loadModel: weights.safetensors does not match the architecture (missing: ${missing.join(', ') || 'none'}; file has ${tensors.size} tensors, model ${weights.length})`,
      );
    }
    model.setWeights(weights.map((v) => tensors.get(v.name)!));
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
  if (manifest.training) {
    model.compile(manifest.training as Parameters<Model['compile']>[0]);
    if (manifest.files['optimizer.safetensors']) {
      const opt = parseSafetensors(await readChecked(dir, 'optimizer.safetensors', manifest));
      try {
        const iterations = Number(opt.metadata.iterations);
        let names: string[];
        try {
          names =
            opt.metadata.slotNames === undefined
              ? [...opt.tensors.keys()].sort()
              : (JSON.parse(opt.metadata.slotNames) as string[]);
        } catch {
          throw new FormatError(`loadModel: ${join(dir, 'optimizer.safetensors')} has malformed slotNames metadata`);
        }
        if (!Array.isArray(names) || names.length !== opt.tensors.size || !names.every((n) => opt.tensors.has(n))) {
          throw new FormatError(
            `loadModel: ${join(dir, 'optimizer.safetensors')} lists slots [${String(names)}] but holds [${[...opt.tensors.keys()].join(', ')}]`,
          );
        }
        // An optimizer saved before its first update has no slots yet: nothing to restore.
        if (names.length > 0 || iterations > 0) {
          const named = opt.metadata.slotNames !== undefined && names.every((n) => !/^slot_\d{5}$/.test(n));
          model.optimizer!.setState(
            {
              iterations,
              slots: names.map((n) => opt.tensors.get(n)!),
              ...(named ? { slotNames: names.map((n) => (n === '.' ? '' : n)) } : {}),
            },
            model.trainableWeights.map((v) => v.value),
          );
        }
      } finally {
        dispose([...opt.tensors.values()]);
      }
    }
  }
  return model;
}
