// Matching a weights file to a model by layer name (Keras load_weights(by_name=True, skip_mismatch=True)),
// for transfer learning into a model that shares only some layers with the one saved; and the report of
// what was loaded and what was not, as plain data.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape } from '../errors.js';
import { shapesEqual } from '../tensor/shape.js';
import type { Layer } from '../nn/layer.js';
import type { Variable } from '../nn/variable.js';
import type { Model } from './model.js';

/** Why a layer's weights were left as they were. */
export type WeightSkipReason = 'missing' | 'weights differ' | 'shape mismatch' | 'dtype mismatch';

/** What loadWeights did, weight by weight (the same in every mode; positional loads match every weight). */
export interface WeightLoadReport {
  /** The model's weights set from the file (the file's tensor of the same name, or at the same position). */
  loaded: { layer: string; weight: string; shape: number[] }[];
  /**
   * The model's layers whose weights were left as they were: 'missing' (the file has nothing for the layer),
   * 'weights differ' (the file has other weights for it), 'shape mismatch' or 'dtype mismatch' (skipMismatch).
   */
  skipped: {
    layer: string;
    reason: WeightSkipReason;
    /** The layer's weights, each with its shape in the model and (when the file has it) in the file. */
    weights: { weight: string; shape: number[]; fileShape?: number[]; fileDType?: string; dtype: string }[];
  }[];
  /** Tensors of the file that no weight of the model took. */
  unused: string[];
}

/** Every layer that owns weights itself (not only through sublayers), each once, with those weights. */
function ownWeights(model: Model): { layer: Layer; weights: Variable[] }[] {
  const out: { layer: Layer; weights: Variable[] }[] = [];
  const taken = new Set<Variable>();
  for (const layer of model.flattenLayers()) {
    const nested = new Set(layer.sublayers().flatMap((l) => l.weights));
    const weights = layer.weights.filter((v) => !nested.has(v) && !taken.has(v));
    weights.forEach((v) => taken.add(v));
    if (weights.length > 0) out.push({ layer, weights });
  }
  return out;
}

/**
 * Pairs the model's weights with the file's tensors by name, layer by layer: a layer loads when the file
 * holds exactly its weights with the same shapes and dtypes. A layer the file lacks is reported and left
 * alone (as in Keras); one whose weights differ raises a typed error naming the layer and the shapes, unless
 * skipMismatch, which leaves it alone and reports it. Returns what to assign; assigns nothing itself.
 */
export function matchByName(
  model: Model,
  tensors: ReadonlyMap<string, Tensor>,
  order: readonly string[],
  source: string,
  skipMismatch: boolean,
): { variables: Variable[]; values: Tensor[]; report: WeightLoadReport } {
  // `order` lists the file's tensors as saved (the model's weight order), for the report.
  const report: WeightLoadReport = { loaded: [], skipped: [], unused: [] };
  const variables: Variable[] = [];
  const values: Tensor[] = [];
  const used = new Set<string>();
  const layers = ownWeights(model);
  const names = new Set(layers.flatMap(({ weights }) => weights.map((v) => v.name)));
  if (names.size !== layers.reduce((n, { weights }) => n + weights.length, 0))
    throw new ArgumentError(
      `loadWeights (byName): model '${model.name}' has two weights of one name; give its layers unique names`,
    );
  for (const { layer, weights } of layers) {
    const entries = weights.map((v) => {
      const t = tensors.get(v.name);
      return {
        weight: v.name,
        shape: [...v.shape],
        dtype: v.dtype as string,
        ...(t ? { fileShape: [...t.shape], fileDType: t.dtype as string } : {}),
      };
    });
    // The file's tensors under this layer's name that are none of the model's weights (another layer
    // configuration: a bias the model's layer does not have, say).
    const extra = [...tensors.keys()].filter((n) => n.startsWith(`${layer.name}/`) && !names.has(n));
    const present = weights.filter((v) => tensors.has(v.name));
    if (present.length === 0 && extra.length === 0) {
      report.skipped.push({ layer: layer.name, reason: 'missing', weights: entries });
      continue;
    }
    let reason: WeightSkipReason | undefined;
    let detail = '';
    if (present.length < weights.length || extra.length > 0) {
      reason = 'weights differ';
      const missing = weights.filter((v) => !tensors.has(v.name)).map((v) => v.name);
      detail =
        `the model's layer has ${weights.map((v) => `'${v.name}'`).join(', ')}` +
        (missing.length ? `; the file lacks ${missing.map((n) => `'${n}'`).join(', ')}` : '') +
        (extra.length ? `; the file also has ${extra.map((n) => `'${n}'`).join(', ')}` : '');
    } else {
      const bad = entries.find((e) => !shapesEqual(e.fileShape!, e.shape));
      const badType = entries.find((e) => e.fileDType !== e.dtype);
      if (bad) {
        reason = 'shape mismatch';
        const shapes = `${fmtShape(bad.shape)} in the model, ${fmtShape(bad.fileShape!)} in the file`;
        detail = `weight '${bad.weight}' has shape ${shapes}`;
      } else if (badType) {
        reason = 'dtype mismatch';
        detail = `weight '${badType.weight}' is ${badType.dtype} in the model, ${badType.fileDType} in the file`;
      }
    }
    if (reason) {
      if (!skipMismatch) {
        const message =
          `loadWeights (byName): layer '${layer.name}' of model '${model.name}' does not match ${source}: ${detail}` +
          '; pass skipMismatch: true to leave such layers as they are';
        throw reason === 'dtype mismatch' ? new DTypeError(message) : new ShapeError(message);
      }
      report.skipped.push({ layer: layer.name, reason, weights: entries });
      continue;
    }
    for (const v of weights) {
      variables.push(v);
      values.push(tensors.get(v.name)!);
      used.add(v.name);
      report.loaded.push({ layer: layer.name, weight: v.name, shape: [...v.shape] });
    }
  }
  report.unused = order.filter((n) => !used.has(n));
  return { variables, values, report };
}
