// ONNX import: the nodes that become real Candor layers because a layer computes them exactly (Gemm / MatMul
// [+ Add] -> Dense, Conv -> Conv2D / Conv1D, BatchNormalization, LayerNormalization, pooling, activations,
// Flatten, Reshape), plus Shape (folded to a constant that marks the batch) and Transpose (a change of the
// layout a value is held in, no layer). A handler returns false to leave a node it cannot map exactly to the
// generic OnnxOp path.
import { tensor } from '../../ops/creation.js';
import { permute, reshape as reshapeOp } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { Dense } from '../../nn/layers/dense.js';
import { Conv1D, Conv2D } from '../../nn/layers/conv.js';
import { BatchNormalization } from '../../nn/layers/batch-normalization.js';
import { LayerNormalization } from '../../nn/layers/layer-norm.js';
import { AveragePooling2D, GlobalAveragePooling2D, MaxPooling2D } from '../../nn/layers/pooling.js';
import { AveragePooling1D, GlobalAveragePooling1D, MaxPooling1D } from '../../nn/layers/pooling1d.js';
import { Activation } from '../../nn/layers/activation.js';
import { ELU, LeakyReLU, Softmax } from '../../nn/layers/activation-layers.js';
import { Flatten, Reshape } from '../../nn/layers/reshaping.js';
import type { Layer } from '../../nn/layer.js';
import { InteropError } from '../errors.js';
import { numbers, paddedShape } from './import-ops.js';
import { gather } from '../../ops/indexing.js';
import {
  inversePerm as inversePermOf,
  registerOnnxImporter,
  type ImportGraph,
  type ImportNode,
  type RuntimeValue,
} from './import-graph.js';

const num = (v: unknown, dflt: number) => (typeof v === 'number' ? v : dflt);
const list = numbers;
/** [0, 2, 3, ..., 1]: channels last, as Candor's convolutions, pooling and normalization want them. */
const channelsLast = (rank: number) => [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2), 1];

function runtimeInput(g: ImportGraph, node: ImportNode, i = 0): RuntimeValue | undefined {
  const v = g.input(node, i);
  return v?.kind === 'runtime' ? v : undefined;
}

/** Adds `layer` on input 0 held in layout `perm`; its output is held in `outPerm`. */
function layerOn(
  g: ImportGraph,
  node: ImportNode,
  layer: Layer,
  perm: readonly number[] | null,
  weights: Record<string, Tensor> = {},
  outPerm = perm,
): true {
  g.onlyFirstOutput(node);
  const out = g.addLayer(layer, g.inLayout(node.inputs[0], perm, node.name), weights);
  g.setRuntime(node.outputs[0], out, outPerm);
  return true;
}

// Shape of a runtime value: a constant whose unknown dimensions are marked (1: the batch, 2: another).
registerOnnxImporter('Shape', (g, node) => {
  const x = runtimeInput(g, node)!;
  const shape = g.shapeOf(x);
  const rank = shape.length;
  const at = (v: number) => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = at(num(node.attrs.start, 0)),
    end = at(num(node.attrs.end, rank));
  const dims = shape.slice(start, Math.max(start, end));
  const batchAxis = x.perm ? x.perm[0] : 0; // held axis 0 is always the batch
  const mask = dims.map((d, i) => (d !== null ? 0 : start + i === batchAxis ? 1 : 2));
  g.setConstant(
    node.outputs[0],
    tensor(
      Int32Array.from(dims, (d) => d ?? 1),
      [dims.length],
      'int32',
    ),
    false,
    tensor(Int32Array.from(mask), [dims.length], 'int32'),
  );
  return true;
});

// Transpose: the same Candor tensor, held in another layout (no layer, no copy). One that moves the batch (the
// [seq, batch, features] PyTorch gives ONNX's LSTM) is fine for consumers that take that layout; others refuse.
registerOnnxImporter('Transpose', (g, node) => {
  const x = runtimeInput(g, node)!;
  const rank = x.sym.shape.length;
  if (x.order) return false;
  const t = list(node.attrs.perm) ?? [...Array(rank).keys()].reverse();
  if (t.length !== rank || [...t].sort((p, q) => p - q).some((v, i) => v !== i)) return false;
  const held = x.perm ?? [...Array(rank).keys()];
  g.onlyFirstOutput(node);
  g.setRuntime(
    node.outputs[0],
    x.sym,
    held.map((a) => t.indexOf(a)),
  );
  return true;
});

