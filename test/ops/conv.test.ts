// Tests conv1d, conv2d, conv2dTranspose, maxPool2d and avgPool2d: naive-loop references, Keras shapes, gradients,
// typed errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  ShapeError,
  Tensor,
  assertGradients,
  avgPool2d,
  conv1d,
  conv2d,
  conv2dTranspose,
  maxPool2d,
  getBackend,
  memory,
  onKernel,
  permute,
  setBackend,
  slice,
  tensor,
  tidy,
  vjp,
} from '../../src/index.js';
import { assertClose, rand } from '../helpers.js';
import { runFusedOp } from '../../src/ops/families/index.js';
import { resolvePadding } from '../../src/ops/families/conv.js';

type Pad = 'same' | 'valid';
type Pair = [number, number];
const TIGHT = { rtol: 1e-10, atol: 1e-12 };

const pairOf = (v: number | readonly [number, number]): Pair => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/** Output length and [before, after] padding of one spatial axis, by TF/Keras rules, written out plainly. */
function axisGeometry(
  size: number,
  k: number,
  stride: number,
  dil: number,
  padding: Pad,
): { out: number; before: number } {
  const extent = (k - 1) * dil + 1;
  if (padding === 'valid') return { out: Math.floor((size - extent) / stride) + 1, before: 0 };
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + extent - size, 0);
  return { out, before: Math.floor(total / 2) };
}

/** y[b, oy, ox, o] = sum x[b, oy*s + a*d - top, ox*s + c*d - left, i] * f[a, c, i, o] over taps inside the input. */
function refConv2d(
  x: ArrayLike<number>,
  [n, h, w, cin]: number[],
  f: ArrayLike<number>,
  [kh, kw, , cout]: number[],
  s: Pair,
  d: Pair,
  padding: Pad,
) {
  const gy = axisGeometry(h, kh, s[0], d[0], padding),
    gx = axisGeometry(w, kw, s[1], d[1], padding);
  const ho = gy.out,
    wo = gx.out;
  const y = new Float64Array(n * ho * wo * cout);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let o = 0; o < cout; o++) {
          let acc = 0;
          for (let a = 0; a < kh; a++)
            for (let c = 0; c < kw; c++) {
              const iy = oy * s[0] + a * d[0] - gy.before,
                ix = ox * s[1] + c * d[1] - gx.before;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let i = 0; i < cin; i++)
                acc += x[((b * h + iy) * w + ix) * cin + i] * f[((a * kw + c) * cin + i) * cout + o];
            }
          y[((b * ho + oy) * wo + ox) * cout + o] = acc;
        }
  return { data: y, shape: [n, ho, wo, cout] };
}

/** y[b, t, o] = sum x[b, t*s + a*d - left, i] * f[a, i, o]. */
function refConv1d(
  x: ArrayLike<number>,
  [n, len, cin]: number[],
  f: ArrayLike<number>,
  [k, , cout]: number[],
  s: number,
  d: number,
  padding: Pad,
) {
  const g = axisGeometry(len, k, s, d, padding);
  const y = new Float64Array(n * g.out * cout);
  for (let b = 0; b < n; b++)
    for (let t = 0; t < g.out; t++)
      for (let o = 0; o < cout; o++) {
        let acc = 0;
        for (let a = 0; a < k; a++) {
          const it = t * s + a * d - g.before;
          if (it < 0 || it >= len) continue;
          for (let i = 0; i < cin; i++) acc += x[(b * len + it) * cin + i] * f[(a * cin + i) * cout + o];
        }
        y[(b * g.out + t) * cout + o] = acc;
      }
  return { data: y, shape: [n, g.out, cout] };
}

/** Max or mean over the in-bounds part of each window (padding is neither a candidate nor counted). */
function refPool(kind: 'max' | 'avg', x: ArrayLike<number>, [n, h, w, c]: number[], k: Pair, s: Pair, padding: Pad) {
  const gy = axisGeometry(h, k[0], s[0], 1, padding),
    gx = axisGeometry(w, k[1], s[1], 1, padding);
  const ho = gy.out,
    wo = gx.out;
  const y = new Float64Array(n * ho * wo * c);
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < ho; oy++)
      for (let ox = 0; ox < wo; ox++)
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity,
            total = 0,
            count = 0;
          for (let a = 0; a < k[0]; a++)
            for (let e = 0; e < k[1]; e++) {
              const iy = oy * s[0] + a - gy.before,
                ix = ox * s[1] + e - gx.before;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const v = x[((b * h + iy) * w + ix) * c + ch];
              best = Math.max(best, v);
              total += v;
              count++;
            }
          y[((b * ho + oy) * wo + ox) * c + ch] = kind === 'max' ? best : total / count;
        }
  return { data: y, shape: [n, ho, wo, c] };
}

