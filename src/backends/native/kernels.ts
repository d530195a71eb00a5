// The native backend's kernel tables: thin adapters from KernelArg (buffer, offset, shape) to the addon's
// entry points, plus the JS reference kernels for the ops listed in support.ts as js-fallback. Inputs are
// contiguous (except copy's) and may start at an offset, which every entry point takes.
import {
  setKernel,
  type FusedKernel,
  type FusedKernelTable,
  type Kernel,
  type KernelArg,
  type KernelTable,
} from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import { ArgumentError, fmtShape } from '../../errors.js';
import {
  ARG_REDUCE_OPS,
  BINARY_OPS,
  COMPARE_OPS,
  LOGICAL_OPS,
  REDUCE_OPS,
  UNARY_FLOAT_OPS,
  type PrimitiveName,
  type PrimitiveParams,
} from '../../ops/primitives.js';
import { FUSED, type FusedName, type FusedParams } from '../../ops/families/index.js';
import { concat, pad } from '../js/indexing.js';
import { argsort } from '../js/sort.js';
import type { NativeAddon } from './addon.js';
import type { BufferPool } from './buffers.js';
import { NATIVE_FUSED } from './support.js';
import { around, buf } from '../../ops/families/native-args.js';

type Arr = TypedArray;

/** A code per op name, read from the addon's own list so the two sides cannot disagree. */
function codes(names: readonly string[]): Map<string, number> {
  return new Map(names.map((n, i) => [n, i]));
}