for (const op of ['Identity', 'Dropout'])
  registerOnnxImporter(op, (g, node) => {
    const x = runtimeInput(g, node)!;
    if (node.opType === 'Dropout' && node.inputs[2]) return false; // training_mode given: keep ONNX's semantics
    g.onlyFirstOutput(node);
    g.setRuntime(node.outputs[0], x.sym, x.perm, x.order);
    return true;
  });

/** The Dense layer of x @ kernel (+ bias) on the last axis of x (in ONNX layout). */
function dense(g: ImportGraph, node: ImportNode, kernel: Tensor, bias: Tensor | undefined, output: string): true {
  const units = kernel.shape[1];
  const layer = new Dense({ units, useBias: !!bias, name: g.layerName(node.name) });
  // Features held in another order (a Flatten of channels-last values): reorder the kernel's rows to match.
  const x = g.get(node.inputs[0], node.name);
  const order = x.kind === 'runtime' ? x.order : undefined;
  const weights: Record<string, Tensor> = { kernel: order ? gather(kernel, [...order], 0) : kernel };
  if (bias) weights.bias = reshapeOp(bias, [units]);
  const input = order && x.kind === 'runtime' ? x.sym : g.logical(node.inputs[0], node.name);
  const out = g.addLayer(layer, input, weights);
  g.setRuntime(output, out, null);
  return true;
}

registerOnnxImporter('Gemm', (g, node) => {
  const x = runtimeInput(g, node),
    b = g.constant(node, 1),
    c = g.input(node, 2);
  const a = node.attrs;
  if (!x || !b || b.t.rank !== 2 || g.shapeOf(x).length !== 2 || num(a.transA, 0) || num(a.alpha, 1) !== 1)
    return false;
  if (c && (c.kind !== 'const' || num(a.beta, 1) !== 1)) return false;
  const kernel = num(a.transB, 0) ? permute(b.t, [1, 0]) : b.t;
  const units = kernel.shape[1];
  if (c && c.kind === 'const' && !(c.t.size === units && c.t.shape.at(-1) === units)) return false;
  g.onlyFirstOutput(node);
  return dense(g, node, kernel, c?.kind === 'const' ? c.t : undefined, node.outputs[0]);
});

// MatMul by a constant matrix is a Dense; an Add of a bias vector that only it reads joins it (PyTorch's
// nn.Linear on 3-D inputs). The Add then finds its output made (g.fused) and is skipped.
registerOnnxImporter('MatMul', (g, node) => {
  const x = runtimeInput(g, node),
    w = g.constant(node, 1);
  if (!x || !w || w.t.rank !== 2 || g.shapeOf(x).length < 2) return false;
  g.onlyFirstOutput(node);
  const units = w.t.shape[1];
  const out = node.outputs[0];
  const add = g.onlyReader(out);
  const sum = add?.output?.[0];
  if (add?.opType === 'Add' && sum && add.input?.length === 2) {
    const other = add.input.find((i) => i !== out) ?? '';
    const bias = g.has(other) ? g.get(other, node.name) : undefined;
    if (bias?.kind === 'const' && bias.t.rank === 1 && bias.t.shape[0] === units) {
      g.fused.add(sum);
      return dense(g, node, w.t, bias.t, sum);
    }
  }
  return dense(g, node, w.t, undefined, out);
});

