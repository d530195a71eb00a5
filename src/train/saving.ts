// Saving and loading models: model.json (architecture config, training config, file hashes) and, beside
// it, content-named weights and optimizer files (weights-<sha256 prefix>.safetensors). A save writes the
// new files under new names, then switches model.json by an atomic rename, and only then removes the
// files the previous model.json named: a save killed at any moment leaves the previous model loadable.
// With an encryptionKey every file is encrypted (src/io/encryption.ts), each authenticated with its role
// ('model.json', 'weights', 'optimizer', 'run.json'); model.json lists the hashes of the encrypted files.
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { dispose } from '../tensor/storage.js';
import { ArgumentError, CandorError, DTypeError, fmtShape, fmtValue, errorMessage } from '../errors.js';
import { Layer, layerFromConfig, withWeightSource, type LayerConfig, type WeightSource } from '../nn/layer.js';
import { Model } from './model.js';
import { FormatError, serializeSafetensors } from '../io/safetensors.js';
import { parseSparseSafetensors, serializeSparseSafetensors } from '../io/sparse-safetensors.js';
import { readFileBytes, removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { writesFiles } from '../distributed/writes-files.js';
import { FileCipher, openMaybeEncrypted, type EncryptionKey, type ScryptParams } from '../io/encryption.js';
import type { PrivateSteps } from './private-training.js';

export const MODEL_FORMAT = 'candor-model';
/** 2: content-named weights and optimizer files (weightsFile, optimizerFile); 1: fixed names. Both load. */
export const MODEL_FORMAT_VERSION = 2;
/** The file names of format version 1, which had no weightsFile / optimizerFile fields. */
const V1_WEIGHTS = 'weights.safetensors';
const V1_OPTIMIZER = 'optimizer.safetensors';
/** Files a save writes beside model.json (either version), which a later save may remove. */
const MODEL_FILE = /^(weights|optimizer)(-[0-9a-f]{16})?\.safetensors$/;
/** What model.json may name: a plain file in the model's directory (no path, no '..'). */
const PLAIN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface ModelManifest {
  format: typeof MODEL_FORMAT;
  version: number;
  model: { className: string; config: LayerConfig };
  /** compile() arguments that can be restored by name, when the model was compiled with named ones. */
  training?: { optimizer: unknown; loss: unknown; metrics?: unknown; weightedMetrics?: unknown; lossWeights?: unknown };
  files: Record<string, { sha256: string; bytes: number }>;
  /** The weights file among `files` (version 2; version 1 used weights.safetensors). */
  weightsFile?: string;
  /** The optimizer state file among `files`, when the model was compiled (version 2). */
  optimizerFile?: string;
  /** The DP-SGD steps the model took (the accountant's history), so that epsilon composes after loading. */
  privateSteps?: PrivateSteps[];
}

export interface SaveOptions {
  /**
   * Encrypts every file of the save with AES-256-GCM: a passphrase (stretched by scrypt, a random salt per
   * save) or a raw 32-byte key. loadModel then needs the same key. See docs/privacy.md, Encryption.
   */
  encryptionKey?: EncryptionKey;
  /** scrypt's parameters for a passphrase (default privacy.DEFAULT_SCRYPT: N = 2^17, r = 8, p = 1). */
  scrypt?: Partial<ScryptParams>;
  /**
   * Stores each mostly-zero float weight (a pruned kernel) as a bit mask plus its non-zero values inside the
   * safetensors file (see docs/compression.md); loading reads either layout. Default false.
   */
  sparseWeights?: boolean;
}

export interface LoadOptions {
  /** The key the model was saved with (required for an encrypted model, refused for a plain one). */
  encryptionKey?: EncryptionKey;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/**
 * Writes the model under `dir` (created if needed). Crash-safe: until model.json is switched, the
 * directory loads as the previous save; the temp files of saves that were killed are removed.
 * Concurrent saves into one directory are not supported (the last to switch model.json wins). In a distributed
 * world it writes nothing on ranks other than 0 and returns (see writesFiles).
 */
export async function saveModel(model: Model, dir: string, options: SaveOptions = {}): Promise<void> {
  // Rank 0 alone writes the model and its run record, whatever `record` says; the other ranks' copies are the same.
  // A recorder that is not its run's chief (another rank of a distributed fit) keeps to memory too.
  if (!writesFiles() || model.runRecorder?.chief === false) return;
  const cipher = FileCipher.optional(options.encryptionKey, options.scrypt); // checked before any file is touched
  /** The bytes as written: encrypted as `role` when there is a key. */
  const seal = async (bytes: Uint8Array | string, role: string) => (cipher ? cipher.encrypt(bytes, role) : bytes);
  await mkdir(dir, { recursive: true });
  // The run's 'saving' stage (record.stages) runs from here to the files' last write.
  const saving = model.runRecorder?.hasRecord ? model.runRecorder.stageMark() : undefined;
  const started = Date.now();
  await removeStaleTemps(dir);
  const weights = new Map<string, Tensor>();
  for (const v of model.weights) {
    if (weights.has(v.name))
      throw new ArgumentError(`saveModel: two weights are named '${v.name}'; give layers unique names`);
    weights.set(v.name, v.value);
  }
  const files: ModelManifest['files'] = {};
  /** Writes bytes under a name made from their hash, so no file of the previous save is overwritten. */
  const write = async (prefix: string, plain: Uint8Array): Promise<string> => {
    const bytes = (await seal(plain, prefix)) as Uint8Array;
    const hash = sha256(bytes);
    const name = `${prefix}-${hash.slice(0, 16)}.safetensors`;
    await writeFileAtomic(join(dir, name), bytes);
    files[name] = { sha256: hash, bytes: bytes.length };
    return name;
  };
  const encode = options.sparseWeights ? serializeSparseSafetensors : serializeSafetensors;
  const weightsFile = await write('weights', encode(weights, { format: MODEL_FORMAT }));
  let optimizerFile: string | undefined;
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
      optimizerFile = await write(
        'optimizer',
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
    weightsFile,
    ...(optimizerFile ? { optimizerFile } : {}),
    ...(model.privateSteps ? { privateSteps: model.privateSteps } : {}),
  };
  await writeFileAtomic(join(dir, 'model.json'), await seal(JSON.stringify(manifest, null, 2) + '\n', 'model.json'));
  await removeUnlisted(dir, files, started);
  // The run record of the last fit, with the hashes of the files just written, beside the model.
  const recorder = model.runRecorder;
  if (recorder?.hasRecord) {
    recorder.endStage('saving', saving, 0, 'writing the model files (weights, optimizer state, model.json)');
    await recorder.addArtifacts(dir, files);
    await recorder.finish({ dir, encryptionKey: options.encryptionKey });
  }
}

/**
 * Removes the weights and optimizer files that model.json no longer names: the previous save's, and
 * those of saves killed before their switch. Files newer than this save's start are left alone, so a
 * save racing this one in the same directory is not robbed of a file it is about to name.
 */
async function removeUnlisted(dir: string, listed: ModelManifest['files'], started: number): Promise<void> {
  for (const name of await readdir(dir)) {
    if (!MODEL_FILE.test(name) || Object.hasOwn(listed, name)) continue;
    const path = join(dir, name);
    const info = await stat(path).catch(() => undefined);
    if (info && info.mtimeMs < started) await unlink(path).catch(() => {});
  }
}

/** Reads a file that model.json lists, checks it against its recorded hash, and decrypts it as `role`. */
async function readChecked(
  dir: string,
  name: string,
  role: string,
  manifest: ModelManifest,
  cipher: FileCipher | undefined,
): Promise<Uint8Array> {
  const expected = Object.hasOwn(manifest.files, name) ? manifest.files[name] : undefined;
  if (!expected) throw new FormatError(`loadModel: model.json in ${dir} does not list ${name}`);
  const bytes = await readFileBytes(join(dir, name)).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
    throw new FormatError(`loadModel: model.json in ${dir} lists ${name}, which is missing`);
  });
  if (bytes.length !== expected.bytes || sha256(bytes) !== expected.sha256) {
    throw new FormatError(
      `loadModel: ${join(dir, name)} does not match the SHA-256 recorded in model.json ` +
        `(was it replaced or partly written?)`,
    );
  }
  return openMaybeEncrypted(bytes, cipher, role, `loadModel: ${join(dir, name)}`);
}

