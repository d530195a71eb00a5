// The directions of AMSGrad, Nadam, Adamax, Adadelta and Lion, and momentum with dampening (PyTorch's SGD),
// as gradient transformations (see transforms.ts): each is followed by scaleByLearningRate in its optimizer.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import * as o from '../ops/index.js';
import { adamAlpha, checkRange, transformation, type GradientTransformation } from './transforms.js';

const zerosOf = (params: readonly Tensor[]) => params.map((p) => o.zerosLike(p));

/** m += (g - m)(1 - b), Adam's moving averages in Keras' form. */
const ema = (avg: Tensor, x: Tensor, b: number) => o.add(avg, o.mul(o.sub(x, avg), 1 - b));

export interface MomentOptions {
  b1?: number;
  b2?: number;
  eps?: number;
}

function checkMoments(op: string, b1: number, b2: number, eps: number): void {
  checkRange(op, 'b1', b1, 0, 1);
  checkRange(op, 'b2', b2, 0, 1);
  checkRange(op, 'eps', eps, 0);
}

/**
 * Adam with AMSGrad (Reddi et al. 2018): Adam's direction (scaleByAdam) over the running maximum of the
 * second moments, vMax = max(vMax, v); as Keras and PyTorch, bias correction uses the current step.
 */
export function scaleByAmsgrad({ b1 = 0.9, b2 = 0.999, eps = 1e-7 }: MomentOptions = {}): GradientTransformation {
  checkMoments('scaleByAmsgrad', b1, b2, eps);
  type S = { count: number; mu: Tensor[]; nu: Tensor[]; nuMax: Tensor[] };
  return transformation<S>({
    init: (params) => ({ count: 0, mu: zerosOf(params), nu: zerosOf(params), nuMax: zerosOf(params) }),
    update: (grads, { count, mu, nu, nuMax }) => {
      const t = count + 1;
      const m = grads.map((g, i) => ema(mu[i], g, b1));
      const v = grads.map((g, i) => ema(nu[i], o.square(g), b2));
      const vMax = v.map((x, i) => o.maximum(nuMax[i], x));
      const alpha = adamAlpha(b1, b2, t);
      const updates = m.map((x, i) => o.div(o.mul(x, alpha), o.add(o.sqrt(vMax[i]), eps)));
      return { updates, state: { count: t, mu: m, nu: v, nuMax: vMax } };
    },
  });
}

/** Nadam's momentum coefficient at 1-based step t: b1 (1 - 0.5 * 0.96^(0.004 t)) (Dozat 2016). */
const nadamMu = (b1: number, t: number) => b1 * (1 - 0.5 * 0.96 ** (0.004 * t));

/**
 * Nadam in PyTorch's form (torch.optim.NAdam, momentum_decay 0.004; Keras 3 computes the same):
 *   m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2); P_t = mu_1 ... mu_t;
 *   u = ((1 - mu_t) / (1 - P_t) g + mu_{t+1} / (1 - P_t mu_{t+1}) m) / (sqrt(v / (1 - b2^t)) + eps).
 */
export function scaleByNadam({ b1 = 0.9, b2 = 0.999, eps = 1e-7 }: MomentOptions = {}): GradientTransformation {
  checkMoments('scaleByNadam', b1, b2, eps);
  // The product of the mu's, kept by step (a number in the state would be read as a step count).
  let memo = { t: 0, product: 1 };
  const productTo = (t: number) => {
    if (memo.t > t) memo = { t: 0, product: 1 };
    while (memo.t < t) memo = { t: memo.t + 1, product: memo.product * nadamMu(b1, memo.t + 1) };
    return memo.product;
  };
  type S = { count: number; mu: Tensor[]; nu: Tensor[] };
  return transformation<S>({
    init: (params) => ({ count: 0, mu: zerosOf(params), nu: zerosOf(params) }),
    update: (grads, { count, mu, nu }) => {
      const t = count + 1;
      const muT = nadamMu(b1, t),
        muNext = nadamMu(b1, t + 1),
        product = productTo(t);
      const m = grads.map((g, i) => ema(mu[i], g, b1));
      const v = grads.map((g, i) => ema(nu[i], o.square(g), b2));
      const updates = grads.map((g, i) => {
        const denominator = o.add(o.sqrt(o.div(v[i], 1 - b2 ** t)), eps);
        const step = o.add(o.mul(g, (1 - muT) / (1 - product)), o.mul(m[i], muNext / (1 - product * muNext)));
        return o.div(step, denominator);
      });
      return { updates, state: { count: t, mu: m, nu: v } };
    },
  });
}

