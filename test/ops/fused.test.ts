// Tests the fused-kernel mechanism: the default backend's fused softmax/logSoftmax (JS or native) against their
// composites, composite fallback, hooks, missing kernels.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BackendError,
  Tensor,
  assertGradients,
  conv2d,
  exp,
  grad,
  logSoftmax,
  mul,
  onKernel,
  registerBackend,
  setBackend,
  getBackend,
  slice,
  softmax,
  sum,
  tensor,
  transpose,
  type Backend,
  type Kernel,
} from '../../src/index.js';
import { FUSED, type FusedParams } from '../../src/ops/families/index.js';
import { createJsBackend } from '../../src/backends/js/index.js';
import { assertClose, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-12, atol: 1e-14 };
const SHAPES = [[7], [3, 5], [1, 9], [3, 1, 5], [5, 3, 7], [2, 3, 5, 3]];

interface Seen {
  op: string;
  fused: boolean;
  backend: string;
}

/** The backend the suite runs on ('js', or 'native' when its addon is built or CANDOR_BACKEND names it). */
const BASE = getBackend().name;

/** Runs fn and returns its result with every kernel call it made. */
function watch<T>(fn: () => T): { result: T; events: Seen[] } {
  const events: Seen[] = [];
  const off = onKernel((e) => events.push({ op: e.op, fused: e.fused, backend: e.backend }));
  try {
    return { result: fn(), events };
  } finally {
    off();
  }
}

/** Runs fn with `name` as the current backend, always switching back to BASE. */
function onBackend<T>(name: string, fn: () => T): T {
  setBackend(name);
  try {
    return fn();
  } finally {
    setBackend(BASE);
  }
}

/** A copy of the JS backend under another name, with its kernel tables edited. */
function jsVariant(
  name: string,
  edit: (b: { kernels: Record<string, unknown>; fused: Record<string, unknown> }) => void,
): void {
  registerBackend(name, () => {
    const base = createJsBackend();
    const tables = {
      kernels: { ...base.kernels } as Record<string, unknown>,
      fused: { ...base.fused } as Record<string, unknown>,
    };
    edit(tables);
    return { ...base, name, kernels: tables.kernels, fused: tables.fused } as Backend;
  });
}

jsVariant('js-composite', (b) => {
  b.fused = {};
});
jsVariant('js-no-exp', (b) => {
  delete b.kernels.exp;
  b.fused = {};
});
jsVariant('js-no-exp-fused', (b) => {
  delete b.kernels.exp;
});

const composite = (op: 'softmax' | 'logSoftmax', x: Tensor, axis: number) => FUSED[op].composite([x], { axis });

