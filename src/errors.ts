// Typed errors: every message names the op (or layer), the shapes and dtypes received, and what was expected.

export class CandorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit the op: wrong rank, non-broadcastable, bad reshape. */
export class ShapeError extends CandorError {}

/** A dtype the op does not accept, or two dtypes that do not combine. */
export class DTypeError extends CandorError {}

/** A backend that is unknown, or that lacks the kernel an op needs. */
export class BackendError extends CandorError {}

/** An argument out of range or of the wrong kind (axis, index, padding, option). */
export class ArgumentError extends CandorError {}

/** A tensor used after dispose(). */
export class DisposedError extends CandorError {}

/** Memory that could not be allocated: names the op, shape, dtype and bytes requested. */
export class MemoryError extends CandorError {}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
