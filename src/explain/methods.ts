// The table of explanation methods by name: the one place explain() looks a method up.
import type { ExplainContext } from './context.js';
import type { CommonOptions, MethodName, MethodOptions, MethodResult } from './types.js';
import { gradientXInput, saliency } from './saliency.js';
import { occlusion } from './occlusion.js';
import { lime } from './lime.js';
import { gradCam } from './grad-cam.js';
// Installs SLIC as the { superpixels } grouping of every perturbation method.
import './slic.js';
import { kernelShap } from './kernel-shap.js';
import { shapley } from './shapley.js';
import { ArgumentError } from '../errors.js';

export type Method<M extends MethodName> = (
  ctx: ExplainContext,
  options: CommonOptions & MethodOptions[M],
) => MethodResult;

const pending = (name: MethodName) => (): MethodResult => {
  throw new ArgumentError(`explain: method '${name}' is being built`);
};

export const METHODS: { [M in MethodName]: Method<M> } = {
  saliency,
  gradientXInput,
  integratedGradients: pending('integratedGradients'),
  smoothGrad: pending('smoothGrad'),
  gradCam,
  occlusion,
  lime,
  kernelShap,
  shapley,
};
