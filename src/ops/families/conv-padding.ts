// Window arithmetic shared by the convolution and pooling families: int-or-pair arguments, and padding
// resolved to explicit [before, after] amounts from Keras' 'same'/'valid' or PyTorch-style numbers.
import { ArgumentError } from '../../errors.js';

/** Explicit [before, after] padding per spatial axis, after 'same'/'valid' has been resolved. */
export type Padding2D = readonly [readonly [number, number], readonly [number, number]];

export type PaddingMode = 'same' | 'valid';
export type Pair = number | readonly [number, number];

/**
 * Padding of a 2-D convolution: Keras' 'same' / 'valid', or explicit zero padding as PyTorch's: n on every
 * side, [h, w] on both sides of each axis, or [[top, bottom], [left, right]].
 */
export type ConvPadding = PaddingMode | number | readonly [number, number] | Padding2D;

export function pair(op: string, name: string, v: Pair): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1))
    throw new ArgumentError(`${op}: ${name} must be positive integers, got ${JSON.stringify(v)}`);
  return p;
}

/** TF's 'same' rule: output ceil(size / stride), padding split with the extra element after. */
export function resolvePadding(
  op: string,
  mode: PaddingMode,
  size: readonly [number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): Padding2D {
  if (mode !== 'same' && mode !== 'valid')
    throw new ArgumentError(`${op}: padding must be 'same' or 'valid', got '${mode as string}'`);
  const one = (a: 0 | 1): [number, number] => {
    if (mode === 'valid') return [0, 0];
    const extent = (kernel[a] - 1) * dilations[a] + 1;
    const out = Math.ceil(size[a] / strides[a]);
    const total = Math.max((out - 1) * strides[a] + extent - size[a], 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  return [one(0), one(1)];
}

const isAmount = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** Explicit padding as [[top, bottom], [left, right]], or null when `padding` is not a numeric form. */
export function explicitPadding(padding: unknown): Padding2D | null {
  if (isAmount(padding))
    return [
      [padding, padding],
      [padding, padding],
    ];
  if (!Array.isArray(padding) || padding.length !== 2) return null;
  const [a, b] = padding as unknown[];
  if (isAmount(a) && isAmount(b))
    return [
      [a, a],
      [b, b],
    ];
  const axis = (v: unknown) => Array.isArray(v) && v.length === 2 && v.every(isAmount);
  return axis(a) && axis(b) ? [[...(a as [number, number])], [...(b as [number, number])]] : null;
}

/** 'same' / 'valid' by TF's rule, or explicit non-negative amounts; anything else is an ArgumentError. */
export function resolveConvPadding(
  op: string,
  padding: ConvPadding,
  size: readonly [number, number],
  kernel: readonly [number, number],
  strides: readonly [number, number],
  dilations: readonly [number, number],
): Padding2D {
  if (typeof padding === 'string') return resolvePadding(op, padding, size, kernel, strides, dilations);
  const explicit = explicitPadding(padding);
  if (explicit) return explicit;
  throw new ArgumentError(
    `${op}: padding must be 'same', 'valid', a non-negative integer, [h, w] or [[top, bottom], [left, right]], ` +
      `got ${JSON.stringify(padding)}`,
  );
}
