// quantizeModel: post-training int8. Calibrates a float model on sample data, then rebuilds it (Sequential or
// functional, from its config) with each Dense / Conv2D replaced by QuantizedDense / QuantizedConv2D and every other
// layer a copy with the same weights; returns the new model and a plain-data report of what it did.
import type { Tensor } from '../tensor/tensor.js';
import { bytesPerElement } from '../tensor/dtype.js';
import { dispose } from '../tensor/storage.js';
import { ArgumentError, errorMessage, fmtShape } from '../errors.js';
import { layerFromConfig, withWeightSource, type Layer, type LayerConfig } from '../nn/layer.js';
import type { Variable } from '../nn/variable.js';
import { Model } from '../train/model.js';
import type { CompileArgs } from '../train/trainer.js';
import { FormatError } from '../io/safetensors.js';
import { calibrate, isQuantizable, type CalibrateOptions, type CalibrationMethod } from './calibrate.js';
import { planQuantizedLayer, type InputRange, type QuantizedPlan } from './quantized-layers.js';
import { weightsFileBytes } from './measure.js';

export type QuantizeModelOptions = CalibrateOptions;

/** One layer made int8. */
export interface QuantizedLayerReport {
  layer: string;
  /** The float class it replaced ('Dense', 'Conv2D') and the int8 class now in its place. */
  className: string;
  quantizedClassName: string;
  weightBits: 8;
  activationBits: 8;
  /** Per-output-channel symmetric int8 weights; per-tensor asymmetric uint8 inputs; float32 bias. */
  weightScheme: 'per-channel symmetric';
  activationScheme: 'per-tensor asymmetric';
  /** The observed input range, and the range calibration chose. */
  observedRange: InputRange;
  inputRange: InputRange;
  inputScale: number;
  inputZeroPoint: number;
  paramBytesBefore: number;
  paramBytesAfter: number;
}

/** A layer with weights left in float, and why. */
export interface FloatLayerReport {
  layer: string;
  className: string;
  reason: string;
}

export interface QuantizationReport {
  method: CalibrationMethod;
  /** Samples the calibration ran on. */
  calibrationSamples: number;
  quantized: QuantizedLayerReport[];
  float: FloatLayerReport[];
  /** Parameter bytes (sum of weight sizes) and the safetensors weights file model.save writes, before and after. */
  bytes: { parametersBefore: number; parametersAfter: number; weightsFileBefore: number; weightsFileAfter: number };
}

/** A layer's int8 plan, with the float layer and its class. */
type LayerPlan = QuantizedPlan & { float: string; layer: Layer };

const paramBytes = (vars: readonly Variable[]) =>
  vars.reduce((sum, v) => sum + v.value.size * bytesPerElement(v.dtype), 0);

/** Replaces, anywhere in a (nested) model config, the entries of planned layers by their int8 class and config. */
function rewriteConfig(value: unknown, plans: ReadonlyMap<string, LayerPlan>): unknown {
  if (Array.isArray(value)) return value.map((v) => rewriteConfig(v, plans));
  if (typeof value !== 'object' || value === null) return value;
  const entry = value as { className?: unknown; config?: { name?: unknown } };
  const name = entry.config?.name;
  if (typeof entry.className === 'string' && typeof name === 'string' && plans.has(name)) {
    const plan = plans.get(name)!;
    if (plan.float === entry.className) return { ...entry, className: plan.className, config: plan.config };
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteConfig(v, plans)]));
}

/**
 * A new int8 model: `model` calibrated on `sampleX` (float32, samples on axis 0; a thousand or so is plenty) by
 * `options.method` (default 'mse'), with its Dense / Conv2D layers replaced by int8 ones of the same names. Other
 * layers are rebuilt with copies of their weights; a Dense / Conv2D that int8 cannot replace (grouped, float64, never
 * called on the samples) stays float and is listed in report.float with the reason. A compiled model's loss and
 * metrics are compiled into the new one, so evaluate() works; the int8 layers have no trainable weights.
 */