export function nativeKernels(addon: NativeAddon, pool: BufferPool): { kernels: KernelTable; fused: FusedKernelTable } {
  const table: { -readonly [P in PrimitiveName]?: Kernel<PrimitiveParams[P]> } = {};
  const unary = codes(addon.unaryOps),
    binary = codes(addon.binaryOps),
    reduceCodes = codes(addon.reduceOps);

  for (const op of [...UNARY_FLOAT_OPS, 'logicalNot'] as const) {
    const code = unary.get(op)!;
    setKernel(table, op, ([x], o) => addon.unary(code, buf(x), x.offset, buf(o)));
  }
  // Bit i is set when input i is a one-element operand to repeat (the backend sets broadcastsScalars).
  const scalars = (inputs: readonly KernelArg[], o: KernelArg) => {
    const n = buf(o).length;
    let bits = 0;
    for (let i = 0; i < inputs.length; i++) if (n !== 1 && sizeOf(inputs[i].shape) === 1) bits |= 1 << i;
    return bits;
  };
  for (const op of [...BINARY_OPS, ...COMPARE_OPS, ...LOGICAL_OPS]) {
    const code = binary.get(op)!;
    setKernel(table, op, (inputs, o) => {
      const [a, b] = inputs;
      addon.binary(code, buf(a), a.offset, buf(b), b.offset, buf(o), scalars(inputs, o));
    });
  }
  table.where = ((inputs, o) => {
    const [c, a, b] = inputs;
    addon.where(buf(c), c.offset, buf(a), a.offset, buf(b), b.offset, buf(o), scalars(inputs, o));
  }) satisfies Kernel<Record<string, never>>;
  table.cast = (([x], o) => addon.cast(buf(x), x.offset, buf(o))) satisfies Kernel<PrimitiveParams['cast']>;

  let dims = new Float64Array(16);
  /** Strided gather of any view; also used to move reduced axes last. */
  const copyView = (x: Arr, offset: number, shape: readonly number[], strides: readonly number[], out: Arr) => {
    const rank = shape.length;
    if (dims.length < 2 * rank) dims = new Float64Array(2 * rank);
    for (let i = 0; i < rank; i++) {
      dims[i] = shape[i];
      dims[rank + i] = strides[i];
    }
    addon.copy(x, offset, out, dims, rank);
  };
  table.copy = (([x], o) => copyView(buf(x), x.offset, x.shape, x.strides, buf(o))) satisfies Kernel<
    Record<string, never>
  >;

  table.matmul = (([a, b], o, { transA, transB }) => {
    const [batch, m, n] = o.shape;
    addon.gemm(
      buf(a),
      a.offset,
      buf(b),
      b.offset,
      buf(o),
      batch,
      m,
      n,
      transA ? a.shape[1] : a.shape[2],
      transA,
      transB,
    );
  }) satisfies Kernel<PrimitiveParams['matmul']>;

  for (const op of REDUCE_OPS) {
    const code = reduceCodes.get(op)!;
    setKernel(table, op, ([x], o, { axes }) => {
      const sorted = [...axes].sort((p, q) => p - q);
      const from = sorted[0] ?? 0,
        to = from + sorted.length;
      if (sorted.every((a, i) => a === from + i)) {
        const { outer, mid, inner } = around(x.shape, from, to);
        addon.reduce(code, buf(x), x.offset, buf(o), outer, mid, inner);
        return;
      }
      // Scattered axes: gather them last into a temporary, then reduce contiguous runs.
      const rank = x.shape.length,
        kept = [...Array(rank).keys()].filter((i) => !sorted.includes(i));
      const order = [...kept, ...sorted];
      const strides = contiguousStrides(x.shape);
      const tmp = pool.alloc(x.dtype, sizeOf(x.shape), false);
      try {
        copyView(
          buf(x),
          x.offset,
          order.map((i) => x.shape[i]),
          order.map((i) => strides[i]),
          tmp,
        );
        addon.reduce(code, tmp, 0, buf(o), sizeOf(o.shape), sizeOf(sorted.map((i) => x.shape[i])), 1);
      } finally {
        pool.release(tmp);
      }
    });
  }
  for (const op of ARG_REDUCE_OPS) {
    setKernel(table, op, ([x], o, { axis }) => {
      const { outer, mid, inner } = around(x.shape, axis, axis + 1);
      addon.argReduce(op === 'argmin', buf(x), x.offset, buf(o), outer, mid, inner);
    });
  }
  /** The reference's error for the index at position `bad` (>= 0) of idx. */
  const checkIndex = (op: string, bad: number, idx: KernelArg, x: KernelArg, axis: number) => {
    if (bad < 0) return;
    const value = buf(idx)[idx.offset + bad];
    throw new ArgumentError(
      `${op}: index ${value} is out of range for axis ${axis} of size ${x.shape[axis]} (x ${fmtShape(x.shape)})`,
    );
  };
  table.gather = (([x, idx], o, { axis }) => {
    const { outer, mid, inner } = around(x.shape, axis, axis + 1);
    checkIndex('gather', addon.gather(buf(x), x.offset, buf(idx), idx.offset, buf(o), outer, mid, inner), idx, x, axis);
  }) satisfies Kernel<PrimitiveParams['gather']>;
  table.scatterAdd = (([x, idx, upd], o, { axis }) => {
    const { outer, mid, inner } = around(x.shape, axis, axis + 1);
    checkIndex(
      'scatterAdd',
      addon.scatterAdd(
        buf(x),
        x.offset,
        buf(idx),
        idx.offset,
        sizeOf(idx.shape),
        buf(upd),
        upd.offset,
        buf(o),
        outer,
        mid,
        inner,
      ),
      idx,
      x,
      axis,
    );
  }) satisfies Kernel<PrimitiveParams['scatterAdd']>;
  table.philox = ([], o, p) => {
    const words = buf(o);
    addon.philox(p.key0, p.key1, p.counter, p.attempt, new Int32Array(words.buffer, words.byteOffset, words.length));
  };
  // JS_FALLBACK_PRIMITIVES: the reference kernels on the same typed arrays.
  table.concat = concat;
  table.pad = pad;
  table.argsort = argsort;

  return { kernels: table, fused: nativeFused(addon) };
}

/** The fused kernels: each spec's native adapter over this addon (support.ts lists the same ops). */
function nativeFused(addon: NativeAddon): FusedKernelTable {
  const fused: { [F in FusedName]?: FusedKernel<F> } = {};
  for (const op of NATIVE_FUSED) setNative(fused, op, addon);
  return fused;
}

/** table[op] = the adapter's kernel, typed per op (a generic key keeps the op's params attached). */
function setNative<F extends FusedName>(table: { [G in F]?: FusedKernel<G> }, op: F, addon: NativeAddon): void {
  // FUSED[op] is FusedSpecOf<F>, whose adapter makes FusedKernel<F>; the compiler cannot resolve that for a generic F.
  const native = FUSED[op].native as ((addon: NativeAddon) => FusedKernel<F>) | undefined;
  if (native) table[op] = native(addon);
}