registerOnnxImporter('Conv', (g, node) => {
  const x = runtimeInput(g, node),
    w = g.constant(node, 1),
    b = node.inputs[2] ? g.constant(node, 2) : undefined;
  if (!x || !w || (node.inputs[2] && !b)) return false;
  const rank = g.shapeOf(x).length;
  const a = node.attrs;
  const autoPad = (a.auto_pad as string | undefined) ?? 'NOTSET';
  const group = num(a.group, 1);
  if ((rank !== 3 && rank !== 4) || w.t.rank !== rank || (autoPad !== 'NOTSET' && autoPad !== 'VALID')) return false;
  if (rank === 3 && group !== 1) return false; // Conv1D has no groups: OnnxOp computes it
  const spatial = rank - 2;
  const ones = new Array<number>(spatial).fill(1);
  const pads =
    autoPad === 'VALID' ? [...ones, ...ones].map(() => 0) : (list(a.pads) ?? [...ones, ...ones].map(() => 0));
  const strides = list(a.strides) ?? ones,
    dilationRate = list(a.dilations) ?? ones;
  paddedShape(g.shapeOf(x), pads, node.name, 'Conv');
  const filters = w.t.shape[0];
  const kernelSize = w.t.shape.slice(2);
  const common = { filters, kernelSize, strides, dilationRate, useBias: !!b, name: g.layerName(node.name) };
  // ONNX [out, in / group, ...k] -> Keras [...k, in / group, out].
  const kernel = permute(w.t, rank === 4 ? [2, 3, 1, 0] : [2, 1, 0]);
  const layer =
    rank === 4
      ? new Conv2D({
          ...common,
          groups: group,
          padding: [
            [pads[0], pads[2]],
            [pads[1], pads[3]],
          ],
        })
      : new Conv1D({ ...common, padding: [pads[0], pads[1]] });
  return layerOn(g, node, layer, channelsLast(rank), b ? { kernel, bias: b.t } : { kernel });
});

registerOnnxImporter('BatchNormalization', (g, node) => {
  const x = runtimeInput(g, node);
  const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => g.constant(node, i));
  if (!x || !scale || !bias || !mean || !variance || num(node.attrs.training_mode, 0)) return false;
  // Any layout works: the feature axis is wherever ONNX's axis 1 is held.
  const axis = (x.perm ?? [...Array(x.sym.shape.length).keys()]).indexOf(1);
  const layer = new BatchNormalization({
    axis,
    epsilon: num(node.attrs.epsilon, 1e-5),
    momentum: num(node.attrs.momentum, 0.9),
    name: g.layerName(node.name),
  });
  const weights = { gamma: scale.t, beta: bias.t, moving_mean: mean.t, moving_variance: variance.t };
  return layerOn(g, node, layer, x.perm, weights);
});

registerOnnxImporter('LayerNormalization', (g, node) => {
  const x = runtimeInput(g, node),
    scale = g.constant(node, 1),
    bias = node.inputs[2] ? g.constant(node, 2) : undefined;
  if (!x || !scale || (node.inputs[2] && !bias)) return false;
  const rank = g.shapeOf(x).length;
  const axis = num(node.attrs.axis, -1);
  const features = g.shapeOf(x)[rank - 1];
  if ((axis !== -1 && axis !== rank - 1) || features === null || scale.t.size !== features) return false;
  const layer = new LayerNormalization({
    axis: -1,
    epsilon: num(node.attrs.epsilon, 1e-5),
    center: !!bias,
    name: g.layerName(node.name),
  });
  const weights: Record<string, Tensor> = { gamma: reshapeOp(scale.t, [features]) };
  if (bias) weights.beta = reshapeOp(bias.t, [features]);
  return layerOn(g, node, layer, null, weights);
});

/** MaxPool / AveragePool without padding, dilation or ceil mode: Candor's 'valid' pooling, channels last. */
function pooling(kind: 'max' | 'avg') {
  return (g: ImportGraph, node: ImportNode): boolean => {
    const x = runtimeInput(g, node);
    if (!x) return false;
    const rank = g.shapeOf(x).length;
    const a = node.attrs;
    const k = list(a.kernel_shape) ?? [];
    const strides = list(a.strides) ?? k.map(() => 1);
    const plain =
      (list(a.pads) ?? []).every((p) => p === 0) &&
      (list(a.dilations) ?? []).every((d) => d === 1) &&
      !num(a.ceil_mode, 0) &&
      ((a.auto_pad as string | undefined) ?? 'NOTSET') === 'NOTSET';
    if (!plain || k.length !== rank - 2 || (rank !== 3 && rank !== 4)) return false;
    const name = g.layerName(node.name);
    const layer =
      rank === 4
        ? new (kind === 'max' ? MaxPooling2D : AveragePooling2D)({
            poolSize: [k[0], k[1]],
            strides: [strides[0], strides[1]],
            name,
          })
        : new (kind === 'max' ? MaxPooling1D : AveragePooling1D)({ poolSize: k[0], strides: strides[0], name });
    return layerOn(g, node, layer, channelsLast(rank));
  };
}
registerOnnxImporter('MaxPool', pooling('max'));
registerOnnxImporter('AveragePool', pooling('avg'));

