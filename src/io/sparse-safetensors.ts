// Sparse weights inside safetensors: a mostly-zero float tensor is stored as a bit mask of its non-zero entries
// plus those entries' values, every other tensor as is; the file stays valid safetensors. See docs/compression.md.
//
// For a sparse tensor NAME of shape S (n elements, k of them non-zero), the file holds
//   NAME:mask    U8 [ceil(n / 8)]: bit i (byte i >> 3, bit i & 7, least significant first) set when element i
//                                   (row-major) is stored; the bits past n are 0
//   NAME:values  F32 or F64 [k]: the stored elements in row-major order
// and the metadata key candor_sparse holds {"version":1,"tensors":{NAME: S, ...}}. An element is stored unless
// its bits are all zero (+0), so -0 and NaN survive and the dense tensor comes back bit for bit.
import { ArgumentError, fmtShape, fmtValue } from '../errors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { allocArray, bytesPerElement } from '../tensor/dtype.js';
import { dispose } from '../tensor/storage.js';
import {
  FormatError,
  parseSafetensors,
  serializeSafetensors,
  type ByteTensor,
  type ParseOptions,
  type SafetensorsFile,
} from './safetensors.js';

export const SPARSE_METADATA_KEY = 'candor_sparse';
const SPARSE_VERSION = 1;
const MASK = ':mask';
const VALUES = ':values';

/** Default of SparseParseOptions.maxDecodedBytes: 2 GiB. */
export const DEFAULT_MAX_DECODED_BYTES = 2 ** 31;

export interface SparseParseOptions extends ParseOptions {
  /**
   * Most bytes the sparse tensors may take once decoded, all together (default 2 GiB). A tensor's size comes from
   * the file's metadata, which a hostile file can make huge for a small mask: this bounds what parsing allocates.
   */
  maxDecodedBytes?: number;
}

const isStored = (v: number) => v !== 0 || Object.is(v, -0);

/** Bytes a tensor takes dense, and stored as mask + values (float tensors; int32 / bool are always dense). */
export function sparseBytes(t: Tensor): { dense: number; sparse: number } {
  const data = t.dataSync();
  const width = bytesPerElement(t.dtype);
  let stored = 0;
  for (let i = 0; i < data.length; i++) if (isStored(data[i])) stored++;
  return { dense: data.length * width, sparse: Math.ceil(data.length / 8) + stored * width };
}

/** The mask and values of a float tensor. */
function encode(t: Tensor): { mask: ByteTensor; values: Tensor } {
  const data = t.dataSync();
  const mask = new Uint8Array(Math.ceil(data.length / 8));
  let k = 0;
  for (let i = 0; i < data.length; i++)
    if (isStored(data[i])) {
      mask[i >> 3] |= 1 << (i & 7);
      k++;
    }
  const values = allocArray(t.dtype, k);
  for (let i = 0, j = 0; i < data.length; i++) if (isStored(data[i])) values[j++] = data[i];
  return { mask: { dtype: 'U8', shape: [mask.length], bytes: mask }, values: fromTypedArray(values, [k]) };
}

/**
 * A safetensors file of `tensors` in which each float tensor that is smaller as mask + values (fewer than about
 * 31/32 of its entries non-zero, for float32) is stored so; parseSparseSafetensors reads it back exactly.
 */
export function serializeSparseSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  if (Object.hasOwn(metadata, SPARSE_METADATA_KEY))
    throw new ArgumentError(`serializeSparseSafetensors: metadata key '${SPARSE_METADATA_KEY}' is reserved`);
  const names = new Set(entries.map(([n]) => n));
  const out = new Map<string, Tensor | ByteTensor>();
  const shapes: Record<string, number[]> = {};
  const made: Tensor[] = [];
  try {
    for (const [name, t] of entries) {
      if (!(t instanceof Tensor)) throw new ArgumentError(`serializeSparseSafetensors: '${name}' is not a Tensor`);
      t.assertLive(`serializeSparseSafetensors('${name}')`);
      const float = t.dtype === 'float32' || t.dtype === 'float64';
      const size = float ? sparseBytes(t) : undefined;
      if (!size || size.sparse >= size.dense) {
        out.set(name, t);
        continue;
      }
      for (const part of [name + MASK, name + VALUES])
        if (names.has(part))
          throw new ArgumentError(`serializeSparseSafetensors: tensor '${part}' collides with the parts of '${name}'`);
      const { mask, values } = encode(t);
      made.push(values);
      out.set(name + MASK, mask);
      out.set(name + VALUES, values);
      shapes[name] = [...t.shape];
    }
    const sparse = JSON.stringify({ version: SPARSE_VERSION, tensors: shapes });
    return serializeSafetensors(out, { ...metadata, [SPARSE_METADATA_KEY]: sparse });
  } finally {
    dispose(made);
  }
}

/**
 * Parses a safetensors file, plain or written by serializeSparseSafetensors: sparse tensors come back dense
 * (bit for bit), and the candor_sparse metadata key is removed. A malformed sparse layout is a FormatError.
 */
