// Forward values of reductions (sum ... logsumexp, argmax/argmin), matmul against a naive reference, joining/indexing
// ops and softmax.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  ArgumentError,
  DTypeError,
  ShapeError,
  tensor,
  arange,
  zeros,
  sum,
  prod,
  max,
  min,
  mean,
  variance,
  std,
  logsumexp,
  argmax,
  argmin,
  add,
  exp,
  log,
  mul,
  cast,
  reshape,
  transpose,
  permute,
  slice,
  sliceAxis,
  flip,
  expand,
  split,
  matmul,
  outer,
  concat,
  stack,
  pad,
  gather,
  take,
  scatterAdd,
  oneHot,
  softmax,
  logSoftmax,
} from '../../src/index.js';
import { assertClose, flat, naiveMatmul, rand } from '../helpers.js';

const f64 = (data: number[] | number[][] | number[][][]) => tensor(data, undefined, 'float64');
const EXACT = { rtol: 0, atol: 0 };
const TIGHT = { rtol: 1e-13, atol: 1e-13 };

/** A reference reduction of row-major `data` of `shape` over `axes`, by brute force over indices. */
function reference(
  data: ArrayLike<number>,
  shape: readonly number[],
  axes: readonly number[],
  fn: (values: number[]) => number,
): number[] {
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const groups = new Map<string, number[]>();
  const index = new Array<number>(shape.length).fill(0);
  for (let flatI = 0; flatI < data.length; flatI++) {
    let rem = flatI;
    for (let d = shape.length - 1; d >= 0; d--) {
      index[d] = rem % shape[d];
      rem = Math.floor(rem / shape[d]);
    }
    const key = kept.map((d) => index[d]).join(',');
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(data[flatI]);
  }
  return [...groups.values()].map(fn);
}

const sumOf = (v: number[]) => v.reduce((s, x) => s + x, 0);
const REFS: Record<string, (v: number[]) => number> = {
  sum: sumOf,
  prod: (v) => v.reduce((s, x) => s * x, 1),
  max: (v) => Math.max(...v),
  min: (v) => Math.min(...v),
  mean: (v) => sumOf(v) / v.length,
  variance: (v) => {
    const m = sumOf(v) / v.length;
    return sumOf(v.map((x) => (x - m) ** 2)) / v.length;
  },
  std: (v) => Math.sqrt(REFS.variance(v)),
  logsumexp: (v) => {
    const m = Math.max(...v);
    return m + Math.log(sumOf(v.map((x) => Math.exp(x - m))));
  },
};
const OPS: Record<string, (x: Tensor, axes?: number | number[], keepDims?: boolean) => Tensor> = {
  sum,
  prod,
  max,
  min,
  mean,
  variance,
  std,
  logsumexp,
};

describe('reductions against a brute-force reference', () => {
  const shape = [2, 3, 7];
  const x = rand(shape, 1);
  const data = flat(x);
  const cases: [string, number | number[] | undefined, number[]][] = [
    ['all', undefined, [0, 1, 2]],
    ['axis 0', 0, [0]],
    ['axis 1', 1, [1]],
    ['axis 2', 2, [2]],
    ['axis -1', -1, [2]],
    ['axis -3', -3, [0]],
    ['axes [0, 2]', [0, 2], [0, 2]],
    ['axes [2, 1]', [2, 1], [1, 2]],
    ['axes [-1, 0]', [-1, 0], [0, 2]],
    ['axes [0, 1, 2]', [0, 1, 2], [0, 1, 2]],
    ['no axes', [], []],
  ];
  for (const name of Object.keys(OPS)) {
    for (const [label, axes, norm] of cases) {
      test(`${name} over ${label}`, () => {
        // Reducing over no axes reduces each element on its own (variance 0, the others the element itself).
        const expected =
          norm.length === 0 ? data.map((v) => REFS[name]([v])) : reference(data, shape, norm, REFS[name]);
        const y = OPS[name](x, axes);
        assert.deepEqual(
          [...y.shape],
          shape.filter((_, i) => !norm.includes(i)),
        );
        assert.equal(y.dtype, 'float64');
        assertClose(y, expected, TIGHT, name);
        const k = OPS[name](x, axes, true);
        assert.deepEqual(
          [...k.shape],
          shape.map((d, i) => (norm.includes(i) ? 1 : d)),
        );
        assertClose(k, expected, TIGHT, `${name} keepDims`);
      });
    }
  }

  test('a reduction of a transposed, an offset and a flipped view', () => {
    const m = rand([5, 3], 2);
    const mt = transpose(m);
    assertClose(sum(mt, 1), reference(flat(m), [5, 3], [0], sumOf), TIGHT);
    assertClose(max(mt, 0), reference(flat(m), [5, 3], [1], REFS.max), TIGHT);
    const rows = sliceAxis(m, 0, 2);
    assertClose(sum(rows, 1), reference(flat(m).slice(6), [3, 3], [1], sumOf), TIGHT);
    assertClose(min(rows), [Math.min(...flat(m).slice(6))], TIGHT);
    assertClose(prod(flip(m, 0), 0), reference(flat(m), [5, 3], [0], REFS.prod), TIGHT);
  });

  test('repeated or out-of-range axes throw', () => {
    assert.throws(() => sum(x, [1, 1]), ArgumentError);
    assert.throws(() => sum(x, [0, -3]), ArgumentError);
    assert.throws(() => sum(x, 3));
    assert.throws(() => mean(x, -4));
  });
});

