// A model's weights alone in one safetensors file (Keras save_weights / load_weights): what
// ModelCheckpoint({ saveWeightsOnly: true }) writes. Weights load by position, as into a model rebuilt
// by the same code (whose layers may have other default names), each checked for shape and dtype; or by
// layer name (byName), into a model that shares only some layers with the saved one (transfer learning).
// With an encryptionKey the file is encrypted (src/io/encryption.ts) in the role 'candor-weights'.
import type { Tensor } from '../tensor/tensor.js';
import { dispose } from '../tensor/storage.js';
import { ArgumentError, DTypeError, fmtShape } from '../errors.js';
import { FormatError, serializeSafetensors } from '../io/safetensors.js';
import { parseSparseSafetensors, serializeSparseSafetensors } from '../io/sparse-safetensors.js';
import { readFileBytes, writeFileAtomic } from '../io/atomic.js';
import { writesFiles } from '../distributed/writes-files.js';
import { FileCipher, openMaybeEncrypted } from '../io/encryption.js';
import type { Model } from './model.js';
import type { LoadOptions, SaveOptions } from './saving.js';
import { matchByName, type WeightLoadReport } from './weights-by-name.js';
import { checkOptions } from '../registry.js';

/** loadWeights' options: Keras load_weights' by_name and skip_mismatch beside the file's key. */
export interface LoadWeightsOptions extends LoadOptions {
  /**
   * Match the file's weights to the model's by layer name (the names saveWeights wrote) rather than by
   * position; layers the file lacks are left as they are and reported.
   */
  byName?: boolean;
  /** With byName: leave layers whose weights differ in shape or dtype as they are (reported) instead of raising. */
  skipMismatch?: boolean;
}
const LOAD_WEIGHTS_OPTIONS = ['encryptionKey', 'byName', 'skipMismatch'];

export const WEIGHTS_FORMAT = 'candor-weights';

/**
 * Writes the model's weights to `path` (atomically: a crash leaves the previous file whole). In a distributed world
 * it writes nothing on ranks other than 0 and returns (see writesFiles).
 */
export async function saveWeights(model: Model, path: string, options: SaveOptions = {}): Promise<void> {
  if (!writesFiles()) return;
  const cipher = FileCipher.optional(options.encryptionKey, options.scrypt);
  const tensors = new Map<string, Tensor>();
  for (const v of model.weights) {
    if (tensors.has(v.name))
      throw new ArgumentError(`saveWeights: two weights are named '${v.name}'; give layers unique names`);
    tensors.set(v.name, v.value);
  }
  const order = JSON.stringify([...tensors.keys()]);
  const encode = options.sparseWeights ? serializeSparseSafetensors : serializeSafetensors;
  const bytes = encode(tensors, { format: WEIGHTS_FORMAT, order });
  await writeFileAtomic(path, cipher ? await cipher.encrypt(bytes, WEIGHTS_FORMAT) : bytes);
}

/**
 * Sets the model's weights from a file written by saveWeights: the same number of weights, in the
 * same order, of the same shapes and dtypes; or, with byName, those of the layers the file names (see
 * weights-by-name.ts). Nothing is assigned unless all that is to be loaded fits. Returns what was loaded.
 */
export async function loadWeights(
  model: Model,
  path: string,
  options: LoadWeightsOptions = {},
): Promise<WeightLoadReport> {
  checkOptions('loadWeights', options, LOAD_WEIGHTS_OPTIONS);
  const { byName = false, skipMismatch = false } = options;
  if (typeof byName !== 'boolean' || typeof skipMismatch !== 'boolean')
    throw new ArgumentError('loadWeights: byName and skipMismatch must be true or false');
  if (skipMismatch && !byName)
    throw new ArgumentError(
      'loadWeights: skipMismatch needs byName: true (weights matched by position cannot be skipped one by one)',
    );
  const cipher = FileCipher.optional(options.encryptionKey);
  const bytes = await openMaybeEncrypted(await readFileBytes(path), cipher, WEIGHTS_FORMAT, `loadWeights: ${path}`);
  let file;
  try {
    file = parseSparseSafetensors(bytes);
  } catch (e) {
    if (e instanceof FormatError) throw new FormatError(`loadWeights: ${path}: ${e.message}`);
    throw e;
  }
  const { tensors, metadata } = file;
  try {
    if (metadata.format !== WEIGHTS_FORMAT)
      throw new FormatError(`loadWeights: ${path} is not a weights file written by saveWeights`);
    let order: unknown;
    try {
      order = JSON.parse(metadata.order ?? 'null');
    } catch {
      order = null;
    }
    if (!Array.isArray(order) || order.length !== tensors.size || !order.every((n) => tensors.has(n as string)))
      throw new FormatError(`loadWeights: ${path} has a malformed weight order`);
    if (byName) {
      const { variables, values, report } = matchByName(model, tensors, order as string[], path, skipMismatch);
      variables.forEach((v, i) => v.assign(values[i].clone()));
      return report;
    }
    const weights = model.weights;
    if (order.length !== weights.length)
      throw new FormatError(
        `loadWeights: ${path} holds ${order.length} weights, model '${model.name}' has ${weights.length}`,
      );
    const values = (order as string[]).map((name, i) => {
      const t = tensors.get(name)!;
      const v = weights[i];
      if (t.shape.length !== v.shape.length || t.shape.some((d, j) => d !== v.shape[j]))
        throw new FormatError(
          `loadWeights: weight ${i} ('${name}' in ${path}) has shape ${fmtShape(t.shape)}, ` +
            `but '${v.name}' of model '${model.name}' has ${fmtShape(v.shape)}`,
        );
      if (t.dtype !== v.dtype)
        throw new DTypeError(`loadWeights: weight '${name}' in ${path} is ${t.dtype}, '${v.name}' is ${v.dtype}`);
      return t;
    });
    model.setWeights(values);
    const loaded = weights.map((v) => ({
      layer: v.name.slice(0, v.name.indexOf('/')),
      weight: v.name,
      shape: [...v.shape],
    }));
    return { loaded, skipped: [], unused: [] };
  } finally {
    dispose([...tensors.values()]);
  }
}