export function quantizeModel(
  model: Model,
  sampleX: Tensor,
  options: QuantizeModelOptions = {},
): { model: Model; report: QuantizationReport } {
  if (!(model instanceof Model) || !(model.isFunctional || model.className === 'Sequential'))
    throw new ArgumentError(
      'quantizeModel: expected a Sequential or functional model (rebuilt from its config), got ' +
        (model instanceof Model ? `subclass model '${model.name}'` : typeof model),
    );
  const calibration = calibrate(model, sampleX, options);
  const plans = new Map<string, LayerPlan>();
  const float: FloatLayerReport[] = [];
  const seen = new Set<Layer>();
  const visit = (layer: Layer): void => {
    if (seen.has(layer)) return;
    seen.add(layer);
    if (layer instanceof Model) return layer.layers.forEach(visit);
    if (layer.weights.length === 0) return;
    const entry = calibration.byLayer.get(layer);
    if (!isQuantizable(layer))
      float.push({ layer: layer.name, className: layer.className, reason: 'only Dense and Conv2D have int8 forms' });
    else if (!entry)
      float.push({ layer: layer.name, className: layer.className, reason: 'not called on the sample data' });
    else
      try {
        plans.set(layer.name, { ...planQuantizedLayer(layer, entry.range), float: layer.className, layer });
      } catch (e) {
        float.push({ layer: layer.name, className: layer.className, reason: errorMessage(e) });
      }
  };
  model.layers.forEach(visit);

  // The new model's weights by variable name: the int8 plans', copies of all others.
  const tensors = new Map<string, Tensor>();
  for (const [name, plan] of plans) for (const [w, t] of Object.entries(plan.weights)) tensors.set(`${name}/${w}`, t);
  for (const v of model.weights) if (!tensors.has(v.name)) tensors.set(v.name, v.value.clone());
  const claimed = new Set<string>();
  let quantized: Model;
  try {
    quantized = withWeightSource(
      {
        take(layer, name, shape, dtype) {
          const t = tensors.get(name);
          if (!t || claimed.has(name) || t.dtype !== dtype || fmtShape(t.shape) !== fmtShape(shape))
            throw new FormatError(
              `quantizeModel: no single ${dtype} ${fmtShape(shape)} weight '${name}' for ${layer.className} ` +
                `'${layer.name}' (are weight names unique?)`,
            );
          claimed.add(name);
          return t;
        },
      },
      () => {
        const config = rewriteConfig({ className: model.className, config: model.getConfig() }, plans);
        const m = layerFromConfig(config as { className: string; config: LayerConfig }) as Model;
        if (!m.built) m.build([null, ...sampleX.shape.slice(1)]);
        return m;
      },
    );
  } catch (e) {
    dispose([...tensors.values()]); // claimed ones too: the half-built layers holding them are dropped
    throw e;
  }
  dispose([...tensors.entries()].filter(([n]) => !claimed.has(n)).map(([, t]) => t));
  const training = model.trainingConfig();
  if (training) quantized.compile(training as CompileArgs);

  const report: QuantizationReport = {
    method: calibration.method,
    calibrationSamples: sampleX.shape[0],
    quantized: [...plans.values()].map((plan) => {
      const entry = calibration.byLayer.get(plan.layer)!;
      const config = plan.config as LayerConfig & { inputScale: number; inputZeroPoint: number };
      return {
        layer: plan.layer.name,
        className: plan.float,
        quantizedClassName: plan.className,
        weightBits: 8,
        activationBits: 8,
        weightScheme: 'per-channel symmetric',
        activationScheme: 'per-tensor asymmetric',
        observedRange: entry.observed,
        inputRange: entry.range,
        inputScale: Math.fround(config.inputScale),
        inputZeroPoint: config.inputZeroPoint,
        paramBytesBefore: paramBytes(plan.layer.weights),
        paramBytesAfter: Object.values(plan.weights).reduce((s, t) => s + t.size * bytesPerElement(t.dtype), 0),
      };
    }),
    float,
    bytes: {
      parametersBefore: paramBytes(model.weights),
      parametersAfter: paramBytes(quantized.weights),
      weightsFileBefore: weightsFileBytes(model).dense,
      weightsFileAfter: weightsFileBytes(quantized).dense,
    },
  };
  return { model: quantized, report };
}
