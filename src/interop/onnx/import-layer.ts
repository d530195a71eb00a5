// OnnxOp: the layer an imported ONNX node becomes when no Candor layer computes it exactly. It runs the
// operator's implementation (import-ops.ts) on its runtime inputs and its constant operands: initializers are
// its weights (Variables, so they train and save), small constants live in the config. Saved models load it
// back by class name like any layer.
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { cast } from '../../ops/elementwise.js';
import { ArgumentError } from '../../errors.js';
import {
  Layer,
  registerLayer,
  type CallContext,
  type LayerArgs,
  type LayerConfig,
  type SymShape,
} from '../../nn/layer.js';
import type { Variable } from '../../nn/variable.js';
import { ONNX_OPS } from './import-ops.js';

/** A constant operand held in the config: its dims, values and dtype. */
export interface OnnxLiteral {
  dims: number[];
  values: number[];
  dtype: 'float32' | 'int32' | 'bool';
}

/** Where an operand of the node comes from: the layer's i-th input, its j-th weight, a literal, or omitted. */
export type OnnxOperand = { input: number } | { weight: number } | { literal: OnnxLiteral } | null;

export interface OnnxOpArgs extends LayerArgs {
  /** The ONNX op_type (a key of ONNX_OPS). */
  opType: string;
  /** The node's attributes (numbers, strings, lists of numbers). */
  attributes?: Record<string, number | string | number[]>;
  /** The node's inputs in order. */
  operands: OnnxOperand[];
  /** The shapes of the weights (float, trainable), by index. */
  weightShapes?: number[][];
}

const who = (l: Layer) => `OnnxOp '${l.name}'`;
const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The attributes, checked: numbers, strings or lists of numbers (a config read from a file is untrusted). */
function checkedAttributes(layer: Layer, attributes: unknown): Record<string, number | string | number[]> {
  const ok = (v: unknown) =>
    typeof v === 'number' || typeof v === 'string' || (Array.isArray(v) && v.every((e) => typeof e === 'number'));
  if (!isPlain(attributes) || !Object.values(attributes).every(ok))
    throw new ArgumentError(`${who(layer)}: attributes must map names to numbers, strings or lists of numbers`);
  return JSON.parse(JSON.stringify(attributes)) as Record<string, number | string | number[]>;
}

/** One operand, checked against its form and the number of weights. */
function checkedOperand(layer: Layer, o: unknown, weights: number): OnnxOperand {
  if (o === null) return null;
  if (isPlain(o) && isCount(o.input)) return { input: o.input };
  if (isPlain(o) && isCount(o.weight) && o.weight < weights) return { weight: o.weight };
  const l = isPlain(o) && isPlain(o.literal) ? o.literal : undefined;
  if (
    l &&
    Array.isArray(l.dims) &&
    l.dims.every(isCount) &&
    Array.isArray(l.values) &&
    l.values.every((v) => typeof v === 'number') &&
    l.values.length === (l.dims as number[]).reduce((p, d) => p * d, 1) &&
    (l.dtype === 'float32' || l.dtype === 'int32' || l.dtype === 'bool')
  )
    return { literal: { dims: [...(l.dims as number[])], values: [...(l.values as number[])], dtype: l.dtype } };
  throw new ArgumentError(
    `${who(layer)}: an operand must be null, { input: i }, { weight: j } (j < ${weights}) or ` +
      `{ literal: { dims, values, dtype } } with as many values as the dims say, got ${JSON.stringify(o)}`,
  );
}

export class OnnxOp extends Layer {
  static override readonly className: string = 'OnnxOp';
  readonly opType: string;
  readonly attributes: Record<string, number | string | number[]>;
  readonly operands: OnnxOperand[];
  readonly weightShapes: number[][];
  private readonly params: Variable[] = [];

  constructor(args: OnnxOpArgs) {
    super(args);
    if (typeof args.opType !== 'string' || !Object.prototype.hasOwnProperty.call(ONNX_OPS, args.opType))
      throw new ArgumentError(`${who(this)}: unknown opType ${JSON.stringify(args.opType)}`);
    this.opType = args.opType;
    this.attributes = checkedAttributes(this, args.attributes ?? {});
    if (!Array.isArray(args.operands)) throw new ArgumentError(`${who(this)}: operands must be a list`);
    const shapes = args.weightShapes ?? [];
    if (!Array.isArray(shapes) || !shapes.every((s) => Array.isArray(s) && s.every(isCount)))
      throw new ArgumentError(`${who(this)}: weightShapes must be lists of non-negative integers`);
    this.weightShapes = shapes.map((s) => [...s]);
    this.operands = args.operands.map((o) => checkedOperand(this, o, this.weightShapes.length));
  }

  override build(_inputShape: SymShape | SymShape[]): void {
    this.weightShapes.forEach((shape, i) => this.params.push(this.addWeight(`w${i}`, shape, 'zeros')));
  }

  /**
   * The node's operands for one call: inputs, weight values and literals in ONNX order. Literals are made per
   * call (they are small), so no tensor outlives the scope of the call that made it.
   */
  private operandsOf(inputs: readonly Tensor[]): (Tensor | undefined)[] {
    return this.operands.map((o) => {
      if (!o) return undefined;
      if ('input' in o) return inputs[o.input];
      if ('weight' in o) return this.params[o.weight].value;
      const { dims, values, dtype } = o.literal;
      if (dtype !== 'float32') return cast(tensor(Int32Array.from(values), dims, 'int32'), dtype);
      return tensor(this.dtype === 'float64' ? Float64Array.from(values) : Float32Array.from(values), dims, this.dtype);
    });
  }

  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    const list = Array.isArray(inputs) ? inputs : [inputs];
    return ONNX_OPS[this.opType](this.operandsOf(list), this.attributes, this.name)[0];
  }

  override getConfig(): LayerConfig {
    return {
      ...super.getConfig(),
      opType: this.opType,
      attributes: JSON.parse(JSON.stringify(this.attributes)) as object,
      operands: JSON.parse(JSON.stringify(this.operands)) as object,
      weightShapes: this.weightShapes.map((s) => [...s]),
    };
  }
}
registerLayer(OnnxOp);
