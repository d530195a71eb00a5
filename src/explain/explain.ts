// explain(model, inputs, { method, target, ... }): one call to any attribution method, with its metadata.
import { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { ExplainContext } from './context.js';
import { METHODS, type Method } from './methods.js';
import { COMMON_OPTION_KEYS, METHOD_NAMES, OPTION_KEYS } from './types.js';
import type { ExplainOptions, Explanation, MethodName, MethodResult, SmoothGradOptions } from './types.js';

/**
 * Measures explain() adds next to an explanation when asked (`faithfulness`): faithfulness.ts installs them, and
 * the package index loads it (they run explain() themselves, so explain.ts cannot import them).
 */
export interface ExplanationMeasures {
  /** Checks the option before the method runs. */
  check(op: string, given: unknown): void;
  add(model: Model, inputs: Tensor, explanation: Explanation, options: ExplainOptions): void;
}
let measures: ExplanationMeasures | undefined;
export function setExplanationMeasures(installed: ExplanationMeasures): void {
  measures = installed;
}

/** Sum of each sample's attributions: [N, ...] -> N numbers. */
export function attributionSums(attributions: Tensor): Float64Array {
  const axes = attributions.shape.slice(1).map((_, i) => i + 1);
  return Float64Array.from(tidy(() => (axes.length ? o.sum(attributions, axes) : attributions).dataSync()));
}

/** An option the method does not take is an error naming the ones it takes (never silently ignored). */
function refuseUnknownOptions(method: MethodName, options: object): void {
  const check = (given: object, owner: MethodName, allowed: object, what: string) => {
    const unknown = Object.keys(given).filter((k) => !Object.hasOwn(allowed, k));
    if (unknown.length > 0)
      throw new ArgumentError(
        `explain(${method}): ${what} ${unknown.map((k) => `'${k}'`).join(', ')} not taken; ${owner} takes ` +
          (Object.keys(allowed).join(', ') || 'none'),
      );
  };
  check(options, method, { ...COMMON_OPTION_KEYS, ...OPTION_KEYS[method] }, 'option');
  const inner = (options as SmoothGradOptions).overOptions;
  const over = (options as SmoothGradOptions).over ?? 'saliency';
  if (method === 'smoothGrad' && typeof inner === 'object' && inner !== null && Object.hasOwn(OPTION_KEYS, over))
    check(inner, over, OPTION_KEYS[over], 'overOptions');
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
  refuseUnknownOptions(method, options as object);
  const measured = options.faithfulness !== undefined && options.faithfulness !== false;
  if (measured && !measures)
    throw new ArgumentError(`explain(${method}): the faithfulness measures are not loaded (import from the package)`);
  if (measured) measures!.check(`explain(${method})`, options.faithfulness); // bad options fail before the method
  const ctx = new ExplainContext(model, inputs, options, method);
  const scores = ctx.scores;
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
  if (measured) measures!.add(model, inputs, explanation, options);
  return explanation;
}