/** Keras Conv2DTranspose output length (deconv_output_length with output_padding None). */
function transposeLength(size: number, k: number, stride: number, dil: number, padding: Pad): number {
  const extent = (k - 1) * dil + 1;
  return padding === 'same' ? size * stride : size * stride + Math.max(extent - stride, 0);
}

/**
 * Transposed convolution as a scatter: every input element x[b, i, j, ci] adds x * f[a, c, co, ci] to
 * y[b, i*s + a*d - top, j*s + c*d - left, co], where top/left is the conv2d padding of the output size.
 */
function refConvTranspose(
  x: ArrayLike<number>,
  [n, h, w, cin]: number[],
  f: ArrayLike<number>,
  [kh, kw, cout]: number[],
  s: Pair,
  d: Pair,
  padding: Pad,
) {
  const ho = transposeLength(h, kh, s[0], d[0], padding),
    wo = transposeLength(w, kw, s[1], d[1], padding);
  const top = axisGeometry(ho, kh, s[0], d[0], padding).before,
    left = axisGeometry(wo, kw, s[1], d[1], padding).before;
  const y = new Float64Array(n * ho * wo * cout);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < h; i++)
      for (let j = 0; j < w; j++)
        for (let ci = 0; ci < cin; ci++) {
          const v = x[((b * h + i) * w + j) * cin + ci];
          for (let a = 0; a < kh; a++)
            for (let c = 0; c < kw; c++) {
              const oy = i * s[0] + a * d[0] - top,
                ox = j * s[1] + c * d[1] - left;
              if (oy < 0 || oy >= ho || ox < 0 || ox >= wo) continue;
              for (let co = 0; co < cout; co++)
                y[((b * ho + oy) * wo + ox) * cout + co] += v * f[((a * kw + c) * cout + co) * cin + ci];
            }
        }
  return { data: y, shape: [n, ho, wo, cout] };
}

function expectMatches(actual: Tensor, ref: { data: Float64Array; shape: number[] }, what: string, tol = TIGHT): void {
  assert.deepEqual([...actual.shape], ref.shape, `${what}: shape`);
  assertClose(actual, ref.data, tol, what);
}

const STRIDES: (number | [number, number])[] = [1, 2, [2, 1]];
const DILATIONS: (number | [number, number])[] = [1, 2];
const PADDINGS: Pad[] = ['same', 'valid'];

