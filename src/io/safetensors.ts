// The safetensors format: a strict, bounds-checked reader and a writer byte-identical to the reference's.
//
// Layout: 8-byte little-endian u64 N | N bytes of UTF-8 JSON header | data buffer.
// Header: {"__metadata__"?: {string: string}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}
// with offsets relative to the start of the data buffer. The tensors must tile the buffer exactly: no
// gaps, no overlaps, nothing after the last one. Everything is little-endian.
import { ArgumentError, CandorError, fmtShape, fmtValue } from '../errors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { allocArray, bytesPerElement, type DType } from '../tensor/dtype.js';
import { readFileBytes, writeFileAtomic } from './atomic.js';

/** Bytes that do not follow a file format (safetensors, idx, CIFAR binary, CSV). */
export class FormatError extends CandorError {}

/** safetensors dtype names this build reads and writes, with the Candor dtype each maps to. */
const SUPPORTED: Readonly<Record<string, DType>> = {
  F64: 'float64',
  F32: 'float32',
  I32: 'int32',
  I8: 'int8',
  BOOL: 'bool',
};
const NAME_OF: Readonly<Record<DType, string>> = {
  float64: 'F64',
  float32: 'F32',
  int32: 'I32',
  int8: 'I8',
  bool: 'BOOL',
};
/** The rest of the format's dtypes: valid files we cannot load yet (distinct from a corrupt dtype). */
const KNOWN_UNSUPPORTED = new Set([
  'U8',
  'I16',
  'U16',
  'F16',
  'BF16',
  'U32',
  'I64',
  'U64',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'E8M0',
]);
/**
 * The reference writer orders tensors by dtype, largest alignment first, then by name; with the
 * header padded to 8 bytes this keeps every tensor's data aligned to its element size.
 */
const WRITE_ORDER: readonly string[] = ['F64', 'F32', 'I32', 'I8', 'U8', 'BOOL'];

/**
 * Bytes stored under a safetensors dtype that has no Candor tensor type: U8, for packed bitmasks (the sparse
 * weights of src/io/sparse-safetensors.ts). Written by serializeSafetensors beside tensors; read back only
 * when parseSafetensors is asked to (ParseOptions.byteTensors).
 */
