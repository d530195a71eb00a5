// ONNX import's working state: every ONNX value is either a runtime value (a SymbolicTensor of the Candor graph,
// possibly held transposed) or a constant (a tensor known at import: initializers, Constant nodes and what is
// folded from them; a shape's batch entries are marked, so that "the batch" survives Shape -> Reshape). Nodes go
// to the pattern handlers (import-patterns.ts) first, then to folding or a generic OnnxOp layer.
import { Tensor } from '../../tensor/tensor.js';
import { tensor, zeros } from '../../ops/creation.js';
import { permute, reshape } from '../../ops/views.js';
import type { Layer, SymShape, SymbolicTensor } from '../../nn/layer.js';
import { withWeightSource } from '../../nn/layer.js';
import { Permute } from '../../nn/layers/repeat-permute.js';
import { FormatError, InteropError, UnsupportedLayerError } from '../errors.js';
import { ONNX_ARITY, ONNX_OPS, numbers } from './import-ops.js';
import { OnnxOp, type OnnxOperand } from './import-layer.js';
import { tensorFromProto, type OnnxAttributes } from './import-tensor.js';
import type { NodeProto } from './schema.js';

export interface ImportNode {
  name: string;
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs: OnnxAttributes;
}

/** A value of the Candor graph; `perm` (null: none) says how it is held: candor = transpose(onnx, perm). */
export interface RuntimeValue {
  kind: 'runtime';
  sym: SymbolicTensor;
  perm: readonly number[] | null;
  /**
   * A rank-2 value whose features are held in another order: candor[:, j] = onnx[:, order[j]] (a Flatten of a
   * channels-last value feeding a Dense, whose kernel rows are reordered instead of the activations).
   */
  order?: readonly number[];
}
/**
 * A value known at import. `param`: an initializer (or folded from one), which becomes a trainable weight.
 * `mask` (int32, the tensor's shape): 1 where an entry is the batch size, 2 an unknown size, 0 a known value.
 */
export interface ConstantValue {
  kind: 'const';
  t: Tensor;
  param: boolean;
  mask?: Tensor;
  /**
   * A ConstantOfShape whose shape holds the batch size (a recurrent layer's zero initial state): `t` is its
   * value for a batch of 1. Only handlers that know what it means (the LSTM / GRU ones) take it.
   */
  batchSized?: boolean;
}
export type Value = RuntimeValue | ConstantValue;

/** A handler converts a node it recognises (returning true) or leaves it to the generic path (false). */
export type NodeImporter = (g: ImportGraph, node: ImportNode) => boolean;
const IMPORTERS = new Map<string, NodeImporter[]>();

/** Adds a handler for an op_type (tried in registration order, before the generic OnnxOp). */
export function registerOnnxImporter(opType: string, importer: NodeImporter): void {
  IMPORTERS.set(opType, [...(IMPORTERS.get(opType) ?? []), importer]);
}

/** Ops that apply element by element with numpy broadcasting: they run in whatever layout their inputs have. */
const ELEMENTWISE = new Set(
  (
    'Add Sub Mul Div Pow Max Min Equal Less Greater Not Where Sqrt Exp Log Neg Abs Reciprocal Floor Ceil Erf Sin Cos ' +
    'Relu Sigmoid Tanh Softplus Softsign LeakyRelu Elu Selu HardSigmoid HardSwish Gelu Clip Identity Dropout Cast'
  ).split(' '),
);
/** Ops whose result moves entries of their (data) inputs without computing on them: a shape's batch mark follows. */
const MOVES_ENTRIES = new Set([
  'Identity',
  'Cast',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Concat',
  'Slice',
  'Reshape',
  'Flatten',
]);
/** Ops along one axis (attribute 'axis'), which can run on inputs held transposed. */
const ONE_AXIS = new Set(['Concat', 'Softmax', 'LogSoftmax']);
/** Float constants larger than this become weights even when they are not initializers. */
const MAX_LITERAL = 64;

export const inversePerm = (p: readonly number[]) => p.map((_, i) => p.indexOf(i));
const isIdentity = (p: readonly number[] | null) => !p || p.every((v, i) => v === i);

