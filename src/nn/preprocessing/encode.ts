// Category encodings shared by CategoryEncoding, Hashing, the lookup layers and TextVectorization
// (Keras' numerical_utils.encode_categorical_inputs): one_hot, multi_hot, count, and tf_idf (count x idf).
import { Tensor } from '../../tensor/tensor.js';
import type { SymShape } from '../layer.js';
import { StringTensor } from './string-tensor.js';
import { tensor } from '../../ops/creation.js';
import { ArgumentError, DTypeError, fmtShape } from '../../errors.js';

export type CategoricalMode = 'one_hot' | 'multi_hot' | 'count' | 'tf_idf';

function checkIndex(who: string, v: number, depth: number): void {
  if (!Number.isInteger(v) || v >= depth || v < -1)
    throw new ArgumentError(`${who}: input values must be integers in [0, ${depth}), got ${v}`);
}

/**
 * One output row of width `depth` per row of indices (-1: dropped, e.g. a mask token): multi_hot marks
 * presence, count counts, tf_idf multiplies the counts by `idf`.
 */
export function encodeRows(
  who: string,
  rows: readonly ArrayLike<number>[],
  depth: number,
  mode: Exclude<CategoricalMode, 'one_hot'>,
  idf?: Float64Array,
): Float32Array {
  const out = new Float32Array(rows.length * depth);
  rows.forEach((row, r) => {
    const base = r * depth;
    for (let j = 0; j < row.length; j++) {
      const v = row[j];
      checkIndex(who, v, depth);
      if (v < 0) continue;
      if (mode === 'multi_hot') out[base + v] = 1;
      else out[base + v] += 1;
    }
    if (mode === 'tf_idf') for (let c = 0; c < depth; c++) out[base + c] *= idf![c];
  });
  return out;
}

/**
 * Encodes integer indices of shape [n] or [n, k] as Keras does: one_hot appends an axis of `depth` (or
 * replaces a last axis of 1); multi_hot / count / tf_idf reduce the last axis, so [n, k] gives [n, depth]
 * and a rank-1 [n] is one sample, giving [depth].
 */
export function encodeCategorical(
  who: string,
  indices: ArrayLike<number>,
  shape: readonly number[],
  depth: number,
  mode: CategoricalMode,
  idf?: Float64Array,
): Tensor {
  if (mode === 'one_hot') {
    const out = new Float32Array(indices.length * depth);
    for (let i = 0; i < indices.length; i++) {
      checkIndex(who, indices[i], depth);
      if (indices[i] >= 0) out[i * depth + indices[i]] = 1;
    }
    const lead = shape.length > 1 && shape[shape.length - 1] === 1 ? shape.slice(0, -1) : shape;
    return tensor(out, [...lead, depth]);
  }
  const k = shape[shape.length - 1];
  const rows: ArrayLike<number>[] = [];
  for (let start = 0; start < indices.length; start += k)
    rows.push(Array.prototype.slice.call(indices, start, start + k) as number[]);
  if (indices.length === 0) for (let r = 0; r < (shape.length > 1 ? shape[0] : 1); r++) rows.push([]);
  return tensor(encodeRows(who, rows, depth, mode, idf), [...shape.slice(0, -1), depth]);
}

/** Integer values of a tensor (or number[]), checked to be whole numbers. */
export function integerValues(who: string, inputs: unknown): { values: number[]; shape: number[] } {
  if (Array.isArray(inputs) && inputs.every((v) => typeof v === 'number'))
    return integerValues(who, { values: inputs, shape: [inputs.length] });
  let values: number[], shape: number[];
  if (inputs instanceof Tensor) {
    values = Array.from(inputs.dataSync(), Number);
    shape = [...inputs.shape];
  } else if (typeof inputs === 'object' && inputs !== null && 'values' in inputs && !(inputs instanceof StringTensor)) {
    ({ values, shape } = inputs as { values: number[]; shape: number[] });
  } else
    throw new DTypeError(
      `${who} takes integers (a tensor or number[]), got ${inputs instanceof StringTensor ? 'strings' : typeof inputs}`,
    );
  const bad = values.find((v) => !Number.isInteger(v));
  if (bad !== undefined) throw new DTypeError(`${who} takes integer values, got ${bad}`);
  if (shape.length === 0 || shape.length > 2)
    throw new ArgumentError(`${who}: takes inputs of shape [n] or [n, k], got ${fmtShape(shape)}`);
  return { values, shape };
}

/** Output shape of a lookup for an input shape (Keras IndexLookup.compute_output_shape). */
export function categoricalOutputShape(shape: SymShape, mode: 'int' | CategoricalMode, depth: number): SymShape {
  if (mode === 'int') return shape;
  if (mode === 'one_hot') return [...(shape.length > 1 && shape.at(-1) === 1 ? shape.slice(0, -1) : shape), depth];
  return [...shape.slice(0, -1), depth];
}