export interface ByteTensor {
  readonly dtype: 'U8';
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

const isByteTensor = (t: unknown): t is ByteTensor =>
  typeof t === 'object' &&
  t !== null &&
  (t as ByteTensor).dtype === 'U8' &&
  (t as ByteTensor).bytes instanceof Uint8Array &&
  Array.isArray((t as ByteTensor).shape) &&
  (t as ByteTensor).shape.every((d) => Number.isSafeInteger(d) && d >= 0) &&
  (t as ByteTensor).shape.reduce((a, b) => a * b, 1) === (t as ByteTensor).bytes.length;
const dtypeName = (t: Tensor | ByteTensor): string => (t instanceof Tensor ? NAME_OF[t.dtype] : t.dtype);

export const DEFAULT_MAX_HEADER_BYTES = 100_000_000; // the reference implementation's limit
const METADATA_KEY = '__metadata__';
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface SafetensorsFile {
  /** In the file's data order (offset order), which is also the writer's order. */
  tensors: Map<string, Tensor>;
  metadata: Record<string, string>;
  /** The U8 entries, when parsed with byteTensors: true (otherwise a U8 entry is a FormatError). */
  byteTensors?: Map<string, ByteTensor>;
}

export interface ParseOptions {
  /** Largest header accepted, in bytes; guards against absurd allocations from a corrupt length. */
  maxHeaderBytes?: number;
  /** Return U8 entries as raw bytes in `byteTensors` instead of refusing them. */
  byteTensors?: boolean;
}

// ----------------------------------------------------------------------------------------------- write

/**
 * The bytes of a safetensors file holding `tensors` (and optional string metadata), identical to what
 * the reference implementation writes: tensors ordered by dtype (F64, F32, I32, I8, BOOL) then name,
 * contiguous offsets, compact JSON with `__metadata__` first, header space-padded to a multiple of 8.
 */
export function serializeSafetensors(
  tensors: Record<string, Tensor | ByteTensor> | Map<string, Tensor | ByteTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  for (const [name, t] of entries) {
    if (name === METADATA_KEY)
      throw new ArgumentError(
        `serializeSafetensors: '${METADATA_KEY}' is reserved for metadata and cannot name a tensor`,
      );
    if (isByteTensor(t)) continue;
    if (!(t instanceof Tensor)) throw new ArgumentError(`serializeSafetensors: '${name}' is not a Tensor`);
    t.assertLive(`serializeSafetensors('${name}')`);
  }
  entries.sort(
    ([an, a], [bn, b]) =>
      WRITE_ORDER.indexOf(dtypeName(a)) - WRITE_ORDER.indexOf(dtypeName(b)) || (an < bn ? -1 : an > bn ? 1 : 0),
  );

  // An ordered list, not an object: JSON.stringify of an object would put integer-like keys ("0", "12")
  // first, and the header order must equal the data order.
  const header: [string, unknown][] = [];
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const key of Object.keys(metadata).sort()) {
      if (typeof metadata[key] !== 'string')
        throw new ArgumentError(
          `serializeSafetensors: metadata '${key}' must be a string, got ${typeof metadata[key]}`,
        );
      meta[key] = metadata[key];
    }
    header.push([METADATA_KEY, meta]);
  }
  let offset = 0;
  const chunks: Uint8Array[] = [];
  for (const [name, t] of entries) {
    let bytes: Uint8Array;
    if (t instanceof Tensor) {
      const data = t.dataSync();
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (!LITTLE_ENDIAN) swapBytes((bytes = bytes.slice()), bytesPerElement(t.dtype));
    } else bytes = t.bytes;
    header.push([name, { dtype: dtypeName(t), shape: [...t.shape], data_offsets: [offset, offset + bytes.length] }]);
    chunks.push(bytes);
    offset += bytes.length;
  }
  const text = '{' + header.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',') + '}';
  const json = new TextEncoder().encode(text);
  const n = json.length + ((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + n + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(n), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + n);
  let at = 8 + n;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes tensors to `path` as safetensors, atomically (see writeFileAtomic). */
export async function saveSafetensors(
  path: string,
  tensors: Record<string, Tensor | ByteTensor> | Map<string, Tensor | ByteTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

// ------------------------------------------------------------------------------------------------ read

interface Entry {
  name: string;
  /** 'U8' only when the caller asked for byte tensors. */
  dtype: DType | 'U8';
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses a safetensors file. Every check runs before any tensor is made, so a malformed file throws
 * FormatError (naming the tensor and the problem) and allocates nothing beyond its header; tensor
 * memory is bounded by the file's own size because every byte range is checked against it.
 */
export function parseSafetensors(
  bytes: Uint8Array,
  { maxHeaderBytes = DEFAULT_MAX_HEADER_BYTES, byteTensors = false }: ParseOptions = {},
): SafetensorsFile {
  const fail = (msg: string): never => {
    throw new FormatError(`parseSafetensors: ${msg}`);
  };
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0)
    throw new ArgumentError(`parseSafetensors: maxHeaderBytes must be a non-negative integer, got ${maxHeaderBytes}`);
  if (!(bytes instanceof Uint8Array))
    throw new ArgumentError(`parseSafetensors: expected a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  if (bytes.length < 8) fail(`file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(maxHeaderBytes)) fail(`header length ${n} is above the limit of ${maxHeaderBytes} bytes`);
  const headerLen = Number(n);
  if (8 + headerLen > bytes.length)
    fail(`header length ${headerLen} runs past the end of the ${bytes.length}-byte file`);

  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLen));
  } catch {
    return fail('header is not valid UTF-8');
  }
  if (!text.startsWith('{'))
    fail(`header must be a JSON object starting with '{', got ${JSON.stringify(text.slice(0, 20))}`);
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) fail(`header repeats the key ${JSON.stringify(duplicate)}`);

  const dataStart = 8 + headerLen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      if (info === null) continue; // the reference reads null as "no metadata"
      if (typeof info !== 'object' || Array.isArray(info)) fail(`'${METADATA_KEY}' must be an object of strings`);
      for (const [k, v] of Object.entries(info as Record<string, unknown>)) {
        if (typeof v !== 'string')
          fail(`'${METADATA_KEY}' value for ${JSON.stringify(k)} must be a string, got ${fmtValue(v)}`);
        metadata[k] = v as string;
      }
      continue;
    }
    entries.push(readEntry(name, info, dataLen, fail, byteTensors));
  }

  // The tensors must tile [0, dataLen) exactly. Sorting by (begin, end) puts zero-size tensors before
  // a non-empty one at the same offset, so a simple running cursor detects both gaps and overlaps.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of sorted) {
    if (e.begin < cursor)
      fail(
        `tensor '${e.name}' data_offsets [${e.begin}, ${e.end}] overlap the previous tensor, which ends at ${cursor}`,
      );
    if (e.begin > cursor)
      fail(`bytes [${cursor}, ${e.begin}) before tensor '${e.name}' belong to no tensor (the data must be contiguous)`);
    cursor = e.end;
  }
  if (cursor !== dataLen) fail(`the data buffer is ${dataLen} bytes but the tensors cover only [0, ${cursor})`);

  for (const e of entries) {
    if (e.dtype !== 'bool') continue;
    for (let i = dataStart + e.begin; i < dataStart + e.end; i++) {
      if (bytes[i] > 1)
        fail(`BOOL tensor '${e.name}' holds byte ${bytes[i]} at element ${i - dataStart - e.begin}; expected 0 or 1`);
    }
  }

  const tensors = new Map<string, Tensor>();
  const bytesOut = new Map<string, ByteTensor>();
  for (const e of sorted) {
    if (e.dtype === 'U8') {
      bytesOut.set(e.name, { dtype: 'U8', shape: e.shape, bytes: bytes.slice(dataStart + e.begin, dataStart + e.end) });
      continue;
    }
    const count = (e.end - e.begin) / bytesPerElement(e.dtype);
    const data = allocArray(e.dtype, count);
    const raw = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    raw.set(bytes.subarray(dataStart + e.begin, dataStart + e.end)); // copy: the file may be unaligned
    if (!LITTLE_ENDIAN) swapBytes(raw, bytesPerElement(e.dtype));
    tensors.set(e.name, fromTypedArray(data, e.shape));
  }
  return byteTensors ? { tensors, metadata, byteTensors: bytesOut } : { tensors, metadata };
}