export class ImportGraph {
  private readonly values = new Map<string, Value>();
  /** How many nodes read each value (pattern handlers fuse a node into its only consumer). */
  readonly uses = new Map<string, number>();
  private readonly names = new Set<string>();
  /** Permuted copies already made: `${value}|${perm}`. */
  private readonly permuted = new Map<string, SymbolicTensor>();

  /** The batch size every input declares, when they declare a fixed one (an export without dynamic axes). */
  declaredBatch: number | null = null;

  /** The first node reading each value, and the Constant node making each constant. */
  private readonly readers = new Map<string, NodeProto>();
  private readonly constantMakers = new Map<string, NodeProto>();

  /** Outputs of nodes that a pattern joined into an earlier node (MatMul + Add), which made them already. */
  readonly fused = new Set<string>();

  /** `outputs`: the graph's outputs, counted as readers (a value the model returns is not fused away). */
  constructor(
    readonly nodes: readonly NodeProto[],
    outputs: readonly string[],
  ) {
    for (const i of [...nodes.flatMap((n) => n.input ?? []), ...outputs])
      if (i) this.uses.set(i, (this.uses.get(i) ?? 0) + 1);
    // Indexes, so that patterns looking ahead cost O(1) per look, not a scan of the graph.
    for (const n of nodes) {
      for (const i of n.input ?? []) if (i && !this.readers.has(i)) this.readers.set(i, n);
      if (n.opType === 'Constant' && n.output?.[0]) this.constantMakers.set(n.output[0], n);
    }
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** The value of an input name; a name no node or initializer made is a FormatError. */
  get(name: string, node: string): Value {
    const v = this.values.get(name);
    if (!v) throw new FormatError(`ONNX import: node '${node}' reads '${name}', which nothing before it makes`);
    return v;
  }

  /** The value of a node's input i, or undefined when it is omitted (''). */
  input(node: ImportNode, i: number): Value | undefined {
    const name = node.inputs[i];
    return name ? this.get(name, node.name) : undefined;
  }

  /**
   * The value of a constant that may be made later in the graph (a pattern looking at the nodes after the one
   * being converted): a known constant, or the value of the Constant node that makes it; else undefined.
   */
  peekConstant(name: string): Tensor | undefined {
    const known = this.values.get(name);
    if (known) return known.kind === 'const' && !known.batchSized ? known.t : undefined;
    const maker = this.constantMakers.get(name);
    const value = maker?.attribute?.find((a) => a.name === 'value')?.t;
    return value ? tensorFromProto(value, `constant '${name}'`) : undefined;
  }

  /** The one node that reads a value, when exactly one does. */
  onlyReader(name: string): NodeProto | undefined {
    return this.uses.get(name) === 1 ? this.readers.get(name) : undefined;
  }

  /** Input i as a constant, or undefined (omitted or runtime). */
  constant(node: ImportNode, i: number): ConstantValue | undefined {
    const v = this.input(node, i);
    return v?.kind === 'const' ? v : undefined;
  }

  setConstant(name: string, t: Tensor, param: boolean, mask?: Tensor): void {
    this.values.set(name, { kind: 'const', t, param, mask });
  }

  setRuntime(name: string, sym: SymbolicTensor, perm: readonly number[] | null, order?: readonly number[]): void {
    this.values.set(name, { kind: 'runtime', sym, perm: isIdentity(perm) ? null : perm, order });
  }

  /** A Candor layer name from an ONNX name ('/conv1/Conv' -> 'conv1_Conv'), unique in this import. */
  layerName(base: string): string {
    const clean = base.replace(/[^A-Za-z0-9_]+/g, '_').replace(/^_+|_+$/g, '') || 'onnx';
    let name = /^[A-Za-z]/.test(clean) ? clean : `onnx_${clean}`;
    for (let i = 1; this.names.has(name); i++) name = `${clean}_${i}`;
    this.names.add(name);
    return name;
  }

  /** The ONNX (logical) shape of a runtime value. */
  shapeOf(v: RuntimeValue): SymShape {
    return v.perm ? inversePerm(v.perm).map((a) => v.sym.shape[a]) : v.sym.shape;
  }

  /** A runtime value held as transpose(onnx, perm) (null: as ONNX has it), adding a Permute when needed. */
  inLayout(name: string, perm: readonly number[] | null, node: string): SymbolicTensor {
    let v = this.get(name, node);
    if (v.kind !== 'runtime')
      throw new InteropError(`ONNX import: node '${node}' needs '${name}' computed at run time, but it is a constant`);
    if (v.order) v = this.inOnnxOrder(name, v, v.order);
    const rank = v.sym.shape.length;
    const from = v.perm ?? [...Array(rank).keys()];
    const to = perm ?? [...Array(rank).keys()];
    const dims = to.map((axis) => from.indexOf(axis));
    if (dims.every((d, i) => d === i)) return v.sym;
    const key = `${name}|${to.join(',')}`;
    let sym = this.permuted.get(key);
    if (!sym) {
      if (dims[0] !== 0) throw new InteropError(`ONNX import: node '${node}' would move the batch axis of '${name}'`);
      const layer = new Permute({ dims: dims.slice(1), name: this.layerName(`${name}_permute`) });
      sym = layer.apply(v.sym);
      this.permuted.set(key, sym);
    }
    return sym;
  }

  /** A value held with its features reordered, back in ONNX's order (a Gather along axis 1, made once). */
  private inOnnxOrder(name: string, v: RuntimeValue, order: readonly number[]): RuntimeValue {
    const key = `${name}|order`;
    let sym = this.permuted.get(key);
    if (!sym) {
      const layer = new OnnxOp({
        name: this.layerName(`${name}_order`),
        opType: 'Gather',
        attributes: { axis: 1 },
        operands: [{ input: 0 }, { literal: { dims: [order.length], values: inversePerm(order), dtype: 'int32' } }],
      });
      sym = this.addLayer(layer, v.sym, {});
      this.permuted.set(key, sym);
    }
    return { kind: 'runtime', sym, perm: null };
  }

  /** A runtime value in ONNX's layout. */
  logical(name: string, node: string): SymbolicTensor {
    return this.inLayout(name, null, node);
  }

  /** Calls a new layer on `inputs`, its weights taken from `weights` (by weight name: 'kernel', 'bias' ...). */
  addLayer(layer: Layer, inputs: SymbolicTensor | SymbolicTensor[], weights: Record<string, Tensor>): SymbolicTensor {
    const source = {
      take: (_l: Layer, full: string, shape: readonly number[], dtype: string) => {
        const key = full.slice(full.lastIndexOf('/') + 1);
        const t = weights[key];
        if (!t || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))
          throw new InteropError(
            `ONNX import: layer '${layer.name}' needs weight '${key}' of shape [${shape.join(', ')}], ` +
              `the file gives ${t ? `[${t.shape.join(', ')}]` : 'none'}`,
          );
        return t.cast(dtype as 'float32').clone();
      },
    };
    const out = withWeightSource(source, () => layer.apply(inputs));
    if (Array.isArray(out)) throw new InteropError(`ONNX import: layer '${layer.name}' gave several outputs`);
    return out;
  }