describe('fused softmax / logSoftmax match the composite defaults', () => {
  for (const shape of SHAPES) {
    for (let axis = 0; axis < shape.length; axis++) {
      test(`shape ${JSON.stringify(shape)} axis ${axis}`, () => {
        const x = rand(shape, 100 + axis * 10 + shape.length, { lo: -4, hi: 4 });
        for (const op of ['softmax', 'logSoftmax'] as const) {
          const fn = op === 'softmax' ? softmax : logSoftmax;
          const { result: fusedOut, events } = watch(() => fn(x, axis));
          assert.deepEqual(events, [{ op, fused: true, backend: BASE }], `${op} runs as one fused kernel`);
          const ref = composite(op, x, axis);
          assertClose(fusedOut, ref, TIGHT, `${op} axis ${axis}`);
          assertClose(fn(x, axis - shape.length), ref, TIGHT, `${op} negative axis`);
        }
      });
    }
  }

  test('default axis is the last one', () => {
    const x = rand([3, 5, 7], 120);
    assertClose(softmax(x), composite('softmax', x, 2), TIGHT);
    assertClose(logSoftmax(x), composite('logSoftmax', x, 2), TIGHT);
  });

  for (const shape of [
    [3, 5],
    [5, 3, 7],
  ]) {
    for (let axis = 0; axis < shape.length; axis++) {
      test(`large magnitudes (|x| up to 1000) stay finite: shape ${JSON.stringify(shape)} axis ${axis}`, () => {
        const x = rand(shape, 130 + axis, { lo: -1000, hi: 1000 });
        const p = softmax(x, axis),
          lp = logSoftmax(x, axis);
        assert.ok(
          Array.from(p.dataSync()).every((v) => v >= 0 && v <= 1),
          'softmax in [0, 1]',
        );
        assert.ok(
          Array.from(lp.dataSync()).every((v) => Number.isFinite(v) && v <= 0),
          'log-softmax finite and <= 0',
        );
        assertClose(sum(p, axis), new Float64Array(x.size / shape[axis]).fill(1), TIGHT, 'rows sum to 1');
        assertClose(p, composite('softmax', x, axis), TIGHT, 'softmax');
        // Log-probabilities of size ~2000 are compared with a tolerance relative to that size.
        assertClose(lp, composite('logSoftmax', x, axis), { rtol: 1e-12, atol: 1e-10 }, 'logSoftmax');
      });
    }
  }

  test('constant rows of +-1000 give uniform probabilities', () => {
    const x = tensor(
      [
        [1000, 1000, 1000, 1000, 1000],
        [-1000, -1000, -1000, -1000, -1000],
        [1000, -1000, 1000, -1000, 1000],
      ],
      undefined,
      'float64',
    );
    const p = softmax(x);
    assertClose(
      p,
      [
        [0.2, 0.2, 0.2, 0.2, 0.2],
        [0.2, 0.2, 0.2, 0.2, 0.2],
        [1 / 3, 0, 1 / 3, 0, 1 / 3],
      ],
      TIGHT,
    );
    assertClose(p, composite('softmax', x, 1), TIGHT);
    assertClose(logSoftmax(x), composite('logSoftmax', x, 1), TIGHT);
  });

  test('-Infinity entries (masking) get probability 0 and log-probability -Infinity, as the composite', () => {
    const x = tensor(
      [
        [0.5, -Infinity, 2, -Infinity, -1],
        [-Infinity, 3, -Infinity, -Infinity, -Infinity],
      ],
      undefined,
      'float64',
    );
    const p = softmax(x),
      lp = logSoftmax(x);
    assert.deepEqual([p.dataSync()[1], p.dataSync()[3], p.dataSync()[6]], [0, 0, 1]);
    assert.equal(lp.dataSync()[1], -Infinity);
    assertClose(p, composite('softmax', x, 1), TIGHT);
    assertClose(lp, composite('logSoftmax', x, 1), TIGHT);
  });

  test('float32 inputs give float32 outputs matching the composite', () => {
    const x = rand([5, 3, 7], 140, { dtype: 'float32', lo: -30, hi: 30 });
    for (let axis = 0; axis < 3; axis++) {
      const p = softmax(x, axis),
        lp = logSoftmax(x, axis);
      assert.equal(p.dtype, 'float32');
      assert.equal(lp.dtype, 'float32');
      assertClose(p, composite('softmax', x, axis), { rtol: 1e-5, atol: 1e-7 });
      assertClose(lp, composite('logSoftmax', x, axis), { rtol: 1e-5, atol: 1e-5 });
    }
  });

  test('a non-contiguous (transposed) input is made contiguous before the kernel', () => {
    const base = rand([7, 5], 150);
    const xt = transpose(base);
    assert.equal(xt.isContiguous, false);
    const dense = tensor(xt.dataSync(), [5, 7], 'float64');
    assertClose(softmax(xt, 1), composite('softmax', dense, 1), TIGHT);
    assertClose(logSoftmax(xt, 0), composite('logSoftmax', dense, 0), TIGHT);
  });

  // Regression: a contiguous view at a nonzero offset reaches the kernel as its whole buffer plus the
  // offset; the fused kernel used to read from element 0 (here: row 0 instead of row 1).
  test('an input that is a contiguous view at an offset (one row of a matrix), fused and composite', () => {
    const m = tensor(
      [
        [0, 1, 2],
        [5, -1, 0.5],
        [7, 7, -3],
      ],
      undefined,
      'float64',
    );
    const row = slice(m, [1, 0], [1, 3]);
    assert.ok(row.isContiguous && row.offset === 3);
    const dense = tensor([[5, -1, 0.5]], undefined, 'float64');
    for (const op of ['softmax', 'logSoftmax'] as const) {
      const fn = op === 'softmax' ? softmax : logSoftmax;
      const expected = composite(op, dense, 1);
      assertClose(fn(row), expected, TIGHT, `${op} fused`);
      assertClose(
        onBackend('js-composite', () => fn(row)),
        expected,
        TIGHT,
        `${op} composite`,
      );
      assertClose(
        fn(slice(m, [1, 0], [2, 3]), 0),
        composite(
          op,
          tensor(
            [
              [5, -1, 0.5],
              [7, 7, -3],
            ],
            undefined,
            'float64',
          ),
          0,
        ),
        TIGHT,
        `${op} two rows, axis 0`,
      );
    }
  });

  test('the kernel event reports shapes, flops and bytes', () => {
    const x = rand([3, 5, 7], 160);
    let seen = 0;
    const off = onKernel((e) => {
      seen++;
      assert.equal(e.op, 'softmax');
      assert.equal(e.fused, true);
      assert.deepEqual([...e.inputs[0].shape], [3, 5, 7]);
      assert.deepEqual([...e.output.shape], [3, 5, 7]);
      assert.equal(e.output.dtype, 'float64');
      assert.equal(e.flops, 4 * 105);
      assert.equal(e.bytes, 2 * 105 * 8);
      assert.equal(e.readOutput().length, 105);
    });
    try {
      softmax(x, 1);
    } finally {
      off();
    }
    assert.equal(seen, 1);
  });
});

