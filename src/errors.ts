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

/**
 * A short JSON-like preview of any value for an error message: bounded in depth and length, so that a
 * hostile input (a list nested 100,000 deep, a megabyte string) cannot overflow the stack or flood the
 * message. Not meant to round-trip.
 */
export function fmtValue(value: unknown, maxChars = 120): string {
  let out = '';
  const walk = (v: unknown, depth: number): void => {
    if (out.length > maxChars) return;
    if (typeof v === 'string') out += JSON.stringify(v.length > maxChars ? v.slice(0, maxChars) + '...' : v);
    else if (typeof v === 'bigint') out += `${v}n`;
    else if (typeof v !== 'object' || v === null) out += String(v);
    else if (depth >= 4) out += Array.isArray(v) ? '[...]' : '{...}';
    else if (Array.isArray(v)) {
      out += '[';
      for (let i = 0; i < v.length && out.length <= maxChars; i++) {
        if (i > 0) out += ', ';
        walk(v[i], depth + 1);
      }
      out += ']';
    } else {
      out += '{';
      let first = true;
      for (const k in v) {
        if (out.length > maxChars) break;
        if (!Object.hasOwn(v, k)) continue;
        out += `${first ? '' : ', '}${JSON.stringify(k.slice(0, maxChars))}: `;
        first = false;
        walk((v as Record<string, unknown>)[k], depth + 1);
      }
      out += '}';
    }
  };
  walk(value, 0);
  return out.length > maxChars ? out.slice(0, maxChars) + '...' : out;
}

/** The message of anything thrown (an Error's message, else the value formatted). */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : fmtValue(e);
}