registerOnnxImporter('GlobalAveragePool', (g, node) => {
  const x = runtimeInput(g, node);
  const rank = x ? g.shapeOf(x).length : 0;
  if (rank !== 3 && rank !== 4) return false;
  const args = { keepdims: true, name: g.layerName(node.name) };
  const layer = rank === 4 ? new GlobalAveragePooling2D(args) : new GlobalAveragePooling1D(args);
  return layerOn(g, node, layer, channelsLast(rank));
});

// Activations apply element by element: in whatever layout the input is held.
const ACTIVATIONS: Record<string, (node: ImportNode, name: string) => Layer | undefined> = {
  Relu: (_n, name) => new Activation({ activation: 'relu', name }),
  Sigmoid: (_n, name) => new Activation({ activation: 'sigmoid', name }),
  Tanh: (_n, name) => new Activation({ activation: 'tanh', name }),
  LeakyRelu: (n, name) => new LeakyReLU({ negativeSlope: num(n.attrs.alpha, 0.01), name }),
  Elu: (n, name) => new ELU({ alpha: num(n.attrs.alpha, 1), name }),
};
for (const [op, make] of Object.entries(ACTIVATIONS))
  registerOnnxImporter(op, (g, node) => {
    const x = runtimeInput(g, node)!;
    return layerOn(g, node, make(node, g.layerName(node.name))!, x.perm);
  });

/** Whether a value is a constant scalar within 1e-6 of `expected` (possibly made by a later Constant node). */
function isScalar(g: ImportGraph, name: string | undefined, expected: number): boolean {
  const t = name ? g.peekConstant(name) : undefined;
  return !!t && t.size === 1 && Math.abs(Number(t.dataSync()[0]) - expected) <= 1e-6 * Math.abs(expected);
}

/** The other input of a two-input node than `name`. */
const otherInput = (n: { input?: string[] }, name: string) =>
  n.input?.length === 2 ? (n.input[0] === name ? n.input[1] : n.input[0]) : undefined;

// PyTorch's exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)) as Div, Erf, Add, Mul, Mul: Candor's gelu activation.
// Each intermediate value must have no other reader; the later nodes are skipped (g.fused).
registerOnnxImporter('Div', (g, node) => {
  const x = runtimeInput(g, node);
  if (!x || !isScalar(g, node.inputs[1], Math.SQRT2)) return false;
  const erf = g.onlyReader(node.outputs[0]);
  const add = erf?.opType === 'Erf' ? g.onlyReader(erf.output?.[0] ?? '') : undefined;
  if (add?.opType !== 'Add' || !isScalar(g, otherInput(add, erf!.output![0]), 1)) return false;
  const mul = g.onlyReader(add.output?.[0] ?? '');
  if (mul?.opType !== 'Mul' || otherInput(mul, add.output![0]) !== node.inputs[0]) return false;
  const half = g.onlyReader(mul.output?.[0] ?? '');
  if (half?.opType !== 'Mul' || !isScalar(g, otherInput(half, mul.output![0]), 0.5)) return false;
  for (const n of [erf!, add, mul, half]) g.fused.add(n.output?.[0] ?? '');
  const layer = new Activation({ activation: 'gelu', name: g.layerName(`${node.name}_gelu`) });
  g.setRuntime(half.output?.[0] ?? '', g.addLayer(layer, x.sym, {}), x.perm);
  return true;
});

// Softmax over one axis: Candor's Softmax layer on that axis where the input is held.
registerOnnxImporter('Softmax', (g, node) => {
  const x = runtimeInput(g, node)!;
  const rank = x.sym.shape.length;
  const axis = num(node.attrs.axis, -1) < 0 ? num(node.attrs.axis, -1) + rank : num(node.attrs.axis, -1);
  const held = (x.perm ?? [...Array(rank).keys()]).indexOf(axis);
  if (axis <= 0 || held < 0) return false;
  return layerOn(g, node, new Softmax({ axis: held, name: g.layerName(node.name) }), x.perm);
});

