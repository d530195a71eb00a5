// ONNX import: the operators as Candor ops, with ONNX's semantics and layouts (NCHW convolutions, numpy
// broadcasting, shapes and axes given as int tensors). One table serves both the import-time folding of
// constants (Shape / Gather / Concat feeding Reshape) and the OnnxOp layer, so both compute the same thing;
// every op here is built from differentiable Candor ops, so imported models train.
import { Tensor } from '../../tensor/tensor.js';
import { tensor, full } from '../../ops/creation.js';
import * as E from '../../ops/elementwise.js';
import { mean, sum, max as reduceMax, min as reduceMin } from '../../ops/reduce.js';
import { expand, permute, reshape, slice, squeeze, flip } from '../../ops/views.js';
import { concat, gather, pad } from '../../ops/indexing.js';
import { matmul } from '../../ops/linalg.js';
import { softmax, logSoftmax } from '../../ops/families/softmax.js';
import { conv2d } from '../../ops/families/conv.js';
import type { Padding2D } from '../../ops/families/conv-padding.js';
import { avgPool2d, maxPool2d } from '../../ops/families/pool.js';
import { InteropError } from '../errors.js';
import type { OnnxAttributes } from './import-tensor.js';

/** One operator: its inputs (undefined for an omitted optional input) and attributes, to its outputs. */
export type OnnxOpImpl = (inputs: readonly (Tensor | undefined)[], attrs: OnnxAttributes, node: string) => Tensor[];

/** The error of an input or attribute value that an operator cannot take. */
export function opError(node: string, opType: string, detail: string): InteropError {
  return new InteropError(`ONNX import: node '${node}' (${opType}): ${detail}`);
}

/**
 * The most elements a value made from attributes or constants may have (Expand, ConstantOfShape, Pad, padded
 * windows): a hostile file cannot make the import (which runs each node once on a batch of 1) allocate gigabytes.
 */
export const MAX_COMPUTED_ELEMENTS = 2 ** 25;

/** `shape`, if its size is within MAX_COMPUTED_ELEMENTS and its dims are non-negative integers. */
export function capped(shape: readonly number[], node: string, opType: string): number[] {
  let size = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw opError(node, opType, `dimension ${d} in [${shape.join(', ')}]`);
    size *= d;
  }
  if (size > MAX_COMPUTED_ELEMENTS)
    throw opError(node, opType, `a value of shape [${shape.join(', ')}] is over ${MAX_COMPUTED_ELEMENTS} elements`);
  return [...shape];
}

/** The shape of x padded by ONNX-style pads over its spatial axes (2 ..), capped. */
export function paddedShape(shape: readonly (number | null)[], pads: readonly number[], node: string, op: string) {
  const spatial = shape.length - 2;
  return capped(
    shape.map((d, i) => (d ?? 1) + (i < 2 ? 0 : (pads[i - 2] ?? 0) + (pads[i - 2 + spatial] ?? 0))),
    node,
    op,
  );
}

const int = (a: OnnxAttributes, name: string, dflt: number) =>
  typeof a[name] === 'number' ? (a[name] as number) : dflt;
const float = int;
/** A list-of-numbers attribute (a list of strings where numbers belong reads as absent). */
export const numbers = (v: unknown): number[] | undefined =>
  Array.isArray(v) && v.every((e) => typeof e === 'number') ? (v as number[]) : undefined;
const ints = (a: OnnxAttributes, name: string): number[] | undefined => numbers(a[name]);
/** An int tensor input (shape, axes, pads) as numbers. */
const values = (t: Tensor | undefined): number[] | undefined => (t ? Array.from(t.dataSync(), Number) : undefined);
/** A non-negative axis from ONNX's (negative counts from the end); out of range is an InteropError. */
function axisOf(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new InteropError(`ONNX import: axis ${axis} is out of range for a value of rank ${rank}`);
  return a;
}

/** The spatial axes (2 ..) of an N, C, ... value: the axes the global poolings reduce. */
function spatialAxes(x: Tensor): number[] {
  if (x.rank < 3) throw new InteropError(`ONNX import: global pooling needs a value of rank >= 3, got ${x.rank}`);
  return Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
}

function need(inputs: readonly (Tensor | undefined)[], i: number, node: string, op: string): Tensor {
  const t = inputs[i];
  if (!t) throw opError(node, op, `input ${i} is required`);
  return t;
}

