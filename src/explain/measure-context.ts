// What the faithfulness measures share: a context scoring the same target as an explanation did, its seed,
// and the check that the attributions fit the inputs.
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { ExplainContext } from './context.js';
import type { Explanation, Target } from './types.js';
import type { MeasureTarget } from './faithfulness-types.js';

/** The target an explanation explained, to give again: its classes (or their logits), or the function given. */
export function targetOf(op: string, explanation: Explanation, target?: Target): Target {
  if (target !== undefined) return target;
  if (explanation.target === 'custom')
    throw new ArgumentError(`${op}: the explanation's target was a function; give it again as options.target`);
  return explanation.logit ? { logit: explanation.target } : explanation.target;
}

/** A context that scores rows of perturbed inputs for the explanation's target, and the seed of the perturbations. */
export function measureContext(
  op: string,
  model: Model,
  inputs: Tensor,
  explanation: Explanation,
  options: MeasureTarget,
): { ctx: ExplainContext; seed: number } {
  const { attributions } = explanation;
  if (attributions.shape.length !== inputs.shape.length || attributions.shape.some((d, i) => d !== inputs.shape[i]))
    throw new ShapeError(
      `${op}: attributions ${fmtShape(attributions.shape)} do not have the inputs' shape ${fmtShape(inputs.shape)}`,
    );
  const batchSize = options.batchSize ?? (explanation.parameters.batchSize as number | undefined);
  const seed = options.seed ?? (explanation.parameters.seed as number | undefined);
  const ctx = new ExplainContext(
    model,
    inputs,
    { target: targetOf(op, explanation, options.target), batchSize, seed },
    explanation.method,
  );
  return { ctx, seed: ctx.seed };
}

/** Checks an integer option (>= min) and returns it or its default. */
export function positiveInteger(
  op: string,
  name: string,
  value: number | undefined,
  fallback: number,
  min = 1,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min)
    throw new ArgumentError(`${op}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  return v;
}

/** Checks a positive finite number option and returns it or its default. */
export function positiveNumber(op: string, name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(typeof v === 'number' && Number.isFinite(v) && v > 0))
    throw new ArgumentError(`${op}: ${name} must be a positive number, got ${String(value)}`);
  return v;
}

export function mean(values: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}
