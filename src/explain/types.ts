// The explain() contract: targets, the options of each method by name, and the Explanation every method returns.
import type { Tensor } from '../tensor/tensor.js';
import type { JsonValue } from '../ledger/canonical.js';
import type { Faithfulness, FaithfulnessOptions } from './faithfulness-types.js';

/**
 * What is explained, per sample: a class index (the model's output column; the probability if the model ends
 * in softmax/sigmoid), one index per sample, the logit behind a softmax/sigmoid output (`{ logit }`), or a
 * custom differentiable function of the model's outputs giving one score per sample ([N]). Default: each
 * sample's predicted class (argmax; unit 0 of a single-unit output).
 */
export type Target =
  | number
  | readonly number[]
  | Int32Array
  | { logit: number | readonly number[] | Int32Array }
  | ((outputs: Tensor | Tensor[]) => Tensor);

/** The names explain() takes, in the order the docs present them. */
export const METHOD_NAMES = [
  'saliency',
  'gradientXInput',
  'integratedGradients',
  'smoothGrad',
  'gradCam',
  'occlusion',
  'lime',
  'kernelShap',
  'shapley',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

/** Options every method takes. */
export interface CommonOptions {
  /** Default: each sample's predicted class. */
  target?: Target;
  /** Rows per forward (and backward) pass. Default 64. */
  batchSize?: number;
  /** Seed of the random draws (noise, perturbation samples); default one drawn from the global stream. */
  seed?: number;
  /**
   * Faithfulness measures of the explanation, added as `faithfulness` (faithfulness.ts): true for deletion and
   * insertion AUC and infidelity, or the measures by name with their options. Default off (more forward passes).
   */
  faithfulness?: boolean | FaithfulnessOptions;
}

/**
 * How input elements are grouped into the features that perturbation methods switch on and off: each element
 * its own feature; square patches of an image ([N, H, W, C] inputs, all channels together); superpixels (SLIC
 * on the image); tokens of a text model (int inputs: every position its own feature, padding id 0 left out);
 * or an explicit map from element (of one sample, row-major) to feature id, shared by all samples.
 */
export type FeatureGrouping =
  | 'elements'
  | 'tokens'
  | { patches: number | readonly [number, number] }
  | { superpixels: number; compactness?: number }
  | { featureMap: Int32Array | readonly number[] };

/** A baseline: one value for every element, one sample's shape ([1, ...] or without the batch axis), or [N, ...]. */
export type Baseline = number | Tensor;

export interface SaliencyOptions {
  /** |gradient| (Captum's Saliency default, abs=True); false keeps the sign. Default true. */
  absolute?: boolean;
}

// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface GradientXInputOptions {}

export type IntegrationRule = 'riemannLeft' | 'riemannRight' | 'riemannMiddle' | 'riemannTrapezoid' | 'gaussLegendre';
/** A fixed rule, or 'adaptive': Gauss-Legendre on segments halved until each one's completeness gap is small. */
export type IntegratedGradientsRule = IntegrationRule | 'adaptive';

export interface IntegratedGradientsOptions {
  /** The reference input. Default 0 (for a text model: the embedding of token id 0, padding). */
  baseline?: Baseline;
  /** Points on the path (adaptive: Gauss-Legendre points per segment). Default 50 (adaptive: 8). */
  steps?: number;
  /** Quadrature over the path. Default 'gaussLegendre' (Captum's default). */
  rule?: IntegratedGradientsRule;
  /** Adaptive: the completeness gap aimed at, per sample. Default 1e-4 (float64 inputs: 1e-8). */
  tolerance?: number;
  /** Adaptive: at most this many segments per sample (each costs `steps` gradients). Default 256 (float64: 1024). */
  maxSegments?: number;
}

export interface SmoothGradOptions {
  /** The method the noise tunnel averages. Default 'saliency' (with absolute false unless given). */
  over?: 'saliency' | 'gradientXInput' | 'integratedGradients';
  /** Options of the inner method. */
  overOptions?: SaliencyOptions | GradientXInputOptions | IntegratedGradientsOptions;
  /** Noisy copies per sample. Default 25. */
  samples?: number;
  /** Noise standard deviation, in input units. Default 0.15 x (max - min) of each sample (Smilkov et al.). */
  stdDev?: number;
  /** mean of attributions, mean of their squares, or their variance (VarGrad). Default 'smoothGrad'. */
  noiseType?: 'smoothGrad' | 'smoothGradSquared' | 'varGrad';
}

export interface GradCamOptions {
  /** The Conv2D layer's name (any layer giving [samples, H', W', C], nested too) whose feature maps are weighted. */
  layer: string;
  /** ReLU on the weighted map (Selvaraju et al.). Default true. */
  relu?: boolean;
}

export interface OcclusionOptions {
  /**
   * Window shape over one sample's axes (without the batch axis); a number is the same size on every axis.
   * Images [N, H, W, C]: a number or two numbers are H and W, and the window takes every channel.
   */
  window: number | readonly number[];
  /** Steps between windows, per axis (images: given as the window is). Default: the window (non-overlapping). */
  strides?: number | readonly number[];
  /** What an occluded element becomes. Default 0 (text: token id 0). */
  baseline?: number;
}

export interface LimeOptions {
  /** Perturbed samples per explained sample. Default 1000. */
  samples?: number;
  /** Default: 'tokens' for int inputs, { superpixels: 50 } for images [N, H, W, C], 'elements' otherwise. */
  features?: FeatureGrouping;
  /** Value of a feature switched off. Default 0 (text: token id 0). */
  baseline?: number;
  /** Width of the exponential kernel on the cosine distance to the sample. Default 0.25 (LIME's images/text). */
  kernelWidth?: number;
  /** Keep this many features (chosen by `featureSelection`), the rest get 0. Default all. */
  numFeatures?: number;
  /**
   * How numFeatures are chosen, as lime's: greedy forward selection on the weighted fit's R^2, the largest
   * |coefficients| of a fit on all features, or 'auto' (forward selection up to 6 features). Default 'auto'.
   */
  featureSelection?: 'auto' | 'forwardSelection' | 'highestWeights';
  /** Ridge penalty of the weighted fit. Default 1 (LIME's sklearn Ridge default). */
  ridge?: number;
}

export interface KernelShapOptions {
  /**
   * Background samples [M, ...]: a feature switched off takes their values; E f is the mean over them. Needed
   * for float inputs; token inputs default to one row of token id 0 (a word switched off is removed).
   */
  background?: Tensor;
  /**
   * Coalitions evaluated per explained sample (at most 2^m - 2 for m features that differ from the background;
   * paired: each with its complement). Default 2m + 2048.
   */
  samples?: number;
  /** Default: as LIME's. */
  features?: FeatureGrouping;
}

export interface ShapleyOptions {
  /** As KernelSHAP's. */
  background?: Tensor;
  /** At most 20 features (2^features coalitions are evaluated). */
  features?: FeatureGrouping;
}

/** The options of each method, by name: add a method by adding it here, to METHOD_NAMES and to methods.ts. */
export interface MethodOptions {
  saliency: SaliencyOptions;
  gradientXInput: GradientXInputOptions;
  integratedGradients: IntegratedGradientsOptions;
  smoothGrad: SmoothGradOptions;
  gradCam: GradCamOptions;
  occlusion: OcclusionOptions;
  lime: LimeOptions;
  kernelShap: KernelShapOptions;
  shapley: ShapleyOptions;
}

/** Every key of T, listed once: a table of them must name all of T's options and nothing else (checked). */
type OptionKeys<T> = { readonly [K in keyof Required<T>]: true };

/** The options each method takes, so explain() refuses the rest (a typo, another method's option) by name. */
export const OPTION_KEYS: { readonly [M in MethodName]: OptionKeys<MethodOptions[M]> } = {
  saliency: { absolute: true },
  gradientXInput: {},
  integratedGradients: { baseline: true, steps: true, rule: true, tolerance: true, maxSegments: true },
  smoothGrad: { over: true, overOptions: true, samples: true, stdDev: true, noiseType: true },
  gradCam: { layer: true, relu: true },
  occlusion: { window: true, strides: true, baseline: true },
  lime: {
    samples: true,
    features: true,
    baseline: true,
    kernelWidth: true,
    numFeatures: true,
    featureSelection: true,
    ridge: true,
  },
  kernelShap: { background: true, samples: true, features: true },
  shapley: { background: true, features: true },
};
export const COMMON_OPTION_KEYS: OptionKeys<CommonOptions & { method: MethodName }> = {
  method: true,
  target: true,
  batchSize: true,
  seed: true,
  faithfulness: true,
};

export type ExplainOptions = { [M in MethodName]: { method: M } & CommonOptions & MethodOptions[M] }[MethodName];

/** What a method computes; explain() adds the rest of Explanation. */
export interface MethodResult {
  /** The inputs' shape (float; for int token inputs, one value per token). */
  attributions: Tensor;
  /** The method's parameters as used (defaults filled in), JSON. */
  parameters: Record<string, JsonValue>;
  /**
   * Per sample, the score the attributions are meant to add up to, where the method has one: f(x) - f(baseline)
   * (Integrated Gradients), f(x) - E f (SHAP). explain() reports |sum of attributions - this| as the gap.
   */
  expectedSum?: Float64Array;
  /** Method-specific figures (LIME's fit, Grad-CAM's raw map size...), JSON. */
  details?: Record<string, JsonValue>;
}

export interface Explanation {
  method: MethodName;
  /** The inputs' shape (float; for int token inputs, one value per token). */
  attributions: Tensor;
  /** The class explained per sample, or 'custom' for a function target. */
  target: number[] | 'custom';
  /** Whether the target is a logit (pre-softmax/sigmoid) rather than the output. */
  logit: boolean;
  /** f(x): the target score of each sample. */
  scores: number[];
  parameters: Record<string, JsonValue>;
  /** |sum of attributions - expected sum| per sample (completeness / efficiency), where the method has one. */
  completenessGap?: number[];
  details?: Record<string, JsonValue>;
  /** Wall time of the method, seconds. */
  seconds: number;
  /** The faithfulness measures asked for with the `faithfulness` option. */
  faithfulness?: Faithfulness;
}
