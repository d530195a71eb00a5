// Keras' Adam/AdamW and SGD as one fused kernel over every parameter (where the backend has one). Each
// attaches to the transformations it stands for, reading and writing their named state (scaleByAdam's
// {count, mu, nu}, scaleByLearningRate's and addDecayedWeights' {count}, trace's {trace}) wherever they
// sit in the chain, element for element as the chain would, so switching backends between steps, or
// saving on one and resuming on another, is seamless.
import type { Tensor } from '../tensor/tensor.js';
import { tryAdamStep, trySgdStep } from '../ops/families/train-step.js';
import type { FusedUpdate } from './optimizer.js';
import {
  addDecayedWeights,
  adamAlpha,
  namedState,
  scaleByAdam,
  scaleByLearningRate,
  trace,
  type AdamState,
  type CountState,
  type GradientTransformation,
  type OptState,
  type TraceState,
} from './transforms.js';
import type { Schedule } from './schedules.js';

/** The [params'..., slots'...] results as `groups` lists of one tensor per parameter. */
function groupsOf(results: readonly Tensor[], count: number, groups: number): Tensor[][] {
  return Array.from({ length: groups }, (_, k) => results.slice(k * count, (k + 1) * count));
}

/** Advances the step counts of scaleByLearningRate and (when the chain has it) addDecayedWeights. */
function countSteps(whole: GradientTransformation, old: OptState, state: OptState): OptState {
  for (const counted of [scaleByLearningRate, addDecayedWeights]) {
    const part = namedState<CountState>(whole, counted);
    if (part) state = part.set(state, { count: part.get(old).count + 1 });
  }
  return state;
}

export function fusedAdam(
  lr: Schedule,
  h: { beta1: number; beta2: number; epsilon: number; weightDecay: number },
): FusedUpdate {
  return (params, grads, state, whole) => {
    const adam = namedState<AdamState>(whole, scaleByAdam),
      rate = namedState<CountState>(whole, scaleByLearningRate);
    if (!adam || !rate) return undefined;
    const { count, mu, nu } = adam.get(state);
    const t = count + 1;
    const results = tryAdamStep([...params, ...grads, ...mu, ...nu], {
      lr: lr(rate.get(state).count),
      weightDecay: h.weightDecay,
      beta1: h.beta1,
      beta2: h.beta2,
      epsilon: h.epsilon,
      alpha: adamAlpha(h.beta1, h.beta2, t),
    });
    if (!results) return undefined;
    const [next, mu2, nu2] = groupsOf(results, params.length, 3);
    return { next, state: countSteps(whole, state, adam.set(state, { count: t, mu: mu2, nu: nu2 })) };
  };
}

export function fusedSgd(lr: Schedule, h: { momentum: number; nesterov: boolean; weightDecay: number }): FusedUpdate {
  return (params, grads, state, whole) => {
    const rate = namedState<CountState>(whole, scaleByLearningRate),
      momentum = namedState<TraceState>(whole, trace);
    if (!rate || (h.momentum !== 0) !== (momentum !== undefined)) return undefined;
    const traces = momentum ? momentum.get(state).trace : [];
    const results = trySgdStep([...params, ...grads, ...traces], {
      lr: lr(rate.get(state).count),
      weightDecay: h.weightDecay,
      momentum: h.momentum,
      nesterov: h.nesterov,
    });
    if (!results) return undefined;
    const [next, traced] = groupsOf(results, params.length, momentum ? 2 : 1);
    const withTrace = momentum ? momentum.set(state, { trace: traced }) : state;
    return { next, state: countSteps(whole, state, withTrace) };
  };
}
