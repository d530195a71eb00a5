// Gradient maps: saliency (the gradient of the target score, by default its magnitude) and gradient x input
// (token models: of the embeddings, summed per token).
import { tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { identityRows, type ExplainContext } from './context.js';
import type { GradientXInputOptions, MethodResult, SaliencyOptions } from './types.js';

export function saliency(ctx: ExplainContext, options: SaliencyOptions): MethodResult {
  const absolute = options.absolute ?? true;
  const { gradients } = ctx.inputGradients(ctx.gradientInputs(), identityRows(ctx.n));
  const attributions = absolute ? tidy(() => o.abs(gradients)) : gradients;
  if (absolute) gradients.dispose();
  return { attributions: ctx.toInputs(attributions), parameters: { absolute } };
}

export function gradientXInput(ctx: ExplainContext, _options: GradientXInputOptions): MethodResult {
  const points = ctx.gradientInputs();
  const { gradients } = ctx.inputGradients(points, identityRows(ctx.n));
  const attributions = tidy(() => o.mul(gradients, points));
  gradients.dispose();
  return { attributions: ctx.toInputs(attributions), parameters: {} };
}
