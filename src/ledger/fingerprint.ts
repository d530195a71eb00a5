// Dataset fingerprints: SHA-256 of a tensor's elements (row-major, little-endian, as stored), its shape
// and dtype, and for labels the class distribution. Two runs trained on the same bytes show the same
// fingerprint; one changed pixel changes it.
import { createHash } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import type { TypedArray } from '../tensor/dtype.js';
import { ArgumentError } from '../errors.js';

export interface TensorFingerprint {
  shape: number[];
  dtype: string;
  /** SHA-256 (hex) of the elements' bytes in row-major order. */
  sha256: string;
  bytes: number;
}

export interface DatasetFingerprint {
  name: string;
  samples: number;
  x: TensorFingerprint[];
  y?: TensorFingerprint[];
  /** Label -> count, for classification labels (integer class ids or one-hot rows). */
  labelDistribution?: Record<string, number>;
  /** Free text from the user: where the data came from (never filled in by Candor). */
  description?: string;
}

function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** The fingerprint of one tensor. */
export function fingerprintTensor(t: Tensor): TensorFingerprint {
  const data = t.dataSync();
  return {
    shape: [...t.shape],
    dtype: t.dtype,
    sha256: createHash('sha256').update(bytesOf(data)).digest('hex'),
    bytes: data.byteLength,
  };
}

/**
 * Counts of each class in labels: int32 [N] or [N, 1] class ids, or one-hot / probability rows [N, C]
 * (counted by argmax). Returns undefined for labels that are not classes (non-integer values, rank > 2).
 */
export function labelDistribution(y: Tensor): Record<string, number> | undefined {
  const classes = classIds(y);
  if (!classes) return undefined;
  const counts = new Map<number, number>();
  for (const c of classes) counts.set(c, (counts.get(c) ?? 0) + 1);
  return Object.fromEntries([...counts.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
}

/** Class ids of labels or predictions: integers as they are, rows [N, C] by argmax (C > 1). */
export function classIds(y: Tensor): Int32Array | undefined {
  const data = y.dataSync();
  if (y.rank === 2 && y.shape[1] > 1) {
    const [n, c] = y.shape;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < c; j++) if (data[i * c + j] > data[i * c + best]) best = j;
      out[i] = best;
    }
    return out;
  }
  if (y.rank > 2 || (y.rank === 2 && y.shape[1] !== 1)) return undefined;
  for (let i = 0; i < data.length; i++) if (!Number.isInteger(data[i])) return undefined;
  return Int32Array.from(data as ArrayLike<number>);
}

/** Fingerprints of a dataset's inputs and labels (each a tensor or a list of them). */
export function fingerprintDataset(
  name: string,
  x: Tensor | Tensor[],
  y?: Tensor | Tensor[],
  description?: string,
): DatasetFingerprint {
  const xs = Array.isArray(x) ? x : [x];
  const ys = y === undefined ? [] : Array.isArray(y) ? y : [y];
  if (xs.length === 0) throw new ArgumentError(`fingerprintDataset '${name}': no input tensors`);
  const samples = xs[0].shape[0] ?? 1;
  const dist = ys.length === 1 ? labelDistribution(ys[0]) : undefined;
  return {
    name,
    samples,
    x: xs.map(fingerprintTensor),
    ...(ys.length ? { y: ys.map(fingerprintTensor) } : {}),
    ...(dist ? { labelDistribution: dist } : {}),
    ...(description ? { description } : {}),
  };
}
