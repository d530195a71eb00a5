// Checks of what fit / evaluate / predict are given (data and numeric arguments), each failing with a
// typed error that names the call, the argument, the value and what was expected.
import { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { StringTensor, asStringTensor, isStringArray } from '../nn/preprocessing/string-tensor.js';

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  return typeof v === 'object' ? `an object (${v.constructor?.name ?? 'no prototype'})` : typeof v;
}

/** An integer >= min (Number.isInteger rejects NaN, Infinity and fractions). */
export function checkInteger(op: string, name: string, value: number, min: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min)
    throw new ArgumentError(
      `${op}: ${name} must be ${min === 0 ? 'a non-negative' : 'a positive'} integer, got ${describe(value)}`,
    );
}

export function checkVerbose(op: string, value: unknown): void {
  if (value !== 0 && value !== 1 && value !== 2 && value !== 'auto')
    throw new ArgumentError(`${op}: verbose must be 0, 1, 2 or 'auto', got ${describe(value)}`);
}

/** validationSplit: the fraction of the samples held out, in [0, 1). */
export function checkValidationSplit(op: string, value: number): void {
  if (typeof value !== 'number' || !(value >= 0 && value < 1))
    throw new ArgumentError(`${op}: validationSplit must be in [0, 1), got ${describe(value)}`);
}

/**
 * `what` ('x', 'y', 'sampleWeight') as a non-empty list of tensors with a batch axis. `hint` says what
 * was probably meant when this is not a tensor (e.g. labels missing).
 */
export function tensorList(op: string, what: string, value: unknown, hint = ''): Tensor[] {
  const list = Array.isArray(value) ? value : [value];
  const expected = `expected a Tensor or a list of Tensors${hint}`;
  if (list.length === 0) throw new ArgumentError(`${op}: ${what} is an empty list; ${expected}`);
  list.forEach((t, i) => {
    const where = Array.isArray(value) ? `${what}[${i}]` : what;
    if (!(t instanceof Tensor)) throw new ArgumentError(`${op}: ${where} is ${describe(t)}; ${expected}`);
    if (t.rank === 0)
      throw new ShapeError(`${op}: ${where} is a scalar (shape []); expected a batch axis first, e.g. shape [n, ...]`);
  });
  return list as Tensor[];
}

/**
 * A model's inputs x: tensors as tensorList, or raw text for models that start with a text layer: a
 * string[] (one string per sample), a string[][] or a StringTensor, alone or in the list of inputs.
 */
export function inputList(op: string, value: unknown): (Tensor | StringTensor)[] {
  const isText = (v: unknown) => isStringArray(v) || v instanceof StringTensor;
  if (isText(value)) return [asStringTensor(value) as StringTensor];
  if (!Array.isArray(value) || !value.some(isText)) return tensorList(op, 'x', value);
  // A list of inputs, some of them raw text.
  return value.map((v, i) => (isText(v) ? (asStringTensor(v) as StringTensor) : tensorList(op, `x[${i}]`, v)[0]));
}

/** The number of samples of x, y and sample weights, which must agree and not be 0. */
export function sampleCount(op: string, tensors: readonly { readonly shape: readonly number[] }[]): number {
  const n = tensors[0].shape[0];
  const shapes = () => tensors.map((u) => fmtShape(u.shape)).join(', ');
  for (const t of tensors)
    if (t.shape[0] !== n)
      throw new ShapeError(`${op}: all inputs and labels need the same number of samples; got ${shapes()}`);
  if (n === 0) throw new ArgumentError(`${op}: x has no samples (shapes ${shapes()}); expected at least one`);
  return n;
}