describe('fused gradients', () => {
  test('softmax and logSoftmax gradients pass finite differences on every axis', () => {
    const x = rand([3, 4, 5], 170);
    for (let axis = 0; axis < 3; axis++) {
      assertGradients((t) => softmax(t, axis), [x]);
      assertGradients((t) => logSoftmax(t, axis), [x]);
    }
  });

  test('the fused rule gives the same gradient as differentiating the composite', () => {
    const x = rand([3, 5, 7], 171);
    const w = rand([3, 5, 7], 172);
    for (const fn of [softmax, logSoftmax]) {
      for (const axis of [0, 1, 2]) {
        const loss = (t: Tensor) => sum(mul(fn(t, axis), w));
        const viaFused = grad(loss)(x);
        const viaComposite = onBackend('js-composite', () => grad(loss)(x));
        assertClose(viaFused, viaComposite, TIGHT, `${fn.name} axis ${axis}`);
      }
    }
  });
});

describe('backend without fused kernels runs the composite', () => {
  test('softmax and logSoftmax on a copy of the JS backend with fused: {}', () => {
    const x = rand([3, 5, 7], 180, { lo: -1000, hi: 1000 });
    for (const op of ['softmax', 'logSoftmax'] as const) {
      const fn = op === 'softmax' ? softmax : logSoftmax;
      for (let axis = 0; axis < 3; axis++) {
        const expected = fn(x, axis); // fused kernel on BASE
        const { result, events } = onBackend('js-composite', () => {
          assert.equal(getBackend().name, 'js-composite');
          return watch(() => fn(x, axis));
        });
        assert.equal(getBackend().name, BASE, 'switched back');
        assert.ok(events.length > 1, 'the composite launches several primitive kernels');
        assert.ok(
          events.every((e) => !e.fused && e.backend === 'js-composite'),
          JSON.stringify(events),
        );
        const ops = new Set(events.map((e) => e.op));
        for (const want of ['max', 'exp', 'sum', 'log', 'sub'])
          assert.ok(ops.has(want), `composite ran ${want}: ${[...ops].join(', ')}`);
        assert.ok(!ops.has(op), `no ${op} kernel`);
        assertClose(result, expected, { rtol: 1e-12, atol: 1e-10 }, `${op} axis ${axis}`);
      }
    }
  });

  test('tensors made on the composite backend are usable back on js', () => {
    const p = onBackend('js-composite', () => softmax(rand([4, 5], 181)));
    assert.equal(p.storage.backend.name, 'js-composite');
    assertClose(sum(p, 1), [1, 1, 1, 1], TIGHT);
  });

  test('gradients through the composite pass finite differences', () => {
    onBackend('js-composite', () => {
      const x = rand([3, 4, 5], 182);
      assertGradients((t) => softmax(t, 1), [x]);
      assertGradients((t) => logSoftmax(t, 2), [x]);
    });
  });

  test('the JS backend has no fused conv2d, so conv2d runs its composite', () => {
    const { events } = onBackend('js', () =>
      watch(() => conv2d(rand([1, 5, 5, 2], 183), rand([3, 3, 2, 3], 184), { padding: 'same' })),
    );
    assert.ok(events.length > 0 && events.every((e) => !e.fused));
    assert.ok(!events.some((e) => e.op === 'conv2d'));
  });
});

