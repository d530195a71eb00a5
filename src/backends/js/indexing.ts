// Gather, scatter-add, concat and pad of the JS reference backend. Arrays are viewed as
// [outer, axis, inner] around the op's axis so each kernel is a pair of plain loops.
import type { Kernel, KernelArg } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { PrimitiveParams } from '../../ops/primitives.js';
import { ArgumentError, fmtShape } from '../../errors.js';
import { contiguousStrides, sizeOf } from '../../tensor/shape.js';
import { elements } from './elementwise.js';

function around(shape: readonly number[], axis: number) {
  return { outer: sizeOf(shape.slice(0, axis)), dim: shape[axis], inner: sizeOf(shape.slice(axis + 1)) };
}

/** Indices with negative values wrapped; throws a typed error for one out of range. */
function checkedIndices(op: string, ia: KernelArg, dim: number, xShape: readonly number[], axis: number): Int32Array {
  const idx = elements(ia) as Int32Array;
  const out = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i] < 0 ? idx[i] + dim : idx[i];
    if (v < 0 || v >= dim)
      throw new ArgumentError(
        `${op}: index ${idx[i]} is out of range for axis ${axis} of size ${dim} (x ${fmtShape(xShape)})`,
      );
    out[i] = v;
  }
  return out;
}

export const gather: Kernel<PrimitiveParams['gather']> = ([xa, ia], oa, { axis }) => {
  const x = elements(xa),
    o = oa.buffer as TypedArray;
  const { outer, dim, inner } = around(xa.shape, axis);
  const idx = checkedIndices('gather', ia, dim, xa.shape, axis);
  const n = idx.length;
  for (let p = 0; p < outer; p++) {
    for (let i = 0; i < n; i++) {
      const src = (p * dim + idx[i]) * inner,
        dst = (p * n + i) * inner;
      for (let q = 0; q < inner; q++) o[dst + q] = x[src + q];
    }
  }
};

export const scatterAdd: Kernel<PrimitiveParams['scatterAdd']> = ([xa, ia, ua], oa, { axis }) => {
  const u = elements(ua),
    o = oa.buffer as TypedArray;
  o.set(elements(xa));
  const { outer, dim, inner } = around(xa.shape, axis);
  const idx = checkedIndices('scatterAdd', ia, dim, xa.shape, axis);
  const n = idx.length;
  for (let p = 0; p < outer; p++) {
    for (let i = 0; i < n; i++) {
      const dst = (p * dim + idx[i]) * inner,
        src = (p * n + i) * inner;
      for (let q = 0; q < inner; q++) o[dst + q] += u[src + q];
    }
  }
};

export const concat: Kernel<PrimitiveParams['concat']> = (inputs, oa, { axis }) => {
  const o = oa.buffer as TypedArray;
  const { outer, dim: total, inner } = around(oa.shape, axis);
  let start = 0;
  for (const xa of inputs) {
    const x = elements(xa);
    const width = xa.shape[axis] * inner;
    for (let p = 0; p < outer; p++) o.set(x.subarray(p * width, (p + 1) * width), p * total * inner + start);
    start += width;
  }
};

/** Fills with `value`, then writes x at lo + i * (interior + 1) along every axis. */
export const pad: Kernel<PrimitiveParams['pad']> = ([xa], oa, { config, value }) => {
  const x = elements(xa),
    o = oa.buffer as TypedArray;
  o.fill(value);
  const n = x.length;
  if (n === 0) return;
  const rank = xa.shape.length;
  if (rank === 0) {
    o[0] = x[0];
    return;
  }
  const outStrides = contiguousStrides(oa.shape);
  // Element strides of x's positions in the output, and the output offset of x[0, ..., 0].
  const step = outStrides.map((s, d) => s * (config[d][2] + 1));
  let base = config.reduce((s, [lo], d) => s + lo * outStrides[d], 0);
  const inner = xa.shape[rank - 1],
    innerStep = step[rank - 1];
  const index = new Array<number>(rank).fill(0);
  for (let start = 0; start < n; start += inner) {
    for (let j = 0, p = base; j < inner; j++, p += innerStep) o[p] = x[start + j];
    for (let d = rank - 2; d >= 0; d--) {
      index[d]++;
      base += step[d];
      if (index[d] < xa.shape[d]) break;
      base -= step[d] * xa.shape[d];
      index[d] = 0;
    }
  }
};
