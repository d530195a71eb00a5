// The model-randomisation sanity check (Adebayo et al. 2018): explanations of a model whose weights are
// re-initialised, layer by layer from the top, should differ from the trained model's; rank correlations say
// how much. The check works on a copy of the model: the user's model and its weights are never touched.
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import { ArgumentError } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import * as o from '../ops/index.js';
import { cloneModel } from '../train/clone.js';
import { explain } from './explain.js';
import { mean, targetOf } from './measure-context.js';
import { spearman } from './rank.js';
import type { ExplainOptions, Explanation, MethodName } from './types.js';

export interface SanityOptions {
  /** Also randomise each layer alone (the others keep their trained weights). Default false. */
  independent?: boolean;
  /** The explanation of `inputs` by the trained model with these options (computed when not given). */
  explanation?: Explanation;
}

/** One stage: the explanation with `randomized` layers re-initialised, against the trained model's. */
export interface SanityStage {
  /** The layer re-initialised at this stage. */
  layer: string;
  /** Every layer re-initialised at this stage (cascading: this one and all above it). */
  randomized: string[];
  /** Mean over samples of the Spearman rank correlation of the attributions, and of their absolute values. */
  spearman: number;
  spearmanAbsolute: number;
  perSample: { spearman: number[]; spearmanAbsolute: number[] };
}

export interface SanityCheck {
  method: MethodName;
  /** Cascading randomisation, from the top layer with weights down to the first. */
  cascading: SanityStage[];
  /** Each layer randomised alone, top down (when asked for). */
  independent?: SanityStage[];
  seconds: number;
}

/** Builds a fresh copy's layers by running it once on one row. */
function built(model: Model, inputs: Tensor): Model {
  const copy = cloneModel(model);
  noGrad(() =>
    tidy(() => {
      copy.apply(
        o.slice(
          inputs,
          inputs.shape.map(() => 0),
          [1, ...inputs.shape.slice(1)],
        ),
        { training: false },
      );
    }),
  );
  return copy;
}

function compare(
  layer: string,
  randomized: string[],
  trained: Explanation,
  again: Explanation,
  n: number,
): SanityStage {
  const a = trained.attributions.dataSync(),
    b = again.attributions.dataSync();
  const size = a.length / n;
  const rows = (v: ArrayLike<number>, s: number, abs: boolean) =>
    Float64Array.from({ length: size }, (_, j) => (abs ? Math.abs(v[s * size + j]) : v[s * size + j]));
  const plain = Array.from({ length: n }, (_, s) => spearman(rows(a, s, false), rows(b, s, false)));
  const absolute = Array.from({ length: n }, (_, s) => spearman(rows(a, s, true), rows(b, s, true)));
  return {
    layer,
    randomized,
    spearman: mean(plain),
    spearmanAbsolute: mean(absolute),
    perSample: { spearman: plain, spearmanAbsolute: absolute },
  };
}

/**
 * The model-randomisation sanity check of a method (by name, with `options`) on `inputs`: re-initialises the
 * weights of a copy of `model` with its layers' initializers (drawn from the global random stream, reproducible
 * under setSeed), cascading from the top layer with weights down, explains the same targets again at each stage
 * and reports the rank correlations with the trained model's attributions. A method whose maps stay highly
 * correlated does not depend on what the model learned. Sequential and functional models (cloneModel).
 */
export function sanityCheck(
  model: Model,
  inputs: Tensor,
  options: ExplainOptions,
  sanity: SanityOptions = {},
): SanityCheck {
  const op = `sanityCheck(${options.method})`;
  const started = performance.now();
  const inner: ExplainOptions = { ...options, faithfulness: undefined };
  const trained = sanity.explanation ?? explain(model, inputs, inner);
  const again: ExplainOptions = {
    ...inner,
    target: targetOf(op, trained, options.target),
    seed: trained.parameters.seed as number,
  };
  const layers = model.layers;
  const weighted = layers.map((l, i) => i).filter((i) => layers[i].weights.length > 0);
  if (weighted.length === 0) throw new ArgumentError(`${op}: model '${model.name}' has no layer with weights`);
  const fresh = built(model, inputs);
  const random = new Map(weighted.map((i) => [i, fresh.layers[i].getWeights()]));
  fresh.dispose();
  const copy = built(model, inputs);
  const original = model.getWeights();
  copy.setWeights(original);
  dispose(original);
  const n = inputs.shape[0];
  const stage = (i: number, randomized: string[]): SanityStage => {
    copy.layers[i].setWeights(random.get(i)!);
    const e = explain(copy, inputs, again);
    const result = compare(layers[i].name, randomized, trained, e, n);
    e.attributions.dispose();
    return result;
  };
  try {
    const topDown = [...weighted].reverse();
    const cascading = topDown.map((i, k) =>
      stage(
        i,
        topDown.slice(0, k + 1).map((j) => layers[j].name),
      ),
    );
    const result: SanityCheck = { method: options.method, cascading, seconds: 0 };
    if (sanity.independent) {
      result.independent = topDown.map((i) => {
        // Every layer back to its trained weights, then only layer i re-initialised.
        const trainedWeights = model.getWeights();
        copy.setWeights(trainedWeights);
        dispose(trainedWeights);
        return stage(i, [layers[i].name]);
      });
    }
    result.seconds = (performance.now() - started) / 1000;
    return result;
  } finally {
    copy.dispose();
    for (const w of random.values()) dispose(w);
    if (!sanity.explanation) trained.attributions.dispose();
  }
}
