// ONNX import: TensorProto -> Candor tensor and AttributeProto -> plain values, checked before anything is
// allocated (a hostile file declaring huge dims gets a FormatError, not an out-of-memory). int64 becomes int32
// (clamped: the int64 extremes PyTorch writes for "to the end" stay "to the end"); double becomes float32.
import { tensor } from '../../ops/creation.js';
import type { Tensor } from '../../tensor/tensor.js';
import { FormatError, UnsupportedLayerError } from '../errors.js';
import { ATTRIBUTE_TYPE, ONNX_DTYPE, type AttributeProto, type TensorProto } from './schema.js';

/** The largest rank and element count a tensor in an imported file may declare. */
export const MAX_RANK = 8;
export const MAX_ELEMENTS = 2 ** 28;

/** An attribute's value as the op implementations read it (TENSOR attributes are decoded tensors). */
export type OnnxAttribute = number | string | number[] | string[] | Tensor;
export type OnnxAttributes = Record<string, OnnxAttribute>;

const INT32_MAX = 2147483647;
const clampInt = (v: number) => Math.max(-INT32_MAX, Math.min(INT32_MAX, v));

const BYTES: Record<number, number> = {
  [ONNX_DTYPE.FLOAT]: 4,
  [ONNX_DTYPE.DOUBLE]: 8,
  [ONNX_DTYPE.INT32]: 4,
  [ONNX_DTYPE.INT64]: 8,
  [ONNX_DTYPE.INT8]: 1,
  [ONNX_DTYPE.UINT8]: 1,
  [ONNX_DTYPE.BOOL]: 1,
};

/** The dims of a tensor proto, checked (non-negative integers, bounded rank and size); returns the size. */
export function checkedDims(dims: readonly number[], what: string): number {
  if (dims.length > MAX_RANK) throw new FormatError(`ONNX import: ${what} has rank ${dims.length} (> ${MAX_RANK})`);
  let size = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new FormatError(`ONNX import: ${what} has dimension ${d}; dims must be non-negative integers`);
    size *= d;
    if (size > MAX_ELEMENTS)
      throw new FormatError(`ONNX import: ${what} declares dims [${dims.join(', ')}], over ${MAX_ELEMENTS} elements`);
  }
  return size;
}

/** Values of a typed field, or of raw_data read as `bytes`-wide little-endian elements. */
function readValues(t: TensorProto, what: string, size: number): number[] | Float32Array {
  const type = t.dataType ?? 0;
  const width = BYTES[type];
  if (width === undefined)
    throw new FormatError(`ONNX import: ${what} has data_type ${type}, which Candor does not read`);
  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== size * width)
      throw new FormatError(
        `ONNX import: ${what} holds ${raw.length} bytes of raw_data for dims [${t.dims?.join(', ')}] ` +
          `(${size} elements of ${width} bytes)`,
      );
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = type === ONNX_DTYPE.FLOAT ? new Float32Array(size) : new Array<number>(size);
    for (let i = 0; i < size; i++) {
      const o = i * width;
      if (type === ONNX_DTYPE.FLOAT) out[i] = view.getFloat32(o, true);
      else if (type === ONNX_DTYPE.DOUBLE) out[i] = view.getFloat64(o, true);
      else if (type === ONNX_DTYPE.INT32) out[i] = view.getInt32(o, true);
      else if (type === ONNX_DTYPE.INT64) out[i] = clampInt(Number(view.getBigInt64(o, true)));
      else if (type === ONNX_DTYPE.INT8) out[i] = view.getInt8(o);
      else out[i] = view.getUint8(o);
    }
    return out;
  }
  const field =
    type === ONNX_DTYPE.FLOAT
      ? t.floatData
      : type === ONNX_DTYPE.DOUBLE
        ? t.doubleData
        : type === ONNX_DTYPE.INT64
          ? t.int64Data
          : t.int32Data;
  const values = field ?? [];
  if (values.length !== size)
    throw new FormatError(
      `ONNX import: ${what} holds ${values.length} values for dims [${t.dims?.join(', ')}] (${size} elements)`,
    );
  return type === ONNX_DTYPE.INT64 ? values.map(clampInt) : values;
}

/** A TensorProto as a Candor tensor: float32 for FLOAT and DOUBLE, int32 for the integer types, bool. */
export function tensorFromProto(t: TensorProto, what: string): Tensor {
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0)
    throw new FormatError(
      `ONNX import: ${what} keeps its data in an external file; Candor reads self-contained .onnx files only ` +
        '(save with onnx.save_model(model, path, save_as_external_data=False))',
    );
  const dims = t.dims ?? [];
  const size = checkedDims(dims, what);
  const values = readValues(t, what, size);
  const type = t.dataType;
  if (type === ONNX_DTYPE.FLOAT || type === ONNX_DTYPE.DOUBLE) return tensor(Float32Array.from(values), dims);
  if (type === ONNX_DTYPE.BOOL)
    return tensor(
      Uint8Array.from(values, (v) => (v ? 1 : 0)),
      dims,
      'bool',
    );
  return tensor(Int32Array.from(values), dims, 'int32');
}

const text = (b: Uint8Array | undefined) => new TextDecoder().decode(b ?? new Uint8Array());

/** A node's attributes by name; GRAPH attributes (If, Loop, Scan bodies) are not supported. */
export function decodeAttributes(
  attributes: readonly AttributeProto[] | undefined,
  node: string,
  opType: string,
): OnnxAttributes {
  const out: OnnxAttributes = {};
  for (const a of attributes ?? []) {
    const name = a.name ?? '';
    const what = `attribute '${name}' of node '${node}'`;
    switch (a.type) {
      case ATTRIBUTE_TYPE.FLOAT:
        out[name] = a.f ?? 0;
        break;
      case ATTRIBUTE_TYPE.INT:
        out[name] = a.i ?? 0;
        break;
      case ATTRIBUTE_TYPE.STRING:
        out[name] = text(a.s);
        break;
      case ATTRIBUTE_TYPE.TENSOR:
        if (!a.t) throw new FormatError(`ONNX import: ${what} has no tensor`);
        out[name] = tensorFromProto(a.t, what);
        break;
      case ATTRIBUTE_TYPE.FLOATS:
        out[name] = [...(a.floats ?? [])];
        break;
      case ATTRIBUTE_TYPE.INTS:
        out[name] = [...(a.ints ?? [])];
        break;
      case ATTRIBUTE_TYPE.STRINGS:
        out[name] = (a.strings ?? []).map(text);
        break;
      case ATTRIBUTE_TYPE.GRAPH:
        throw new UnsupportedLayerError('ONNX import', node, opType, `${what} is a subgraph (control flow)`);
      default:
        throw new FormatError(`ONNX import: ${what} has attribute type ${a.type}, which Candor does not read`);
    }
  }
  return out;
}