  /** Errors if a node's outputs after the first are read (the converted node makes only its first). */
  onlyFirstOutput(node: ImportNode): void {
    node.outputs.slice(1).forEach((o, i) => {
      if (o && (this.uses.get(o) ?? 0) > 0)
        throw new UnsupportedLayerError('ONNX import', node.name, node.opType, `its output ${i + 1} is used`);
    });
  }

  /** The opset of the default domain the file imports. */
  opset = 17;

  convert(node: ImportNode): void {
    checkArity(node);
    if (this.fused.has(node.outputs[0] ?? '')) return;
    if (this.opset < 13 && (node.opType === 'Softmax' || node.opType === 'LogSoftmax')) this.oldSoftmax(node);
    const present = node.inputs.filter((n) => n);
    const all = present.map((n) => this.get(n, node.name));
    if (node.opType === 'Constant') return this.constantNode(node);
    if (all.every((v) => v.kind === 'const')) {
      if (!ONNX_OPS[node.opType]) throw unsupported(node);
      return this.fold(node);
    }
    for (const importer of IMPORTERS.get(node.opType) ?? []) if (importer(this, node)) return;
    this.generic(node);
  }

  /**
   * Before opset 13, Softmax flattened the input from `axis` (default 1) into one axis: the same as a softmax
   * over the last axis only when `axis` is the last; others are refused rather than computed differently.
   */
  private oldSoftmax(node: ImportNode): void {
    const x = this.input(node, 0);
    const rank = x ? (x.kind === 'runtime' ? x.sym.shape.length : x.t.rank) : 0;
    const axis = typeof node.attrs.axis === 'number' ? node.attrs.axis : 1;
    if ((axis < 0 ? axis + rank : axis) !== rank - 1)
      throw new UnsupportedLayerError(
        'ONNX import',
        node.name,
        node.opType,
        `opset ${this.opset} flattens from axis ${axis} of a rank-${rank} input; re-export with opset 13 or later`,
      );
    node.attrs.axis = -1;
  }