describe('conv2d forward', () => {
  const xShape = [2, 7, 5, 3];
  const x = rand(xShape, 11);
  const filters = [
    [3, 2, 3, 4],
    [1, 1, 3, 4],
    [3, 3, 3, 2],
  ].map((shape, i) => ({ shape, f: rand(shape, 20 + i) }));

  for (const { shape: fShape, f } of filters) {
    for (const strides of STRIDES)
      for (const dilations of DILATIONS)
        for (const padding of PADDINGS) {
          const what =
            `conv2d x ${JSON.stringify(xShape)} f ${JSON.stringify(fShape)} ` +
            `strides ${JSON.stringify(strides)} dilations ${dilations} ${padding}`;
          test(what, () => {
            const y = conv2d(x, f, { strides, dilations, padding });
            expectMatches(
              y,
              refConv2d(x.dataSync(), xShape, f.dataSync(), fShape, pairOf(strides), pairOf(dilations), padding),
              what,
            );
            y.dispose();
          });
        }
  }

  test('asymmetric strides [1, 3] and dilations [1, 2] on an odd 9x7 input', () => {
    const xs = [1, 9, 7, 2],
      fs = [2, 3, 2, 3];
    const xi = rand(xs, 31),
      fi = rand(fs, 32);
    for (const padding of PADDINGS) {
      const y = conv2d(xi, fi, { strides: [1, 3], dilations: [1, 2], padding });
      expectMatches(y, refConv2d(xi.dataSync(), xs, fi.dataSync(), fs, [1, 3], [1, 2], padding), padding);
      y.dispose();
    }
  });

  test("'same' output is ceil(size / stride) even when the window exceeds the input", () => {
    const xs = [1, 3, 2, 1],
      fs = [5, 4, 1, 2];
    const xi = rand(xs, 33),
      fi = rand(fs, 34);
    for (const strides of [1, 2]) {
      const y = conv2d(xi, fi, { strides, padding: 'same' });
      assert.deepEqual([...y.shape], [1, Math.ceil(3 / strides), Math.ceil(2 / strides), 2]);
      expectMatches(
        y,
        refConv2d(xi.dataSync(), xs, fi.dataSync(), fs, [strides, strides], [1, 1], 'same'),
        `stride ${strides}`,
      );
    }
  });

  // Regression: contiguous views at a nonzero offset reach kernels as their whole buffer plus the offset;
  // a kernel reading from element 0 got the wrong elements. With a 1x1 output, every im2col tap is such a view.
  test('inputs and im2col taps that are contiguous views at an offset', () => {
    const xs = [1, 3, 2, 1],
      fs = [5, 4, 1, 2];
    const xi = rand(xs, 33),
      fi = rand(fs, 34);
    const y = conv2d(xi, fi, { strides: 3, padding: 'same' });
    expectMatches(y, refConv2d(xi.dataSync(), xs, fi.dataSync(), fs, [3, 3], [1, 1], 'same'), 'stride 3');
    const batch = rand([3, 5, 4, 3], 38);
    const second = slice(batch, [1, 0, 0, 0], [1, 5, 4, 3]);
    const f = filters[0].f;
    expectMatches(
      conv2d(second, f),
      refConv2d(second.dataSync(), [1, 5, 4, 3], f.dataSync(), filters[0].shape, [1, 1], [1, 1], 'valid'),
      'batch slice',
    );
  });

  test('defaults are stride 1, dilation 1, valid padding', () => {
    const f = filters[0].f;
    const y = conv2d(x, f);
    expectMatches(
      y,
      refConv2d(x.dataSync(), xShape, f.dataSync(), filters[0].shape, [1, 1], [1, 1], 'valid'),
      'defaults',
    );
  });

  test('non-contiguous inputs (permuted and strided views) give the same result', () => {
    const base = rand([2, 5, 14, 3], 35); // [N, W, 2H, C] -> take every other row and swap H/W
    const view = slice(permute(base, [0, 2, 1, 3]), [0, 0, 0, 0], [2, 7, 5, 3], [1, 2, 1, 1]);
    assert.equal(view.isContiguous, false);
    const dense = tensor(view.dataSync(), [2, 7, 5, 3], 'float64');
    const f = filters[0].f;
    assertClose(
      conv2d(view, f, { strides: 2, padding: 'same' }),
      conv2d(dense, f, { strides: 2, padding: 'same' }),
      TIGHT,
    );
  });

  test('float32 inputs give float32 output close to the float64 reference', () => {
    const x32 = rand(xShape, 36, { dtype: 'float32' }),
      f32 = rand([3, 2, 3, 4], 37, { dtype: 'float32' });
    const y = conv2d(x32, f32, { strides: 2, padding: 'same' });
    assert.equal(y.dtype, 'float32');
    expectMatches(
      y,
      refConv2d(x32.dataSync(), xShape, f32.dataSync(), [3, 2, 3, 4], [2, 2], [1, 1], 'same'),
      'float32',
      { rtol: 1e-5, atol: 1e-5 },
    );
  });

  test('runs the composite on the JS backend (no fused conv2d kernel) and frees its temporaries', () => {
    const events: { op: string; fused: boolean }[] = [];
    const before = memory();
    const off = onKernel((e) => events.push({ op: e.op, fused: e.fused }));
    const base = getBackend().name;
    setBackend('js');
    try {
      tidy(() => conv2d(x, filters[0].f, { strides: 2, padding: 'same' }).dataSync());
    } finally {
      off();
      setBackend(base);
    }
    assert.ok(events.length > 0 && events.every((e) => !e.fused), 'every kernel is a primitive');
    assert.ok(
      events.some((e) => e.op === 'matmul'),
      'the composite multiplies im2col columns by the filter',
    );
    assert.deepEqual(memory(), before, 'tidy frees every temporary');
  });
});

describe('conv1d forward', () => {
  const xShape = [2, 9, 3];
  const x = rand(xShape, 41);
  for (const fShape of [
    [3, 3, 4],
    [1, 3, 2],
  ]) {
    const f = rand(fShape, 42 + fShape[0]);
    for (const stride of [1, 2, 3])
      for (const dilation of [1, 2])
        for (const padding of PADDINGS) {
          const what =
            `conv1d x ${JSON.stringify(xShape)} f ${JSON.stringify(fShape)} ` +
            `stride ${stride} dilation ${dilation} ${padding}`;
          test(what, () => {
            const y = conv1d(x, f, { stride, dilation, padding });
            expectMatches(y, refConv1d(x.dataSync(), xShape, f.dataSync(), fShape, stride, dilation, padding), what);
          });
        }
  }
});

