// The primitive set every backend implements, each with its shape/dtype rule and cost model.
// Everything else in ops/ is composed from these; fused ops (fused.ts) are optional per backend.
import type { DType } from '../tensor/dtype.js';
import { bytesPerElement } from '../tensor/dtype.js';
import { DTypeError, ShapeError, fmtShape } from '../errors.js';
import { broadcastShapes, sizeOf, type Shape } from '../tensor/shape.js';
import { requireFloat } from './checks.js';

export const UNARY_FLOAT_OPS = [
  'neg',
  'abs',
  'sign',
  'exp',
  'expm1',
  'log',
  'log1p',
  'sqrt',
  'rsqrt',
  'reciprocal',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'relu',
  'erf',
  'atan',
  'floor',
  'ceil',
  'round',
] as const;
export const BINARY_OPS = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
export const COMPARE_OPS = ['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'] as const;
export const LOGICAL_OPS = ['logicalAnd', 'logicalOr'] as const;
export const REDUCE_OPS = ['sum', 'prod', 'max', 'min'] as const;
export const ARG_REDUCE_OPS = ['argmax', 'argmin'] as const;

export type UnaryOp = (typeof UNARY_FLOAT_OPS)[number] | 'logicalNot';
export type BinaryOp = (typeof BINARY_OPS)[number];
export type CompareOp = (typeof COMPARE_OPS)[number] | (typeof LOGICAL_OPS)[number];
export type ReduceOp = (typeof REDUCE_OPS)[number];
export type ArgReduceOp = (typeof ARG_REDUCE_OPS)[number];

/** [before, after, interior] padding of one axis; interior inserts that many values between elements. */
export type PadConfig = readonly [number, number, number];

type NoParams = Record<string, never>;

/** Parameters of each primitive. The keys of this interface are the primitive set. */
export interface PrimitiveParams
  extends
    Record<UnaryOp | BinaryOp | CompareOp, NoParams>,
    Record<ReduceOp, { axes: readonly number[] }>,
    Record<ArgReduceOp, { axis: number }> {
  where: NoParams;
  /** a: [B, M, K] (or [B, K, M] if transA), b: [B, K, N] (or [B, N, K] if transB) -> [B, M, N]. */
  matmul: { transA: boolean; transB: boolean };
  /** x[..., idx, ...] along axis; output shape = x[:axis] + indices.shape + x[axis+1:]. */
  gather: { axis: number };
  /** out = x, then out[..., idx[i], ...] += updates[..., i, ...] along axis. */
  scatterAdd: { axis: number };
  concat: { axis: number };
  pad: { config: readonly PadConfig[]; value: number };
  /** Strided view -> contiguous buffer; the only kernel whose input may be non-contiguous. */
  copy: NoParams;
  cast: { dtype: DType };
  /**
   * No inputs -> int32 [count, 4]: the Philox4x32-10 blocks (uint32 words, read as int32) of counters
   * counter .. counter + count - 1, each split [low 32 bits, high 32 bits, attempt, 0], under the key
   * [key0, key1]. Every random draw is made of these (src/ops/random.ts).
   */
  philox: { key0: number; key1: number; counter: number; attempt: number; count: number };
  /**
   * int32 indices that sort x along axis: a stable sort, ascending (or descending), NaN counted as the
   * largest value (as NumPy and PyTorch); output shape = x.shape.
   */
  argsort: { axis: number; descending: boolean };
}

export type PrimitiveName = keyof PrimitiveParams;