  private constantNode(node: ImportNode): void {
    const a = node.attrs;
    let t: Tensor | undefined;
    if (a.value instanceof Tensor) t = a.value;
    else if (typeof a.value_float === 'number') t = tensor(Float32Array.of(a.value_float), []);
    else if (Array.isArray(a.value_floats))
      t = tensor(Float32Array.from(a.value_floats as number[]), [a.value_floats.length]);
    else if (typeof a.value_int === 'number') t = tensor(Int32Array.of(a.value_int), [], 'int32');
    else if (Array.isArray(a.value_ints))
      t = tensor(Int32Array.from(a.value_ints as number[]), [a.value_ints.length], 'int32');
    if (!t) throw new UnsupportedLayerError('ONNX import', node.name, 'Constant', 'only tensor and number values');
    this.setConstant(node.outputs[0] ?? '', t, false);
  }

  /** Computes a node on constants now. Batch marks move with the entries they mark, or the node is refused. */
  private fold(node: ImportNode): void {
    const ins = node.inputs.map((_, i) => this.constant(node, i));
    // Zeros (or any fill) as large as the batch: ConstantOfShape or Expand of a constant to a shape holding the
    // batch size. Computed for a batch of 1 (the mark's placeholder value); only handlers that know it take it.
    const shapeInput = node.opType === 'ConstantOfShape' ? 0 : node.opType === 'Expand' ? 1 : -1;
    const marked = ins[shapeInput]?.mask?.dataSync().some((m) => m === 1);
    if (marked && ins.every((v, i) => i === shapeInput || !v?.mask)) {
      const t = ONNX_OPS[node.opType](
        ins.map((v) => v?.t),
        node.attrs,
        node.name,
      );
      this.values.set(node.outputs[0] ?? '', { kind: 'const', t: t[0], param: false, batchSized: true });
      return;
    }
    if (ins.some((v) => v?.batchSized))
      throw new InteropError(`ONNX import: node '${node.name}' (${node.opType}) computes on a batch-sized constant`);
    const outs = ONNX_OPS[node.opType](
      ins.map((v) => v?.t),
      node.attrs,
      node.name,
    );
    let mask: Tensor | undefined;
    if (ins.some((v) => v?.mask)) {
      const dataInputs = node.opType === 'Concat' ? ins.map((_, i) => i) : [0];
      if (!MOVES_ENTRIES.has(node.opType) || ins.some((v, i) => v?.mask && !dataInputs.includes(i)))
        throw new InteropError(
          `ONNX import: node '${node.name}' (${node.opType}) computes with the batch size or an unknown dimension; ` +
            'Candor folds shape arithmetic only where the batch passes through unchanged',
        );
      const masks = ins.map((v, i) => (dataInputs.includes(i) && v ? (v.mask ?? zeros(v.t.shape, 'int32')) : v?.t));
      mask = node.opType === 'Cast' ? masks[0] : ONNX_OPS[node.opType](masks, node.attrs, node.name)[0];
    }
    const param = ins.some((v) => v?.param);
    this.onlyFirstOutput(node);
    this.setConstant(node.outputs[0] ?? '', outs[0], param, mask);
  }