describe('reduction values and dtypes', () => {
  test('hand-computed values', () => {
    const m = f64([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assertClose(sum(m), [21], EXACT);
    assert.deepEqual([...sum(m).shape], []);
    assertClose(sum(m, 0), [5, 7, 9], EXACT);
    assertClose(sum(m, -1, true), [[6], [15]], EXACT);
    assertClose(prod(m, 1), [6, 120], EXACT);
    assertClose(mean(m, 0), [2.5, 3.5, 4.5], EXACT);
    assertClose(max(m, 1), [3, 6], EXACT);
    assertClose(min(m, 0), [1, 2, 3], EXACT);
    assertClose(variance(f64([1, 2, 3, 4])), [1.25], EXACT);
    assertClose(std(f64([1, 2, 3, 4])), [Math.sqrt(1.25)], EXACT);
    assertClose(variance(m, 1), [2 / 3, 2 / 3], TIGHT);
    assertClose(std(f64([5, 5, 5])), [0], EXACT);
  });

  test('logsumexp does not overflow or underflow', () => {
    assertClose(logsumexp(f64([1000, 1000])), [1000 + Math.LN2], { rtol: 1e-15, atol: 0 });
    assertClose(logsumexp(f64([-1000, -1000])), [-1000 + Math.LN2], { rtol: 1e-15, atol: 0 });
    assertClose(
      logsumexp(
        f64([
          [1000, 0],
          [-5, -5],
        ]),
        1,
      ),
      [1000, -5 + Math.LN2],
      { rtol: 1e-15, atol: 0 },
    );
    assertClose(logsumexp(tensor([100, 100])), [100 + Math.LN2], { rtol: 1e-6, atol: 0 });
    assert.deepEqual(
      [
        ...logsumexp(
          f64([
            [1, 2],
            [3, 4],
          ]),
          0,
          true,
        ).shape,
      ],
      [1, 2],
    );
  });

  test('logsumexp of infinities', () => {
    assertClose(logsumexp(f64([-Infinity, -Infinity])), [-Infinity], EXACT);
    assertClose(logsumexp(f64([-Infinity, 0])), [0], EXACT);
    assertClose(logsumexp(f64([Infinity, 0])), [Infinity], EXACT);
  });

  test('NaN propagates through max, min, sum', () => {
    const x = f64([
      [1, NaN, 3],
      [4, 5, 6],
      [NaN, -Infinity, 2],
    ]);
    assertClose(max(x, 1), [NaN, 6, NaN], EXACT);
    assertClose(min(x, 1), [NaN, 4, NaN], EXACT);
    assertClose(max(x, 0), [NaN, NaN, 6], EXACT);
    assertClose(sum(x, 1), [NaN, 15, NaN], EXACT);
    assertClose(max(f64([NaN, 1])), [NaN], EXACT);
  });

  test('infinities in max and min', () => {
    assertClose(max(f64([-Infinity, -Infinity])), [-Infinity], EXACT);
    assertClose(min(f64([Infinity, 3])), [3], EXACT);
  });

  test('sum of bool counts (int32); sum of int32 stays int32; mean of int32 is float32', () => {
    const s = sum(tensor([true, false, true, true]));
    assert.equal(s.dtype, 'int32');
    assert.equal(s.item(), 3);
    const i = tensor(
      [
        [1, 2],
        [3, 4],
      ],
      undefined,
      'int32',
    );
    assert.equal(sum(i).dtype, 'int32');
    assert.deepEqual(flat(sum(i, 0)), [4, 6]);
    assert.equal(max(i).item(), 4);
    const m = mean(i);
    assert.equal(m.dtype, 'float32');
    assert.equal(m.item(), 2.5);
    assert.equal(variance(i).dtype, 'float32');
  });

  test('float32 sums accumulate in double precision', () => {
    const x = tensor(new Float32Array(100000).fill(0.1));
    assertClose(sum(x), [100000 * Math.fround(0.1)], { rtol: 1e-7, atol: 0 });
  });

  test('reductions over an empty axis give the identity', () => {
    const e = zeros([3, 0], 'float64');
    assertClose(sum(e, 1), [0, 0, 0], EXACT);
    assertClose(prod(e, 1), [1, 1, 1], EXACT);
    assert.deepEqual([...sum(e, 0).shape], [0]);
  });

  test('the Tensor methods reduce the same way', () => {
    const x = rand([3, 5], 3);
    assertClose(x.sum(1), sum(x, 1), EXACT);
    assertClose(x.mean([0, 1], true), mean(x, [0, 1], true), EXACT);
    assertClose(x.max(0), max(x, 0), EXACT);
  });
});

describe('argmax and argmin', () => {
  test('along each axis, with negative axes, int32 results', () => {
    const x = f64([
      [
        [1, 9, 3],
        [7, 2, 8],
      ],
      [
        [4, 4, 0],
        [5, 6, -1],
      ],
    ]);
    const a = argmax(x);
    assert.equal(a.dtype, 'int32');
    assert.deepEqual([...a.shape], [2, 2]);
    assert.deepEqual(flat(a), [1, 2, 0, 1]);
    assert.deepEqual(flat(argmax(x, 0)), [1, 0, 0, 0, 1, 0]);
    assert.deepEqual(flat(argmax(x, 1)), [1, 0, 1, 1, 1, 0]);
    assert.deepEqual(flat(argmax(x, -2)), [1, 0, 1, 1, 1, 0]);
    assert.deepEqual(flat(argmin(x)), [0, 1, 2, 2]);
    assert.deepEqual(flat(argmin(x, 0)), [0, 1, 1, 1, 0, 1]);
  });

  test('picks the first of ties', () => {
    assert.deepEqual(
      flat(
        argmax(
          f64([
            [3, 1, 3, 3],
            [0, 0, 0, 0],
          ]),
        ),
      ),
      [0, 0],
    );
    assert.deepEqual(
      flat(
        argmin(
          f64([
            [1, 2, 1],
            [5, 5, 4],
          ]),
        ),
      ),
      [0, 2],
    );
    assert.deepEqual(
      flat(
        argmax(
          f64([
            [2, 7],
            [7, 7],
            [7, 2],
          ]),
          0,
        ),
      ),
      [1, 0],
    );
  });

  test('NaN counts as the extreme (first NaN wins)', () => {
    assert.deepEqual(
      flat(
        argmax(
          f64([
            [1, NaN, 5, NaN],
            [NaN, 9, 9, 9],
          ]),
        ),
      ),
      [1, 0],
    );
    assert.deepEqual(flat(argmin(f64([1, -5, NaN, -9]))), [2]);
  });

  test('against a reference on random data and views', () => {
    const x = rand([4, 6, 5], 4);
    const d = flat(x);
    for (const axis of [0, 1, 2]) {
      const expected = reference(d, [4, 6, 5], [axis], (v) => v.indexOf(Math.max(...v)));
      assert.deepEqual(flat(argmax(x, axis)), expected);
    }
    const t = transpose(rand([5, 3], 5));
    assert.deepEqual(
      flat(argmin(t, 1)),
      reference(flat(t), [3, 5], [1], (v) => v.indexOf(Math.min(...v))),
    );
  });

  test('int32 input and an empty axis', () => {
    assert.deepEqual(flat(argmax(tensor([[1, 3, 2]], undefined, 'int32'))), [1]);
    assert.throws(() => argmax(zeros([2, 0]), 1), ShapeError);
  });
});

describe('matmul against naiveMatmul', () => {
  /** Compares a (possibly batched) matmul of dense row-major operands with the naive reference. */
  function checkMatmul(
    batch: number,
    m: number,
    k: number,
    n: number,
    seed: number,
    dtype: 'float32' | 'float64' = 'float64',
  ): void {
    const a = rand(batch ? [batch, m, k] : [m, k], seed, { dtype }),
      b = rand(batch ? [batch, k, n] : [k, n], seed + 1, { dtype });
    const y = matmul(a, b);
    assert.equal(y.dtype, dtype);
    assert.deepEqual([...y.shape], batch ? [batch, m, n] : [m, n]);
    const ad = flat(a),
      bd = flat(b),
      expected: number[] = [];
    for (let t = 0; t < Math.max(batch, 1); t++) {
      expected.push(
        ...naiveMatmul(ad.slice(t * m * k, (t + 1) * m * k), bd.slice(t * k * n, (t + 1) * k * n), m, k, n),
      );
    }
    assertClose(y, expected, dtype === 'float64' ? TIGHT : { rtol: 1e-5, atol: 1e-5 });
  }

  test('1x1 by 1x1', () => {
    assertClose(matmul(f64([[3]]), f64([[-2]])), [[-6]], EXACT);
    checkMatmul(0, 1, 1, 1, 10);
  });
  test('7x33 by 33x5', () => checkMatmul(0, 7, 33, 5, 11));
  test('batched 33x257 by 257x3 (batch 3)', () => checkMatmul(3, 33, 257, 3, 12));
  test('odd sizes around the 4x4 micro-tile', () => {
    for (const [m, k, n] of [
      [1, 7, 1],
      [4, 4, 4],
      [5, 3, 9],
      [9, 1, 2],
      [3, 2, 5],
      [8, 16, 4],
    ])
      checkMatmul(0, m, k, n, 13 + m * 100 + n);
  });
  test('float32', () => checkMatmul(2, 7, 33, 5, 14, 'float32'));
  test('a zero inner dimension gives zeros', () => {
    assertClose(
      matmul(zeros([3, 0], 'float64'), zeros([0, 2], 'float64')),
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
      EXACT,
    );
  });

  test('hand-computed 2x3 by 3x2', () => {
    assertClose(
      matmul(
        f64([
          [1, 2, 3],
          [4, 5, 6],
        ]),
        f64([
          [7, 8],
          [9, 10],
          [11, 12],
        ]),
      ),
      [
        [58, 64],
        [139, 154],
      ],
      EXACT,
    );
  });

  test('transposed views of either or both operands', () => {
    const a = rand([5, 3], 15),
      b = rand([4, 5], 16);
    const at = flat(transpose(a)),
      bt = flat(transpose(b));
    assertClose(matmul(transpose(a), transpose(b)), naiveMatmul(at, bt, 3, 5, 4), TIGHT);
    const c = rand([5, 4], 17);
    assertClose(matmul(transpose(a), c), naiveMatmul(at, flat(c), 3, 5, 4), TIGHT);
    const d = rand([3, 5], 18);
    assertClose(matmul(d, transpose(b)), naiveMatmul(flat(d), bt, 3, 5, 4), TIGHT);
  });

  test('strided and offset operands', () => {
    const big = rand([6, 9], 19);
    const a = slice(big, [1, 0], [3, 5], [2, 2]); // rows 1, 3, 5; columns 0, 2, 4, 6, 8
    const b = sliceAxis(rand([7, 4], 20), 0, 2); // rows 2..6: a contiguous view at an offset
    assertClose(matmul(a, b), naiveMatmul(flat(a), flat(b), 3, 5, 4), TIGHT);
    const [, lower] = split(rand([4, 5], 21), 2, 0);
    assertClose(matmul(lower, transpose(lower)), naiveMatmul(flat(lower), flat(transpose(lower)), 2, 5, 2), TIGHT);
  });

  test('broadcast batch dimensions [2,1,3,4] x [5,4,2] -> [2,5,3,2]', () => {
    const a = rand([2, 1, 3, 4], 22),
      b = rand([5, 4, 2], 23);
    const y = matmul(a, b);
    assert.deepEqual([...y.shape], [2, 5, 3, 2]);
    const ad = flat(a),
      bd = flat(b),
      expected: number[] = [];
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 5; j++)
        expected.push(...naiveMatmul(ad.slice(i * 12, i * 12 + 12), bd.slice(j * 8, j * 8 + 8), 3, 4, 2));
    assertClose(y, expected, TIGHT);
  });

  test('a batched operand times a matrix', () => {
    const a = rand([3, 2, 5], 24),
      b = rand([5, 4], 25);
    const y = matmul(a, b);
    assert.deepEqual([...y.shape], [3, 2, 4]);
    const expected: number[] = [];
    for (let t = 0; t < 3; t++) expected.push(...naiveMatmul(flat(a).slice(t * 10, t * 10 + 10), flat(b), 2, 5, 4));
    assertClose(y, expected, TIGHT);
  });

  test('1-D operands: vector-matrix, matrix-vector, dot, batched matrix-vector', () => {
    const v = rand([5], 26),
      m = rand([5, 3], 27),
      w = rand([3, 5], 28);
    const vm = matmul(v, m);
    assert.deepEqual([...vm.shape], [3]);
    assertClose(vm, naiveMatmul(flat(v), flat(m), 1, 5, 3), TIGHT);
    const mv = matmul(w, v);
    assert.deepEqual([...mv.shape], [3]);
    assertClose(mv, naiveMatmul(flat(w), flat(v), 3, 5, 1), TIGHT);
    const dot = matmul(v, v);
    assert.deepEqual([...dot.shape], []);
    assertClose(dot, [flat(v).reduce((s, x) => s + x * x, 0)], TIGHT);
    const bm = rand([2, 3, 5], 29);
    const bmv = matmul(bm, v);
    assert.deepEqual([...bmv.shape], [2, 3]);
    assertClose(bmv, naiveMatmul(flat(bm), flat(v), 6, 5, 1), TIGHT);
  });

  test('outer product', () => {
    assertClose(
      outer(f64([1, 2]), f64([3, 4, 5])),
      [
        [3, 4, 5],
        [6, 8, 10],
      ],
      EXACT,
    );
  });

  test('mixed dtypes promote; int32 operands and bad shapes throw', () => {
    const y = matmul(tensor([[1, 2]]), f64([[1], [1]]));
    assert.equal(y.dtype, 'float64');
    assertClose(y, [[3]], EXACT);
    assert.throws(() => matmul(tensor([[1]], undefined, 'int32'), tensor([[1]], undefined, 'int32')), DTypeError);
    assert.throws(() => matmul(rand([3, 4], 30), rand([5, 2], 31)), ShapeError);
    assert.throws(() => matmul(rand([2, 3, 4], 32), rand([3, 4, 2], 33)), ShapeError);
    assert.throws(() => matmul(tensor(1, [], 'float64'), rand([1], 34)), ShapeError);
  });
});

describe('concat, stack, split', () => {
  test('concat along each axis', () => {
    const a = f64([
        [1, 2],
        [3, 4],
      ]),
      b = f64([[5, 6]]),
      c = f64([[7], [8]]);
    assertClose(
      concat([a, b]),
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
      EXACT,
    );
    assertClose(
      concat([a, c, a], 1),
      [
        [1, 2, 7, 1, 2],
        [3, 4, 8, 3, 4],
      ],
      EXACT,
    );
    assertClose(
      concat([a, c], -1),
      [
        [1, 2, 7],
        [3, 4, 8],
      ],
      EXACT,
    );
    assert.equal(concat([a]), a);
  });

  test('concat of views, rank 3, and mixed dtypes', () => {
    const x = rand([2, 3, 4], 40);
    const [p, q] = split(x, [1, 3], 2);
    assertClose(
      concat([q, p], 2),
      flat(
        permute(
          reshape(
            concat([reshape(transpose(q, [2, 0, 1]), [3, 6]), reshape(transpose(p, [2, 0, 1]), [1, 6])]),
            [4, 2, 3],
          ),
          [1, 2, 0],
        ),
      ),
      EXACT,
    );
    const m = f64([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    assertClose(
      concat([sliceAxis(m, 0, 2), sliceAxis(m, 0, 0, 1)]),
      [
        [7, 8, 9],
        [1, 2, 3],
      ],
      EXACT,
    );
    const mixed = concat([tensor([1, 2], undefined, 'int32'), f64([0.5])]);
    assert.equal(mixed.dtype, 'float64');
    assertClose(mixed, [1, 2, 0.5], EXACT);
  });

  test('concat errors', () => {
    assert.throws(() => concat([]), ArgumentError);
    assert.throws(() => concat([f64([[1, 2]]), f64([[1, 2, 3]])]), ShapeError);
  });

  test('stack along axis 0, 1 and -1', () => {
    const a = f64([1, 2, 3]),
      b = f64([4, 5, 6]);
    const s0 = stack([a, b]);
    assert.deepEqual([...s0.shape], [2, 3]);
    assertClose(
      s0,
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      EXACT,
    );
    const s1 = stack([a, b], 1);
    assert.deepEqual([...s1.shape], [3, 2]);
    assertClose(
      s1,
      [
        [1, 4],
        [2, 5],
        [3, 6],
      ],
      EXACT,
    );
    assertClose(stack([a, b], -1), s1, EXACT);
    assert.throws(() => stack([a, f64([1, 2])]), ShapeError);
  });

  test('split into equal parts and into sizes', () => {
    const x = reshape(arange(0, 12, 1, 'float64'), [3, 4]);
    const [p, q] = split(x, 2, 1);
    assertClose(
      p,
      [
        [0, 1],
        [4, 5],
        [8, 9],
      ],
      EXACT,
    );
    assertClose(
      q,
      [
        [2, 3],
        [6, 7],
        [10, 11],
      ],
      EXACT,
    );
    const parts = split(x, [1, 0, 2], 0);
    assert.deepEqual(
      parts.map((t) => [...t.shape]),
      [
        [1, 4],
        [0, 4],
        [2, 4],
      ],
    );
    assertClose(
      parts[2],
      [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ],
      EXACT,
    );
    assertClose(
      exp(parts[2]),
      [
        [4, 5, 6, 7],
        [8, 9, 10, 11],
      ].map((r) => r.map(Math.exp)),
      { rtol: 1e-15, atol: 0 },
    );
    assert.throws(() => split(x, 3, 1), ArgumentError);
    assert.throws(() => split(x, [1, 1], 0), ArgumentError);
  });
});

describe('pad', () => {
  test('before/after padding with a value', () => {
    assertClose(
      pad(
        f64([
          [1, 2],
          [3, 4],
        ]),
        [
          [1, 0],
          [0, 2],
        ],
        9,
      ),
      [
        [9, 9, 9, 9],
        [1, 2, 9, 9],
        [3, 4, 9, 9],
      ],
      EXACT,
    );
    assertClose(pad(f64([1, 2]), [[2, 1]]), [0, 0, 1, 2, 0], EXACT);
  });

  test('interior padding', () => {
    assertClose(pad(f64([1, 2, 3]), [[0, 0, 2]]), [1, 0, 0, 2, 0, 0, 3], EXACT);
    const y = pad(
      f64([
        [1, 2],
        [3, 4],
      ]),
      [
        [1, 1, 1],
        [0, 1, 2],
      ],
      -1,
    );
    assert.deepEqual([...y.shape], [5, 5]);
    assertClose(
      y,
      [
        [-1, -1, -1, -1, -1],
        [1, -1, -1, 2, -1],
        [-1, -1, -1, -1, -1],
        [3, -1, -1, 4, -1],
        [-1, -1, -1, -1, -1],
      ],
      EXACT,
    );
  });

  test('padding of views, of int32, and no-op padding', () => {
    const m = f64([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assertClose(
      pad(transpose(m), [
        [0, 0],
        [1, 0],
      ]),
      [
        [0, 1, 4],
        [0, 2, 5],
        [0, 3, 6],
      ],
      EXACT,
    );
    assertClose(
      pad(sliceAxis(m, 0, 1), [
        [0, 1],
        [0, 0, 1],
      ]),
      [
        [4, 0, 5, 0, 6],
        [0, 0, 0, 0, 0],
      ],
      EXACT,
    );
    const i = pad(tensor([1, 2], undefined, 'int32'), [[1, 1]], 7);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(flat(i), [7, 1, 2, 7]);
    assert.equal(
      pad(m, [
        [0, 0],
        [0, 0],
      ]),
      m,
    );
  });

  test('bad paddings throw ArgumentError', () => {
    assert.throws(() => pad(f64([1]), [[0, -1]]), ArgumentError);
    assert.throws(
      () =>
        pad(f64([1]), [
          [0, 1],
          [0, 0],
        ]),
      ArgumentError,
    );
  });
});

describe('gather, take, scatterAdd, oneHot', () => {
  const m = f64([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);

  test('gather rows and columns', () => {
    assertClose(
      gather(m, [2, 0, 2]),
      [
        [7, 8, 9],
        [1, 2, 3],
        [7, 8, 9],
      ],
      EXACT,
    );
    assertClose(gather(m, [1], 1), [[2], [5], [8]], EXACT);
    assertClose(take(f64([10, 20, 30]), [2, 2, 0]), [30, 30, 10], EXACT);
  });

  test('gather with multi-dimensional and negative indices', () => {
    const y = gather(
      m,
      tensor(
        [
          [0, -1],
          [1, 1],
        ],
        undefined,
        'int32',
      ),
      1,
    );
    assert.deepEqual([...y.shape], [3, 2, 2]);
    assertClose(
      y,
      [
        [
          [1, 3],
          [2, 2],
        ],
        [
          [4, 6],
          [5, 5],
        ],
        [
          [7, 9],
          [8, 8],
        ],
      ],
      EXACT,
    );
    assertClose(gather(f64([1, 2, 3]), [-3]), [1], EXACT);
  });

  test('gather from views and of int32 values', () => {
    assertClose(
      gather(transpose(m), [0, 2]),
      [
        [1, 4, 7],
        [3, 6, 9],
      ],
      EXACT,
    );
    assertClose(
      gather(sliceAxis(m, 0, 1), [1, 0]),
      [
        [7, 8, 9],
        [4, 5, 6],
      ],
      EXACT,
    );
    const ids = sliceAxis(tensor([0, 2, 1, 0], undefined, 'int32'), 0, 1);
    assertClose(gather(f64([10, 20, 30]), ids), [30, 20, 10], EXACT);
    const i = gather(tensor([5, 6, 7], undefined, 'int32'), [2, 0]);
    assert.equal(i.dtype, 'int32');
    assert.deepEqual(flat(i), [7, 5]);
  });

  test('gather errors: out-of-range and non-int32 indices', () => {
    assert.throws(() => gather(m, [3]), ArgumentError);
    assert.throws(() => gather(m, [-4]), ArgumentError);
    assert.throws(() => gather(m, f64([0])), ArgumentError);
  });

  test('scatterAdd accumulates repeated indices', () => {
    const y = scatterAdd(
      zeros([4, 2], 'float64'),
      [1, 3, 1],
      f64([
        [1, 2],
        [3, 4],
        [10, 20],
      ]),
    );
    assertClose(
      y,
      [
        [0, 0],
        [11, 22],
        [0, 0],
        [3, 4],
      ],
      EXACT,
    );
    const z = scatterAdd(
      m,
      [0, 0, 2],
      f64([
        [1, 1, 1],
        [2, 2, 2],
        [3, 3, 3],
      ]),
      1,
    );
    // Along axis 1, updates[r, i] lands on x[r, indices[i]]: columns 0, 0 and 2 of each row.
    assertClose(
      z,
      [
        [1 + 1 + 1, 2, 3 + 1],
        [4 + 2 + 2, 5, 6 + 2],
        [7 + 3 + 3, 8, 9 + 3],
      ],
      EXACT,
    );
    assertClose(
      m,
      [
        [1, 2, 3],
        [4, 5, 6],
        [7, 8, 9],
      ],
      EXACT,
    ); // x itself is unchanged
  });

  test('scatterAdd into and from views', () => {
    const y = scatterAdd(sliceAxis(m, 0, 1), [0], sliceAxis(m, 0, 0, 1));
    assertClose(
      y,
      [
        [5, 7, 9],
        [7, 8, 9],
      ],
      EXACT,
    );
    const u = sliceAxis(reshape(arange(0, 9, 1, 'float64'), [3, 3]), 0, 1);
    assertClose(
      scatterAdd(zeros([2, 3], 'float64'), [1, 1], u),
      [
        [0, 0, 0],
        [9, 11, 13],
      ],
      EXACT,
    );
  });

  test('scatterAdd errors: wrong update shape and out-of-range index', () => {
    assert.throws(() => scatterAdd(m, [0, 1], f64([[1, 2, 3]])), ShapeError);
    assert.throws(() => scatterAdd(m, [5], f64([[1, 2, 3]])), ArgumentError);
  });

  test('oneHot', () => {
    const y = oneHot(tensor([0, 2, 1, 5, -1], undefined, 'int32'), 3);
    assert.equal(y.dtype, 'float32');
    assert.deepEqual(y.toArray(), [
      [1, 0, 0],
      [0, 0, 1],
      [0, 1, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const z = oneHot(tensor([[1], [0]], undefined, 'int32'), 2, 'int32');
    assert.deepEqual([...z.shape], [2, 1, 2]);
    assert.equal(z.dtype, 'int32');
    assert.deepEqual(flat(z), [0, 1, 1, 0]);
    assert.throws(() => oneHot(f64([1]), 3), ArgumentError);
    assert.throws(() => oneHot(tensor([1], undefined, 'int32'), 0), ArgumentError);
  });
});

describe('softmax and logSoftmax', () => {
  const rowSums = (y: Tensor, axis: number) => sum(y, axis);

  test('rows sum to 1 and values are in (0, 1)', () => {
    const x = rand([3, 5], 50, { lo: -5, hi: 5 });
    const y = softmax(x);
    assertClose(rowSums(y, -1), [1, 1, 1], { rtol: 1e-15, atol: 1e-15 });
    assert.ok(flat(y).every((v) => v > 0 && v < 1));
    const y0 = softmax(rand([2, 3, 7], 51), 0);
    assertClose(rowSums(y0, 0), new Array(21).fill(1), { rtol: 1e-15, atol: 1e-15 });
    const y1 = softmax(rand([2, 3, 7], 52), 1);
    assertClose(rowSums(y1, 1), new Array(14).fill(1), { rtol: 1e-15, atol: 1e-15 });
  });

  test('matches exp(x) / sum(exp(x)) and is shift invariant', () => {
    const x = f64([
      [1, 2, 3],
      [0, 0, 0],
    ]);
    const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
    const s = e[0] + e[1] + e[2];
    assertClose(
      softmax(x),
      [
        [e[0] / s, e[1] / s, e[2] / s],
        [1 / 3, 1 / 3, 1 / 3],
      ],
      { rtol: 1e-15, atol: 1e-16 },
    );
    assertClose(softmax(add(x, 1000)), softmax(x), { rtol: 1e-14, atol: 1e-16 });
  });

  test('large inputs stay finite', () => {
    const y = softmax(
      f64([
        [1000, 0, -1000],
        [-1e308, 1e308, 0],
      ]),
    );
    assert.ok(flat(y).every(Number.isFinite));
    assertClose(
      y,
      [
        [1, 0, 0],
        [0, 1, 0],
      ],
      EXACT,
    );
    const y32 = softmax(tensor([[100, 100, 50]]));
    assertClose(y32, [[0.5, 0.5, Math.exp(-50) / 2]], { rtol: 1e-6, atol: 1e-30 });
  });

  test('logSoftmax equals log(softmax) and x - logsumexp(x)', () => {
    const x = rand([3, 5], 53);
    assertClose(logSoftmax(x), log(softmax(x)), { rtol: 1e-14, atol: 1e-14 });
    assertClose(logSoftmax(x, 0), add(x, mul(logsumexp(x, 0, true), -1)), { rtol: 1e-14, atol: 1e-14 });
    assertClose(exp(logSoftmax(f64([[1000, 0]]))), [[1, 0]], EXACT);
    assertClose(logSoftmax(f64([[1000, 0]])), [[0, -1000]], EXACT);
  });

  test('softmax of strided views', () => {
    const x = rand([3, 5], 54);
    assertClose(softmax(transpose(x), 0), transpose(softmax(x, 1)), { rtol: 1e-15, atol: 1e-16 });
    const dense = cast(flip(x, 1), 'float64');
    assertClose(softmax(flip(x, 1)), softmax(reshape(dense, [3, 5])), { rtol: 1e-15, atol: 1e-16 });
    const m = rand([4, 5], 55);
    const [, lower] = split(m, 2, 0); // contiguous, at an offset
    assertClose(softmax(lower), softmax(tensor(flat(m).slice(10), [2, 5], 'float64')), { rtol: 1e-15, atol: 1e-16 });
    assertClose(logSoftmax(lower, 0), logSoftmax(tensor(flat(m).slice(10), [2, 5], 'float64'), 0), {
      rtol: 1e-15,
      atol: 1e-16,
    });
    assertClose(
      softmax(expand(f64([1, 2]), [3, 2])),
      [
        [0.2689414213699951, 0.7310585786300049],
        [0.2689414213699951, 0.7310585786300049],
        [0.2689414213699951, 0.7310585786300049],
      ],
      { rtol: 1e-15, atol: 0 },
    );
  });
});
