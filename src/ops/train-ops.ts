// The training step's fused ops as functions: bias + activation, sparse softmax cross-entropy (each with
// its backward), and the one-call optimizer updates, which run only where the backend has a kernel.
import type { Tensor } from '../tensor/tensor.js';
import { reshape, slice } from './views.js';
import { runFusedOp, tryFusedKernel } from './fused.js';
import type { AdamStepParams, DropoutParams, FusedActivation, SgdStepParams } from './fused-params.js';
import type { Generator } from './random.js';

/** activation(z + bias) for z [..., C] and bias [C]; activation one of FUSED_ACTIVATIONS. */
export function biasActivation(z: Tensor, bias: Tensor, activation: FusedActivation = 'linear'): Tensor {
  return runFusedOp('biasActivation', [z, bias], { activation });
}

/** dy * activation'(z), computed from y = activation(z). */
export function activationGrad(dy: Tensor, y: Tensor, activation: FusedActivation): Tensor {
  return runFusedOp('activationGrad', [dy, y], { activation });
}

/** Per-example -log softmax(logits)[label]: logits [..., C], labels int32 [...] in [0, C). */
export function sparseSoftmaxCrossEntropy(logits: Tensor, labels: Tensor): Tensor {
  return runFusedOp('sparseSoftmaxCrossEntropy', [logits, labels], {});
}

/** The gradient of sparseSoftmaxCrossEntropy with respect to the logits, for output gradient dy. */
export function sparseSoftmaxCrossEntropyGrad(logits: Tensor, labels: Tensor, dy: Tensor): Tensor {
  return runFusedOp('sparseSoftmaxCrossEntropyGrad', [logits, labels, dy], {});
}

/**
 * One Adam (or SGD) update of every parameter in a single kernel, returning one flat tensor
 * [params'..., slots'...], or undefined where the current backend has no such kernel (the optimizer
 * then runs its transformation chain, which computes the same thing op by op).
 */
export function tryAdamStep(inputs: readonly Tensor[], params: AdamStepParams): Tensor | undefined {
  return tryFusedKernel('adamStep', inputs, params);
}

export function trySgdStep(inputs: readonly Tensor[], params: SgdStepParams): Tensor | undefined {
  return tryFusedKernel('sgdStep', inputs, params);
}

/**
 * Inverted dropout of x with the mask drawn from `generator` (which advances by x.size, exactly as if
 * it had drawn the mask itself): x * keep / (1 - rate). A backend may compute the mask in its kernel.
 */
export function dropout(x: Tensor, rate: number, generator: Generator): Tensor {
  return runFusedOp('dropout', [x], { seed: generator.seed, counter: generator.reserve(x.size), rate });
}

/** Dropout with explicit stream parameters: the gradient of dropout is the same mask on dy. */
export function dropoutAt(x: Tensor, params: DropoutParams): Tensor {
  return runFusedOp('dropout', [x], params);
}

/** Layer normalization over the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta; gamma, beta [C]. */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, epsilon: number): Tensor {
  return runFusedOp('layerNorm', [x, gamma, beta], { epsilon });
}

/** layerNorm's gradients for output gradient dy: dx and dgamma (dbeta is dy summed over the rows). */
export function layerNormGrad(x: Tensor, gamma: Tensor, dy: Tensor, epsilon: number): { dx: Tensor; dgamma: Tensor } {
  const flat = runFusedOp('layerNormGrad', [x, gamma, dy], { epsilon });
  return { dx: reshape(slice(flat, [0], [x.size]), x.shape), dgamma: slice(flat, [x.size], [gamma.size]) };
}