const unary =
  (f: (x: Tensor, a: OnnxAttributes) => Tensor): OnnxOpImpl =>
  (ins, a, node) => [f(need(ins, 0, node, 'unary'), a)];
const binary =
  (f: (x: Tensor, y: Tensor) => Tensor): OnnxOpImpl =>
  (ins, _a, node) => [f(need(ins, 0, node, 'binary'), need(ins, 1, node, 'binary'))];

/** ONNX Reshape's target: 0 copies the input's dimension (unless allowzero), one -1 is inferred. */
export function reshapeTarget(input: readonly number[], target: readonly number[], allowZero: boolean): number[] {
  return target.map((d, i) => (d === 0 && !allowZero ? input[i] : d));
}

/** Pads [x1_begin, x2_begin, ..., x1_end, x2_end, ...] as [before, after] pairs. */
const padPairs = (pads: readonly number[], rank: number) =>
  Array.from({ length: rank }, (_, i) => [pads[i] ?? 0, pads[i + rank] ?? 0]);

/** NCHW / NCL <-> channels-last for the window ops. */
const toLast = (x: Tensor) => permute(x, [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1]);
const toFirst = (x: Tensor) => permute(x, [0, x.rank - 1, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 1)]);

/** The window attributes of Conv / pooling on `spatial` axes; refuses auto_pad other than NOTSET / VALID. */
function windowAttrs(a: OnnxAttributes, spatial: number, node: string, op: string) {
  const autoPad = (a.auto_pad as string | undefined) ?? 'NOTSET';
  if (autoPad !== 'NOTSET' && autoPad !== 'VALID')
    throw opError(node, op, `auto_pad ${autoPad} is not supported (export with explicit pads)`);
  const ones = new Array<number>(spatial).fill(1);
  return {
    strides: ints(a, 'strides') ?? ones,
    dilations: ints(a, 'dilations') ?? ones,
    pads: autoPad === 'VALID' ? new Array<number>(2 * spatial).fill(0) : (ints(a, 'pads') ?? ones.map(() => 0)),
  };
}

/** Conv on NC... inputs with an [out, in / group, ...k] weight (ONNX), through Candor's channels-last ops. */
const conv: OnnxOpImpl = (ins, a, node) => {
  const x = need(ins, 0, node, 'Conv'),
    w = need(ins, 1, node, 'Conv'),
    b = ins[2];
  const spatial = x.rank - 2;
  if (spatial !== 1 && spatial !== 2) throw opError(node, 'Conv', `only 1-D and 2-D convolutions, got rank ${x.rank}`);
  const { strides, dilations, pads } = windowAttrs(a, spatial, node, 'Conv');
  const group = int(a, 'group', 1);
  paddedShape(x.shape, pads, node, 'Conv');
  let y: Tensor;
  if (spatial === 2) {
    const padding: Padding2D = [
      [pads[0], pads[2]],
      [pads[1], pads[3]],
    ];
    const filter = permute(w, [2, 3, 1, 0]);
    y = conv2d(toLast(x), filter, {
      strides: [strides[0], strides[1]],
      dilations: [dilations[0], dilations[1]],
      padding,
      groups: group,
    });
  } else {
    // 1-D as 2-D over a height of 1, so that groups work too.
    const filter = permute(reshape(w, [w.shape[0], w.shape[1], 1, w.shape[2]]), [2, 3, 1, 0]);
    const x4 = reshape(toLast(x), [x.shape[0], 1, x.shape[2], x.shape[1]]);
    const padding: Padding2D = [
      [0, 0],
      [pads[0], pads[1]],
    ];
    y = conv2d(x4, filter, { strides: [1, strides[0]], dilations: [1, dilations[0]], padding, groups: group });
    y = reshape(y, [y.shape[0], y.shape[2], y.shape[3]]);
  }
  if (b) y = E.add(y, b);
  return [toFirst(y)];
};

