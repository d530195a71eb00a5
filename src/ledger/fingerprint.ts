// Dataset fingerprints: an HMAC-SHA256 of each tensor under the user's secret fingerprint key (so that nobody
// without the key can test a guess of the data against it), over its dtype, shape and elements (row-major,
// little-endian, as stored); the source files as published when a loader names them; label counts and a plain
// SHA-256 only when the user asks. Two runs trained on the same bytes show the same fingerprint under one key.
import { createHmac } from 'node:crypto';
import { sha256Hex } from './canonical.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Storage } from '../tensor/storage.js';
import { bytesPerElement, type TypedArray } from '../tensor/dtype.js';
import { ArgumentError } from '../errors.js';
import { sourceOf, type DatasetSource } from '../data/sources.js';
import { userFingerprintKey } from './user-keys.js';

export type { DatasetSource, SourceFile, PublishedChecksum } from '../data/sources.js';

export interface TensorFingerprint {
  shape: number[];
  dtype: string;
  bytes: number;
  /** HMAC-SHA256 (hex) under the key `keyId` of FINGERPRINT_DOMAIN, dtype, shape and the elements' bytes. */
  hmacSha256: string;
  /** Which fingerprint key (FingerprintKey.keyId): only fingerprints under the same key compare. */
  keyId: string;
  /** Plain SHA-256 (hex) of the elements' bytes in row-major order: only with plainHashes (anyone can test guesses). */
  sha256?: string;
}

export interface DatasetFingerprint {
  name: string;
  samples: number;
  x: TensorFingerprint[];
  y?: TensorFingerprint[];
  /** Label -> count, for classification labels (integer class ids or one-hot rows); only when allowed. */
  labelDistribution?: Record<string, number>;
  /** True when the labels were fingerprinted but their counts left out (the default: counts narrow a guess). */
  labelDistributionWithheld?: boolean;
  /** The published data set the tensors were loaded from, as its loader names it (e.g. MNIST). */
  source?: DatasetSource;
  /** Another dataset of the record (data or evaluation) with the same fingerprints: e.g. validation on 'test'. */
  sameAs?: string;
  /** Free text from the user: where the data came from (never filled in by Candor). */
  description?: string;
}

/** The HMAC key and its public id (userFingerprintKey() gives the user's). */
export interface FingerprintKeyLike {
  key: Uint8Array;
  keyId: string;
}

export interface FingerprintOptions {
  /** The HMAC key: default the user's (userFingerprintKey(), made on first use in the config directory). */
  key?: FingerprintKeyLike;
  /** Also record the plain, unkeyed SHA-256 of each tensor (default false: it lets anyone test guesses). */
  plainHashes?: boolean;
}

export interface DatasetFingerprintOptions extends FingerprintOptions {
  /** Record the label counts (default false: with the other facts they narrow a guess of the labels). */
  labelDistribution?: boolean;
  description?: string;
  /** The source, when no loader attached one to x (see src/data/sources.ts). */
  source?: DatasetSource;
}

/** Prefix of every fingerprint message, so a fingerprint HMAC can never stand for another use of the key. */
export const FINGERPRINT_DOMAIN = 'candor-tensor-fingerprint-v1';

/** Digests per storage and view, under each key: tensors never change their elements, so each is hashed once. */
const digests = new WeakMap<Storage, Map<string, string>>();