/** Parses a safetensors file of the model, naming the file in a FormatError. */
function parseModelFile(dir: string, name: string, bytes: Uint8Array) {
  try {
    return parseSparseSafetensors(bytes);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`loadModel: ${join(dir, name)}: ${e.message}`);
    throw e;
  }
}

function parseManifest(text: string, dir: string): ModelManifest {
  const path = join(dir, 'model.json');
  let m: ModelManifest;
  try {
    m = JSON.parse(text) as ModelManifest;
  } catch (e) {
    throw new FormatError(`loadModel: ${path} is not valid JSON: ${errorMessage(e)}`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(m) || m.format !== MODEL_FORMAT)
    throw new FormatError(`loadModel: ${path} is not a Candor model (format ${fmtValue(isObject(m) ? m.format : m)})`);
  if (!Number.isInteger(m.version) || m.version < 1)
    throw new FormatError(`loadModel: ${path} has no valid format version (got ${fmtValue(m.version)})`);
  if (m.version > MODEL_FORMAT_VERSION)
    throw new FormatError(
      `loadModel: model format version ${m.version} is newer than this Candor reads (${MODEL_FORMAT_VERSION})`,
    );
  if (!isObject(m.model) || typeof m.model.className !== 'string' || !isObject(m.model.config) || !isObject(m.files)) {
    throw new FormatError(`loadModel: ${path} lacks the model config or file list`);
  }
  for (const [name, f] of Object.entries(m.files)) {
    if (!PLAIN_NAME.test(name) || name === 'model.json')
      throw new FormatError(`loadModel: ${path} lists ${fmtValue(name)}, which is not a file name beside it`);
    if (!isObject(f) || typeof f.sha256 !== 'string' || !Number.isSafeInteger(f.bytes))
      throw new FormatError(`loadModel: ${path} has a malformed entry for ${name}`);
  }
  if (m.version === 1) {
    m.weightsFile = V1_WEIGHTS;
    if (Object.hasOwn(m.files, V1_OPTIMIZER)) m.optimizerFile = V1_OPTIMIZER;
  }
  for (const key of ['weightsFile', 'optimizerFile'] as const) {
    const name = m[key];
    if (name === undefined && key === 'optimizerFile') continue;
    if (typeof name !== 'string' || !Object.hasOwn(m.files, name))
      throw new FormatError(`loadModel: ${path} has ${key} ${fmtValue(name)}, which its file list does not hold`);
  }
  if (m.training !== undefined && !isObject(m.training))
    throw new FormatError(`loadModel: ${path} has a malformed training section: ${fmtValue(m.training)}`);
  const steps = m.privateSteps;
  const isCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;
  if (
    steps !== undefined &&
    (!Array.isArray(steps) ||
      !m.training ||
      !steps.every(
        (s) =>
          isObject(s) && typeof s.noiseMultiplier === 'number' && typeof s.sampleRate === 'number' && isCount(s.steps),
      ))
  )
    throw new FormatError(
      `loadModel: ${path} has malformed privateSteps (expected [{ noiseMultiplier, sampleRate, steps }] beside a ` +
        `training section): ${fmtValue(steps)}`,
    );
  return m;
}

/**
 * The weights of a saved model as a WeightSource: each layer's addWeight takes its stored tensor,
 * checked against the declared shape and dtype, instead of initialising one.
 */
function storedWeights(tensors: Map<string, Tensor>, file: string): WeightSource & { claimed: Set<string> } {
  const claimed = new Set<string>();
  return {
    claimed,
    take(layer, name, shape, dtype) {
      const where = `weight '${name}' of ${layer.className} '${layer.name}'`;
      const t = tensors.get(name);
      if (t === undefined)
        throw new FormatError(`loadModel: ${file} holds no ${where} (declared ${fmtShape(shape)} ${dtype})`);
      if (claimed.has(name)) throw new FormatError(`loadModel: two weights are named '${name}'`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
        throw new FormatError(
          `loadModel: ${where} is declared ${fmtShape(shape)} but stored as ${fmtShape(t.shape)} in ${file}`,
        );
      if (t.dtype !== dtype)
        throw new DTypeError(`loadModel: ${where} is stored as ${t.dtype} in ${file}, expected ${dtype}`);
      claimed.add(name);
      return t;
    },
  };
}

/**
 * Loads a model saved by saveModel (format version 1 or 2): same architecture and weights and, if it was
 * compiled, the same optimizer state.
 */
export async function loadModel(dir: string, options: LoadOptions = {}): Promise<Model> {
  const cipher = FileCipher.optional(options.encryptionKey); // the key checked before any file is touched
  const manifestPath = join(dir, 'model.json');
  const manifestBytes = await readFileBytes(manifestPath);
  const manifestText = await openMaybeEncrypted(manifestBytes, cipher, 'model.json', `loadModel: ${manifestPath}`);
  const manifest = parseManifest(new TextDecoder().decode(manifestText), dir);
  const weightsFile = manifest.weightsFile!;
  // The weights file is read and checked before any layer is made: the layers are then built from
  // its tensors, and a declared shape the file does not hold fails before anything is allocated.
  const { tensors } = parseModelFile(
    dir,
    weightsFile,
    await readChecked(dir, weightsFile, 'weights', manifest, cipher),
  );
  const source = storedWeights(tensors, weightsFile);
  let model: Model;
  try {
    let layer: Layer;
    try {
      layer = withWeightSource(source, () => layerFromConfig(manifest.model));
    } catch (e) {
      if (e instanceof FormatError || e instanceof DTypeError) throw e;
      throw new FormatError(
        `loadModel: the architecture in ${join(dir, 'model.json')} cannot be rebuilt: ${errorMessage(e)}`,
      );
    }
    if (!(layer instanceof Model))
      throw new FormatError(`loadModel: ${dir} holds a ${manifest.model.className}, not a model`);
    model = layer;
    const unused = [...tensors.keys()].filter((n) => !source.claimed.has(n));
    if (unused.length > 0 || source.claimed.size !== model.weights.length) {
      throw new FormatError(
        `loadModel: ${weightsFile} does not match the architecture (file has ${tensors.size} tensors, ` +
          `model ${model.weights.length}; not in the model: ${unused.slice(0, 10).join(', ') || 'none'})`,
      );
    }
  } catch (e) {
    dispose([...tensors.values()]); // claimed ones too: the half-built layers holding them are dropped
    throw e;
  }
  if (manifest.training) {
    try {
      try {
        model.compile(manifest.training as Parameters<Model['compile']>[0]);
      } catch (e) {
        throw new FormatError(
          `loadModel: the training section of ${join(dir, 'model.json')} cannot be restored: ${errorMessage(e)}`,
        );
      }
      if (manifest.optimizerFile) await restoreOptimizer(model, dir, manifest.optimizerFile, manifest, cipher);
      if (manifest.privateSteps) restorePrivateSteps(model, manifest.privateSteps, dir);
    } catch (e) {
      model.dispose(); // the built model is dropped: its weights would otherwise live until garbage collection
      throw e;
    }
  }
  return model;
}

/** Restores the optimizer state saved beside the model (slots by name, and the iteration count). */
async function restoreOptimizer(
  model: Model,
  dir: string,
  file: string,
  manifest: ModelManifest,
  cipher: FileCipher | undefined,
): Promise<void> {
  const path = join(dir, file);
  const opt = parseModelFile(dir, file, await readChecked(dir, file, 'optimizer', manifest, cipher));
  try {
    const iterations = Number(opt.metadata.iterations);
    if (!Number.isSafeInteger(iterations) || iterations < 0)
      throw new FormatError(`loadModel: ${path} has iterations ${fmtValue(opt.metadata.iterations)}`);
    let names: string[];
    try {
      names =
        opt.metadata.slotNames === undefined
          ? [...opt.tensors.keys()].sort()
          : (JSON.parse(opt.metadata.slotNames) as string[]);
    } catch {
      throw new FormatError(`loadModel: ${path} has malformed slotNames metadata`);
    }
    if (
      !Array.isArray(names) ||
      names.length !== opt.tensors.size ||
      !names.every((n) => typeof n === 'string' && opt.tensors.has(n))
    ) {
      throw new FormatError(
        `loadModel: ${path} lists slots ${fmtValue(names)} but holds ${fmtValue([...opt.tensors.keys()])}`,
      );
    }
    // setState would cast a slot to its weight's dtype: int32 moments would load as silently wrong values.
    const dtypes = new Set(model.trainableWeights.map((v) => v.dtype));
    for (const n of names) {
      const t = opt.tensors.get(n)!;
      if (!dtypes.has(t.dtype))
        throw new DTypeError(
          `loadModel: optimizer slot '${n}' is stored as ${t.dtype} in ${path}, expected ${[...dtypes].join(' or ')}`,
        );
    }
    // An optimizer saved before its first update has no slots yet: nothing to restore.
    if (names.length > 0 || iterations > 0) {
      const named = opt.metadata.slotNames !== undefined && names.every((n) => !/^slot_\d{5}$/.test(n));
      try {
        model.optimizer!.setState(
          {
            iterations,
            slots: names.map((n) => opt.tensors.get(n)!),
            ...(named ? { slotNames: names.map((n) => (n === '.' ? '' : n)) } : {}),
          },
          model.trainableWeights.map((v) => v.value),
        );
      } catch (e) {
        if (e instanceof CandorError) throw e;
        throw new FormatError(`loadModel: the optimizer state in ${path} cannot be restored: ${errorMessage(e)}`);
      }
    }
  } finally {
    dispose([...opt.tensors.values()]);
  }
}

/** A loaded model's DP-SGD steps accounted again (values the accountant refuses make the file malformed). */
function restorePrivateSteps(model: Model, steps: readonly PrivateSteps[], dir: string): void {
  try {
    model.restorePrivateSteps(steps);
  } catch (e) {
    throw new FormatError(
      `loadModel: the privateSteps of ${join(dir, 'model.json')} cannot be restored: ${errorMessage(e)}`,
    );
  }
}
