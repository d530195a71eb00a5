// Batched matmul of the JS reference backend: both operands are packed into 4-wide panels of doubles,
// then a 4x4 register-blocked micro-kernel walks K. Packing absorbs the transposes.
import type { Kernel } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import type { PrimitiveParams } from '../../ops/primitives.js';
import { elements } from './elementwise.js';

const R = 4; // rows (and columns) of the micro-tile

/**
 * Packs `rows` logical rows of a K-long operand into panels [ceil(rows/4)][K][4], zero-filling the tail.
 * Element (r, k) of the operand is src[base + r * rowStride + k * kStride].
 */
function pack(
  src: TypedArray,
  base: number,
  rows: number,
  K: number,
  rowStride: number,
  kStride: number,
  dst: Float64Array,
): void {
  const panels = Math.ceil(rows / R);
  for (let p = 0; p < panels; p++) {
    const off = p * K * R;
    for (let rr = 0; rr < R; rr++) {
      const r = p * R + rr;
      if (r >= rows) {
        for (let k = 0; k < K; k++) dst[off + k * R + rr] = 0;
        continue;
      }
      const rowBase = base + r * rowStride;
      for (let k = 0; k < K; k++) dst[off + k * R + rr] = src[rowBase + k * kStride];
    }
  }
}

export const matmul: Kernel<PrimitiveParams['matmul']> = ([aa, ba], oa, { transA, transB }) => {
  const a = elements(aa),
    b = elements(ba),
    c = oa.buffer as TypedArray;
  const [batch, M, N] = oa.shape;
  const K = transA ? aa.shape[1] : aa.shape[2];
  const mPanels = Math.ceil(M / R),
    nPanels = Math.ceil(N / R);
  const ap = new Float64Array(mPanels * K * R);
  const bp = new Float64Array(nPanels * K * R);
  for (let t = 0; t < batch; t++) {
    // A[m, k] and B^T[n, k] as row-major K-long rows.
    pack(a, t * M * K, M, K, transA ? 1 : K, transA ? M : 1, ap);
    pack(b, t * K * N, N, K, transB ? K : 1, transB ? 1 : N, bp);
    const cBase = t * M * N;
    for (let ip = 0; ip < mPanels; ip++) {
      const aOff = ip * K * R;
      for (let jp = 0; jp < nPanels; jp++) {
        const bOff = jp * K * R;
        let c00 = 0,
          c01 = 0,
          c02 = 0,
          c03 = 0,
          c10 = 0,
          c11 = 0,
          c12 = 0,
          c13 = 0;
        let c20 = 0,
          c21 = 0,
          c22 = 0,
          c23 = 0,
          c30 = 0,
          c31 = 0,
          c32 = 0,
          c33 = 0;
        for (let k = 0, pa = aOff, pb = bOff; k < K; k++, pa += R, pb += R) {
          const a0 = ap[pa],
            a1 = ap[pa + 1],
            a2 = ap[pa + 2],
            a3 = ap[pa + 3];
          const b0 = bp[pb],
            b1 = bp[pb + 1],
            b2 = bp[pb + 2],
            b3 = bp[pb + 3];
          c00 += a0 * b0;
          c01 += a0 * b1;
          c02 += a0 * b2;
          c03 += a0 * b3;
          c10 += a1 * b0;
          c11 += a1 * b1;
          c12 += a1 * b2;
          c13 += a1 * b3;
          c20 += a2 * b0;
          c21 += a2 * b1;
          c22 += a2 * b2;
          c23 += a2 * b3;
          c30 += a3 * b0;
          c31 += a3 * b1;
          c32 += a3 * b2;
          c33 += a3 * b3;
        }
        const i0 = ip * R,
          j0 = jp * R;
        const o = cBase + i0 * N + j0;
        if (i0 + R <= M && j0 + R <= N) {
          c[o] = c00;
          c[o + 1] = c01;
          c[o + 2] = c02;
          c[o + 3] = c03;
          c[o + N] = c10;
          c[o + N + 1] = c11;
          c[o + N + 2] = c12;
          c[o + N + 3] = c13;
          c[o + 2 * N] = c20;
          c[o + 2 * N + 1] = c21;
          c[o + 2 * N + 2] = c22;
          c[o + 2 * N + 3] = c23;
          c[o + 3 * N] = c30;
          c[o + 3 * N + 1] = c31;
          c[o + 3 * N + 2] = c32;
          c[o + 3 * N + 3] = c33;
        } else {
          // Edge tile: only the rows and columns inside C.
          const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
          for (let ii = 0; ii < R && i0 + ii < M; ii++) {
            for (let jj = 0; jj < R && j0 + jj < N; jj++) c[o + ii * N + jj] = tile[ii * R + jj];
          }
        }
      }
    }
  }
};
