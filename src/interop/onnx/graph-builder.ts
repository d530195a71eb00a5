// Builds an ONNX GraphProto node by node: unique value names, initializers from tensors (raw little-endian
// bytes), typed attributes and int64 constants. The exporters (export-*.ts) use it; export.ts wraps the result
// in a ModelProto. Attribute values: a number is an INT, { f } a FLOAT, number[] INTS, { floats } FLOATS,
// { strings } STRINGS.
import type { DType } from '../../tensor/dtype.js';
import type { Tensor } from '../../tensor/tensor.js';
import { InteropError } from '../errors.js';
import {
  ATTRIBUTE_TYPE,
  ONNX_DTYPE,
  type AttributeProto,
  type Dimension,
  type GraphProto,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from './schema.js';

export type AttributeValue =
  number | number[] | string | { f: number } | { floats: number[] } | { strings: string[] } | { t: TensorProto };

/** A shape for a graph input or output: null marks a dynamic dimension (axis 0: the batch). */
export type ValueShape = readonly (number | null)[];

const ELEMENT_TYPE: Partial<Record<DType, number>> = {
  float32: ONNX_DTYPE.FLOAT,
  float64: ONNX_DTYPE.DOUBLE,
  int32: ONNX_DTYPE.INT32,
  int8: ONNX_DTYPE.INT8,
  bool: ONNX_DTYPE.BOOL,
};

export function onnxElementType(dtype: DType, what: string): number {
  const t = ELEMENT_TYPE[dtype];
  if (t === undefined) throw new InteropError(`ONNX export: ${what} has dtype ${dtype}, which has no ONNX mapping`);
  return t;
}

function attributeProto(name: string, value: AttributeValue): AttributeProto {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new InteropError(`ONNX export: attribute '${name}' = ${value}: wrap floats`);
    return { name, type: ATTRIBUTE_TYPE.INT, i: value };
  }
  if (typeof value === 'string') return { name, type: ATTRIBUTE_TYPE.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: ATTRIBUTE_TYPE.INTS, ints: [...value] };
  if ('f' in value) return { name, type: ATTRIBUTE_TYPE.FLOAT, f: value.f };
  if ('floats' in value) return { name, type: ATTRIBUTE_TYPE.FLOATS, floats: [...value.floats] };
  if ('strings' in value)
    return { name, type: ATTRIBUTE_TYPE.STRINGS, strings: value.strings.map((v) => new TextEncoder().encode(v)) };
  return { name, type: ATTRIBUTE_TYPE.TENSOR, t: value.t };
}

function valueInfo(name: string, elemType: number, shape: ValueShape, dynamicName: string): ValueInfoProto {
  // Values share the batch's dim_param; other dynamic dimensions (sequence lengths) are each their own, since
  // onnxruntime takes equal dim_params to mean equal sizes (a query and a key may differ in length).
  const dim: Dimension[] = shape.map((d, i) =>
    d !== null ? { dimValue: d } : { dimParam: i === 0 ? dynamicName : `${name}_dim${i}` },
  );
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

function littleEndianBytes(data: ArrayBufferView): Uint8Array {
  // x86 and ARM are little-endian, as ONNX's raw_data is; copy so the proto owns its bytes.
  return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
}

export class OnnxGraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  /** Initializers already made for a tensor (a weight shared by two layers is stored once). */
  private readonly made = new Map<Tensor, string>();

  constructor(
    readonly name: string,
    /** The dim_param of dynamic dimensions ('batch'). */
    readonly dynamicName = 'batch',
  ) {}

  /** `base`, or `base_1`, `base_2` ... : each value and node name is unique in the graph. */
  uniqueName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_./:-]/g, '_') || 'value';
    let name = clean;
    for (let i = 1; this.used.has(name); i++) name = `${clean}_${i}`;
    this.used.add(name);
    return name;
  }

  addInput(base: string, dtype: DType, shape: ValueShape): string {
    const name = this.uniqueName(base);
    this.inputs.push(valueInfo(name, onnxElementType(dtype, `input '${base}'`), shape, this.dynamicName));
    return name;
  }

  addOutput(value: string, dtype: DType, shape: ValueShape): void {
    this.outputs.push(valueInfo(value, onnxElementType(dtype, `output '${value}'`), shape, this.dynamicName));
  }

  /** An initializer holding a tensor's current values (read once; the same tensor gives the same name). */
  tensor(base: string, t: Tensor): string {
    const known = this.made.get(t);
    if (known) return known;
    const name = this.array(base, t.dataSync() as ArrayBufferView as Float32Array, t.shape, t.dtype);
    this.made.set(t, name);
    return name;
  }

  /** An initializer from raw values (float32 unless `dtype` says otherwise). */
  array(base: string, data: ArrayBufferView, dims: readonly number[], dtype: DType = 'float32'): string {
    const name = this.uniqueName(base);
    this.initializers.push({
      name,
      dims: [...dims],
      dataType: onnxElementType(dtype, `initializer '${base}'`),
      rawData: littleEndianBytes(data),
    });
    return name;
  }

  /** An int64 initializer (shapes, axes, pads for the ops that take them as inputs). */
  int64(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    const name = this.uniqueName(base);
    this.initializers.push({ name, dims: [...dims], dataType: ONNX_DTYPE.INT64, int64Data: [...values] });
    return name;
  }

  /** A float32 scalar or vector initializer. */
  floats(base: string, values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.array(base, Float32Array.from(values), dims);
  }

  /**
   * Adds a node; returns its output names (made unique from `outputs`, or from the node's name when a count
   * is given).
   */
  node(
    opType: string,
    inputs: readonly string[],
    attributes: Record<string, AttributeValue | undefined> = {},
    outputs: number | readonly string[] = 1,
    nodeName = opType,
  ): string[] {
    const name = this.uniqueName(nodeName);
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, (_, i) => this.uniqueName(`${name}_out${outputs > 1 ? i : ''}`))
        : outputs.map((o) => this.uniqueName(o));
    const attribute = Object.entries(attributes)
      .filter((e): e is [string, AttributeValue] => e[1] !== undefined)
      .map(([k, v]) => attributeProto(k, v));
    this.nodes.push({ name, opType, input: [...inputs], output: outs, attribute });
    return outs;
  }

  /** The single-output form of node(). */
  op(opType: string, inputs: readonly string[], attributes: Record<string, AttributeValue | undefined> = {}) {
    return this.node(opType, inputs, attributes, 1)[0];
  }

  toGraphProto(): GraphProto {
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
    };
  }
}
