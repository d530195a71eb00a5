// The native backend's kernel tables: thin adapters from KernelArg (buffer, offset, shape) to the addon's
// entry points, plus the JS reference kernels for the ops listed in support.ts as js-fallback. Inputs are
// contiguous (except copy's) and may start at an offset, which every entry point takes.
import type { FusedKernelTable, Kernel, KernelArg, KernelTable } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import { ArgumentError, BackendError, fmtShape } from '../../errors.js';
import {
  ARG_REDUCE_OPS,
  BINARY_OPS,
  COMPARE_OPS,
  LOGICAL_OPS,
  REDUCE_OPS,
  UNARY_FLOAT_OPS,
  type PrimitiveParams,
} from '../../ops/primitives.js';
import type { FusedParams } from '../../ops/fused-params.js';
import { concat, pad } from '../js/indexing.js';
import type { NativeAddon } from './addon.js';
import type { BufferPool } from './buffers.js';
import { JS_FALLBACK_PRIMITIVES, NATIVE_FUSED } from './support.js';
import { trainStepKernels } from './train-step.js';

type Arr = TypedArray;
const buf = (a: KernelArg) => a.buffer as Arr;

/** [outer, mid, inner] around a run of consecutive axes [from, to). */
function around(shape: readonly number[], from: number, to: number) {
  return { outer: sizeOf(shape.slice(0, from)), mid: sizeOf(shape.slice(from, to)), inner: sizeOf(shape.slice(to)) };
}

/** A code per op name, read from the addon's own list so the two sides cannot disagree. */
function codes(names: readonly string[]): Map<string, number> {
  return new Map(names.map((n, i) => [n, i]));
}