describe('pooling forward', () => {
  const xShape = [2, 7, 5, 3];
  const x = rand(xShape, 51);
  const cases: { poolSize: number | [number, number]; strides?: number | [number, number] }[] = [
    { poolSize: 2 },
    { poolSize: 3 },
    { poolSize: [3, 2] },
    { poolSize: 2, strides: 1 },
    { poolSize: 3, strides: [2, 1] },
    { poolSize: [2, 3], strides: [1, 2] },
    { poolSize: 3, strides: 2 },
  ];
  for (const kind of ['max', 'avg'] as const) {
    const op = kind === 'max' ? maxPool2d : avgPool2d;
    for (const { poolSize, strides } of cases)
      for (const padding of PADDINGS) {
        const what =
          `${kind}Pool2d poolSize ${JSON.stringify(poolSize)} ` +
          `strides ${JSON.stringify(strides ?? 'default')} ${padding}`;
        test(what, () => {
          const y = op(x, poolSize, { strides, padding });
          expectMatches(
            y,
            refPool(kind, x.dataSync(), xShape, pairOf(poolSize), pairOf(strides ?? poolSize), padding),
            what,
          );
        });
      }
  }

  test("'same' max pooling ignores padding even when every input is negative", () => {
    const neg = rand([1, 5, 5, 2], 52, { lo: -9, hi: -1 });
    const y = maxPool2d(neg, 3, { strides: 2, padding: 'same' });
    assert.ok(Array.from(y.dataSync()).every((v) => v < 0 && Number.isFinite(v)));
    expectMatches(y, refPool('max', neg.dataSync(), [1, 5, 5, 2], [3, 3], [2, 2], 'same'), 'negative');
  });

  test("'same' average pooling divides by the in-bounds count (corner of a constant input stays constant)", () => {
    const c = tensor(new Float64Array(1 * 5 * 4 * 1).fill(3), [1, 5, 4, 1], 'float64');
    const y = avgPool2d(c, 3, { strides: 1, padding: 'same' });
    assert.deepEqual([...y.shape], [1, 5, 4, 1]);
    assertClose(y, new Float64Array(20).fill(3), TIGHT);
  });
});

describe('conv2dTranspose', () => {
  const configs: { strides: number; padding: Pad; dilations: number }[] = [];
  for (const strides of [1, 2])
    for (const padding of PADDINGS) for (const dilations of [1, 2]) configs.push({ strides, padding, dilations });

  for (const fShape of [
    [3, 2, 4, 3],
    [2, 3, 2, 3],
  ]) {
    for (const opts of configs) {
      const what = `f ${JSON.stringify(fShape)} ${JSON.stringify(opts)}`;
      const xShape = [2, 4, 3, fShape[3]];
      const x = rand(xShape, 61),
        f = rand(fShape, 62);

      test(`equals the conv2d input VJP: ${what}`, () => {
        const y = conv2dTranspose(x, f, opts);
        const [n, ho, wo] = y.shape;
        // conv2d from [n, ho, wo, Cout] with the same filter read as [kh, kw, Cin=Cout, Cout=Cin] lands on x's shape.
        const probe = rand([n, ho, wo, fShape[2]], 63);
        const { value, grads } = vjp((xin: Tensor) => conv2d(xin, f, opts), probe, x);
        assert.deepEqual([...value.shape], xShape, 'conv2d maps the transpose output shape back to the input shape');
        assertClose(y, grads, TIGHT, what);
        value.dispose();
        grads.dispose();
        y.dispose();
      });

      test(`matches a naive scatter loop: ${what}`, () => {
        const y = conv2dTranspose(x, f, opts);
        expectMatches(
          y,
          refConvTranspose(
            x.dataSync(),
            xShape,
            f.dataSync(),
            fShape,
            pairOf(opts.strides),
            pairOf(opts.dilations),
            opts.padding,
          ),
          what,
        );
      });
    }
  }

  test('asymmetric strides [2, 3] and dilations [2, 1] match the scatter loop', () => {
    const xs = [1, 3, 4, 2],
      fs = [3, 3, 3, 2];
    const x = rand(xs, 64),
      f = rand(fs, 65);
    for (const padding of PADDINGS) {
      const y = conv2dTranspose(x, f, { strides: [2, 3], dilations: [2, 1], padding });
      expectMatches(y, refConvTranspose(x.dataSync(), xs, f.dataSync(), fs, [2, 3], [2, 1], padding), padding);
    }
  });

  test("output shapes follow Keras: 'same' -> H * stride, 'valid' -> (H - 1) * stride + max(extent, stride)", () => {
    for (const h of [3, 4, 5])
      for (const s of [1, 2, 3])
        for (const k of [1, 2, 3])
          for (const d of [1, 2]) {
            const x = rand([1, h, h + 2, 2], 66),
              f = rand([k, k, 1, 2], 67);
            const extent = (k - 1) * d + 1;
            const same = conv2dTranspose(x, f, { strides: s, dilations: d, padding: 'same' });
            assert.deepEqual([...same.shape], [1, h * s, (h + 2) * s, 1], `same h ${h} s ${s} k ${k} d ${d}`);
            const valid = conv2dTranspose(x, f, { strides: s, dilations: d, padding: 'valid' });
            // (H - 1) * stride + extent whenever extent >= stride; Keras pads up to H * stride otherwise.
            const len = (n: number) => (extent >= s ? (n - 1) * s + extent : n * s);
            assert.deepEqual([...valid.shape], [1, len(h), len(h + 2), 1], `valid h ${h} s ${s} k ${k} d ${d}`);
            same.dispose();
            valid.dispose();
          }
  });

  test("'valid' with the kernel extent below the stride gives H * stride, as Keras (trailing rows are zero)", () => {
    const xs = [1, 3, 2, 2],
      fs = [1, 2, 3, 2];
    const x = rand(xs, 68),
      f = rand(fs, 69);
    const y = conv2dTranspose(x, f, { strides: 3, padding: 'valid' });
    assert.deepEqual([...y.shape], [1, 9, 6, 3]);
    expectMatches(y, refConvTranspose(x.dataSync(), xs, f.dataSync(), fs, [3, 3], [1, 1], 'valid'), 'extent < stride');
    const { value, grads } = vjp(
      (xin: Tensor) => conv2d(xin, f, { strides: 3, padding: 'valid' }),
      rand([1, 9, 6, 3], 70),
      x,
    );
    assert.deepEqual([...value.shape], xs);
    assertClose(y, grads, TIGHT, 'vjp');
  });
});

