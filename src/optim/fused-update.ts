// Keras' Adam/AdamW and SGD as one fused kernel over every parameter (where the backend has one). They
// read and write the state of the chains they stand for (optimizer.ts), element for element:
//   Adam: [scaleByAdam {count, mu, nu}, scaleByLearningRate {count}, addDecayedWeights {count}?]
//   SGD:  [scaleByLearningRate {count}, trace {trace}?, addDecayedWeights {count}?]
// so switching backends between steps, or saving on one and resuming on another, is seamless.
import type { Tensor } from '../tensor/tensor.js';
import { reshape, slice } from '../ops/views.js';
import { tryAdamStep, trySgdStep } from '../ops/families/train-step.js';
import type { FusedUpdate } from './optimizer.js';
import type { OptState } from './transforms.js';
import { adamAlpha } from './transforms.js';
import type { Schedule } from './schedules.js';

type Counted = { count: number };

/** Cuts the flat [params'..., slots'...] output into `groups` lists shaped like the parameters (views). */
function unflatten(flat: Tensor, params: readonly Tensor[], groups: number): Tensor[][] {
  const lists: Tensor[][] = [];
  let offset = 0;
  for (let k = 0; k < groups; k++) {
    lists.push(
      params.map((p) => {
        const part = reshape(slice(flat, [offset], [p.size]), p.shape);
        offset += p.size;
        return part;
      }),
    );
  }
  return lists;
}

/** The decay entry of the chain's state, advanced one step, when the chain has one. */
function nextDecay(state: readonly OptState[], index: number, weightDecay: number): OptState[] {
  return weightDecay ? [{ count: (state[index] as Counted).count + 1 }] : [];
}

export function fusedAdam(
  lr: Schedule,
  h: { beta1: number; beta2: number; epsilon: number; weightDecay: number },
): FusedUpdate {
  return (params, grads, state) => {
    const chain = state as readonly OptState[];
    const adam = chain[0] as Counted & { mu: Tensor[]; nu: Tensor[] };
    const rate = chain[1] as Counted;
    const t = adam.count + 1;
    const flat = tryAdamStep([...params, ...grads, ...adam.mu, ...adam.nu], {
      lr: lr(rate.count),
      weightDecay: h.weightDecay,
      beta1: h.beta1,
      beta2: h.beta2,
      epsilon: h.epsilon,
      alpha: adamAlpha(h.beta1, h.beta2, t),
    });
    if (!flat) return undefined;
    const [next, mu, nu] = unflatten(flat, params, 3);
    return { next, state: [{ count: t, mu, nu }, { count: rate.count + 1 }, ...nextDecay(chain, 2, h.weightDecay)] };
  };
}

export function fusedSgd(lr: Schedule, h: { momentum: number; nesterov: boolean; weightDecay: number }): FusedUpdate {
  return (params, grads, state) => {
    const chain = state as readonly OptState[];
    const rate = chain[0] as Counted;
    const traces = h.momentum !== 0 ? (chain[1] as { trace: Tensor[] }).trace : [];
    const flat = trySgdStep([...params, ...grads, ...traces], {
      lr: lr(rate.count),
      weightDecay: h.weightDecay,
      momentum: h.momentum,
      nesterov: h.nesterov,
    });
    if (!flat) return undefined;
    const [next, trace] = unflatten(flat, params, h.momentum !== 0 ? 2 : 1);
    const momentum = h.momentum !== 0 ? [{ trace }] : [];
    return {
      next,
      state: [{ count: rate.count + 1 }, ...momentum, ...nextDecay(chain, 1 + momentum.length, h.weightDecay)],
    };
  };
}
