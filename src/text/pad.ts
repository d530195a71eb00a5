// Keras pad_sequences: ragged integer sequences to one [samples, maxlen] tensor, padded and truncated
// at the front ('pre', the default for both) or the back ('post').
import { ArgumentError } from '../errors.js';
import { allocArray } from '../tensor/dtype.js';
import { fromTypedArray, type Tensor } from '../tensor/tensor.js';

export interface PadSequencesOptions {
  /** Length of every row; default the longest sequence. */
  maxlen?: number;
  dtype?: 'int32' | 'float32' | 'float64';
  /** Where padding goes: before ('pre', default) or after ('post') the sequence. */
  padding?: 'pre' | 'post';
  /** Which end of a longer sequence is cut: its start ('pre', default) or its end ('post'). */
  truncating?: 'pre' | 'post';
  /** The padding value (cast to dtype as numpy would: int32 truncates toward zero). */
  value?: number;
}

function prePost(what: string, v: string): 'pre' | 'post' {
  if (v !== 'pre' && v !== 'post')
    throw new ArgumentError(`padSequences: ${what} must be 'pre' or 'post', got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Sequences of numbers to a [sequences.length, maxlen] tensor. Empty sequences are all padding. As in
 * Keras, 'pre' truncation keeps the last maxlen items and 'pre' padding right-aligns the items.
 */
export function padSequences(
  sequences: readonly ArrayLike<number>[],
  { maxlen, dtype = 'int32', padding = 'pre', truncating = 'pre', value = 0 }: PadSequencesOptions = {},
): Tensor {
  prePost('padding', padding);
  prePost('truncating', truncating);
  if (dtype !== 'int32' && dtype !== 'float32' && dtype !== 'float64')
    throw new ArgumentError(`padSequences: dtype must be int32, float32 or float64, got ${JSON.stringify(dtype)}`);
  const len = maxlen ?? sequences.reduce((m, s) => Math.max(m, s.length), 0);
  if (!Number.isInteger(len) || len < 0)
    throw new ArgumentError(`padSequences: maxlen must be a non-negative integer, got ${maxlen}`);
  const out = allocArray(dtype, sequences.length * len);
  out.fill(value);
  sequences.forEach((s, row) => {
    const n = Math.min(s.length, len);
    const from = truncating === 'pre' ? s.length - n : 0; // first kept item of s
    const to = row * len + (padding === 'pre' ? len - n : 0); // where it goes in the output
    for (let k = 0; k < n; k++) out[to + k] = s[from + k];
  });
  return fromTypedArray(out, [sequences.length, len]);
}