describe('gradients (float64, finite differences)', () => {
  test('conv2d w.r.t. input and filter, stride 2, same', () => {
    assertGradients(
      (x, f) => conv2d(x, f, { strides: 2, padding: 'same' }),
      [rand([1, 5, 5, 2], 71), rand([3, 2, 2, 3], 72)],
    );
  });
  test('conv2d w.r.t. input and filter, strides [1, 2], dilation 2, valid', () => {
    assertGradients(
      (x, f) => conv2d(x, f, { strides: [1, 2], dilations: 2, padding: 'valid' }),
      [rand([2, 5, 7, 2], 73), rand([2, 2, 2, 2], 74)],
    );
  });
  test('conv1d w.r.t. input and filter, stride 2, dilation 2, same', () => {
    assertGradients(
      (x, f) => conv1d(x, f, { stride: 2, dilation: 2, padding: 'same' }),
      [rand([2, 9, 3], 75), rand([3, 3, 2], 76)],
    );
  });
  test('conv2dTranspose w.r.t. input and filter, stride 2, same', () => {
    assertGradients(
      (x, f) => conv2dTranspose(x, f, { strides: 2, padding: 'same' }),
      [rand([1, 3, 3, 2], 77), rand([3, 3, 2, 2], 78)],
    );
  });
  test('conv2dTranspose w.r.t. input and filter, stride 2, dilation 2, valid', () => {
    assertGradients(
      (x, f) => conv2dTranspose(x, f, { strides: [2, 1], dilations: 2, padding: 'valid' }),
      [rand([1, 3, 2, 3], 79), rand([2, 2, 2, 3], 80)],
    );
  });
  test('maxPool2d, pool 3 stride 2, same (random values: no ties)', () => {
    assertGradients((x) => maxPool2d(x, 3, { strides: 2, padding: 'same' }), [rand([2, 5, 7, 2], 81)]);
  });
  test('maxPool2d, pool [2, 3] strides [1, 2], valid', () => {
    assertGradients((x) => maxPool2d(x, [2, 3], { strides: [1, 2], padding: 'valid' }), [rand([1, 5, 7, 3], 82)]);
  });
  test('avgPool2d, pool 3 stride 2, same', () => {
    assertGradients((x) => avgPool2d(x, 3, { strides: 2, padding: 'same' }), [rand([2, 5, 7, 2], 83)]);
  });
  test('avgPool2d, pool [3, 2] strides [2, 1], valid', () => {
    assertGradients((x) => avgPool2d(x, [3, 2], { strides: [2, 1] }), [rand([1, 7, 5, 3], 84)]);
  });
});

