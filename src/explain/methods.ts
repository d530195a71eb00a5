// The table of explanation methods by name: the one place explain() looks a method up.
import type { ExplainContext } from './context.js';
import type { CommonOptions, MethodName, MethodOptions, MethodResult } from './types.js';
import { gradientXInput, saliency } from './saliency.js';
import { integratedGradients } from './integrated-gradients.js';
import { smoothGrad } from './smooth-grad.js';
import { occlusion } from './occlusion.js';
import { lime } from './lime.js';
import { gradCam } from './grad-cam.js';
// Installs SLIC as the { superpixels } grouping of every perturbation method.
import './slic.js';
import { kernelShap } from './kernel-shap.js';
import { shapley } from './shapley.js';

export type Method<M extends MethodName> = (
  ctx: ExplainContext,
  options: CommonOptions & MethodOptions[M],
) => MethodResult;

export const METHODS: { [M in MethodName]: Method<M> } = {
  saliency,
  gradientXInput,
  integratedGradients,
  smoothGrad,
  gradCam,
  occlusion,
  lime,
  kernelShap,
  shapley,
};
