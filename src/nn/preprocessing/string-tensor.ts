// StringTensor: a batch of JS strings (Candor tensors hold numbers only), as raw text travels through
// fit / evaluate / predict and a model's first layers (TextVectorization, StringLookup, Hashing), which
// turn it into number tensors. Row-major values, shape [n] (one string per sample) or [n, k].
import { Tensor } from '../../tensor/tensor.js';
import { ArgumentError, DTypeError, ShapeError, fmtShape, fmtValue } from '../../errors.js';

export class StringTensor {
  readonly dtype = 'string' as const;
  readonly shape: readonly number[];

  constructor(
    readonly values: readonly string[],
    shape?: readonly number[],
  ) {
    const at = values.findIndex((v) => typeof v !== 'string');
    if (at >= 0) throw new DTypeError(`StringTensor: expected strings, got ${fmtValue(values[at])} at index ${at}`);
    this.shape = shape ? [...shape] : [values.length];
    const size = this.shape.reduce((a, b) => a * b, 1);
    if (size !== values.length || this.shape.length === 0 || this.shape.length > 2)
      throw new ShapeError(`StringTensor: ${values.length} strings do not fill shape ${fmtShape(this.shape)}`);
  }

  /** A StringTensor from string[] (shape [n]) or string[][] (rows of equal length, shape [n, k]). */
  static from(value: readonly string[] | readonly (readonly string[])[]): StringTensor {
    if (value.length > 0 && value.every((r) => Array.isArray(r))) {
      const rows = value as readonly (readonly string[])[];
      const k = rows[0].length;
      if (rows.some((r) => r.length !== k))
        throw new ShapeError(`StringTensor: rows of different lengths (${rows.map((r) => r.length).join(', ')})`);
      return new StringTensor(rows.flat(), [rows.length, k]);
    }
    return new StringTensor(value as readonly string[]);
  }

  get rank(): number {
    return this.shape.length;
  }

  /** Strings per sample (1 for shape [n]). */
  get rowLength(): number {
    return this.shape.length === 2 ? this.shape[1] : 1;
  }

  /** Samples start..end-1 (clamped as Array.slice). */
  slice(start: number, end: number): StringTensor {
    const k = this.rowLength;
    const rows = this.values.slice(start * k, end * k);
    return new StringTensor(rows, [rows.length / k, ...this.shape.slice(1)]);
  }

  /** The samples at `indices`, in that order. */
  gather(indices: ArrayLike<number>): StringTensor {
    const k = this.rowLength,
      n = this.shape[0];
    const out: string[] = [];
    for (let i = 0; i < indices.length; i++) {
      const r = indices[i];
      if (!Number.isInteger(r) || r < 0 || r >= n)
        throw new ArgumentError(`StringTensor.gather: index ${r} out of range for ${n} samples`);
      for (let j = 0; j < k; j++) out.push(this.values[r * k + j]);
    }
    return new StringTensor(out, [indices.length, ...this.shape.slice(1)]);
  }
}

/**
 * A non-empty string[] (its first element a string; StringTensor checks the rest) or string[][] (every
 * element an array of strings, so that [string[], Tensor] stays a list of two inputs): one text input.
 */
export function isStringArray(v: unknown): v is string[] | string[][] {
  if (!Array.isArray(v) || v.length === 0) return false;
  if (typeof v[0] === 'string') return true;
  return v.every((r) => Array.isArray(r) && r.length > 0 && r.every((s) => typeof s === 'string'));
}

/** string[] / string[][] as a StringTensor; anything else as is. */
export function asStringTensor<T>(v: T): T | StringTensor {
  return isStringArray(v) ? StringTensor.from(v) : v;
}

/** What a model or a text layer takes as raw text input, alone or among the tensors of a multi-input call. */
export type StringInputs = string[] | string[][] | StringTensor | (Tensor | StringTensor | string[])[];

/** StringTensor, string[] or string[][] input; anything else is a DTypeError naming the layer. */
export function stringInput(who: string, inputs: unknown): StringTensor {
  if (inputs instanceof StringTensor) return inputs;
  if (isStringArray(inputs)) return StringTensor.from(inputs);
  const got =
    inputs instanceof Tensor ? `a ${inputs.dtype} tensor ${fmtShape(inputs.shape)}` : `${typeof inputs} input`;
  throw new DTypeError(`${who} takes strings (a string[] or StringTensor), got ${got}`);
}