/** MaxPool / AveragePool on NC... inputs (explicit pads: -inf for max, counted or not for average). */
function pool(kind: 'max' | 'avg'): OnnxOpImpl {
  const op = kind === 'max' ? 'MaxPool' : 'AveragePool';
  return (ins, a, node) => {
    const x = need(ins, 0, node, op);
    const spatial = x.rank - 2;
    if (spatial !== 1 && spatial !== 2) throw opError(node, op, `only 1-D and 2-D pooling, got rank ${x.rank}`);
    const { strides, dilations, pads } = windowAttrs(a, spatial, node, op);
    if (int(a, 'ceil_mode', 0) !== 0) throw opError(node, op, 'ceil_mode 1 is not supported');
    if (dilations.some((d) => d !== 1)) throw opError(node, op, 'dilated pooling is not supported');
    paddedShape(x.shape, pads, node, op);
    const k = ints(a, 'kernel_shape') ?? [];
    if (k.length !== spatial) throw opError(node, op, `kernel_shape must have ${spatial} values`);
    let xl = toLast(x);
    if (spatial === 1) xl = reshape(xl, [xl.shape[0], 1, xl.shape[1], xl.shape[2]]);
    const k2 = (spatial === 1 ? [1, k[0]] : k) as [number, number];
    const s2 = (spatial === 1 ? [1, strides[0]] : strides) as [number, number];
    const p2 =
      spatial === 1
        ? [
            [0, 0],
            [pads[0], pads[1]],
          ]
        : padPairs(pads, 2);
    const padded = p2.some(([lo, hi]) => lo || hi);
    const withPad = (v: Tensor, value: number) => pad(v, [[0, 0], ...p2, [0, 0]], value);
    let y: Tensor;
    if (kind === 'max') y = maxPool2d(padded ? withPad(xl, -Infinity) : xl, k2, { strides: s2 });
    else {
      y = avgPool2d(padded ? withPad(xl, 0) : xl, k2, { strides: s2 });
      // Not counting the padding: divide by each window's share of real elements.
      if (padded && int(a, 'count_include_pad', 0) === 0) {
        const ones = full([1, ...xl.shape.slice(1, 3), 1], 1, x.dtype);
        y = E.div(y, avgPool2d(withPad(ones, 0), k2, { strides: s2 }));
      }
    }
    if (spatial === 1) y = reshape(y, [y.shape[0], y.shape[2], y.shape[3]]);
    return [toFirst(y)];
  };
}

/** Slice (opset 10+): starts, ends, axes, steps as inputs; negative steps flip. */
const sliceOp: OnnxOpImpl = (ins, _a, node) => {
  const x = need(ins, 0, node, 'Slice');
  // Inputs from opset 10, attributes before.
  const starts = values(ins[1]) ?? ints(_a, 'starts') ?? [],
    ends = values(ins[2]) ?? ints(_a, 'ends') ?? [];
  const axes = values(ins[3]) ?? ints(_a, 'axes') ?? starts.map((_, i) => i),
    steps = values(ins[4]) ?? starts.map(() => 1);
  const begin = x.shape.map(() => 0),
    size = [...x.shape],
    step = x.shape.map(() => 1);
  let y = x;
  const flips: number[] = [];
  axes.forEach((axis0, i) => {
    const axis = axisOf(axis0, x.rank),
      dim = x.shape[axis];
    if (axis < 0 || axis >= x.rank) throw opError(node, 'Slice', `axis ${axis0} is out of range for rank ${x.rank}`);
    const st = steps[i];
    if (!st) throw opError(node, 'Slice', 'a step of 0');
    const norm = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + dim : v, lo), hi);
    if (st > 0) {
      const s = norm(starts[i], 0, dim),
        e = norm(ends[i], 0, dim);
      begin[axis] = s;
      size[axis] = Math.max(0, Math.ceil((e - s) / st));
      step[axis] = st;
    } else {
      // Backwards from start (inclusive) to end (exclusive): flip, then slice forwards.
      const s = norm(starts[i], -1, dim - 1),
        e = norm(ends[i], -1, dim - 1);
      flips.push(axis);
      begin[axis] = dim - 1 - s;
      size[axis] = Math.max(0, Math.ceil((s - e) / -st));
      step[axis] = -st;
    }
  });
  if (flips.length) y = flip(y, flips);
  return [slice(y, begin, size, step)];
};