/**
 * Adamax (Kingma & Ba 2015, section 7) in Keras' form: m += (g - m)(1 - b1); u = max(b2 u, |g|);
 * direction m / ((1 - b1^t)(u + eps)). PyTorch adds eps inside the maximum instead: max(b2 u, |g| + eps).
 */
export function scaleByAdamax({ b1 = 0.9, b2 = 0.999, eps = 1e-7 }: MomentOptions = {}): GradientTransformation {
  checkMoments('scaleByAdamax', b1, b2, eps);
  type S = { count: number; mu: Tensor[]; nu: Tensor[] };
  return transformation<S>({
    init: (params) => ({ count: 0, mu: zerosOf(params), nu: zerosOf(params) }),
    update: (grads, { count, mu, nu }) => {
      const t = count + 1;
      const m = grads.map((g, i) => ema(mu[i], g, b1));
      const u = grads.map((g, i) => o.maximum(o.mul(nu[i], b2), o.abs(g)));
      const updates = m.map((x, i) => o.div(x, o.mul(o.add(u[i], eps), 1 - b1 ** t)));
      return { updates, state: { count: t, mu: m, nu: u } };
    },
  });
}

/**
 * Adadelta (Zeiler 2012), as Keras and PyTorch: a = rho a + (1 - rho) g^2;
 * d = sqrt(s + eps) / sqrt(a + eps) g; s = rho s + (1 - rho) d^2; the direction is d.
 */
export function scaleByAdadelta({
  rho = 0.95,
  eps = 1e-7,
}: { rho?: number; eps?: number } = {}): GradientTransformation {
  checkRange('scaleByAdadelta', 'rho', rho, 0, 1);
  checkRange('scaleByAdadelta', 'eps', eps, 0);
  type S = { accumulatedGrad: Tensor[]; accumulatedDelta: Tensor[] };
  return transformation<S>({
    init: (params) => ({ accumulatedGrad: zerosOf(params), accumulatedDelta: zerosOf(params) }),
    update: (grads, { accumulatedGrad, accumulatedDelta }) => {
      const a = grads.map((g, i) => o.add(o.mul(accumulatedGrad[i], rho), o.mul(o.square(g), 1 - rho)));
      const d = grads.map((g, i) => o.mul(o.div(o.sqrt(o.add(accumulatedDelta[i], eps)), o.sqrt(o.add(a[i], eps))), g));
      const s = d.map((x, i) => o.add(o.mul(accumulatedDelta[i], rho), o.mul(o.square(x), 1 - rho)));
      return { updates: d, state: { accumulatedGrad: a, accumulatedDelta: s } };
    },
  });
}

/**
 * Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms", Algorithm 2):
 * c = b1 m + (1 - b1) g; the direction is sign(c); then m = b2 m + (1 - b2) g.
 */
export function scaleByLion({ b1 = 0.9, b2 = 0.99 }: { b1?: number; b2?: number } = {}): GradientTransformation {
  checkRange('scaleByLion', 'b1', b1, 0, 1);
  checkRange('scaleByLion', 'b2', b2, 0, 1);
  return transformation<{ mu: Tensor[] }>({
    init: (params) => ({ mu: zerosOf(params) }),
    update: (grads, { mu }) => ({
      updates: grads.map((g, i) => o.sign(ema(mu[i], g, b1))),
      state: { mu: grads.map((g, i) => ema(mu[i], g, b2)) },
    }),
  });
}

/**
 * PyTorch's SGD momentum with dampening: t = g on the first step, then t = decay t + (1 - dampening) g;
 * the update is t. Placed after scaleByLearningRate (with a constant rate this is lr times PyTorch's
 * buffer, which is what PyTorch subtracts). Nesterov needs dampening 0 (as in PyTorch): use trace then.
 */
export function dampedTrace({ decay, dampening }: { decay: number; dampening: number }): GradientTransformation {
  checkRange('dampedTrace', 'decay', decay, 0, 1);
  checkRange('dampedTrace', 'dampening', dampening, 0, 1);
  if (decay === 0) throw new ArgumentError('dampedTrace: dampening needs momentum (decay > 0)');
  type S = { count: number; trace: Tensor[] };
  return transformation<S>({
    init: (params) => ({ count: 0, trace: zerosOf(params) }),
    update: (grads, { count, trace }) => {
      const next = grads.map((u, i) => (count === 0 ? u : o.add(o.mul(trace[i], decay), o.mul(u, 1 - dampening))));
      return { updates: next, state: { count: count + 1, trace: next } };
    },
  });
}
