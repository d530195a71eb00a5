// Quantisation-aware training (TF-MOT's quantize_model, PyTorch's prepare_qat): quantizeAware rebuilds a model with
// its Dense and Conv2D layers as QatDense / QatConv2D (fake-quantised kernels and inputs), trained by the ordinary fit.
import { ArgumentError } from '../errors.js';
import { layerFromConfig, type LayerConfig } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { QatConv2D, QatDense, type QatOptions } from './qat-layers.js';

export interface QuantizeAwareOptions extends QatOptions {
  /** Names of the layers to train quantisation-aware (each a Dense or a Conv2D); default every Dense and Conv2D. */
  layers?: readonly string[];
}

/** The float classes quantizeAware replaces, and their quantisation-aware classes. */
const QAT_CLASSES: Readonly<Record<string, string>> = { Dense: QatDense.className, Conv2D: QatConv2D.className };

type Entry = { className: string; config: LayerConfig };

/** Whether a layer entry can be trained quantisation-aware (the int8 convolution has no groups). */
const supported = (e: Entry) =>
  Object.hasOwn(QAT_CLASSES, e.className) && (e.config.groups === undefined || e.config.groups === 1);

/** Every layer entry of a model config, nested models' included, depth first. */
function entriesOf(config: LayerConfig): Entry[] {
  const layers = config.layers;
  if (!Array.isArray(layers)) return [];
  return (layers as Entry[]).flatMap((e) => [e, ...entriesOf(e.config)]);
}

/**
 * A new model of `model`'s architecture and weights whose Dense and Conv2D layers (or those named in `layers`) are
 * QatDense / QatConv2D: kernels fake-quantised per output channel (int8), inputs per tensor (uint8) with ranges
 * from moving-average observers that training updates. Compile and fit it as usual, then convertQat() it into an
 * int8 model. The observer state is non-trainable weights, so the model saves, loads and resumes with its ranges.
 */
export function quantizeAware(model: Model, options: QuantizeAwareOptions = {}): Model {
  const what = `quantizeAware(model '${model?.name}')`;
  if (!(model instanceof Model) || (!model.isFunctional && model.className !== 'Sequential'))
    throw new ArgumentError(`${what}: expected a Sequential or functional model, got ${model?.constructor?.name}`);
  if (model.weights.length === 0)
    throw new ArgumentError(`${what}: the model has no weights yet; build it (give it an input shape) first`);
  const { layers: names, ...qat } = options;
  const config = structuredClone(model.getConfig());
  const entries = entriesOf(config);
  const chosen = names ? new Set(names) : undefined;
  for (const name of chosen ?? []) {
    const e = entries.find((x) => x.config.name === name);
    if (!e) throw new ArgumentError(`${what}: no layer named '${name}'; layers: ${entries.map((x) => x.config.name)}`);
    if (!supported(e))
      throw new ArgumentError(
        `${what}: layer '${name}' is a ${e.className}${e.config.groups ? ` (groups ${e.config.groups})` : ''}; ` +
          'quantisation-aware training supports Dense and Conv2D (groups 1), the layers with int8 kernels',
      );
  }
  const replaced = entries.filter((e) => (chosen ? chosen.has(e.config.name) : supported(e)));
  if (replaced.length === 0) throw new ArgumentError(`${what}: the model has no Dense or Conv2D layer to quantise`);
  for (const e of replaced) {
    e.className = QAT_CLASSES[e.className];
    Object.assign(e.config, qat);
  }
  const out = layerFromConfig({ className: model.className, config }) as Model;
  copyWeightsByName(what, model, out);
  return out;
}

/** Copies every weight of `from` into the weight of the same name in `to` (whose extra weights keep their values). */
function copyWeightsByName(what: string, from: Model, to: Model): void {
  const target = new Map(to.weights.map((v) => [v.name, v]));
  for (const v of from.weights) {
    const t = target.get(v.name);
    if (!t) throw new ArgumentError(`${what}: the rebuilt model has no weight '${v.name}'`);
    t.assign(v.value.clone());
  }
}
