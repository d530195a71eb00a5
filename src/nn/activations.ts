// Activations by name (Keras): relu, sigmoid, tanh, softmax, gelu, leakyRelu, elu, selu, swish,
// softplus, linear. Names are accepted camelCased or snake_cased.
import type { Tensor } from '../tensor/tensor.js';
import * as o from '../ops/index.js';
import { ArgumentError } from '../errors.js';
import { suggest } from './names.js';
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
};

export type ActivationName = keyof typeof ACTIVATIONS;

/** camelCase of a snake_case or kebab-case name. */
export function camel(name: string): string {
  return name.replace(/[_-]([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
}

export function getActivation(name: string | null | undefined): ActivationFn {
  if (name == null) return ACTIVATIONS.linear;
  const fn = ACTIVATIONS[camel(name)];
  if (!fn)
    throw new ArgumentError(`activation: unknown activation '${name}'${suggest(name, Object.keys(ACTIVATIONS))}`);
  return fn;
}

export function activationNames(): string[] {
  return Object.keys(ACTIVATIONS);
}