describe('gradient ops of convolution and pooling', () => {
  /**
   * df[a, c, i, o] = sum over output pixels of x[tap (a, c) of the pixel, i] * dy[pixel, o], taps inside the input
   * only.
   */
  function refFilterGrad(
    x: ArrayLike<number>,
    [n, h, w, cin]: number[],
    dy: ArrayLike<number>,
    [kh, kw, , cout]: number[],
    s: Pair,
    d: Pair,
    padding: Pad,
  ) {
    const gy = axisGeometry(h, kh, s[0], d[0], padding),
      gx = axisGeometry(w, kw, s[1], d[1], padding);
    const df = new Float64Array(kh * kw * cin * cout);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < gy.out; oy++)
        for (let ox = 0; ox < gx.out; ox++)
          for (let a = 0; a < kh; a++)
            for (let c = 0; c < kw; c++) {
              const iy = oy * s[0] + a * d[0] - gy.before,
                ix = ox * s[1] + c * d[1] - gx.before;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let i = 0; i < cin; i++)
                for (let o = 0; o < cout; o++) {
                  df[((a * kw + c) * cin + i) * cout + o] +=
                    x[((b * h + iy) * w + ix) * cin + i] * dy[((b * gy.out + oy) * gx.out + ox) * cout + o];
                }
            }
    return { data: df, shape: [kh, kw, cin, cout] };
  }

  /**
   * dx of pooling: each dy to the first in-bounds tap holding the window's max (max), or split over the in-bounds
   * taps (avg).
   */
  function refPoolGrad(
    kind: 'max' | 'avg',
    x: ArrayLike<number>,
    [n, h, w, c]: number[],
    dy: ArrayLike<number>,
    k: Pair,
    s: Pair,
    padding: Pad,
  ) {
    const gy = axisGeometry(h, k[0], s[0], 1, padding),
      gx = axisGeometry(w, k[1], s[1], 1, padding);
    const dx = new Float64Array(n * h * w * c);
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < gy.out; oy++)
        for (let ox = 0; ox < gx.out; ox++)
          for (let ch = 0; ch < c; ch++) {
            const inside: number[] = [];
            for (let a = 0; a < k[0]; a++)
              for (let e = 0; e < k[1]; e++) {
                const iy = oy * s[0] + a - gy.before,
                  ix = ox * s[1] + e - gx.before;
                if (iy >= 0 && iy < h && ix >= 0 && ix < w) inside.push(((b * h + iy) * w + ix) * c + ch);
              }
            const g = dy[((b * gy.out + oy) * gx.out + ox) * c + ch];
            if (kind === 'avg') {
              for (const at of inside) dx[at] += g / inside.length;
              continue;
            }
            let first = inside[0];
            for (const at of inside) if (x[at] > x[first]) first = at;
            dx[first] += g;
          }
    return { data: dx, shape: [n, h, w, c] };
  }

  const xs = [2, 7, 6, 3],
    fs = [3, 2, 3, 4];
  const x = rand(xs, 121),
    f = rand(fs, 122);
  for (const strides of STRIDES)
    for (const dilations of DILATIONS)
      for (const padding of PADDINGS) {
        const what =
          `conv2d filter gradient matches the loop: strides ${JSON.stringify(strides)} ` +
          `dilations ${JSON.stringify(dilations)} ${padding}`;
        test(what, () => {
          const opts = { strides, dilations, padding };
          const y = conv2d(x, f, opts);
          const dy = rand([...y.shape], 123);
          const { grads } = vjp((ff: Tensor) => conv2d(x, ff, opts), f, dy);
          expectMatches(
            grads as Tensor,
            refFilterGrad(x.dataSync(), xs, dy.dataSync(), fs, pairOf(strides), pairOf(dilations), padding),
            what,
          );
        });
      }

  const poolCases: { poolSize: Pair; strides: Pair; padding: Pad }[] = [
    { poolSize: [2, 2], strides: [2, 2], padding: 'valid' },
    { poolSize: [3, 3], strides: [2, 2], padding: 'same' },
    { poolSize: [2, 3], strides: [1, 2], padding: 'same' },
    { poolSize: [3, 2], strides: [2, 1], padding: 'valid' },
  ];
  // Small integers: many windows hold their max more than once, so the tie rule decides.
  const tied = tensor(
    Float64Array.from(rand(xs, 124).dataSync(), (v) => Math.round(v)),
    xs,
    'float64',
  );
  for (const kind of ['max', 'avg'] as const)
    for (const { poolSize, strides, padding } of poolCases) {
      const what =
        `${kind}Pool2d gradient matches the loop (ties go to the first tap): ` +
        `pool ${poolSize} strides ${strides} ${padding}`;
      test(what, () => {
        const op = kind === 'max' ? maxPool2d : avgPool2d;
        const y = op(tied, poolSize, { strides, padding });
        const dy = rand([...y.shape], 125);
        const { grads } = vjp((t: Tensor) => op(t, poolSize, { strides, padding }), tied, dy);
        expectMatches(
          grads as Tensor,
          refPoolGrad(kind, tied.dataSync(), xs, dy.dataSync(), poolSize, strides, padding),
          what,
        );
      });
    }

  test('maxPool2d gradient: a NaN is the max of its window and takes the gradient', () => {
    const data = Float64Array.from({ length: 16 }, (_, i) => i);
    data[5] = NaN;
    const { grads } = vjp(
      (t: Tensor) => maxPool2d(t, 2),
      tensor(data, [1, 4, 4, 1], 'float64'),
      tensor([1, 2, 3, 4], [1, 2, 2, 1], 'float64'),
    );
    const expected = new Float64Array(16);
    expected[5] = 1;
    expected[7] = 2;
    expected[13] = 3;
    expected[15] = 4;
    assertClose(grads as Tensor, expected, TIGHT);
  });

  // The backprop ops' own gradients (hand rules for the convolution ones, the composite for max pooling).
  const conv = {
    strides: [2, 1] as const,
    dilations: [1, 2] as const,
    pads: resolvePadding('t', 'same', [5, 6], [2, 3], [2, 1], [1, 2]),
  };
  test('conv2dBackpropFilter w.r.t. x and dy (float64, finite differences)', () => {
    const p = { ...conv, filterShape: [2, 3, 2, 3] as const };
    assertGradients(
      (xx, dy) => runFusedOp('conv2dBackpropFilter', [xx, dy], p),
      [rand([2, 5, 6, 2], 126), rand([2, 3, 6, 3], 127)],
    );
  });
  test('conv2dBackpropInput w.r.t. dy and filter (float64, finite differences)', () => {
    const p = { ...conv, inputShape: [2, 5, 6, 2] as const };
    assertGradients(
      (dy, ff) => runFusedOp('conv2dBackpropInput', [dy, ff], p),
      [rand([2, 3, 6, 3], 128), rand([2, 3, 2, 3], 129)],
    );
  });
  test('conv2dBackpropInput rejects a dy whose rank differs from the conv2d output', () => {
    const p = { ...conv, inputShape: [2, 5, 6, 2] as const };
    const dy = rand([2, 3, 6, 3, 1], 130);
    assert.throws(() => runFusedOp('conv2dBackpropInput', [dy, rand([2, 3, 2, 3], 131)], p), ShapeError);
  });
  const pool = {
    poolSize: [3, 2] as const,
    strides: [2, 1] as const,
    pads: resolvePadding('t', 'same', [5, 6], [3, 2], [2, 1], [1, 1]),
  };
  test('avgPool2dBackprop w.r.t. dy (float64, finite differences)', () => {
    assertGradients(
      (dy) => runFusedOp('avgPool2dBackprop', [dy], { ...pool, inputShape: [2, 5, 6, 3] }),
      [rand([2, 3, 6, 3], 130)],
    );
  });
  test('maxPool2dBackprop w.r.t. x and dy (float64, finite differences; random values: no ties)', () => {
    assertGradients(
      (xx, dy) => runFusedOp('maxPool2dBackprop', [xx, dy], pool),
      [rand([2, 5, 6, 3], 131), rand([2, 3, 6, 3], 132)],
    );
  });

  test('mismatched dy: ShapeError naming the op and both shapes', () => {
    const p = { ...conv, filterShape: [2, 3, 2, 3] as const };
    assert.throws(
      () => runFusedOp('conv2dBackpropFilter', [rand([2, 5, 6, 2], 133), rand([2, 3, 5, 3], 134)], p),
      (e: unknown) =>
        e instanceof ShapeError &&
        /conv2dBackpropFilter/.test(e.message) &&
        /\[2, 3, 5, 3\]/.test(e.message) &&
        /\[2, 3, 6, 3\]/.test(e.message),
    );
    assert.throws(
      () => runFusedOp('maxPool2dBackprop', [rand([2, 5, 6, 3], 135), rand([2, 3, 6, 2], 136)], pool),
      (e: unknown) =>
        e instanceof ShapeError && /maxPool2dBackprop/.test(e.message) && /\[2, 3, 6, 2\]/.test(e.message),
    );
  });
});

