// Activations by name (Keras): relu, sigmoid, tanh, softmax, gelu, leakyRelu, elu, selu, swish,
// softplus, mish, hardSwish, logSigmoid, softsign, linear. Names are accepted camelCased or snake_cased.
import type { Tensor } from '../tensor/tensor.js';
import * as o from '../ops/index.js';
import { Registry } from '../registry.js';
import { rememberLogits } from './logits.js';

export type ActivationFn = (x: Tensor) => Tensor;

const ACTIVATIONS: Record<string, ActivationFn> = {
  linear: (x) => x,
  relu: o.relu,
  sigmoid: (x) => rememberLogits(o.sigmoid(x), 'sigmoid', x),
  tanh: o.tanh,
  softmax: (x) => rememberLogits(o.softmax(x, -1), 'softmax', x),
  gelu: (x) => o.gelu(x),
  leakyRelu: (x) => o.leakyRelu(x),
  elu: (x) => o.elu(x),
  selu: o.selu,
  swish: o.swish,
  silu: o.swish,
  softplus: o.softplus,
  relu6: (x) => o.clip(x, 0, 6),
  mish: o.mish,
  hardSwish: o.hardSwish,
  hardSilu: o.hardSwish,
  logSigmoid: o.logSigmoid,
  softsign: o.softsign,
};

export type ActivationName = keyof typeof ACTIVATIONS;

const REGISTRY = new Registry<ActivationFn>('activation', 'activation');
for (const [name, fn] of Object.entries(ACTIVATIONS)) REGISTRY.add(name, fn);

/** An activation by name (null = linear), with its canonical camelCase name, which getConfig() saves. */
export function resolveActivation(name: string | null | undefined): { name: string; fn: ActivationFn } {
  const { name: canonical, value } = REGISTRY.get(name ?? 'linear');
  return { name: canonical, fn: value };
}

export function getActivation(name: string | null | undefined): ActivationFn {
  return resolveActivation(name).fn;
}

export function activationNames(): string[] {
  return [...REGISTRY.names];
}
