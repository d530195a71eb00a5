// explain(model, inputs, { method, target, ... }): one call to any attribution method, with its metadata.
import { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { ExplainContext, identityRows } from './context.js';
import { METHODS, type Method } from './methods.js';
import { faithfulnessOf, faithfulnessOptions } from './faithfulness.js';
import { METHOD_NAMES, type ExplainOptions, type Explanation, type MethodName, type MethodResult } from './types.js';

/** Sum of each sample's attributions: [N, ...] -> N numbers. */
export function attributionSums(attributions: Tensor): Float64Array {
  const axes = attributions.shape.slice(1).map((_, i) => i + 1);
  return Float64Array.from(tidy(() => (axes.length ? o.sum(attributions, axes) : attributions).dataSync()));
}

/**
 * Attributions of the model's target score (default: each sample's predicted class) to the inputs [N, ...],
 * by the method named in options, with the target, f(x), the parameters used, the completeness gap where the
 * method has one, and the time taken.
 */
export function explain(model: Model, inputs: Tensor, options: ExplainOptions): Explanation {
  const given = (options as { method?: unknown } | null)?.method;
  if (!METHOD_NAMES.includes(given as MethodName))
    throw new ArgumentError(`explain: method must be one of ${METHOD_NAMES.join(', ')}, got ${String(given)}`);
  if (!(inputs instanceof Tensor))
    throw new ArgumentError(
      `explain(${options.method}): inputs must be one Tensor [samples, ...] (models with several inputs are not ` +
        'supported yet)',
    );
  const method: MethodName = options.method;
  faithfulnessOptions(`explain(${method})`, options.faithfulness); // bad options fail before the method runs
  const ctx = new ExplainContext(model, inputs, options, method);
  const scores = ctx.predictScores(inputs, identityRows(ctx.n));
  const started = performance.now();
  let result: MethodResult;
  try {
    result = (METHODS[method] as Method<MethodName>)(ctx, options as never);
  } finally {
    ctx.dispose();
  }
  const seconds = (performance.now() - started) / 1000;
  const explanation: Explanation = {
    method,
    attributions: result.attributions,
    target: ctx.classes ? Array.from(ctx.classes) : 'custom',
    logit: ctx.logit,
    scores: Array.from(scores),
    parameters: { ...result.parameters, seed: ctx.seed, batchSize: ctx.batchSize },
    seconds,
  };
  if (result.expectedSum) {
    const sums = attributionSums(result.attributions);
    explanation.completenessGap = Array.from(sums, (s, i) => Math.abs(s - result.expectedSum![i]));
  }
  if (result.details) explanation.details = result.details;
  const faithfulness = faithfulnessOf(model, inputs, explanation, options);
  if (faithfulness) explanation.faithfulness = faithfulness;
  return explanation;
}