/** The elements of a tensor as bytes, without a copy where the tensor is a contiguous view of its buffer. */
function elementBytes(t: Tensor): Uint8Array {
  let data: TypedArray;
  if (t.isContiguous) {
    // Backend.read hands out the buffer itself (callers must not write into it): no copy of native memory.
    const all = t.storage.backend.read(t.storage.buffer, t.dtype, t.storage.size);
    data = all.subarray(t.offset, t.offset + t.size);
  } else data = t.dataSync();
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** A digest of `t` (kind 'hmac:<keyId>' or 'sha256'), computed once per storage view. */
function digestOf(t: Tensor, kind: string, make: (bytes: Uint8Array) => string): string {
  t.assertLive('fingerprintTensor');
  let known = digests.get(t.storage);
  if (!known) digests.set(t.storage, (known = new Map()));
  const id = `${kind}|${t.offset}|${t.shape.join(',')}|${t.strides.join(',')}`;
  let digest = known.get(id);
  if (digest === undefined) known.set(id, (digest = make(elementBytes(t))));
  return digest;
}

/** The keyed fingerprint message's header: domain, dtype and shape, NUL-separated, before the element bytes. */
function header(t: Tensor): string {
  return `${FINGERPRINT_DOMAIN}\0${t.dtype}\0${t.shape.join(',')}\0`;
}

/** The fingerprint of one tensor: HMAC-SHA256 under the key, and the plain SHA-256 only with plainHashes. */
export function fingerprintTensor(t: Tensor, options: FingerprintOptions = {}): TensorFingerprint {
  const key = options.key ?? userFingerprintKey();
  const hmacSha256 = digestOf(t, `hmac:${key.keyId}`, (bytes) =>
    createHmac('sha256', key.key).update(header(t)).update(bytes).digest('hex'),
  );
  return {
    shape: [...t.shape],
    dtype: t.dtype,
    bytes: t.size * bytesPerElement(t.dtype),
    hmacSha256,
    keyId: key.keyId,
    ...(options.plainHashes ? { sha256: digestOf(t, 'sha256', sha256Hex) } : {}),
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

/**
 * Fingerprints of a dataset's inputs and labels (each a tensor or a list of them), keyed with the user's
 * fingerprint key unless options.key is given; the last argument may be a description (the older signature).
 */
export function fingerprintDataset(
  name: string,
  x: Tensor | Tensor[],
  y?: Tensor | Tensor[],
  options: DatasetFingerprintOptions | string = {},
): DatasetFingerprint {
  const o: DatasetFingerprintOptions = typeof options === 'string' ? { description: options } : options;
  const xs = Array.isArray(x) ? x : [x];
  const ys = y === undefined ? [] : Array.isArray(y) ? y : [y];
  if (xs.length === 0) throw new ArgumentError(`fingerprintDataset '${name}': no input tensors`);
  const key = o.key ?? userFingerprintKey();
  const tensorOptions = { key, plainHashes: o.plainHashes };
  const samples = xs[0].shape[0] ?? 1;
  const dist = o.labelDistribution && ys.length === 1 ? labelDistribution(ys[0]) : undefined;
  const source = o.source ?? sourceOf(xs[0]);
  return {
    name,
    samples,
    x: xs.map((t) => fingerprintTensor(t, tensorOptions)),
    ...(ys.length ? { y: ys.map((t) => fingerprintTensor(t, tensorOptions)) } : {}),
    ...(dist ? { labelDistribution: dist } : {}),
    ...(ys.length && !o.labelDistribution ? { labelDistributionWithheld: true } : {}),
    ...(source ? { source } : {}),
    ...(o.description ? { description: o.description } : {}),
  };
}

/** Whether two datasets hold the same tensors (same keyed fingerprints of every x and y). */
export function sameData(a: DatasetFingerprint, b: DatasetFingerprint): boolean {
  const same = (p: TensorFingerprint[] = [], q: TensorFingerprint[] = []) =>
    p.length === q.length && p.every((t, i) => t.keyId === q[i].keyId && t.hmacSha256 === q[i].hmacSha256);
  return a.samples === b.samples && same(a.x, b.x) && same(a.y, b.y);
}

/**
 * Sets `sameAs` on each dataset of `data` that has the same fingerprints as another dataset of `data` or
 * `others` (an evaluation's); a dataset named 'test' is preferred, so validation on the test set says so.
 */
export function markSameData(data: DatasetFingerprint[], others: DatasetFingerprint[] = []): void {
  // 'test' last, and none pointing back at a dataset that points at it: validation names test, not the reverse.
  const order = [...data.filter((d) => d.name !== 'test'), ...data.filter((d) => d.name === 'test')];
  for (const d of order) {
    if (d.sameAs || data.some((o) => o.sameAs === d.name)) continue;
    const matches = [...data, ...others].filter((o) => o !== d && o.name !== d.name && sameData(d, o));
    const match = matches.find((o) => o.name === 'test') ?? matches[0];
    if (match) d.sameAs = match.name;
  }
}