/** Gemm: alpha * A' B' + beta * C. */
const gemm: OnnxOpImpl = (ins, a, node) => {
  let x = need(ins, 0, node, 'Gemm'),
    w = need(ins, 1, node, 'Gemm');
  if (int(a, 'transA', 0)) x = permute(x, [1, 0]);
  if (int(a, 'transB', 0)) w = permute(w, [1, 0]);
  let y = matmul(x, w);
  const alpha = float(a, 'alpha', 1),
    beta = float(a, 'beta', 1);
  if (alpha !== 1) y = E.mul(y, alpha);
  if (ins[2]) y = E.add(y, beta === 1 ? ins[2] : E.mul(ins[2], beta));
  return [y];
};

/** The reduce ops (axes as an attribute up to opset 17, as an input for ReduceSum from 13). */
function reduce(f: (x: Tensor, axes: number[] | undefined, keep: boolean) => Tensor): OnnxOpImpl {
  return (ins, a, node) => {
    const x = need(ins, 0, node, 'Reduce');
    const axes = ints(a, 'axes') ?? values(ins[1]);
    const empty = !axes || axes.length === 0;
    if (empty && int(a, 'noop_with_empty_axes', 0)) return [x];
    return [f(x, empty ? undefined : axes.map((v) => axisOf(v, x.rank)), int(a, 'keepdims', 1) !== 0)];
  };
}

/** Where axis = 1 in opset 13+ softmax is one axis; older opsets flatten from `axis` on (not supported). */
const softmaxLike =
  (f: (x: Tensor, axis: number) => Tensor): OnnxOpImpl =>
  (ins, a, node) => {
    const x = need(ins, 0, node, 'Softmax');
    return [f(x, axisOf(int(a, 'axis', -1), x.rank))];
  };

const CAST: Record<number, 'float32' | 'int32' | 'bool'> = {
  1: 'float32',
  11: 'float32',
  6: 'int32',
  7: 'int32',
  9: 'bool',
};

/**
 * ONNX's integer Div truncates towards zero (-7 / 2 = -3), where Candor's int32 div floors (-4). In float64,
 * exact for every int32 quotient: sign(q) * floor(|q|).
 */
function truncatedDiv(x: Tensor, y: Tensor): Tensor {
  const q = E.div(E.cast(x, 'float64'), E.cast(y, 'float64'));
  return E.cast(E.mul(E.sign(q), E.floor(E.abs(q))), 'int32');
}