// Flatten from axis 1 is Keras' Flatten, on the ONNX layout (so the features come in PyTorch's order).
registerOnnxImporter('Flatten', (g, node) => {
  const x = runtimeInput(g, node)!;
  const shape = g.shapeOf(x);
  const axis = num(node.attrs.axis, 1);
  if ((axis < 0 ? axis + shape.length : axis) !== 1) return false;
  // Held channels last with every spatial size 1 (after a global pooling), the order is already ONNX's.
  const perm = x.perm && shape.slice(2).every((d) => d === 1) ? x.perm : null;
  if (shape.length === 2 && !x.perm) {
    g.setRuntime(node.outputs[0], x.sym, null, x.order);
    return true;
  }
  // Held transposed and read only by a Gemm / MatMul (a CNN's classifier): flatten as held, and let the Dense
  // take the features in that order (its kernel rows reordered) instead of transposing the activations.
  const reader = g.onlyReader(node.outputs[0]);
  if (
    x.perm &&
    !perm &&
    g.uses.get(node.outputs[0]) === 1 &&
    (reader?.opType === 'Gemm' || reader?.opType === 'MatMul')
  )
    if (shape.every((d, i) => i === 0 || d !== null)) {
      const out = g.addLayer(new Flatten({ name: g.layerName(node.name) }), x.sym, {});
      g.onlyFirstOutput(node);
      g.setRuntime(node.outputs[0], out, null, heldOrder(x.sym.shape.slice(1) as number[], x.perm));
      return true;
    }
  return layerOn(g, node, new Flatten({ name: g.layerName(node.name) }), perm, {}, null);
});

/**
 * ONNX's flat feature index of each flat index of a value held as transpose(onnx, perm) with per-sample shape
 * `held`: the order a Flatten of the held value gives (row-major over the held axes).
 */
function heldOrder(held: readonly number[], perm: readonly number[]): number[] {
  const rank = held.length + 1;
  const logical = inversePermOf(perm)
    .slice(1)
    .map((a) => held[a - 1]);
  const size = held.reduce((p, d) => p * d, 1);
  const order = new Array<number>(size);
  const index = new Array<number>(rank).fill(0);
  for (let j = 0; j < size; j++) {
    // index: held multi-index of j (axes 1 ..); ONNX axis perm[k] has index[k].
    let flat = 0;
    for (let a = 1; a < rank; a++) flat = flat * logical[a - 1] + index[perm.indexOf(a)];
    order[j] = flat;
    for (let k = rank - 1; k >= 1 && ++index[k] === held[k - 1]; k--) index[k] = 0;
  }
  return order;
}

// Reshape keeping the batch first: Keras' Reshape of the other dimensions.
registerOnnxImporter('Reshape', (g, node) => {
  const x = runtimeInput(g, node),
    target = g.constant(node, 1);
  if (!x || !target || target.t.rank !== 1) return false;
  const shape = g.shapeOf(x);
  const dims = Array.from(target.t.dataSync(), Number);
  const mask = target.mask ? Array.from(target.mask.dataSync(), Number) : dims.map(() => 0);
  const allowZero = num(node.attrs.allowzero, 0) !== 0;
  const rest = dims.slice(1).map((d, i) => {
    if (mask[i + 1] !== 0) return NaN;
    if (d === 0 && !allowZero) return shape[i + 1] ?? NaN;
    return d;
  });
  const known = shape.slice(1);
  const perSample = known.every((d) => d !== null) ? (known as number[]).reduce((p, d) => p * d, 1) : null;
  const batchFirst =
    mask[0] === 1 ||
    // The fixed batch an export without dynamic axes declares, folded into the target by PyTorch.
    (mask[0] === 0 &&
      dims[0] === g.declaredBatch &&
      (rest.includes(-1) ? perSample !== null : rest.reduce((p, d) => p * d, 1) === perSample)) ||
    (dims[0] === 0 && !allowZero) ||
    (dims[0] === -1 && !rest.includes(-1) && perSample !== null && rest.reduce((p, d) => p * d, 1) === perSample);
  if (dims.length < 2 || !batchFirst || rest.some((d) => Number.isNaN(d) || d === 0 || d < -1))
    throw new InteropError(
      `ONNX import: node '${node.name}' (Reshape) to [${dims.join(', ')}] does not keep the batch first; ` +
        'Candor reshapes each sample (export with the batch as the first dimension)',
    );
  return layerOn(g, node, new Reshape({ targetShape: rest, name: g.layerName(node.name) }), null);
});
