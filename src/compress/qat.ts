// Quantisation-aware training (TF-MOT's quantize_model, PyTorch's prepare_qat): quantizeAware rebuilds a model with
// its Dense and Conv2D layers as QatDense / QatConv2D (fake-quantised kernels and inputs), trained by the ordinary fit;
// convertQat then makes the int8 model from the trained kernels and the observed input ranges.
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';
import { shapesEqual } from '../tensor/shape.js';
import { zeros } from '../ops/creation.js';
import { ArgumentError, fmtShape } from '../errors.js';
import { layerFromConfig, withWeightSource, type LayerConfig, type WeightSource } from '../nn/layer.js';
import { Model } from '../train/model.js';
import { QatConv2D, QatDense, type QatOptions } from './qat-layers.js';
import { planQuantizedLayer, type InputQuantization, type InputRange, type QuantizedPlan } from './quantized-layers.js';

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
  // The observer state starts at zero: no range observed yet.
  return rebuild(what, model, config, currentWeights(model), (shape, dtype) => zeros(shape, dtype));
}

/** What convertQat did to each quantisation-aware layer (plain data, for the run record). */
export interface QatLayerReport {
  name: string;
  className: string;
  /** The int8 layer's class. */
  quantizedClassName: string;
  /** The learnt (observed) input range the int8 layer quantises with. */
  inputRange: InputRange;
  inputScale: number;
  inputZeroPoint: number;
  /** Training steps the range was observed for. */
  observedSteps: number;
}

/**
 * The int8 model of a model trained quantisation-aware: each QatDense / QatConv2D becomes the QuantizedDense /
 * QuantizedConv2D that quantizeLayer makes from its kernel and its observed input range, so that the int8 model
 * computes what the fake-quantised model did (up to float rounding). Other layers keep their weights. Throws an
 * ArgumentError for a model with no quantisation-aware layer, or one whose layers have observed no training batch.
 */
export function convertQat(model: Model): { model: Model; layers: QatLayerReport[] } {
  const what = `convertQat(model '${model?.name}')`;
  if (!(model instanceof Model) || (!model.isFunctional && model.className !== 'Sequential'))
    throw new ArgumentError(`${what}: expected a Sequential or functional model, got ${model?.constructor?.name}`);
  const qat = model
    .flattenLayers()
    .filter((l): l is QatDense | QatConv2D => l instanceof QatDense || l instanceof QatConv2D);
  if (qat.length === 0)
    throw new ArgumentError(`${what}: the model has no QatDense or QatConv2D layer; make it with quantizeAware()`);
  const weights = currentWeights(model);
  const plans = new Map<string, QuantizedPlan>();
  const layers: QatLayerReport[] = [];
  for (const layer of qat) {
    const inputRange = layer.quantizer.inputRange();
    if (!inputRange)
      throw new ArgumentError(
        `${what}: layer '${layer.name}' has observed no input range yet; train the model (fit) before converting`,
      );
    const plan = planQuantizedLayer(layer, inputRange);
    for (const key of Object.keys(layer.quantizer.getConfig())) delete plan.config[key];
    plans.set(layer.name, plan);
    for (const [name, t] of Object.entries(plan.weights)) {
      // The int8 tensor replaces the float clone of the same name (kernel, bias): free the clone.
      const key = `${layer.name}/${name}`;
      weights.get(key)?.dispose();
      weights.set(key, t);
    }
    const { inputScale, inputZeroPoint } = plan.config as LayerConfig & InputQuantization;
    const observedSteps = layer.quantizer.observedSteps();
    const report = { name: layer.name, className: layer.className, quantizedClassName: plan.className };
    layers.push({ ...report, inputRange, inputScale, inputZeroPoint, observedSteps });
  }
  const config = structuredClone(model.getConfig());
  for (const e of entriesOf(config)) {
    const plan = plans.get(e.config.name);
    if (plan) [e.className, e.config] = [plan.className, plan.config];
  }
  return { model: rebuild(what, model, config, weights), layers };
}

/** A copy of every weight of a model, by name. */
const currentWeights = (model: Model) => new Map(model.weights.map((v) => [v.name, v.value.clone()]));

/**
 * `model`'s class rebuilt from `config`, its layers taking their weights from `weights` by name (or from `fill`
 * for the names it lacks) instead of initialising them, as loadModel does; the unclaimed tensors are disposed.
 */
function rebuild(
  what: string,
  model: Model,
  config: LayerConfig,
  weights: Map<string, Tensor>,
  fill?: (shape: readonly number[], dtype: DType) => Tensor,
): Model {
  const claimed = new Set<string>();
  const source: WeightSource = {
    take(layer, name, shape, dtype) {
      const t = weights.get(name);
      if (t && t.dtype === dtype && shapesEqual(t.shape, shape) && !claimed.has(name)) {
        claimed.add(name);
        return t;
      }
      if (!t && fill) return fill(shape, dtype);
      throw new ArgumentError(`${what}: no ${dtype} ${fmtShape(shape)} weight '${name}' for layer '${layer.name}'`);
    },
  };
  try {
    return withWeightSource(source, () => layerFromConfig({ className: model.className, config })) as Model;
  } finally {
    for (const [name, t] of weights) if (!claimed.has(name)) t.dispose();
  }
}