describe('typed errors', () => {
  const x = rand([1, 5, 5, 3], 91);

  test('channel mismatch: ShapeError naming conv2d and both shapes', () => {
    assert.throws(
      () => conv2d(x, rand([3, 3, 2, 4], 92)),
      (e: unknown) => {
        assert.ok(e instanceof ShapeError, String(e));
        assert.match(e.message, /conv2d/);
        assert.match(e.message, /\[1, 5, 5, 3\]/);
        assert.match(e.message, /\[3, 3, 2, 4\]/);
        return true;
      },
    );
    assert.throws(
      () => conv2dTranspose(x, rand([3, 3, 2, 4], 93)),
      (e: unknown) => e instanceof ShapeError && /conv2dTranspose/.test(e.message) && /\[1, 5, 5, 3\]/.test(e.message),
    );
    assert.throws(
      () => conv1d(rand([1, 5, 3], 94), rand([3, 2, 4], 95)),
      (e: unknown) =>
        e instanceof ShapeError &&
        /^conv1d:/.test(e.message) &&
        /\[1, 5, 3\]/.test(e.message) &&
        /\[3, 2, 4\]/.test(e.message),
    );
  });

  test('wrong rank: ShapeError', () => {
    assert.throws(
      () => conv2d(rand([5, 5, 3], 96), rand([3, 3, 3, 4], 97)),
      (e: unknown) => e instanceof ShapeError && /conv2d/.test(e.message),
    );
    assert.throws(
      () => maxPool2d(rand([5, 5, 3], 98)),
      (e: unknown) => e instanceof ShapeError && /maxPool2d/.test(e.message),
    );
  });

  test('bad padding string: ArgumentError', () => {
    const f = rand([3, 3, 3, 2], 99);
    const bad = { padding: 'full' as unknown as Pad };
    assert.throws(
      () => conv2d(x, f, bad),
      (e: unknown) => e instanceof ArgumentError && /padding/.test(e.message) && /full/.test(e.message),
    );
    assert.throws(
      () => conv1d(rand([1, 5, 3], 100), rand([3, 3, 2], 101), bad),
      (e: unknown) => e instanceof ArgumentError && /^conv1d:/.test(e.message),
    );
    assert.throws(() => conv2dTranspose(x, rand([3, 3, 2, 3], 102), bad), ArgumentError);
    assert.throws(
      () => maxPool2d(x, 2, bad),
      (e: unknown) => e instanceof ArgumentError && /maxPool2d/.test(e.message),
    );
    assert.throws(
      () => avgPool2d(x, 2, bad),
      (e: unknown) => e instanceof ArgumentError && /avgPool2d/.test(e.message),
    );
  });

  test('non-positive or fractional strides, dilations and pool sizes: ArgumentError', () => {
    const f = rand([3, 3, 3, 2], 103);
    assert.throws(() => conv2d(x, f, { strides: 0 }), ArgumentError);
    assert.throws(() => conv2d(x, f, { dilations: [1, 1.5] }), ArgumentError);
    assert.throws(() => maxPool2d(x, 0), ArgumentError);
    assert.throws(() => avgPool2d(x, 2, { strides: -1 }), ArgumentError);
    assert.throws(
      () => conv1d(rand([1, 5, 3], 110), rand([3, 3, 2], 111), { stride: 0 }),
      (e: unknown) => e instanceof ArgumentError && /^conv1d:/.test(e.message),
    );
  });

  test("a window larger than the input with 'valid': ShapeError ('same' is fine)", () => {
    const small = rand([1, 2, 4, 3], 104);
    const f = rand([3, 3, 3, 2], 105);
    assert.throws(
      () => conv2d(small, f),
      (e: unknown) => e instanceof ShapeError && /conv2d/.test(e.message) && /does not fit/.test(e.message),
    );
    assert.throws(() => conv2d(rand([1, 5, 5, 3], 106), f, { dilations: 3 }), ShapeError, 'dilated extent 7 > 5');
    assert.throws(
      () => conv1d(rand([1, 2, 3], 107), rand([3, 3, 2], 108)),
      (e: unknown) => e instanceof ShapeError && /^conv1d:/.test(e.message) && /length 2/.test(e.message),
    );
    assert.deepEqual([...conv1d(rand([1, 2, 3], 107), rand([3, 3, 2], 108), { padding: 'same' }).shape], [1, 2, 2]);
    assert.throws(
      () => maxPool2d(small, 3),
      (e: unknown) => e instanceof ShapeError && /maxPool2d/.test(e.message),
    );
    assert.throws(
      () => avgPool2d(small, [1, 5]),
      (e: unknown) => e instanceof ShapeError && /avgPool2d/.test(e.message),
    );
    assert.deepEqual([...conv2d(small, f, { padding: 'same' }).shape], [1, 2, 4, 2]);
    assert.deepEqual([...maxPool2d(small, 3, { padding: 'same' }).shape], [1, 1, 2, 3]);
  });

  test('dtype mismatch between input and filter is rejected', () => {
    assert.throws(() => conv2d(x, rand([3, 3, 3, 2], 109, { dtype: 'float32' })), /conv2d/);
  });
});
