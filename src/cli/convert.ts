// `candor convert IN OUT`: loads a model from any format Candor reads and writes it in the format OUT's name
// says (src/interop/formats.ts). With --check, OUT is loaded back and must predict what IN predicts on seeded
// random inputs, so a conversion that changed the model is caught, not shipped.
import { CandorError } from '../errors.js';
import { formatOf } from '../interop/formats.js';
import { modelInputSpec } from '../explain/record.js';
import { RandomStream } from '../ops/random.js';
import { cast } from '../ops/index.js';
import { tidy } from '../tensor/storage.js';
import type { Model } from '../train/model.js';
import type { Tensor } from '../tensor/tensor.js';

/** The largest |a - b| / (1 + |b|) allowed by --check (float32 kernels differ in summation order). */
export const CONVERT_TOLERANCE = 1e-4;

/** Seeded inputs for a single-input model: 4 samples, free dimensions 3 long; token ids 0 or 1. */
function probeInputs(model: Model): Tensor {
  const spec = modelInputSpec(model);
  if (!spec || spec.dtype === 'string')
    throw new CandorError(`convert --check: model '${model.name}' has no single numeric input to probe`);
  const shape = [4, ...spec.shape.map((d) => d ?? 3)];
  const rng = new RandomStream(7);
  return spec.dtype === 'int32' ? cast(rng.bernoulli(shape), 'int32') : rng.normal(shape);
}

/** The largest relative difference between two models' predictions on the same inputs. */
function largestDifference(a: Model, b: Model): number {
  return tidy(() => {
    const x = probeInputs(a);
    const ya = (a.predict(x) as Tensor).dataSync();
    const yb = (b.predict(x) as Tensor).dataSync();
    if (ya.length !== yb.length) return Infinity;
    let worst = 0;
    for (let i = 0; i < ya.length; i++) worst = Math.max(worst, Math.abs(ya[i] - yb[i]) / (1 + Math.abs(ya[i])));
    return worst;
  });
}

export async function convertModel(input: string, output: string, { check = false } = {}): Promise<string[]> {
  const from = formatOf(input, 'load');
  const to = formatOf(output, 'save');
  const model = await from.load!(input);
  await to.save!(model, output);
  const params = model.weights.reduce((n, v) => n + v.value.size, 0);
  const lines = [`${from.name} ${input} -> ${to.name} ${output}: ${model.layers.length} layers, ${params} weights`];
  if (check) {
    const back = formatOf(output, 'load');
    if (!back.load) throw new CandorError(`convert --check: Candor cannot read ${to.name} back to check it`);
    const diff = largestDifference(model, await back.load(output));
    if (!(diff <= CONVERT_TOLERANCE))
      throw new CandorError(`convert --check: ${output} predicts differently from ${input} (difference ${diff})`);
    lines.push(`check: ${output} predicts as ${input} does (largest relative difference ${diff.toExponential(2)})`);
  }
  return lines;
}