  /** A constant as an OnnxOp operand: a trainable weight (initializers, large tensors) or a literal. */
  private operand(c: ConstantValue, weights: Tensor[]): OnnxOperand {
    if (c.batchSized || (c.mask && c.mask.dataSync().some((m) => m !== 0)))
      throw new InteropError('ONNX import: a shape that holds the batch size reaches a computation');
    // Scalars stay literals even when they are initializers (exporters store 0.5 or sqrt 2 as initializers too).
    if (c.t.dtype === 'float32' && ((c.param && c.t.size > 1) || c.t.size > MAX_LITERAL)) {
      weights.push(c.t);
      return { weight: weights.length - 1 };
    }
    const dtype = c.t.dtype === 'float32' ? 'float32' : c.t.dtype === 'bool' ? 'bool' : 'int32';
    return { literal: { dims: [...c.t.shape], values: Array.from(c.t.dataSync(), Number), dtype } };
  }

  /** The node as an OnnxOp layer; elementwise ops keep their inputs' layout (constants are transposed to it). */
  generic(node: ImportNode): void {
    if (!ONNX_OPS[node.opType]) throw unsupported(node);
    this.onlyFirstOutput(node);
    const values = node.inputs.map((_, i) => this.input(node, i));
    const runtime = values.filter((v): v is RuntimeValue => v?.kind === 'runtime');
    const rank = Math.max(...values.map((v) => (v ? (v.kind === 'runtime' ? v.sym.shape.length : v.t.rank) : 0)));
    let perm: readonly number[] | null = null;
    const attributes: Record<string, number | string | number[]> = {};
    for (const [k, a] of Object.entries(node.attrs))
      if (!(a instanceof Tensor) && !(Array.isArray(a) && a.some((v) => typeof v === 'string')))
        attributes[k] = a as never;
    // A constant of higher rank than the runtime values broadcasts them into more axes in front of the batch.
    const lowest = Math.min(...runtime.map((v) => v.sym.shape.length));
    if (ELEMENTWISE.has(node.opType) && rank > lowest)
      throw new UnsupportedLayerError(
        'ONNX import',
        node.name,
        node.opType,
        `a constant of rank ${rank} would broadcast a rank-${lowest} value to put axes before its batch axis`,
      );
    if (!ELEMENTWISE.has(node.opType)) {
      const ints = (i: number) => {
        const c = this.constant(node, i);
        return c ? Array.from(c.t.dataSync(), Number) : undefined;
      };
      checkBatchKept(node, runtime.length ? this.shapeOf(runtime[0]).length : 0, ints);
    }
    const first = runtime.find((v) => v.sym.shape.length === rank);
    const samePerm =
      !!first?.perm && runtime.every((v) => v.sym.shape.length === rank && String(v.perm) === String(first.perm));
    if (ELEMENTWISE.has(node.opType) && first?.perm && runtime.every((v) => v.sym.shape.length === rank))
      perm = first.perm;
    else if (ONE_AXIS.has(node.opType) && samePerm && runtime.length === values.filter((v) => v).length) {
      // An op along one axis runs where its inputs are held, on the axis as held.
      perm = first!.perm;
      const axis = typeof attributes.axis === 'number' ? attributes.axis : node.opType === 'Concat' ? 0 : -1;
      attributes.axis = perm!.indexOf(axis < 0 ? axis + rank : axis);
    }
    const inputs: SymbolicTensor[] = [];
    const weights: Tensor[] = [];
    const operands = values.map((v, i): OnnxOperand => {
      if (!v) return null;
      if (v.kind === 'runtime') {
        inputs.push(this.inLayout(node.inputs[i], perm, node.name));
        return { input: inputs.length - 1 };
      }
      if (!perm) return this.operand(v, weights);
      // Numpy broadcasting aligns trailing axes: pad the constant to the full rank, then hold it as the inputs are.
      const full = reshape(v.t, [...new Array<number>(rank - v.t.rank).fill(1), ...v.t.shape]);
      return this.operand({ ...v, t: permute(full, perm).clone() }, weights);
    });
    const layer = new OnnxOp({
      name: this.layerName(node.name),
      opType: node.opType,
      attributes,
      operands,
      weightShapes: weights.map((w) => [...w.shape]),
    });
    const named = Object.fromEntries(weights.map((w, i) => [`w${i}`, w]));
    const out = this.addLayer(layer, inputs.length === 1 ? inputs[0] : inputs, named);
    this.setRuntime(node.outputs[0] ?? '', out, perm);
  }
}

