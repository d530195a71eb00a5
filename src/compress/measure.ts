// Measures a model the same way before and after compression: accuracy, saved weight bytes, parameters, predict
// latency at batch 1 and 256, and energy per 1,000 predictions.
import type { Model } from '../train/model.js';
import type { Layer } from '../nn/layer.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { slice } from '../ops/views.js';
import { getMetric } from '../train/metrics.js';
import { serializeSafetensors } from '../io/safetensors.js';
import { serializeSparseSafetensors } from '../io/sparse-safetensors.js';
import { MODEL_FORMAT } from '../train/saving.js';
import { EnergyMeter, type EnergyOptions } from '../ledger/energy.js';
import type { ModelMeasurement } from '../ledger/compression.js';

export interface MeasureOptions {
  /** Count the weights file as save({ sparseWeights: true }) writes it (pruned models); default dense. */
  sparseWeights?: boolean;
  /** Timed predict calls at batch 1 (default 50) and batch 256 (default 10), after warm-up calls. */
  repeats1?: number;
  repeats256?: number;
  /** Predictions the energy figure is measured over, at least (default 5,000). */
  energyPredictions?: number;
  energy?: EnergyOptions;
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

function timeCalls(run: () => void, warmup: number, repeats: number): number {
  for (let i = 0; i < warmup; i++) run();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/**
 * Predict latency of several models on the same inputs, measured in interleaved rounds (every model once per
 * round, in turn) so that load on a shared machine falls on all of them alike: per model, the median over rounds of
 * each round's median call at batch 1 and at batch 256.
 */
export function interleavedLatency(
  models: Readonly<Record<string, Model>>,
  x: Tensor,
  { rounds = 5, repeats1 = 20, repeats256 = 3 } = {},
): Record<string, { msBatch1: number; msBatch256: number }> {
  if (x.shape[0] < 256) throw new ShapeError(`interleavedLatency: needs 256 inputs, got ${fmtShape(x.shape)}`);
  const one = slice(x, [0], [1]),
    batch = slice(x, [0], [256]);
  const times = Object.fromEntries(Object.keys(models).map((k) => [k, { b1: [] as number[], b256: [] as number[] }]));
  for (let r = 0; r < rounds; r++)
    for (const [name, model] of Object.entries(models)) {
      times[name].b1.push(timeCalls(() => predictOnce(model, one), r === 0 ? 3 : 1, repeats1));
      times[name].b256.push(timeCalls(() => predictOnce(model, batch), r === 0 ? 1 : 0, repeats256));
    }
  release(x, one, batch);
  return Object.fromEntries(
    Object.entries(times).map(([k, t]) => [k, { msBatch1: median(t.b1), msBatch256: median(t.b256) }]),
  );
}

/** Frees slices of x (a whole-tensor slice may be x itself, which stays the caller's). */
function release(x: Tensor, ...slices: Tensor[]): void {
  for (const t of slices) if (t !== x) t.dispose();
}

/** Predicts and frees the result (latency counts the whole predict call, as a served model sees it). */
function predictOnce(model: Model, x: Tensor): void {
  const y = model.predict(x, { batchSize: x.shape[0] });
  for (const t of Array.isArray(y) ? y : [y]) t.dispose();
}

/** Keras' accuracy of the model's predictions on x against y (class ids or one-hot, as compile resolves it). */
export function accuracyOf(model: Model, x: Tensor, y: Tensor): number {
  if (y.shape[0] !== x.shape[0])
    throw new ShapeError(`accuracyOf: labels ${fmtShape(y.shape)} do not match inputs ${fmtShape(x.shape)}`);
  const predicted = model.predict(x, { batchSize: 256 });
  if (Array.isArray(predicted)) throw new ArgumentError('accuracyOf: the model must have one output');
  try {
    const metric = getMetric('accuracy', { yTrueShape: y.shape, yPredShape: predicted.shape });
    metric.updateState(y, predicted);
    return metric.result();
  } finally {
    predicted.dispose();
  }
}

/**
 * The bytes of a model's weights file as model.save writes it: dense, and with save({ sparseWeights: true })
 * (mostly-zero kernels as bit mask + values). Measured by serializing, so header bytes count too.
 */
export function weightsFileBytes(model: Layer): { dense: number; sparse: number } {
  const tensors = new Map(model.weights.map((v) => [v.name, v.value]));
  return {
    dense: serializeSafetensors(tensors, { format: MODEL_FORMAT }).length,
    sparse: serializeSparseSafetensors(tensors, { format: MODEL_FORMAT }).length,
  };
}

/**
 * The model's figures on inputs x (at least 256 rows) and class ids y (null accuracy without them). Timings are
 * medians of whole predict calls on this machine: compare variants measured in the same process only.
 */
export async function measureModel(
  model: Model,
  x: Tensor,
  y: Tensor | null,
  options: MeasureOptions = {},
): Promise<ModelMeasurement> {
  if (x.shape[0] < 256) throw new ShapeError(`measureModel: needs at least 256 inputs, got ${fmtShape(x.shape)}`);
  const one = slice(x, [0], [1]);
  const batch = slice(x, [0], [256]);
  const msBatch1 = timeCalls(() => predictOnce(model, one), 5, options.repeats1 ?? 50);
  const msBatch256 = timeCalls(() => predictOnce(model, batch), 2, options.repeats256 ?? 10);
  const calls = Math.ceil((options.energyPredictions ?? 5000) / 256);
  const meter = new EnergyMeter(options.energy).start();
  for (let i = 0; i < calls; i++) predictOnce(model, batch);
  const energy = meter.stop();
  release(x, one, batch);
  return {
    accuracy: y ? accuracyOf(model, x, y) : null,
    bytes: weightsFileBytes(model)[options.sparseWeights ? 'sparse' : 'dense'],
    parameters: model.countParams(),
    msBatch1,
    msBatch256,
    joulesPer1000: energy.joules / ((calls * 256) / 1000),
    energyMethod: energy.method,
  };
}