/** Reads and parses a safetensors file (see parseSafetensors). */
export async function loadSafetensors(path: string, options: ParseOptions = {}): Promise<SafetensorsFile> {
  return parseSafetensors(await readFileBytes(path), options);
}

/** Validates one header entry: dtype, shape, offsets and that the byte length matches the shape. */
function readEntry(
  name: string,
  info: unknown,
  dataLen: number,
  fail: (msg: string) => never,
  byteTensors = false,
): Entry {
  const what = `tensor '${name}'`;
  if (typeof info !== 'object' || info === null || Array.isArray(info))
    fail(`${what}: entry must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = info as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`${what}: dtype must be a string, got ${fmtValue(dtype)}`);
  const d: DType | 'U8' | undefined = byteTensors && dtype === 'U8' ? 'U8' : SUPPORTED[dtype as string];
  if (d === undefined || (d !== 'U8' && !Object.hasOwn(SUPPORTED, dtype as string))) {
    if (KNOWN_UNSUPPORTED.has(dtype as string))
      fail(`${what}: dtype ${dtype} is not supported yet (supported: ${Object.keys(SUPPORTED).join(', ')})`);
    fail(`${what}: unknown dtype ${fmtValue(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    fail(`${what}: shape must be a list of non-negative integers, got ${fmtValue(shape)}`);
  }
  const dims = shape as number[];
  let numel = dims.includes(0) ? 0 : 1;
  if (numel !== 0) {
    for (const v of dims) {
      numel *= v;
      if (numel > Number.MAX_SAFE_INTEGER) fail(`${what}: shape ${fmtShape(dims)} has too many elements`);
    }
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    fail(`${what}: data_offsets must be [begin, end] non-negative integers, got ${fmtValue(offsets)}`);
  }
  const [begin, end] = offsets as number[];
  if (begin > end || end > dataLen)
    fail(`${what}: data_offsets [${begin}, ${end}] are not a range within the ${dataLen}-byte data buffer`);
  const expected = numel * (d === 'U8' ? 1 : bytesPerElement(d));
  if (end - begin !== expected) {
    fail(
      `${what}: data_offsets [${begin}, ${end}] span ${end - begin} bytes ` +
        `but ${dtype} ${fmtShape(dims)} needs ${expected}`,
    );
  }
  return { name, dtype: d, shape: dims, begin, end };
}

/**
 * The first key repeated within one JSON object, or undefined. JSON.parse silently keeps the last
 * duplicate, which would let two readers of one file see different tensors. `text` is known to be
 * valid JSON, so a small scanner suffices: it tracks, per open object, the keys seen so far.
 */
function findDuplicateKey(text: string): string | undefined {
  const stack: (Set<string> | null)[] = []; // a Set per open object, null per open array
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      expectKey = false;
      i = j;
    } else if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] != null;
    }
  }
  return undefined;
}

/** In-place byte reversal of each element, for big-endian hosts (the file is always little-endian). */
function swapBytes(bytes: Uint8Array, width: number): void {
  if (width === 1) return;
  for (let i = 0; i < bytes.length; i += width) bytes.subarray(i, i + width).reverse();
}