export function nativeKernels(addon: NativeAddon, pool: BufferPool): { kernels: KernelTable; fused: FusedKernelTable } {
  const table: Record<string, unknown> = {};
  const unary = codes(addon.unaryOps),
    binary = codes(addon.binaryOps),
    reduceCodes = codes(addon.reduceOps);

  for (const op of [...UNARY_FLOAT_OPS, 'logicalNot'] as const) {
    const code = unary.get(op)!;
    table[op] = (([x], o) => addon.unary(code, buf(x), x.offset, buf(o))) satisfies Kernel<Record<string, never>>;
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
    table[op] = ((inputs, o) => {
      const [a, b] = inputs;
      addon.binary(code, buf(a), a.offset, buf(b), b.offset, buf(o), scalars(inputs, o));
    }) satisfies Kernel<Record<string, never>>;
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
    table[op] = (([x], o, { axes }) => {
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
    }) satisfies Kernel<PrimitiveParams['sum']>;
  }
  for (const op of ARG_REDUCE_OPS) {
    table[op] = (([x], o, { axis }) => {
      const { outer, mid, inner } = around(x.shape, axis, axis + 1);
      addon.argReduce(op === 'argmin', buf(x), x.offset, buf(o), outer, mid, inner);
    }) satisfies Kernel<PrimitiveParams['argmax']>;
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
  const fallbacks: Record<(typeof JS_FALLBACK_PRIMITIVES)[number], unknown> = { concat, pad };
  for (const op of JS_FALLBACK_PRIMITIVES) table[op] = fallbacks[op];

  const softmaxLike =
    (log: boolean): Kernel<FusedParams['softmax']> =>
    ([x], o, { axis }) => {
      const { outer, mid, inner } = around(x.shape, axis, axis + 1);
      addon.softmax(log, buf(x), x.offset, buf(o), outer, mid, inner);
    };
  const convParams = new Float64Array(15);
  /** x [n, h, w, cin], f [kh, kw, cin, cout], y [n, ho, wo, cout]. */
  const setConv = (x: readonly number[], f: readonly number[], y: readonly number[], p: FusedParams['conv2d']) => {
    convParams.set([
      x[0],
      x[1],
      x[2],
      x[3],
      f[3],
      f[0],
      f[1],
      y[1],
      y[2],
      p.strides[0],
      p.strides[1],
      p.dilations[0],
      p.dilations[1],
      p.pads[0][0],
      p.pads[1][0],
    ]);
    return convParams;
  };
  const poolParams = new Float64Array(12);
  /** x [n, h, w, c], y [n, ho, wo, c]. */
  const setPool = (x: readonly number[], y: readonly number[], p: FusedParams['maxPool2d']) => {
    poolParams.set([
      x[0],
      x[1],
      x[2],
      x[3],
      y[1],
      y[2],
      p.poolSize[0],
      p.poolSize[1],
      p.strides[0],
      p.strides[1],
      p.pads[0][0],
      p.pads[1][0],
    ]);
    return poolParams;
  };
  // Sequence models: the cells' states [B, U] fix b and u; attention's mask is [1 or B, 1 or T, S].
  const cell =
    (lstm: boolean, grad: boolean): Kernel<Record<string, never>> =>
    (inputs, o) => {
      const [xw, hu, st] = inputs;
      // LSTM: [xw, hu, c, dh?, dc?]; GRU: [xw, hu, h, dy?, bias?].
      const dy = grad ? inputs[3] : undefined,
        extra = inputs[grad ? 4 : 3];
      const [dc, bias] = lstm ? [extra, undefined] : [undefined, extra];
      const [b, u] = st.shape;
      const opt = (a: KernelArg | undefined) => [a ? buf(a) : null, a?.offset ?? 0] as const;
      addon.cell(
        lstm,
        grad,
        buf(xw),
        xw.offset,
        buf(hu),
        hu.offset,
        buf(st),
        st.offset,
        ...opt(dy),
        ...opt(lstm ? dc : bias),
        buf(o),
        b,
        u,
      );
    };
  const attnParams = new Float64Array(11);
  const attention =
    (grad: boolean): Kernel<FusedParams['attention']> =>
    (inputs, o, p) => {
      const [q, k, v] = inputs;
      const dy = grad ? inputs[3] : undefined,
        mask = inputs[grad ? 4 : 3];
      const [b, t, h, dk] = q.shape,
        [, s, , dv] = v.shape;
      attnParams.set([
        b,
        t,
        s,
        h,
        dk,
        dv,
        mask?.shape[0] ?? 1,
        mask?.shape[1] ?? 1,
        p.offset,
        p.scale,
        p.causal ? 1 : 0,
      ]);
      addon.attention(
        buf(q),
        q.offset,
        buf(k),
        k.offset,
        buf(v),
        v.offset,
        dy ? buf(dy) : null,
        dy?.offset ?? 0,
        mask ? buf(mask) : null,
        mask?.offset ?? 0,
        buf(o),
        attnParams,
      );
    };
  const fused: Record<string, unknown> = {
    softmax: softmaxLike(false),
    logSoftmax: softmaxLike(true),
    conv2d: (([x, f], o, p) =>
      addon.conv2d(buf(x), x.offset, buf(f), f.offset, buf(o), setConv(x.shape, f.shape, o.shape, p))) satisfies Kernel<
      FusedParams['conv2d']
    >,
    conv2dBackpropInput: (([dy, f], o, p) =>
      addon.conv2dBackpropInput(
        buf(dy),
        dy.offset,
        buf(f),
        f.offset,
        buf(o),
        setConv(o.shape, f.shape, dy.shape, p),
      )) satisfies Kernel<FusedParams['conv2dBackpropInput']>,
    // convolution filter gradient and pooling
    conv2dBackpropFilter: (([x, dy], o, p) =>
      addon.conv2dBackpropFilter(
        buf(x),
        x.offset,
        buf(dy),
        dy.offset,
        buf(o),
        setConv(x.shape, o.shape, dy.shape, p),
      )) satisfies Kernel<FusedParams['conv2dBackpropFilter']>,
    maxPool2d: (([x], o, p) =>
      addon.pool2d(true, buf(x), x.offset, buf(o), setPool(x.shape, o.shape, p))) satisfies Kernel<
      FusedParams['maxPool2d']
    >,
    avgPool2d: (([x], o, p) =>
      addon.pool2d(false, buf(x), x.offset, buf(o), setPool(x.shape, o.shape, p))) satisfies Kernel<
      FusedParams['avgPool2d']
    >,
    maxPool2dBackprop: (([x, dy], o, p) =>
      addon.pool2dBackprop(
        true,
        buf(x),
        x.offset,
        buf(dy),
        dy.offset,
        buf(o),
        setPool(o.shape, dy.shape, p),
      )) satisfies Kernel<FusedParams['maxPool2dBackprop']>,
    avgPool2dBackprop: (([dy], o, p) =>
      addon.pool2dBackprop(
        false,
        buf(dy),
        dy.offset,
        buf(dy),
        dy.offset,
        buf(o),
        setPool(o.shape, dy.shape, p),
      )) satisfies Kernel<FusedParams['avgPool2dBackprop']>,
    // sequence models
    lstmCell: cell(true, false),
    lstmCellGrad: cell(true, true),
    gruCell: cell(false, false),
    gruCellGrad: cell(false, true),
    attention: attention(false),
    attentionGrad: attention(true),
  };
  Object.assign(fused, trainStepKernels(addon));
  for (const name of Object.keys(fused))
    if (!NATIVE_FUSED.includes(name as never))
      throw new BackendError(`native: fused kernel ${name} is missing from support.ts`);
  return { kernels: table as KernelTable, fused: fused as FusedKernelTable };
}
