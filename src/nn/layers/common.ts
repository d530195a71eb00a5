// Helpers shared by the built-in layers: one-input unwrapping, layer-named errors, tuple arguments,
// serializable specs (initializers, regularizers, activations) and Keras' window-size arithmetic.
import type { Tensor } from '../../tensor/tensor.js';
import { cast } from '../../ops/elementwise.js';
import { ArgumentError, ShapeError } from '../../errors.js';
import { formatSymShape, type Layer, type SymShape } from '../layer.js';
import type { Initializer, InitializerConfig } from '../initializers.js';
import type { Regularizer } from '../regularizers.js';
import { resolveActivation } from '../activations.js';
export { resolveActivation };

/** "Dense 'dense_1'": how every layer error starts. */
export function who(layer: Layer): string {
  return `${layer.className} '${layer.name}'`;
}

/** A ShapeError "Dense 'dense_1' expects input (None, 784), got (32, 28, 28)[: detail]". */
export function inputShapeError(layer: Layer, expected: string, got: SymShape, detail?: string): ShapeError {
  return new ShapeError(
    `${who(layer)} expects input ${expected}, got ${formatSymShape(got)}${detail ? `: ${detail}` : ''}`,
  );
}

/** The one tensor of a single-input layer (a one-element list is unwrapped, as Keras does). */
export function oneInput(layer: Layer, inputs: Tensor | Tensor[]): Tensor {
  if (!Array.isArray(inputs)) return inputs;
  if (inputs.length !== 1) throw new ArgumentError(`${who(layer)} takes one input, got a list of ${inputs.length}`);
  return inputs[0];
}

/** The one shape of a single-input layer; computeOutputShape receives a list for list calls. */
export function oneShape(layer: Layer, shapes: SymShape | SymShape[]): SymShape {
  if (!Array.isArray(shapes[0])) return shapes as SymShape;
  if (shapes.length !== 1) throw new ArgumentError(`${who(layer)} takes one input, got a list of ${shapes.length}`);
  return shapes[0] as SymShape;
}

/** The input in the layer's dtype (Keras casts inputs to the layer's compute dtype). */
export function asLayerDType(layer: Layer, x: Tensor): Tensor {
  return cast(x, layer.dtype);
}

/** Normalizes an int-or-tuple argument (kernelSize, strides, ...) to n positive integers. */
export function tuple(layer: Layer, arg: string, value: number | readonly number[], n: number): number[] {
  // A config read from a file may lack the argument or hold anything: a typed error, not a TypeError.
  const t = typeof value === 'number' ? new Array<number>(n).fill(value) : Array.isArray(value) ? [...value] : [];
  if (t.length !== n || !t.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new ArgumentError(
      `${who(layer)}: ${arg} must be a positive integer or ${n} of them, got ${JSON.stringify(value)}`,
    );
  }
  return t;
}

export function positiveInt(layer: Layer, arg: string, value: number): number {
  if (!Number.isInteger(value) || value < 1)
    throw new ArgumentError(`${who(layer)}: ${arg} must be a positive integer, got ${JSON.stringify(value)}`);
  return value;
}

export function oneOf<T extends string>(layer: Layer, arg: string, value: T, allowed: readonly T[]): T {
  if (!allowed.includes(value))
    throw new ArgumentError(
      `${who(layer)}: ${arg} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${JSON.stringify(value)}`,
    );
  return value;
}

/** JSON form of an initializer config: the same object with undefined fields (unset seeds) left out. */
export function initializerConfig(init: Initializer): InitializerConfig {
  return JSON.parse(JSON.stringify(init.config)) as InitializerConfig;
}

/** JSON form of a regularizer, null when none (as getConfig() saves it). */
export function regularizerConfig(r: Regularizer | undefined): Regularizer['config'] | null {
  return r ? { ...r.config } : null;
}

export type Padding = 'valid' | 'same';

/**
 * Keras conv_utils.conv_output_length: the output length of a window of `kernel` taps (dilated to
 * (kernel - 1) * dilation + 1) sliding by `stride`; null stays null. 'causal' pads like 'same'.
 */
export function convOutputLength(
  size: number | null,
  kernel: number,
  padding: Padding | 'causal',
  stride: number,
  dilation: number,
): number | null {
  if (size === null) return null;
  const extent = (kernel - 1) * dilation + 1;
  const len = padding === 'valid' ? size - extent + 1 : size;
  return Math.floor((len + stride - 1) / stride);
}

/** Keras conv_utils.deconv_output_length (no output padding): 'same' -> size * stride. */
export function deconvOutputLength(
  size: number | null,
  kernel: number,
  padding: Padding,
  stride: number,
  dilation: number,
): number | null {
  if (size === null) return null;
  const extent = (kernel - 1) * dilation + 1;
  return padding === 'same' ? size * stride : (size - 1) * stride + Math.max(extent, stride);
}

/** Product of the dimensions, or null when one is unknown. */
export function knownSize(dims: SymShape): number | null {
  let n = 1;
  for (const d of dims) {
    if (d === null) return null;
    n *= d;
  }
  return n;
}