export function parseSparseSafetensors(bytes: Uint8Array, options: SparseParseOptions = {}): SafetensorsFile {
  const { maxDecodedBytes = DEFAULT_MAX_DECODED_BYTES, ...parseOptions } = options;
  if (typeof maxDecodedBytes !== 'number' || !(maxDecodedBytes >= 0))
    throw new ArgumentError(
      `parseSparseSafetensors: maxDecodedBytes must be a number >= 0, got ${fmtValue(maxDecodedBytes)}`,
    );
  const file = parseSafetensors(bytes, { ...parseOptions, byteTensors: true });
  const { tensors, metadata } = file;
  const masks = file.byteTensors!;
  try {
    const spec = metadata[SPARSE_METADATA_KEY];
    if (spec === undefined) {
      if (masks.size > 0)
        throw new FormatError(`parseSafetensors: U8 tensor '${[...masks.keys()][0]}' is not supported here`);
      return { tensors, metadata };
    }
    const dense = decodeAll(spec, tensors, masks, maxDecodedBytes);
    const rest = { ...metadata };
    delete rest[SPARSE_METADATA_KEY];
    return { tensors: dense, metadata: rest };
  } catch (e) {
    dispose([...tensors.values()]);
    throw e;
  }
}

/** The tensors with every sparse one decoded in place of its parts (the parts are disposed). */
function decodeAll(
  spec: string,
  tensors: Map<string, Tensor>,
  masks: Map<string, ByteTensor>,
  maxDecodedBytes: number,
): Map<string, Tensor> {
  const fail = (msg: string): never => {
    throw new FormatError(`parseSparseSafetensors: ${msg}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(spec);
  } catch {
    fail(`metadata '${SPARSE_METADATA_KEY}' is not JSON`);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(parsed) || parsed.version !== SPARSE_VERSION || !isObject(parsed.tensors))
    fail(`metadata '${SPARSE_METADATA_KEY}' must be {"version":1,"tensors":{...}}, got ${fmtValue(parsed)}`);
  const shapes = (parsed as { tensors: Record<string, unknown> }).tensors;
  const claimed = new Set<string>();
  const decoded = new Map<string, Tensor>();
  let decodedBytes = 0;
  try {
    for (const [name, shape] of Object.entries(shapes)) {
      if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0))
        fail(`tensor '${name}': shape must be a list of non-negative integers, got ${fmtValue(shape)}`);
      const dims = shape as number[];
      const n = dims.reduce((a, b) => a * b, 1);
      const mask = masks.get(name + MASK);
      const values = tensors.get(name + VALUES);
      if (tensors.has(name) || decoded.has(name)) fail(`tensor '${name}' is stored both dense and sparse`);
      if (!mask || !values) fail(`sparse tensor '${name}' lacks its ${mask ? VALUES : MASK} entry`);
      const bits = mask!.bytes;
      if (!Number.isSafeInteger(n) || bits.length !== Math.ceil(n / 8) || mask!.shape.length !== 1)
        fail(`'${name}${MASK}' holds ${bits.length} bytes; shape ${fmtShape(dims)} needs ${Math.ceil(n / 8)}`);
      if (values!.dtype !== 'float32' && values!.dtype !== 'float64')
        fail(`'${name}${VALUES}' is ${values!.dtype}; sparse tensors are float32 or float64`);
      if (values!.rank !== 1) fail(`'${name}${VALUES}' has shape ${fmtShape(values!.shape)}; expected one axis`);
      if (n % 8 !== 0 && bits[bits.length - 1] >> (n % 8) !== 0)
        fail(`'${name}${MASK}' sets bits past the ${n} elements of ${fmtShape(dims)}`);
      let count = 0;
      for (const b of bits) for (let v = b; v; v &= v - 1) count++;
      if (count !== values!.size)
        fail(`'${name}${MASK}' marks ${count} stored elements but '${name}${VALUES}' holds ${values!.size}`);
      decodedBytes += n * bytesPerElement(values!.dtype);
      if (decodedBytes > maxDecodedBytes)
        fail(
          `sparse tensor '${name}' of shape ${fmtShape(dims)} (${values!.dtype}) brings the decoded tensors to ` +
            `${decodedBytes} bytes, over maxDecodedBytes ${maxDecodedBytes} (raise the option if the file is trusted)`,
        );
      const src = values!.dataSync();
      const out = allocArray(values!.dtype, n);
      for (let i = 0, j = 0; i < n; i++) if ((bits[i >> 3] >> (i & 7)) & 1) out[i] = src[j++];
      decoded.set(name, fromTypedArray(out, dims));
      claimed.add(name + MASK).add(name + VALUES);
    }
    for (const part of masks.keys())
      if (!claimed.has(part)) fail(`U8 entry '${part}' belongs to no sparse tensor listed in '${SPARSE_METADATA_KEY}'`);
  } catch (e) {
    dispose([...decoded.values()]);
    throw e;
  }
  // Dense tensors keep their place; each sparse tensor takes its values' place.
  const out = new Map<string, Tensor>();
  for (const [name, t] of tensors) {
    if (!claimed.has(name)) out.set(name, t);
    else if (name.endsWith(VALUES)) {
      out.set(name.slice(0, -VALUES.length), decoded.get(name.slice(0, -VALUES.length))!);
      t.dispose();
    }
  }
  return out;
}
