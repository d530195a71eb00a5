// The options and figures of the faithfulness measures explain() can put next to an explanation.
import type { Baseline, FeatureGrouping, Target } from './types.js';

/** Deletion / insertion curves (Petsiuk et al. 2018). */
export interface CurveOptions {
  /** Points after the start: features are removed (inserted) in `steps` equal parts. Default min(features, 50). */
  steps?: number;
  /** What a removed (not yet inserted) element becomes: as Integrated Gradients' baseline. Default 0. */
  baseline?: Baseline;
  /**
   * Which elements move together, ranked by the sum of their attributions. Default 'tokens' for int32 inputs
   * (padding is never removed), 'elements' otherwise.
   */
  features?: FeatureGrouping;
}

/** Infidelity (Yeh et al. 2019, as Captum's `infidelity` with Gaussian perturbations). */
export interface InfidelityOptions {
  /** Standard deviation of the Gaussian perturbation I, in input units. Default 0.1. */
  stdDev?: number;
  /** Perturbations per sample. Default 10 (Captum's n_perturb_samples). */
  samples?: number;
  /** Scale the attributions by the optimal beta first (Captum's normalize=True). Default false. */
  normalize?: boolean;
  /**
   * Whether the attributions are global (they multiply the input: gradient x input, IG, occlusion, LIME, SHAP),
   * so that the perturbation they are dotted with is I / x (Captum's multiply_by_inputs). Default: by method.
   */
  multiplyByInputs?: boolean;
}

/** Max-sensitivity (Yeh et al. 2019, as Captum's `sensitivity_max`): re-runs the method on perturbed inputs. */
export interface MaxSensitivityOptions {
  /** Radius of the L-infinity ball the uniform perturbations are drawn from, in input units. Default 0.02. */
  radius?: number;
  /** Perturbations per sample (each one more run of the method). Default 10. */
  samples?: number;
}

/** Which measures explain() adds (true: that measure with its defaults). */
export interface FaithfulnessOptions {
  deletion?: boolean | CurveOptions;
  insertion?: boolean | CurveOptions;
  infidelity?: boolean | InfidelityOptions;
  maxSensitivity?: boolean | MaxSensitivityOptions;
}

/** A deletion or insertion curve per sample, and its area. */
export interface CurveResult {
  /** Per sample, the fraction of its features removed (inserted) at each point, 0 to 1: the x axis. */
  fractions: number[][];
  /** The target score at each point, per sample. */
  scores: number[][];
  /** Area under each sample's curve (trapezoid rule over the fraction, x in [0, 1]). */
  auc: number[];
  meanAuc: number;
}

export interface InfidelityResult {
  /** Per sample: mean over perturbations of (I . attributions - (f(x) - f(x - I)))^2. */
  values: number[];
  mean: number;
  stdDev: number;
  samples: number;
  normalize: boolean;
  multiplyByInputs: boolean;
}

export interface MaxSensitivityResult {
  /** Per sample: the max over perturbations of ||attr(x + d) - attr(x)|| / ||attr(x)||. */
  values: number[];
  mean: number;
  radius: number;
  samples: number;
}

/** The figures explain() adds under `faithfulness`. */
export interface Faithfulness {
  deletion?: CurveResult;
  insertion?: CurveResult;
  infidelity?: InfidelityResult;
  maxSensitivity?: MaxSensitivityResult;
  /** Measures asked for by `true` that do not apply to these inputs (int token ids cannot take noise), and why. */
  skipped?: Record<string, string>;
  /** Wall time of the measures, seconds. */
  seconds: number;
}

/** What the measures score: the explanation's own target unless it was a function (then give it again). */
export interface MeasureTarget {
  target?: Target;
  /** Rows per forward pass. Default: the explanation's batchSize. */
  batchSize?: number;
  /** Seed of the perturbations. Default: the explanation's seed. */
  seed?: number;
}
