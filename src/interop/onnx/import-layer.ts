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
    this.attributes = JSON.parse(JSON.stringify(args.attributes ?? {})) as OnnxOpArgs['attributes'] & object;
    if (!Array.isArray(args.operands)) throw new ArgumentError(`${who(this)}: operands must be a list`);
    this.operands = JSON.parse(JSON.stringify(args.operands)) as OnnxOperand[];
    this.weightShapes = (args.weightShapes ?? []).map((s) => [...s]);
    for (const o of this.operands) {
      if (o && 'weight' in o && !(Number.isInteger(o.weight) && o.weight >= 0 && o.weight < this.weightShapes.length))
        throw new ArgumentError(`${who(this)}: operand refers to weight ${o.weight} of ${this.weightShapes.length}`);
      if (o && 'literal' in o) {
        const size = o.literal.dims.reduce((p, d) => p * d, 1);
        if (!Array.isArray(o.literal.values) || o.literal.values.length !== size)
          throw new ArgumentError(`${who(this)}: a literal has ${o.literal.values?.length} values for ${size}`);
      }
    }
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