export interface ShapeDType {
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface PrimitiveSpec<P extends PrimitiveName> {
  /** The op family the ledger's meter groups it under ('elementwise', 'matmul', 'reduce', ...). */
  readonly family: string;
  /** Inputs are broadcast to the output shape before the kernel sees them. */
  readonly broadcast: boolean;
  /** Output shape and dtype; throws a typed error naming the op when inputs do not fit. */
  infer(inputs: readonly ShapeDType[], params: PrimitiveParams[P]): ShapeDType;
  /** Floating-point operations of one call (a fused multiply-add counts as 2). */
  flops(inputs: readonly ShapeDType[], out: ShapeDType, params: PrimitiveParams[P]): number;
  /**
   * Bytes read and written, when not simply all inputs plus the output (gather reads only the rows it
   * picks, not the whole table).
   */
  bytes?(inputs: readonly ShapeDType[], out: ShapeDType): number;
}

function requireSameDType(op: string, inputs: readonly ShapeDType[]): DType {
  const d = inputs[0].dtype;
  for (const x of inputs) {
    if (x.dtype !== d)
      throw new DTypeError(
        `${op}: operands must share a dtype, got ${inputs.map((t) => `${t.dtype} ${fmtShape(t.shape)}`).join(' and ')}`,
      );
  }
  return d;
}

/** int8 holds quantised weights: arithmetic on it would wrap silently, so ops ask for a cast first. */
function int8Refused(op: string, x: ShapeDType): DTypeError {
  return new DTypeError(
    `${op}: int8 ${fmtShape(x.shape)} is a storage dtype for quantised values; cast it to int32 or float32 first`,
  );
}

const perOutputElement = (_i: readonly ShapeDType[], out: ShapeDType) => sizeOf(out.shape);
const free = () => 0;

function unarySpec(op: string, dtypeRule: 'float' | 'bool'): PrimitiveSpec<never> {
  return {
    family: dtypeRule === 'float' ? 'elementwise' : 'compare',
    broadcast: false,
    infer: ([x]) => {
      if (dtypeRule === 'float') requireFloat(op, x);
      else if (x.dtype !== 'bool') throw new DTypeError(`${op}: expected a bool tensor, got ${x.dtype}`);
      return x;
    },
    flops: dtypeRule === 'float' ? perOutputElement : free,
  };
}

function binarySpec(op: string, kind: 'arith' | 'compare' | 'logical'): PrimitiveSpec<never> {
  return {
    family: kind === 'arith' ? 'elementwise' : 'compare',
    broadcast: true,
    infer: (inputs) => {
      const dtype = requireSameDType(op, inputs);
      if (kind === 'logical' && dtype !== 'bool') throw new DTypeError(`${op}: expected bool operands, got ${dtype}`);
      if (kind === 'arith' && dtype === 'bool')
        throw new DTypeError(`${op}: arithmetic on bool tensors; cast them first`);
      if (kind !== 'logical' && dtype === 'int8') throw int8Refused(op, inputs[0]);
      return { shape: broadcastShapes(op, ...inputs.map((x) => x.shape)), dtype: kind === 'arith' ? dtype : 'bool' };
    },
    flops: kind === 'arith' ? perOutputElement : free,
  };
}

function reduceSpec(op: string): PrimitiveSpec<ReduceOp> {
  return {
    family: 'reduce',
    broadcast: false,
    infer: ([x], { axes }) => {
      if (x.dtype === 'bool') throw new DTypeError(`${op}: cannot reduce a bool tensor; cast it first`);
      if (x.dtype === 'int8') throw int8Refused(op, x);
      return { shape: x.shape.filter((_, i) => !axes.includes(i)), dtype: x.dtype };
    },
    flops: ([x]) => sizeOf(x.shape),
  };
}

function argReduceSpec(op: string): PrimitiveSpec<ArgReduceOp> {
  return {
    family: 'reduce',
    broadcast: false,
    infer: ([x], { axis }) => {
      if (x.shape[axis] === 0) throw new ShapeError(`${op}: axis ${axis} of ${fmtShape(x.shape)} is empty`);
      return { shape: x.shape.filter((_, i) => i !== axis), dtype: 'int32' };
    },
    flops: ([x]) => sizeOf(x.shape),
  };
}

function build(): { [P in PrimitiveName]: PrimitiveSpec<P> } {
  const specs: Record<string, PrimitiveSpec<never>> = {};
  for (const op of UNARY_FLOAT_OPS) specs[op] = unarySpec(op, 'float');
  specs.logicalNot = unarySpec('logicalNot', 'bool');
  for (const op of BINARY_OPS) specs[op] = binarySpec(op, 'arith');
  for (const op of COMPARE_OPS) specs[op] = binarySpec(op, 'compare');
  for (const op of LOGICAL_OPS) specs[op] = binarySpec(op, 'logical');
  for (const op of REDUCE_OPS) specs[op] = reduceSpec(op) as PrimitiveSpec<never>;
  for (const op of ARG_REDUCE_OPS) specs[op] = argReduceSpec(op) as PrimitiveSpec<never>;
  return {
    ...(specs as { [P in UnaryOp | BinaryOp | CompareOp | ReduceOp | ArgReduceOp]: PrimitiveSpec<P> }),
    where: {
      family: 'elementwise',
      broadcast: true,
      infer: ([c, a, b]) => {
        if (c.dtype !== 'bool')
          throw new DTypeError(`where: condition must be bool, got ${c.dtype} ${fmtShape(c.shape)}`);
        return { shape: broadcastShapes('where', c.shape, a.shape, b.shape), dtype: requireSameDType('where', [a, b]) };
      },
      flops: free,
    },
    matmul: {
      family: 'matmul',
      broadcast: false,
      infer: ([a, b], { transA, transB }) => {
        requireFloat('matmul', a);
        const dtype = requireSameDType('matmul', [a, b]);
        const [ba, m, ka] = transA ? [a.shape[0], a.shape[2], a.shape[1]] : a.shape;
        const [bb, kb, n] = transB ? [b.shape[0], b.shape[2], b.shape[1]] : b.shape;
        if (a.shape.length !== 3 || b.shape.length !== 3 || ba !== bb || ka !== kb) {
          throw new ShapeError(
            `matmul: inner dimensions do not match: ${fmtShape(a.shape)}${transA ? 'ᵀ' : ''} x ` +
              `${fmtShape(b.shape)}${transB ? 'ᵀ' : ''}`,
          );
        }
        return { shape: [ba, m, n], dtype };
      },
      flops: ([a], out, { transA }) => 2 * sizeOf(out.shape) * (transA ? a.shape[1] : a.shape[2]),
    },
    gather: {
      family: 'data movement',
      broadcast: false,
      bytes: ([, idx], out) =>
        2 * sizeOf(out.shape) * bytesPerElement(out.dtype) + sizeOf(idx.shape) * bytesPerElement(idx.dtype),
      infer: ([x, idx], { axis }) => {
        if (idx.dtype !== 'int32') throw new DTypeError(`gather: indices must be int32, got ${idx.dtype}`);
        return { shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)], dtype: x.dtype };
      },
      flops: free,
    },
    scatterAdd: {
      family: 'data movement',
      broadcast: false,
      infer: ([x, idx, upd], { axis }) => {
        if (idx.dtype !== 'int32') throw new DTypeError(`scatterAdd: indices must be int32, got ${idx.dtype}`);
        if (x.dtype === 'int8') throw int8Refused('scatterAdd', x);
        const expected = [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)];
        if (expected.length !== upd.shape.length || expected.some((d, i) => d !== upd.shape[i])) {
          throw new ShapeError(
            `scatterAdd: updates must have shape ${fmtShape(expected)} for x ${fmtShape(x.shape)} and indices ` +
              `${fmtShape(idx.shape)} on axis ${axis}, got ${fmtShape(upd.shape)}`,
          );
        }
        return { shape: x.shape, dtype: requireSameDType('scatterAdd', [x, upd]) };
      },
      flops: ([, , upd]) => sizeOf(upd.shape),
    },
    concat: {
      family: 'data movement',
      broadcast: false,
      infer: (inputs, { axis }) => {
        const dtype = requireSameDType('concat', inputs);
        const first = inputs[0].shape;
        for (const x of inputs) {
          if (x.shape.length !== first.length || x.shape.some((d, i) => i !== axis && d !== first[i])) {
            throw new ShapeError(
              `concat: all shapes must match except on axis ${axis}, got ` +
                `${inputs.map((t) => fmtShape(t.shape)).join(', ')}`,
            );
          }
        }
        const shape = [...first];
        shape[axis] = inputs.reduce((s, x) => s + x.shape[axis], 0);
        return { shape, dtype };
      },
      flops: free,
    },
    pad: {
      family: 'data movement',
      broadcast: false,
      infer: ([x], { config }) => ({
        shape: x.shape.map((d, i) => {
          const [lo, hi, interior] = config[i];
          return lo + hi + d + Math.max(d - 1, 0) * interior;
        }),
        dtype: x.dtype,
      }),
      flops: free,
    },
    copy: { family: 'data movement', broadcast: false, infer: ([x]) => x, flops: free },
    cast: {
      family: 'elementwise',
      broadcast: false,
      infer: ([x], { dtype }) => ({ shape: x.shape, dtype }),
      flops: free,
    },
    // Integer rounds: no floating-point operations in the cost model.
    philox: {
      family: 'random',
      broadcast: false,
      infer: (_inputs, { count }) => ({ shape: [count, 4], dtype: 'int32' }),
      flops: free,
    },
    // Comparisons only: no floating-point operations in the cost model.
    argsort: {
      family: 'reduce',
      broadcast: false,
      infer: ([x]) => {
        if (x.dtype === 'bool') throw new DTypeError(`argsort: cannot sort a bool tensor; cast it first`);
        if (x.dtype === 'int8') throw int8Refused('argsort', x);
        return { shape: x.shape, dtype: 'int32' };
      },
      flops: free,
    },
  };
}

export const PRIMITIVES: { readonly [P in PrimitiveName]: PrimitiveSpec<P> } = build();
export const PRIMITIVE_NAMES = Object.keys(PRIMITIVES) as PrimitiveName[];
