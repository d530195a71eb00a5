// explain()'s `faithfulness` option: the deletion and insertion AUC, infidelity and max-sensitivity of the
// explanation just made, computed next to it (off by default: each measure costs more forward passes).
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { deletionCurve, insertionCurve } from './deletion.js';
import { infidelity, maxSensitivity } from './infidelity.js';
import { setExplanationMeasures } from './explain.js';
import type { ExplainOptions, Explanation } from './types.js';
import type { Faithfulness, FaithfulnessOptions } from './faithfulness-types.js';

const MEASURES = ['deletion', 'insertion', 'infidelity', 'maxSensitivity'] as const;
/**
 * What `faithfulness: true` computes: the curves and infidelity (forward passes only). Max-sensitivity runs the
 * method again `samples` times, so it is computed only when asked for by name.
 */
const DEFAULTS: FaithfulnessOptions = { deletion: true, insertion: true, infidelity: true };

/** The options as given, checked: true, or an object naming only known measures. */
export function faithfulnessOptions(op: string, given: unknown): FaithfulnessOptions | undefined {
  if (given === undefined || given === false) return undefined;
  if (given === true) return DEFAULTS;
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    throw new ArgumentError(`${op}: faithfulness must be true or an object of measures, got ${String(given)}`);
  const unknown = Object.keys(given).filter((k) => !(MEASURES as readonly string[]).includes(k));
  if (unknown.length)
    throw new ArgumentError(`${op}: unknown faithfulness measure ${unknown.join(', ')}; known: ${MEASURES.join(', ')}`);
  return given as FaithfulnessOptions;
}

const settings = <T extends object>(v: boolean | T | undefined): T | undefined =>
  v === undefined || v === false ? undefined : v === true ? ({} as T) : v;

/** The measures `options.faithfulness` asks for, of `explanation` (made by explain() with `options`). */
export function faithfulnessOf(
  model: Model,
  inputs: Tensor,
  explanation: Explanation,
  options: ExplainOptions,
): Faithfulness | undefined {
  const asked = faithfulnessOptions(`explain(${options.method})`, options.faithfulness);
  if (!asked) return undefined;
  const started = performance.now();
  const result: Faithfulness = { seconds: 0 };
  // A function target is not in the explanation; every measure needs it again.
  const target = typeof options.target === 'function' ? options.target : undefined;
  const common = { target, batchSize: options.batchSize };
  const deletion = settings(asked.deletion),
    insertion = settings(asked.insertion);
  if (deletion) result.deletion = deletionCurve(model, inputs, explanation, { ...deletion, ...common });
  if (insertion) result.insertion = insertionCurve(model, inputs, explanation, { ...insertion, ...common });
  // Token ids cannot take noise: under `true` infidelity is skipped with the reason; asked by name, it throws.
  const noiseSkipped = asked === DEFAULTS && inputs.dtype === 'int32';
  const fidelity = settings(asked.infidelity);
  if (fidelity && noiseSkipped) result.skipped = { infidelity: 'int32 token-id inputs cannot take Gaussian noise' };
  else if (fidelity) result.infidelity = infidelity(model, inputs, explanation, { ...fidelity, ...common });
  const sensitivity = settings(asked.maxSensitivity);
  if (sensitivity) result.maxSensitivity = maxSensitivity(model, inputs, options, { ...sensitivity, explanation });
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

setExplanationMeasures({
  check: faithfulnessOptions,
  add: (model, inputs, explanation, options) => {
    const faithfulness = faithfulnessOf(model, inputs, explanation, options);
    if (faithfulness) explanation.faithfulness = faithfulness;
  },
});