describe('a backend-supplied fused kernel is used, and differentiated through the composite', () => {
  /** A plain-loop conv2d kernel over contiguous NHWC input and [kh, kw, cin, cout] filter. */
  const naiveConv: Kernel<FusedParams['conv2d']> = ([xa, fa], oa, { strides, dilations, pads }) => {
    const x = xa.buffer as Float64Array,
      f = fa.buffer as Float64Array,
      o = oa.buffer as Float64Array;
    const [n, h, w, cin] = xa.shape,
      [kh, kw, , cout] = fa.shape,
      [, ho, wo] = oa.shape;
    for (let b = 0; b < n; b++)
      for (let i = 0; i < ho; i++)
        for (let j = 0; j < wo; j++)
          for (let co = 0; co < cout; co++) {
            let acc = 0;
            for (let a = 0; a < kh; a++)
              for (let c = 0; c < kw; c++) {
                const iy = i * strides[0] + a * dilations[0] - pads[0][0],
                  ix = j * strides[1] + c * dilations[1] - pads[1][0];
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                for (let ci = 0; ci < cin; ci++)
                  acc += x[((b * h + iy) * w + ix) * cin + ci] * f[((a * kw + c) * cin + ci) * cout + co];
              }
            o[((b * ho + i) * wo + j) * cout + co] = acc;
          }
  };
  jsVariant('js-fused-conv', (b) => {
    b.fused.conv2d = naiveConv;
  });

  test('conv2d runs as one fused kernel and matches the composite', () => {
    const x = rand([2, 7, 5, 3], 190),
      f = rand([3, 2, 3, 4], 191);
    for (const opts of [
      { strides: 2, padding: 'same' as const },
      { dilations: 2 },
      { strides: [2, 1] as [number, number], padding: 'same' as const, dilations: 2 },
    ]) {
      const expected = conv2d(x, f, opts);
      const { result, events } = onBackend('js-fused-conv', () => watch(() => conv2d(x, f, opts)));
      assert.deepEqual(events, [{ op: 'conv2d', fused: true, backend: 'js-fused-conv' }]);
      assertClose(result, expected, { rtol: 1e-12, atol: 1e-12 }, JSON.stringify(opts));
    }
  });

  test('gradient of the fused kernel (through the composite) passes finite differences', () => {
    onBackend('js-fused-conv', () => {
      assertGradients(
        (x, f) => conv2d(x, f, { strides: 2, padding: 'same' }),
        [rand([1, 5, 5, 2], 192), rand([3, 2, 2, 3], 193)],
      );
    });
  });
});

describe('missing or failing kernels', () => {
  test('a backend without exp: BackendError naming the op and the backend', () => {
    const x = rand([3, 5], 200);
    for (const fn of [softmax, logSoftmax, exp]) {
      assert.throws(
        () => onBackend('js-no-exp', () => fn(x)),
        (e: unknown) => {
          assert.ok(e instanceof BackendError, String(e));
          assert.match(e.message, /\bexp\b/);
          assert.match(e.message, /'js-no-exp'/);
          return true;
        },
        fn.name,
      );
    }
    assert.equal(getBackend().name, BASE);
  });

  test('a fused kernel covers a missing primitive: softmax works without exp, exp itself does not', () => {
    const x = rand([3, 5], 201);
    const expected = softmax(x);
    const { result, events } = onBackend('js-no-exp-fused', () => watch(() => softmax(x)));
    assert.deepEqual(events, [{ op: 'softmax', fused: true, backend: 'js-no-exp-fused' }]);
    assertClose(result, expected, TIGHT);
    assert.throws(
      () => onBackend('js-no-exp-fused', () => exp(x)),
      (e: unknown) => e instanceof BackendError && /exp/.test(e.message) && /js-no-exp-fused/.test(e.message),
    );
  });

  test('a fused kernel that throws is reported as a BackendError naming the op, backend and inputs', () => {
    jsVariant('js-broken-softmax', (b) => {
      b.fused.softmax = () => {
        throw new Error('kernel exploded');
      };
    });
    const x = rand([3, 5], 202);
    assert.throws(
      () => onBackend('js-broken-softmax', () => softmax(x)),
      (e: unknown) => {
        assert.ok(e instanceof BackendError, String(e));
        assert.match(e.message, /softmax/);
        assert.match(e.message, /'js-broken-softmax'/);
        assert.match(e.message, /float64 \[3, 5\]/);
        assert.match(e.message, /kernel exploded/);
        return true;
      },
    );
    assert.equal(getBackend().name, BASE);
  });
});
