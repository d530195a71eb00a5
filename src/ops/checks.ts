// Input checks shared by the primitives' and the fused ops' shape rules; each names the op and what it saw.
import { shapesEqual } from '../tensor/shape.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { isFloat } from '../tensor/dtype.js';
import type { ShapeDType } from './primitives.js';

/** A DTypeError unless x is float32 or float64. */
export function requireFloat(op: string, x: ShapeDType, what = 'the input'): void {
  if (!isFloat(x.dtype))
    throw new DTypeError(`${op}: ${what} must be float32 or float64, got ${x.dtype} ${fmtShape(x.shape)}`);
}

/** A float tensor of rank 4 ([N, H, W, C] or a filter). */
export function require4d(op: string, x: ShapeDType, what: string): void {
  if (x.shape.length !== 4) throw new ShapeError(`${op}: ${what} must be 4-D, got ${fmtShape(x.shape)}`);
  requireFloat(op, x, what);
}

/** b has a's shape and dtype. */
export function requireSame(op: string, a: ShapeDType, b: ShapeDType, what: string): void {
  if (a.dtype !== b.dtype || !shapesEqual(a.shape, b.shape)) {
    throw new ShapeError(
      `${op}: ${what} must match ${a.dtype} ${fmtShape(a.shape)}, got ${b.dtype} ${fmtShape(b.shape)}`,
    );
  }
}

/** Checks that every input has `shapes[i]` (null: skip) and the first input's float dtype. */
export function requireShapes(
  op: string,
  inputs: readonly ShapeDType[],
  names: readonly string[],
  shapes: readonly (readonly number[] | null)[],
): void {
  const dtype = inputs[0].dtype;
  requireFloat(op, inputs[0], names[0]);
  inputs.forEach((x, i) => {
    const want = shapes[i];
    if (want && !shapesEqual(x.shape, want)) {
      throw new ShapeError(`${op}: ${names[i]} must have shape ${fmtShape(want)}, got ${fmtShape(x.shape)}`);
    }
    if (x.dtype !== dtype) throw new DTypeError(`${op}: ${names[i]} is ${x.dtype} but ${names[0]} is ${dtype}`);
  });
}