export const ONNX_OPS: Readonly<Record<string, OnnxOpImpl>> = {
  Identity: (ins) => [ins[0]!],
  Dropout: (ins) => [ins[0]!],
  Add: binary(E.add),
  Sub: binary(E.sub),
  Mul: binary(E.mul),
  Div: binary((x, y) => (x.dtype === 'int32' && y.dtype === 'int32' ? truncatedDiv(x, y) : E.div(x, y))),
  Pow: binary(E.pow),
  Max: (ins) => [ins.reduce((m, t) => E.maximum(m!, t!))!],
  Min: (ins) => [ins.reduce((m, t) => E.minimum(m!, t!))!],
  Equal: binary(E.equal),
  Less: binary(E.less),
  Greater: binary(E.greater),
  Not: unary(E.logicalNot),
  Where: (ins, _a, node) => [E.where(need(ins, 0, node, 'Where'), ins[1]!, ins[2]!)],
  Sqrt: unary(E.sqrt),
  Exp: unary(E.exp),
  Log: unary(E.log),
  Neg: unary(E.neg),
  Abs: unary(E.abs),
  Reciprocal: unary(E.reciprocal),
  Floor: unary(E.floor),
  Ceil: unary(E.ceil),
  Erf: unary(E.erf),
  Sin: unary(E.sin),
  Cos: unary(E.cos),
  Relu: unary(E.relu),
  Sigmoid: unary(E.sigmoid),
  Tanh: unary(E.tanh),
  Softplus: unary((x) => E.softplus(x)),
  LeakyRelu: unary((x, a) => E.leakyRelu(x, float(a, 'alpha', 0.01))),
  Elu: unary((x, a) => E.elu(x, float(a, 'alpha', 1))),
  Selu: unary((x, a) => {
    const alpha = float(a, 'alpha', 1.67326319217681884765625),
      gamma = float(a, 'gamma', 1.05070102214813232421875);
    return E.mul(E.where(E.greater(x, 0), x, E.mul(E.expm1(x), alpha)), gamma);
  }),
  HardSwish: unary((x) => E.mul(x, E.clip(E.add(E.div(x, 6), 0.5), 0, 1))),
  Softsign: unary((x) => E.div(x, E.add(E.abs(x), 1))),
  HardSigmoid: unary((x, a) => E.clip(E.add(E.mul(x, float(a, 'alpha', 0.2)), float(a, 'beta', 0.5)), 0, 1)),
  Gelu: unary((x, a) => E.gelu(x, a.approximate === 'tanh')),
  Softmax: softmaxLike(softmax),
  LogSoftmax: softmaxLike(logSoftmax),
  Clip: (ins, a, node) => {
    const x = need(ins, 0, node, 'Clip');
    const lo = values(ins[1])?.[0] ?? float(a, 'min', -Infinity),
      hi = values(ins[2])?.[0] ?? float(a, 'max', Infinity);
    return [E.clip(x, lo, hi)];
  },
  Cast: (ins, a, node) => {
    const to = CAST[int(a, 'to', 0)];
    if (!to) throw opError(node, 'Cast', `cast to ONNX type ${String(a.to)} is not supported`);
    return [E.cast(need(ins, 0, node, 'Cast'), to)];
  },
  MatMul: binary(matmul),
  Gemm: gemm,
  Conv: conv,
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: unary((x) => mean(x, spatialAxes(x), true)),
  GlobalMaxPool: unary((x) => reduceMax(x, spatialAxes(x), true)),
  BatchNormalization: (ins, a, node) => {
    const [x, scale, bias, m, v] = [0, 1, 2, 3, 4].map((i) => need(ins, i, node, 'BatchNormalization'));
    if (int(a, 'training_mode', 0)) throw opError(node, 'BatchNormalization', 'training_mode 1 is not supported');
    const shape = [x.shape[1], ...new Array<number>(x.rank - 2).fill(1)];
    const inv = E.div(scale, E.sqrt(E.add(v, float(a, 'epsilon', 1e-5))));
    return [E.add(E.mul(E.sub(x, reshape(m, shape)), reshape(inv, shape)), reshape(bias, shape))];
  },
  LayerNormalization: (ins, a, node) => {
    const x = need(ins, 0, node, 'LayerNormalization');
    const axis = axisOf(int(a, 'axis', -1), x.rank);
    const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
    const centred = E.sub(x, mean(x, axes, true));
    const variance = mean(E.mul(centred, centred), axes, true);
    let y = E.mul(centred, E.rsqrt(E.add(variance, float(a, 'epsilon', 1e-5))));
    y = E.mul(y, need(ins, 1, node, 'LayerNormalization'));
    return [ins[2] ? E.add(y, ins[2]) : y];
  },
  ReduceMean: reduce(mean),
  ReduceSum: reduce(sum),
  ReduceMax: reduce(reduceMax),
  ReduceMin: reduce(reduceMin),
  Flatten: unary((x, a) => {
    const axis = axisOf(int(a, 'axis', 1), x.rank);
    const lead = x.shape.slice(0, axis).reduce((p, d) => p * d, 1);
    return reshape(x, [lead, -1]);
  }),
  Reshape: (ins, a, node) => {
    const x = need(ins, 0, node, 'Reshape');
    return [reshape(x, reshapeTarget(x.shape, values(ins[1]) ?? [], int(a, 'allowzero', 0) !== 0))];
  },
  Transpose: unary((x, a) => permute(x, ints(a, 'perm') ?? x.shape.map((_, i) => x.rank - 1 - i))),
  Concat: (ins, a) => {
    const list = ins.filter((t): t is Tensor => !!t);
    return [concat(list, axisOf(int(a, 'axis', 0), list[0].rank))];
  },
  Unsqueeze: (ins, a, node) => {
    const x = need(ins, 0, node, 'Unsqueeze');
    const axes = (ints(a, 'axes') ?? values(ins[1]) ?? []).map((v) =>
      axisOf(v, x.rank + (ints(a, 'axes') ?? values(ins[1]) ?? []).length),
    );
    const shape = [...x.shape];
    for (const ax of [...axes].sort((p, q) => p - q)) shape.splice(ax, 0, 1);
    return [reshape(x, shape)];
  },
  Squeeze: (ins, a, node) => {
    const x = need(ins, 0, node, 'Squeeze');
    const axes = ints(a, 'axes') ?? values(ins[1]);
    return [
      squeeze(
        x,
        axes?.map((v) => axisOf(v, x.rank)),
      ),
    ];
  },
  Gather: (ins, a, node) => {
    const x = need(ins, 0, node, 'Gather'),
      idx = need(ins, 1, node, 'Gather');
    const axis = axisOf(int(a, 'axis', 0), x.rank);
    const dim = x.shape[axis];
    const positive = Int32Array.from(idx.dataSync(), (v) => (Number(v) < 0 ? Number(v) + dim : Number(v)));
    if (positive.some((v) => v < 0 || v >= dim)) throw opError(node, 'Gather', `an index is out of range for ${dim}`);
    return [gather(x, tensor(positive, idx.shape, 'int32'), axis)];
  },
  Slice: sliceOp,
  Shape: unary((x) => tensor(Int32Array.from(x.shape), [x.rank], 'int32')),
  Size: unary((x) => tensor(Int32Array.of(x.size), [], 'int32')),
  Expand: (ins, _a, node) => {
    const x = need(ins, 0, node, 'Expand');
    const shape = values(ins[1]) ?? [];
    // Numpy broadcasting of both ways: a 1 in `shape` keeps x's dimension.
    const rank = Math.max(shape.length, x.rank);
    const xs = [...new Array<number>(rank - x.rank).fill(1), ...x.shape];
    const ts = [...new Array<number>(rank - shape.length).fill(1), ...shape];
    return [
      expand(
        reshape(x, xs),
        capped(
          xs.map((d, i) => (ts[i] === 1 ? d : ts[i])),
          node,
          'Expand',
        ),
      ),
    ];
  },
  ConstantOfShape: (ins, a, node) => {
    const v = a.value instanceof Tensor ? a.value : undefined;
    const shape = capped(values(ins[0]) ?? [], node, 'ConstantOfShape');
    return [full(shape, v ? Number(v.dataSync()[0]) : 0, v?.dtype ?? 'float32')];
  },
  Pad: (ins, a, node) => {
    const x = need(ins, 0, node, 'Pad');
    const mode = (a.mode as string | undefined) ?? 'constant';
    if (mode !== 'constant') throw opError(node, 'Pad', `mode '${mode}' is not supported (constant only)`);
    const pads = values(ins[1]) ?? ints(a, 'pads') ?? [];
    if (pads.some((p) => p < 0)) throw opError(node, 'Pad', 'negative pads (cropping) are not supported');
    const value = values(ins[2])?.[0] ?? float(a, 'value', 0);
    capped(
      x.shape.map((d, i) => d + (pads[i] ?? 0) + (pads[i + x.rank] ?? 0)),
      node,
      'Pad',
    );
    return [pad(x, padPairs(pads, x.rank), value)];
  },
};