/** A FormatError for a node of a known op with fewer inputs than it needs or more than it takes. */
function checkArity(node: ImportNode): void {
  const arity = ONNX_ARITY[node.opType];
  if (!arity) return;
  const [least, most] = arity;
  const n = node.inputs.length;
  if (n >= least && n <= most && node.inputs.slice(0, least).every((i) => i)) return;
  const takes = most === Infinity ? `at least ${least}` : least === most ? `${least}` : `${least} to ${most}`;
  throw new FormatError(
    `ONNX import: node '${node.name}' (${node.opType}) has ${n} inputs (${node.inputs.filter((i) => i).length} ` +
      `named); ${node.opType} takes ${takes}`,
  );
}

export function unsupported(node: ImportNode): UnsupportedLayerError {
  return new UnsupportedLayerError('ONNX import', node.name, node.opType, 'no Candor mapping for this operator');
}

/**
 * Refuses generic ops that mix or move the batch axis (axis 0): predict() and fit() split data into batches, so
 * such a model would compute something else than the file says.
 */
function checkBatchKept(node: ImportNode, rank: number, ints: (input: number) => number[] | undefined): void {
  const a = node.attrs;
  const axis = (v: unknown, dflt: number) => {
    const n = typeof v === 'number' ? v : dflt;
    return n < 0 ? n + rank : n;
  };
  let moves = false;
  if (['Concat', 'Gather', 'Softmax', 'LogSoftmax', 'Split'].includes(node.opType))
    moves = axis(a.axis, node.opType.endsWith('Softmax') ? -1 : 0) === 0;
  else if (node.opType === 'Flatten') moves = axis(a.axis, 1) !== 1;
  // Reshapes that keep the batch first are Candor Reshape layers (import-patterns.ts); others mix samples.
  else if (node.opType === 'Reshape') moves = true;
  else if (node.opType === 'Unsqueeze') {
    // A new axis 0 pushes the batch to axis 1 (an op after it over axis 1 then runs across the samples).
    const axes = numbers(a.axes) ?? ints(1) ?? [];
    moves = axes.some((v) => (v < 0 ? v + rank + axes.length : v) === 0);
  } else if (node.opType === 'Squeeze') {
    // Without axes, every axis of size 1 goes: the batch too when it is 1, so the result's rank would vary.
    const axes = numbers(a.axes) ?? ints(1);
    moves = !axes || axes.length === 0 || axes.some((v) => axis(v, 0) === 0);
  } else if (node.opType === 'Pad') {
    // Pads on axis 0 add samples, once per batch that predict() or fit() runs.
    const pads = ints(1) ?? numbers(a.pads) ?? [];
    moves = (pads[0] ?? 0) !== 0 || (pads[rank] ?? 0) !== 0;
  } else if (node.opType === 'Transpose') moves = Array.isArray(a.perm) ? a.perm[0] !== 0 : rank > 1;
  else if (node.opType.startsWith('Reduce')) {
    const axes = Array.isArray(a.axes) ? a.axes : (ints(1) ?? []);
    moves = axes.length === 0 ? !a.noop_with_empty_axes : axes.some((v) => axis(v, 0) === 0);
  } else if (node.opType === 'Slice') {
    // Slicing axis 0 is fine only when it keeps every sample (start 0, to the end, step 1).
    const starts = ints(1) ?? [],
      ends = ints(2) ?? [],
      steps = ints(4);
    const axes = ints(3) ?? starts.map((_, i) => i);
    moves = axes.some(
      (v, i) => axis(v, 0) === 0 && (starts[i] !== 0 || ends[i] < 2147483647 || (steps?.[i] ?? 1) !== 1),
    );
  }
  if (moves)
    throw new UnsupportedLayerError(
      'ONNX import',
      node.name,
      node.opType,
      'it computes across the batch axis (axis 0), which Candor keeps for the samples',
    );
}
