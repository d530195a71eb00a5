// Measures a model the same way before and after compression: accuracy, saved weight bytes, parameters, predict
// latency at batch 1 and 256, and energy per 1,000 predictions.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Model } from '../train/model.js';
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { argmax } from '../ops/reduce.js';
import { slice } from '../ops/views.js';
import { cast } from '../ops/elementwise.js';
import { EnergyMeter, type EnergyOptions } from '../ledger/energy.js';
import type { ModelMeasurement } from '../ledger/compression.js';

export interface MeasureOptions {
  /** Writes the model's weights to `path` as the variant stores them (default model.saveWeights). */
  saveWeights?: (model: Model, path: string) => Promise<void>;
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

/** Predicts and frees the result (latency counts the whole predict call, as a served model sees it). */
function predictOnce(model: Model, x: Tensor): void {
  const y = model.predict(x, { batchSize: x.shape[0] });
  for (const t of Array.isArray(y) ? y : [y]) t.dispose();
}

/** Fraction of rows whose arg-max prediction equals the class id in y. */
export function accuracyOf(model: Model, x: Tensor, y: Tensor): number {
  if (y.shape[0] !== x.shape[0] || y.shape.length !== 1)
    throw new ShapeError(
      `measureModel: labels must be class ids [${x.shape[0]}] for inputs ${fmtShape(x.shape)}, ` +
        `got ${fmtShape(y.shape)}`,
    );
  const p = model.predict(x, { batchSize: 256 });
  if (Array.isArray(p)) throw new ArgumentError('measureModel: the model must have one output');
  const predicted = argmax(p, -1);
  const want = cast(y, 'int32').dataSync();
  const got = predicted.dataSync();
  let right = 0;
  for (let i = 0; i < got.length; i++) if (got[i] === want[i]) right++;
  p.dispose();
  predicted.dispose();
  return right / got.length;
}

/** Bytes of the model's weights as `save` writes them to a file. */
export async function weightBytes(model: Model, save = (m: Model, p: string) => m.saveWeights(p)): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'candor-measure-'));
  try {
    const path = join(dir, 'weights.safetensors');
    await save(model, path);
    return (await stat(path)).size;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
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
  one.dispose();
  batch.dispose();
  return {
    accuracy: y ? accuracyOf(model, x, y) : null,
    bytes: await weightBytes(model, options.saveWeights),
    parameters: model.countParams(),
    msBatch1,
    msBatch256,
    joulesPer1000: energy.joules / ((calls * 256) / 1000),
    energyMethod: energy.method,
  };
}