/**
 * How many inputs each operator of ONNX_OPS takes: [least, most] (optional inputs may be given as ''; the first
 * `least` must be named). A node outside these counts is a malformed file (FormatError), refused before any op
 * reads an input that is not there.
 */
export const ONNX_ARITY: Readonly<Record<string, readonly [number, number]>> = (() => {
  const arity: Record<string, readonly [number, number]> = {};
  const set = (ops: string, least: number, most: number) => {
    for (const op of ops.split(' ')) arity[op] = [least, most];
  };
  set(
    'Identity Not Sqrt Exp Log Neg Abs Reciprocal Floor Ceil Erf Sin Cos Relu Sigmoid Tanh Softplus LeakyRelu Elu ' +
      'Selu HardSwish Softsign HardSigmoid Gelu Softmax LogSoftmax Cast MaxPool AveragePool GlobalAveragePool ' +
      'GlobalMaxPool Flatten Transpose Shape Size ConstantOfShape',
    1,
    1,
  );
  set('Add Sub Mul Div Pow Equal Less Greater MatMul Reshape Gather Expand', 2, 2);
  set('Max Min Concat', 1, Infinity);
  set('Dropout Clip', 1, 3);
  set('Gemm Conv', 2, 3);
  set('Where', 3, 3);
  set('BatchNormalization', 5, 5);
  set('LayerNormalization', 2, 3);
  set('ReduceMean ReduceSum ReduceMax ReduceMin Unsqueeze Squeeze', 1, 2);
  // Slice: starts / ends as attributes before opset 10, inputs 1 - 4 from then on; Pad: pads an attribute before 11.
  set('Slice', 1, 5);
  set('Pad', 1, 3);
  return arity;
})();
