// Parity of the native backend with the JS reference backend: every native kernel on seeded random
// inputs of odd sizes, all transposes, views that start partway into a buffer; on every instruction set
// the CPU has (in-process switch, and CANDOR_ISA in a child process); bit-identical results whatever the
// thread count. Skips, saying why, when the addon is not built.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import type { DType, Tensor, TypedArray } from '../../src/index.js';
import { findBackend } from '../../src/backends/backend.js';
import { createJsBackend } from '../../src/backends/js/index.js';
import { PRIMITIVE_NAMES, UNARY_FLOAT_OPS } from '../../src/ops/primitives.js';
import { FUSED, runFusedOp, type FusedName } from '../../src/ops/families/index.js';
import { nativeIsas, setNativeIsa } from '../../src/backends/native/index.js';
import {
  F32,
  SIZES,
  assertParity,
  assertThreadInvariant,
  bitsOf,
  both,
  checkBoth,
  mm,
  offsetView,
  onBackend,
  skip,
  values,
} from './parity.js';
import { ADDON_EXPORTS, loadAddon } from '../../src/backends/native/addon.js';
import { attention, attentionBackward } from '../../src/ops/families/attention.js';
import { lstmCell } from '../../src/ops/families/recurrent.js';
import { JS_FALLBACK_PRIMITIVES, NATIVE_FUSED, primitiveSupport } from '../../src/backends/native/support.js';
import { joined } from '../helpers.js';

/** A seeded dy for conv2d(x, f, opts). */
function convDy(x: Tensor, f: Tensor, opts: c.Conv2DOptions): Tensor {
  const shape = c.conv2d(x, f, opts).shape;
  return c.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      3,
    ),
    shape,
    x.dtype,
  );
}

/** The filter gradient of conv2d (vjp with respect to f: conv2dBackpropFilter) for a seeded dy. */
function filterGradient(x: Tensor, f: Tensor, opts: c.Conv2DOptions): Tensor {
  return c.vjp((ff: Tensor) => c.conv2d(x, ff, opts), f, convDy(x, f, opts)).grads as Tensor;
}

/** The input gradient of conv2d (vjp with respect to x: conv2dBackpropInput) for a seeded dy. */
function inputGradient(x: Tensor, f: Tensor, opts: c.Conv2DOptions): Tensor {
  return c.vjp((xx: Tensor) => c.conv2d(xx, f, opts), x, convDy(x, f, opts)).grads as Tensor;
}

type PoolCase = {
  kind: 'max' | 'avg';
  x: number[];
  poolSize: number | [number, number];
  strides?: number | [number, number];
  padding: 'same' | 'valid';
};
const poolCases: PoolCase[] = (['max', 'avg'] as const).flatMap((kind) => [
  { kind, x: [2, 7, 9, 3], poolSize: 2, padding: 'valid' as const },
  { kind, x: [1, 9, 7, 33], poolSize: 3, strides: 2, padding: 'same' as const },
  {
    kind,
    x: [3, 8, 11, 5],
    poolSize: [2, 3] as [number, number],
    strides: [1, 2] as [number, number],
    padding: 'same' as const,
  },
  { kind, x: [2, 5, 5, 1], poolSize: 3, strides: 1, padding: 'same' as const },
  {
    kind,
    x: [1, 13, 12, 7],
    poolSize: [3, 2] as [number, number],
    strides: [2, 1] as [number, number],
    padding: 'valid' as const,
  },
]);

/** Max windows that tile the image (the vectorised paths): channels in whole vectors plus a tail, odd sizes. */
const tilePoolCases: PoolCase[] = [
  { kind: 'max', x: [2, 9, 7, 37], poolSize: 2, padding: 'valid' },
  { kind: 'max', x: [3, 11, 8, 19], poolSize: [3, 2], strides: [3, 2], padding: 'valid' },
];

/** Random values; small integers (ties everywhere); and some NaN and infinities among them. */
function poolInputs(shape: readonly number[]): [string, Float64Array][] {
  const n = shape.reduce((a, b) => a * b, 1);
  const special = values(n, 12);
  for (let i = 0; i < n; i += 5) special[i] = SPECIALS[(i / 5) % SPECIALS.length];
  return [
    ['random', values(n, 10)],
    ['ties', values(n, 11).map(Math.round)],
    ['specials', special],
  ];
}

function pool(k: PoolCase, x: Tensor): Tensor {
  return (k.kind === 'max' ? c.maxPool2d : c.avgPool2d)(x, k.poolSize, { strides: k.strides, padding: k.padding });
}

function poolGradient(k: PoolCase, x: Tensor): Tensor {
  const shape = pool(k, x).shape;
  const dy = c.tensor(
    values(
      shape.reduce((a, b) => a * b, 1),
      13,
    ),
    shape,
    x.dtype,
  );
  return c.vjp((t: Tensor) => pool(k, t), x, dy).grads as Tensor;
}

describe('native backend: registration and reporting', { skip }, () => {
  test('registered above js; reports its name, instruction set and threads', () => {
    const b = findBackend('native');
    assert.equal(b.name, 'native');
    assert.match(b.description, /native C\+\+ \((avx512|avx2|scalar), \d+ threads?/);
    assert.ok(nativeIsas().includes('scalar'));
    if (!process.env.CANDOR_BACKEND) assert.equal(c.getBackend().name, 'native', c.backendSelection());
  });

  test('the addon exports exactly the entry points NativeAddon declares', () => {
    const addon = loadAddon().addon!;
    assert.deepEqual(Object.getOwnPropertyNames(addon).sort(), Object.keys(ADDON_EXPORTS).sort());
  });

  test('the FMA peak probe reports a positive rate on each ISA and 1 or 2 threads, and refuses bad arguments', () => {
    const addon = loadAddon().addon!;
    const isa = addon.info().isa;
    try {
      for (const name of nativeIsas()) {
        addon.setIsa(name);
        for (const threads of [1, 2]) {
          const gflops = addon.peakFlops(threads, 0.01);
          assert.ok(Number.isFinite(gflops) && gflops > 0, `${name} ${threads} threads: ${gflops}`);
        }
      }
    } finally {
      addon.setIsa(isa);
    }
    assert.throws(() => addon.peakFlops(0, 0.01), /peakFlops: thread count must be between 1 and 256/);
    assert.throws(() => addon.peakFlops(1, 0), /peakFlops: seconds must be a number in \(0, 10\]/);
  });

  test('the support table matches the kernel tables', () => {
    const native = findBackend('native'),
      js = createJsBackend();
    for (const p of PRIMITIVE_NAMES) {
      assert.ok(native.kernels[p], `native lacks ${p}`);
      const fallback = (JS_FALLBACK_PRIMITIVES as readonly string[]).includes(p);
      assert.equal(primitiveSupport(p), fallback ? 'js-fallback' : 'native');
      if (fallback) assert.equal(native.kernels[p], js.kernels[p], `${p} is the JS kernel`);
    }
    for (const f of Object.keys(FUSED) as FusedName[])
      assert.equal(Boolean(native.fused[f]), NATIVE_FUSED.includes(f), f);
  });

  test('kernel outputs come from the pool unzeroed, and every kernel writes all of its output', () => {
    const native = findBackend('native');
    /** Puts NaN-filled buffers of the size of `fn`'s output in the pool, then checks fn's output has no NaN. */
    const noStale = (what: string, fn: () => Tensor) =>
      onBackend('native', () => {
        const { size, dtype } = c.tidy(() => {
          const t = fn();
          return { size: t.size, dtype: t.dtype };
        });
        const stale = [0, 1, 2].map(() => native.alloc(dtype, size) as Float32Array | Float64Array);
        for (const s of stale) native.free(s.fill(NaN));
        const out = c.tidy(() => fn().dataSync());
        assert.ok(
          out.every((v) => !Number.isNaN(v)),
          `${what} left stale elements`,
        );
      });
    const x = () => c.tensor(values(2 * 7 * 9 * 3, 1), [2, 7, 9, 3]),
      f = () => c.tensor(values(3 * 3 * 3 * 5, 2), [3, 3, 3, 5]);
    noStale(
      'conv2d input gradient',
      () =>
        c.vjp((xx: Tensor) => c.conv2d(xx, f(), { strides: 2 }), x(), c.ones([2, 3, 4, 5], 'float64')).grads as Tensor,
    );
    noStale('pad', () =>
      c.pad(c.tensor(values(35, 3), [5, 7]), [
        [1, 2],
        [0, 3],
      ]),
    );
    noStale('scatterAdd', () =>
      c.scatterAdd(c.tensor(values(35, 4), [5, 7]), c.tensor([4, 0, 4], [3], 'int32'), c.ones([3, 7], 'float64'), 0),
    );
    noStale('matmul with K = 0', () => c.matmul(c.zeros([6, 0], 'float64'), c.zeros([0, 9], 'float64')));
    noStale('biasActivation', () =>
      c.biasActivation(c.tensor(values(35, 5), [5, 7]), c.tensor(values(7, 6), [7]), 'relu'),
    );
    noStale(
      'conv2d filter gradient',
      () =>
        c.vjp((ff: Tensor) => c.conv2d(x(), ff, { strides: 2 }), f(), c.ones([2, 3, 4, 5], 'float64')).grads as Tensor,
    );
    noStale(
      'maxPool2d gradient',
      () => c.vjp((xx: Tensor) => c.maxPool2d(xx, 2), x(), c.ones([2, 3, 4, 3], 'float64')).grads as Tensor,
    );
    noStale('layerNorm gradient', () =>
      joined(
        runFusedOp(
          'layerNormGrad',
          [c.tensor(values(35, 7), [5, 7]), c.tensor(values(7, 8), [7]), c.tensor(values(35, 9), [5, 7])],
          { epsilon: 1e-3 },
        ),
      ),
    );
    const [q, k, v] = [10, 11, 12].map((seed) => c.tensor(values(2 * 5 * 3 * 4, seed), [2, 5, 3, 4]));
    noStale('attention', () => attention(q, k, v, null, { scale: 0.5, causal: true, offset: 0 }));
    noStale(
      'attention gradient',
      () =>
        attentionBackward(q, k, v, c.ones([2, 5, 3, 4], 'float64'), null, { scale: 0.5, causal: true, offset: 0 })[0],
    );
    noStale(
      'lstmCell',
      () =>
        lstmCell(
          c.tensor(values(3 * 16, 13), [3, 16]),
          c.tensor(values(3 * 16, 14), [3, 16]),
          c.tensor(values(12, 15), [3, 4]),
        ).h,
    );
  });

  test('buffers are pooled typed arrays; trimming the pool detaches stale views', () => {
    const native = findBackend('native');
    const a = native.alloc('float32', 1000) as Float32Array;
    assert.ok(a instanceof Float32Array && a.length === 1000);
    a[0] = 5;
    native.free(a);
    const b = native.alloc('float32', 1000) as Float32Array;
    assert.ok(b.buffer === a.buffer && b.byteOffset === a.byteOffset, 'the freed block is reused');
    assert.equal(b[0], 0, 'and zero-filled');
    assert.equal(native.read(b, 'float32', 1000), b, 'read returns the array itself');
    native.free(b);
    c.trimNativePool();
    assert.equal(a.length, 0, 'released memory is no longer reachable from JS');
    const adopted = new Float64Array([1, 2]);
    assert.equal(native.adopt(adopted), adopted, 'JS arrays are adopted without a copy');
    native.free(adopted);
    assert.equal(adopted.length, 2, 'and left to the garbage collector');
  });

  test('a native kernel given a bad extent throws an error naming the op, not a crash', () => {
    const native = findBackend('native');
    const arg = (buffer: TypedArray, shape: number[]) => ({
      buffer,
      dtype: 'float32' as const,
      shape,
      strides: [],
      offset: 0,
    });
    assert.throws(
      () =>
        native.kernels.matmul!(
          [arg(new Float32Array(3), [1, 2, 2]), arg(new Float32Array(4), [1, 2, 2])],
          arg(new Float32Array(4), [1, 2, 2]),
          { transA: false, transB: false },
        ),
      /matmul: a needs elements \[0, 4\) but has 3/,
    );
    // Convolution filter gradient and pooling: short arrays and nonsense window parameters.
    const conv = {
      strides: [1, 1] as const,
      dilations: [1, 1] as const,
      pads: [
        [0, 0],
        [0, 0],
      ] as const,
    };
    const pool = {
      poolSize: [2, 2] as const,
      strides: [2, 2] as const,
      pads: [
        [0, 0],
        [0, 0],
      ] as const,
    };
    assert.throws(
      () =>
        native.fused.conv2dBackpropFilter!(
          [arg(new Float32Array(15), [1, 4, 4, 1]), arg(new Float32Array(4), [1, 2, 2, 1])],
          arg(new Float32Array(9), [3, 3, 1, 1]),
          { ...conv, filterShape: [3, 3, 1, 1] },
        ),
      /conv2dBackpropFilter: input needs elements \[0, 16\) but has 15/,
    );
    assert.throws(
      () =>
        native.fused.maxPool2d!(
          [arg(new Float32Array(16), [1, 4, 4, 1])],
          arg(new Float32Array(3), [1, 2, 2, 1]),
          pool,
        ),
      /pool2d: out needs elements \[0, 4\) but has 3/,
    );
    assert.throws(
      () =>
        native.fused.maxPool2dBackprop!(
          [arg(new Float32Array(16), [1, 4, 4, 1]), arg(new Float32Array(4), [1, 2, 2, 1])],
          arg(new Float32Array(16), [1, 4, 4, 1]),
          { ...pool, strides: [0, 2] },
        ),
      /pool2dBackprop: params\[8\] = 0\.0+ is out of range/,
    );
  });
});

describe('native matmul matches the reference', { skip }, () => {
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 33],
    [7, 33, 1],
    [33, 1, 7],
    [33, 257, 7],
    [257, 33, 65],
    [7, 7, 257],
    [65, 129, 300],
    // Narrower than a register tile, deeper than a k block (the CNN's 1600 -> 10 classifier at batch 1 and 5).
    [1, 10, 1601],
    [5, 31, 1100],
    // Row bands (M over MC), two KC blocks, a partial last micro-panel on each side.
    [301, 75, 1031],
  ];
  for (const dtype of ['float32', 'float64'] as const) {
    for (const [m, n, k] of shapes)
      for (const batch of [1, 3]) {
        test(`${dtype} batch ${batch} ${m}x${k} by ${k}x${n}, all transposes, offset views`, () => {
          const a = values(batch * m * k, m * 31 + k),
            b = values(batch * k * n, n * 17 + k);
          for (const transA of [false, true])
            for (const transB of [false, true]) {
              const aShape = transA ? [batch, k, m] : [batch, m, k],
                bShape = transB ? [batch, n, k] : [batch, k, n];
              checkBoth(
                () => mm(offsetView(a, aShape, dtype), offsetView(b, bShape, dtype), transA, transB),
                dtype === 'float32' ? F32 : 1e-12,
                `${dtype} tA=${transA} tB=${transB}`,
                true,
              );
            }
        });
      }
  }
});

const UNARY_DOMAINS: Record<string, [number, number]> = {
  log: [0.01, 5],
  log1p: [-0.9, 5],
  sqrt: [0, 5],
  rsqrt: [0.01, 5],
  reciprocal: [0.1, 3],
};
const SPECIALS = [
  NaN,
  Infinity,
  -Infinity,
  0,
  -0,
  1e-8,
  -1e-8,
  0.5,
  -0.5,
  1.5,
  2.5,
  -2.5,
  20,
  -20,
  88,
  89,
  -88,
  -104,
  1e30,
  -1e30,
];

describe('native elementwise ops match the reference', { skip }, () => {
  for (const op of UNARY_FLOAT_OPS) {
    test(`${op}: float32 and float64, sizes ${SIZES.join(', ')} and 1031, offset views, special values`, () => {
      const fn = (c as unknown as Record<string, (x: Tensor) => Tensor>)[op];
      const [lo, hi] = UNARY_DOMAINS[op] ?? [-6, 6];
      for (const dtype of ['float32', 'float64'] as const) {
        for (const n of [...SIZES, 1031])
          checkBoth(
            () => fn(offsetView(values(n, n + op.length, lo, hi), [n], dtype)),
            dtype === 'float32' ? F32 : 1e-14,
            `${op} ${dtype} n=${n}`,
          );
        checkBoth(
          () => fn(c.tensor(SPECIALS, [SPECIALS.length], dtype)),
          dtype === 'float32' ? F32 : 1e-14,
          `${op} ${dtype} specials`,
        );
      }
    });
  }

  test('binary arithmetic and comparisons on float32, float64 and int32, with broadcasting and offsets', () => {
    const arith = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'],
      compare = ['equal', 'notEqual', 'less', 'lessEqual', 'greater', 'greaterEqual'];
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      for (const op of [...arith, ...compare]) {
        const fn = (c as unknown as Record<string, (a: Tensor | number, b: Tensor | number) => Tensor>)[op];
        const gen = (n: number, seed: number) => {
          const v = values(n, seed, dtype === 'int32' ? -9 : op === 'pow' ? 0.1 : -3, dtype === 'int32' ? 9 : 3);
          if (dtype === 'int32' || compare.includes(op)) for (let i = 0; i < n; i++) v[i] = Math.round(v[i]);
          if (op === 'pow' && dtype === 'int32') for (let i = 0; i < n; i++) v[i] = Math.abs(v[i]) % 4;
          return v;
        };
        for (const n of SIZES) {
          const tol = dtype === 'float32' ? F32 : 1e-14;
          checkBoth(
            () => fn(offsetView(gen(n, 1), [n], dtype), offsetView(gen(n, 2), [n], dtype)),
            tol,
            `${op} ${dtype} n=${n}`,
          );
          checkBoth(
            () => fn(offsetView(gen(n, 3), [n], dtype), c.scalar(2, dtype)),
            tol,
            `${op} ${dtype} n=${n} with a scalar`,
          );
          checkBoth(
            () => fn(c.scalar(3, dtype), offsetView(gen(n, 4), [n], dtype)),
            tol,
            `${op} ${dtype} n=${n} scalar first`,
          );
          checkBoth(
            () => fn(offsetView(gen(n * 5, 5), [n, 5], dtype), offsetView(gen(5, 6), [5], dtype)),
            tol,
            `${op} ${dtype} [${n}, 5] with a row`,
          );
        }
      }
    }
  });

  test('NaN, infinities and zeros through binary ops', () => {
    const a = [NaN, 1, Infinity, -Infinity, 0, -0, 1, -1, 2],
      b = [1, NaN, Infinity, 2, 0, 0, Infinity, -Infinity, NaN];
    for (const op of ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'equal', 'less', 'greaterEqual']) {
      const fn = (c as unknown as Record<string, (a: Tensor, b: Tensor) => Tensor>)[op];
      for (const dtype of ['float32', 'float64'] as const)
        checkBoth(() => fn(c.tensor(a, [9], dtype), c.tensor(b, [9], dtype)), 0, `${op} ${dtype}`);
    }
    checkBoth(
      () => c.div(c.tensor([7, -7, 7, 0, -2147483648], [5], 'int32'), c.tensor([2, 2, 0, 0, -1], [5], 'int32')),
      0,
      'int32 floor division',
    );
  });

  test('logical ops, where, cast between every dtype pair, gather, scatterAdd, copies of strided views', () => {
    const bools = (n: number, seed: number) => Array.from(values(n, seed), (v) => v > 0);
    for (const n of SIZES) {
      checkBoth(() => c.logicalAnd(c.tensor(bools(n, 1)), c.tensor(bools(n, 2))), 0, 'logicalAnd');
      checkBoth(() => c.logicalOr(c.tensor(bools(n, 3)), c.tensor(bools(n, 4))), 0, 'logicalOr');
      checkBoth(() => c.logicalNot(offsetView(bools(n, 5).map(Number), [n], 'bool')), 0, 'logicalNot');
      for (const dtype of ['float32', 'float64', 'int32', 'bool'] as const) {
        checkBoth(
          () =>
            c.where(c.tensor(bools(n, 6)), offsetView(values(n, 7), [n], dtype), offsetView(values(n, 8), [n], dtype)),
          0,
          `where ${dtype}`,
        );
        checkBoth(
          () => c.where(c.tensor(bools(n, 6)), c.scalar(1, dtype), offsetView(values(n, 8), [n], dtype)),
          0,
          `where ${dtype} scalar branch`,
        );
        for (const to of ['float32', 'float64', 'int32', 'bool'] as const) {
          checkBoth(
            () => c.cast(offsetView([...values(n, 9, -1e10, 1e10), NaN, Infinity, -0.5].slice(0, n), [n], dtype), to),
            0,
            `cast ${dtype} -> ${to}`,
          );
        }
      }
    }
    const x = () => offsetView(values(7 * 33 * 5, 10), [7, 33, 5], 'float32');
    checkBoth(() => c.contiguous(c.permute(x(), [2, 0, 1])), 0, 'permute');
    checkBoth(() => c.contiguous(c.flip(x(), [1])), 0, 'flip');
    checkBoth(() => c.contiguous(c.slice(x(), [1, 2, 0], [3, 6, 3], [2, 3, 2])), 0, 'strided slice');
    for (const dtype of ['float32', 'float64', 'int32', 'bool'] as const)
      for (let axis = 0; axis < 3; axis++) {
        const idx = () => offsetView([0, 4, -1, 2, 2, -5, 1], [7], 'int32');
        checkBoth(
          () => c.gather(offsetView(values(5 * 5 * 5, 12), [5, 5, 5], dtype), idx(), axis),
          0,
          `gather ${dtype} axis ${axis}`,
        );
      }
    assert.throws(
      () => onBackend('native', () => c.gather(c.ones([3, 4]), [0, 3], 0)),
      (e: unknown) =>
        e instanceof c.ArgumentError && /gather: index 3 is out of range for axis 0 of size 3/.test(e.message),
    );
    // scatterAdd: repeated and negative indices, every dtype and axis, views at an offset.
    for (const dtype of ['float32', 'float64', 'int32', 'bool'] as const)
      for (let axis = 0; axis < 3; axis++) {
        const shape = [5, 6, 7],
          updShape = [...shape];
        updShape[axis] = 9;
        const idx = () => offsetView([0, 4, -1, 2, 2, -5, 1, 4, 4], [9], 'int32');
        const lo = dtype === 'int32' ? -50 : -2,
          hi = dtype === 'int32' ? 50 : 2;
        checkBoth(
          () =>
            c.scatterAdd(
              offsetView(values(5 * 6 * 7, 14, lo, hi), shape, dtype),
              idx(),
              offsetView(
                values(
                  updShape.reduce((a, b) => a * b, 1),
                  15,
                  lo,
                  hi,
                ),
                updShape,
                dtype,
              ),
              axis,
            ),
          dtype === 'float32' ? F32 : 0,
          `scatterAdd ${dtype} axis ${axis}`,
        );
      }
    checkBoth(
      () =>
        c.scatterAdd(
          c.zeros([33, 17]),
          c.tensor(Int32Array.from(values(1001, 16, 0, 33), Math.floor), [1001]),
          c.tensor(values(1001 * 17, 17), [1001, 17]),
          0,
        ),
      F32,
      'scatterAdd embedding-like',
    );
    assert.throws(
      () => onBackend('native', () => c.scatterAdd(c.zeros([3, 4]), [0, -4], c.ones([2, 4]), 0)),
      (e: unknown) =>
        e instanceof c.ArgumentError && /scatterAdd: index -4 is out of range for axis 0 of size 3/.test(e.message),
    );
    checkBoth(
      () => c.contiguous(c.expand(c.reshape(offsetView(values(33, 11), [33], 'float64'), [1, 33, 1]), [4, 33, 3])),
      0,
      'expand',
    );
  });
});

describe('native reductions match the reference', { skip }, () => {
  test('sum, prod, max, min over leading, trailing, middle, scattered and all axes', () => {
    const shapes = [[257], [7, 33], [33, 1, 7], [5, 7, 33], [3, 5, 7, 2]];
    for (const dtype of ['float32', 'float64', 'int32'] as const) {
      for (const shape of shapes) {
        const n = shape.reduce((a, b) => a * b, 1);
        const axesList: number[][] = [[0], [shape.length - 1], [...shape.keys()]];
        if (shape.length >= 3) axesList.push([1], [0, 2], [0, shape.length - 1]);
        for (const axes of axesList)
          for (const op of ['sum', 'prod', 'max', 'min'] as const) {
            const lo = op === 'prod' ? 0.7 : -3,
              hi = op === 'prod' ? 1.3 : 3;
            const data = values(n, n + axes.length, lo, hi);
            if (dtype === 'int32') for (let i = 0; i < n; i++) data[i] = Math.round(data[i] * 3);
            checkBoth(
              () => c[op](offsetView(data, shape, dtype), axes),
              dtype === 'float32' ? F32 : 1e-12,
              `${op} ${dtype} ${JSON.stringify(shape)} axes ${axes}`,
            );
          }
      }
    }
    checkBoth(
      () =>
        c.max(
          c.tensor([
            [1, NaN, 3],
            [4, 5, 6],
          ]),
          1,
        ),
      0,
      'max with NaN',
    );
    checkBoth(
      () =>
        c.sum(
          c.tensor(
            [
              [1, NaN, 3],
              [4, 5, 6],
            ],
            undefined,
            'float64',
          ),
          0,
        ),
      0,
      'sum with NaN',
    );
  });

  test('argmax and argmin along every axis, ties and NaN', () => {
    for (const shape of [[257], [7, 33], [5, 7, 3]])
      for (let axis = 0; axis < shape.length; axis++) {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = values(n, 40 + axis).map((v) => Math.round(v * 2));
        for (const op of ['argmax', 'argmin'] as const)
          checkBoth(
            () => c[op](offsetView(data, shape, 'float32'), axis),
            0,
            `${op} ${JSON.stringify(shape)} axis ${axis}`,
          );
      }
    checkBoth(() => c.argmax(c.tensor([1, NaN, 3, NaN])), 0, 'argmax NaN');
  });
});

describe('native fused kernels match the reference', { skip }, () => {
  test('softmax and logSoftmax along every axis, float32 and float64, masked rows', () => {
    for (const shape of [[1], [257], [7, 33], [33, 7], [3, 5, 17]])
      for (let axis = 0; axis < shape.length; axis++) {
        const n = shape.reduce((a, b) => a * b, 1);
        for (const dtype of ['float32', 'float64'] as const) {
          for (const op of ['softmax', 'logSoftmax'] as const) {
            checkBoth(
              () => c[op](offsetView(values(n, n + axis, -30, 30), shape, dtype), axis),
              dtype === 'float32' ? F32 : 1e-12,
              `${op} ${dtype} ${JSON.stringify(shape)} axis ${axis}`,
            );
          }
        }
      }
    const masked = [0, -Infinity, 2, -Infinity, 1e4, 1e4 - 1, -Infinity, -Infinity, NaN, 1];
    for (const op of ['softmax', 'logSoftmax'] as const)
      checkBoth(() => c[op](c.tensor(masked, [5, 2])), F32, `${op} masked`);
  });

  const convCases: {
    x: number[];
    f: number[];
    strides: number;
    dilations: number;
    padding: c.Conv2DOptions['padding'];
  }[] = [
    { x: [2, 7, 9, 3], f: [3, 3, 3, 5], strides: 1, dilations: 1, padding: 'same' },
    { x: [1, 9, 7, 2], f: [3, 2, 2, 4], strides: 2, dilations: 1, padding: 'valid' },
    { x: [3, 8, 8, 1], f: [5, 5, 1, 7], strides: 2, dilations: 1, padding: 'same' },
    { x: [2, 9, 9, 4], f: [3, 3, 4, 3], strides: 1, dilations: 2, padding: 'same' },
    { x: [2, 5, 6, 33], f: [1, 1, 33, 7], strides: 1, dilations: 1, padding: 'valid' },
    { x: [1, 13, 11, 6], f: [2, 3, 6, 9], strides: 3, dilations: 1, padding: 'valid' },
    // One input channel (the direct forward loops) and enough output pixels for several filter-gradient chunks.
    { x: [3, 28, 27, 1], f: [3, 3, 1, 33], strides: 1, dilations: 1, padding: 'valid' },
    { x: [2, 11, 10, 2], f: [3, 3, 2, 7], strides: 2, dilations: 2, padding: 'same' },
    // The implicit kernels (conv_implicit.h): the MNIST CNN's second convolution on odd sizes (tiles of 4 vectors of
    // output channels; its input gradient tiles of 2), a 'same' one staged with its padding (the input gradient of
    // one channel takes the narrow kernel, 33 channels: two vectors and a tail), a narrow forward (3 outputs of 20
    // channels) with dilation, and explicit padding wider than the window (the input gradient crops dy).
    { x: [3, 13, 11, 32], f: [3, 3, 32, 64], strides: 1, dilations: 1, padding: 'valid' },
    { x: [2, 12, 9, 1], f: [3, 3, 1, 33], strides: 1, dilations: 1, padding: 'same' },
    { x: [2, 10, 9, 20], f: [3, 3, 20, 3], strides: 1, dilations: 2, padding: 'same' },
    {
      x: [1, 6, 7, 5],
      f: [2, 3, 5, 18],
      strides: 1,
      dilations: 1,
      padding: [
        [3, 1],
        [0, 4],
      ],
    },
    // Routed to im2col + GEMM: a window deeper than 2048 inputs, and one of more than 64 taps.
    { x: [1, 5, 4, 240], f: [3, 3, 240, 5], strides: 1, dilations: 1, padding: 'same' },
    { x: [1, 12, 10, 1], f: [9, 8, 1, 3], strides: 1, dilations: 1, padding: 'same' },
  ];
  for (const k of convCases) {
    const convTitle =
      `conv2d forward and input gradient: x ${JSON.stringify(k.x)} f ${JSON.stringify(k.f)} ` +
      `stride ${k.strides} dilation ${k.dilations} ${JSON.stringify(k.padding)}`;
    test(convTitle, () => {
      const nx = k.x.reduce((a, b) => a * b, 1),
        nf = k.f.reduce((a, b) => a * b, 1);
      for (const dtype of ['float32', 'float64'] as const) {
        const tol = dtype === 'float32' ? F32 : 1e-12;
        const conv = () => c.conv2d(offsetView(values(nx, 1), k.x, dtype), offsetView(values(nf, 2), k.f, dtype), k);
        const { js: y } = both(conv);
        checkBoth(conv, tol, `conv2d ${dtype}`, true);
        // The input gradient: vjp of conv2d with respect to x runs conv2dBackpropInput through the composite on js.
        checkBoth(
          () => {
            const x = offsetView(values(nx, 1), k.x, dtype),
              f = offsetView(values(nf, 2), k.f, dtype);
            const dy = c.tensor(values(y.length, 3), c.conv2d(x, f, k).shape, dtype);
            return c.vjp((xx: Tensor) => c.conv2d(xx, f, k), x, dy).grads as Tensor;
          },
          tol,
          `conv2d input gradient ${dtype}`,
          true,
        );
        checkBoth(
          () => filterGradient(offsetView(values(nx, 1), k.x, dtype), offsetView(values(nf, 2), k.f, dtype), k),
          tol,
          `conv2d filter gradient ${dtype}`,
          true,
        );
      }
    });
  }

  // ---- pooling and its gradients ----
  for (const k of [...poolCases, ...tilePoolCases]) {
    const poolTitle =
      `${k.kind}Pool2d forward and gradient: x ${JSON.stringify(k.x)} pool ${JSON.stringify(k.poolSize)} ` +
      `strides ${JSON.stringify(k.strides)} ${k.padding}`;
    test(poolTitle, () => {
      for (const dtype of ['float32', 'float64'] as const) {
        for (const [name, data] of poolInputs(k.x)) {
          const what = `${k.kind}Pool2d ${name} ${dtype}`;
          checkBoth(() => pool(k, offsetView(data, k.x, dtype)), dtype === 'float32' ? F32 : 1e-12, what);
          checkBoth(
            () => poolGradient(k, offsetView(data, k.x, dtype)),
            dtype === 'float32' ? F32 : 1e-12,
            `${what} gradient`,
          );
        }
      }
    });
  }
});

describe('native Philox blocks match the reference', { skip }, () => {
  test('word for word, across the 2^32 counter boundary and for rejection attempts; draws are unchanged', () => {
    const addon = loadAddon().addon!;
    for (const [key, counter, attempt] of [
      [[0, 0], 0, 0],
      [[0xffffffff, 0xffffffff], 2 ** 32 - 3, 0],
      [[0x243f6a88, 0x85a308d3], 2 ** 40 + 7, 3],
    ] as const) {
      const words = new Uint32Array(4 * 9);
      addon.philox(key[0], key[1], counter, attempt, new Int32Array(words.buffer));
      for (let i = 0; i < 9; i++) {
        const c0 = (counter + i) % 2 ** 32,
          c1 = Math.floor((counter + i) / 2 ** 32);
        assert.deepEqual(
          [...words.subarray(4 * i, 4 * i + 4)],
          [...c.philox4x32([c0, c1, attempt, 0], key)],
          `block ${i} of counter ${counter}`,
        );
      }
    }
    const draw = () =>
      [
        c.randomUniform([40000], { seed: 9 }),
        c.randomNormal([3001], { seed: 9, dtype: 'float64' }),
        c.bernoulli([777], 0.3, { seed: 9 }),
      ].map((t) => t.dataSync().slice());
    const native = onBackend('native', draw);
    onBackend('js', draw).forEach((js, i) => assert.ok(bitsOf(js).equals(bitsOf(native[i])), `draw ${i}`));
  });
});

describe('every instruction set gives the reference results', { skip }, () => {
  test('matmul, elementwise, reductions, softmax, conv2d and pooling on each ISA the CPU has', () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        assert.match(findBackend('native').description, new RegExp(`\\(${isa},`));
        for (const [transA, transB] of [
          [false, false],
          [true, false],
          [false, true],
          [true, true],
        ]) {
          const aShape = transA ? [2, 300, 33] : [2, 33, 300],
            bShape = transB ? [2, 65, 300] : [2, 300, 65];
          checkBoth(
            () =>
              mm(
                offsetView(values(2 * 33 * 300, 1), aShape, 'float32'),
                offsetView(values(2 * 300 * 65, 2), bShape, 'float32'),
                transA,
                transB,
              ),
            F32,
            `${isa} matmul`,
            true,
          );
        }
        for (const op of ['exp', 'tanh', 'sigmoid', 'relu', 'log'] as const) {
          const x = () =>
            offsetView(op === 'log' ? values(1031, 3, 0.01, 9) : values(1031, 3, -40, 40), [1031], 'float32');
          checkBoth(() => c[op](x()), F32, `${isa} ${op}`);
          checkBoth(() => c[op](c.tensor(SPECIALS, [SPECIALS.length], 'float32')), F32, `${isa} ${op} specials`);
        }
        checkBoth(() => c.softmax(offsetView(values(33 * 37, 4, -20, 20), [33, 37], 'float32')), F32, `${isa} softmax`);
        checkBoth(() => c.sum(offsetView(values(33 * 37, 5), [33, 37], 'float32'), 1), F32, `${isa} sum`);
        checkBoth(
          () =>
            c.conv2d(
              offsetView(values(2 * 9 * 9 * 3, 6), [2, 9, 9, 3], 'float32'),
              offsetView(values(3 * 3 * 3 * 5, 7), [3, 3, 3, 5], 'float32'),
              { padding: 'same' },
            ),
          F32,
          `${isa} conv2d`,
          true,
        );
        checkBoth(
          () =>
            filterGradient(
              offsetView(values(2 * 9 * 9 * 3, 6), [2, 9, 9, 3], 'float32'),
              offsetView(values(3 * 3 * 3 * 5, 7), [3, 3, 3, 5], 'float32'),
              { padding: 'same' },
            ),
          F32,
          `${isa} conv2d filter gradient`,
          true,
        );
        // The implicit kernels' tiles of each ISA: 40 output channels (AVX-512: 3 vectors; AVX2: 2 and a partial
        // tile), their input gradient (32 outputs), and the narrow kernel (one output channel of 32).
        for (const [xs, fs] of [
          [
            [2, 7, 8, 32],
            [3, 3, 32, 40],
          ],
          [
            [1, 9, 8, 32],
            [3, 3, 32, 1],
          ],
        ]) {
          const x = () =>
              offsetView(
                values(
                  xs.reduce((a, b) => a * b, 1),
                  8,
                ),
                xs,
                'float32',
              ),
            f = () =>
              offsetView(
                values(
                  fs.reduce((a, b) => a * b, 1),
                  9,
                ),
                fs,
                'float32',
              );
          for (const [what, op] of [
            ['conv2d', (a: Tensor, b: Tensor) => c.conv2d(a, b, { padding: 'same' })],
            ['input gradient', (a: Tensor, b: Tensor) => inputGradient(a, b, { padding: 'same' })],
            ['filter gradient', (a: Tensor, b: Tensor) => filterGradient(a, b, {})],
          ] as const)
            checkBoth(() => op(x(), f()), F32, `${isa} ${what} ${JSON.stringify(fs)}`, true);
        }
        for (const k of [poolCases[1], poolCases[7]]) {
          const x = () => offsetView(poolInputs(k.x)[1][1], k.x, 'float32');
          checkBoth(() => pool(k, x()), F32, `${isa} ${k.kind}Pool2d`);
          checkBoth(() => poolGradient(k, x()), F32, `${isa} ${k.kind}Pool2d gradient`);
        }
      }
    } finally {
      setNativeIsa('');
    }
  });

  const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));
  /** Runs a snippet in a child process with extra environment variables; returns its JSON line. */
  const child = (env: Record<string, string>, body: string) => {
    const script = `import(${JSON.stringify(entry)}).then((c) => { ${body} });`;
    const run = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(run.status, 0, run.stderr);
    return JSON.parse(run.stdout.trim().split('\n').pop()!);
  };

  const title =
    'CANDOR_ISA forces a lower instruction set; CANDOR_BACKEND=js forces the reference; ' +
    'CANDOR_NUM_THREADS sets threads';
  test(title, () => {
    const body =
      `const a = c.randomNormal([37, 53], { seed: 1 }), b = c.randomNormal([53, 29], { seed: 2 });\n` +
      '      console.log(JSON.stringify({ name: c.getBackend().name, description: c.getBackend().description, ' +
      'threads: c.getNumThreads(), y: Array.from(c.matmul(a, b).dataSync()) }));';
    const reference = child({ CANDOR_BACKEND: 'js' }, body);
    assert.equal(reference.name, 'js');
    for (const isa of nativeIsas()) {
      const r = child({ CANDOR_BACKEND: '', CANDOR_ISA: isa, CANDOR_NUM_THREADS: '1' }, body);
      assert.equal(r.name, 'native');
      assert.match(r.description, new RegExp(`\\(${isa}, 1 thread; forced by CANDOR_ISA=${isa}\\)`));
      assert.equal(r.threads, 1);
      assertParity(Float32Array.from(r.y), Float32Array.from(reference.y), F32, `CANDOR_ISA=${isa} matmul`, true);
    }
    const bad = child({ CANDOR_BACKEND: '', CANDOR_ISA: 'sse9' }, body);
    assert.match(bad.description, /CANDOR_ISA=sse9 is unknown or not supported/);
  });
});

describe('results are bit-identical whatever the thread count', { skip }, () => {
  const title =
    'matmul, conv2d and its filter gradient, pooling, scatterAdd, elementwise, reductions and softmax ' +
    'with 1, 2 and 3 threads';
  test(title, () => {
    const run = () =>
      onBackend('native', () =>
        c.tidy(() =>
          [
            c.matmul(
              c.tensor(values(257 * 300, 1), [257, 300], 'float32'),
              c.tensor(values(300 * 129, 2), [300, 129], 'float32'),
            ),
            // Over MC rows, K over KC and N over NC: bands of rows, each packing its own blocks, per thread.
            c.matmul(
              c.tensor(values(523 * 1100, 23), [523, 1100], 'float32'),
              c.tensor(values(1100 * 1061, 24), [1100, 1061], 'float32'),
            ),
            c.matmul(
              c.tensor(values(32 * 784, 3), [32, 784], 'float32'),
              c.tensor(values(784 * 128, 4), [784, 128], 'float32'),
            ),
            c.matmul(
              c.tensor(values(8 * 33 * 65, 5), [8, 33, 65], 'float64'),
              c.tensor(values(8 * 65 * 17, 6), [8, 65, 17], 'float64'),
            ),
            c.conv2d(
              c.tensor(values(4 * 28 * 28 * 3, 7), [4, 28, 28, 3], 'float32'),
              c.tensor(values(3 * 3 * 3 * 16, 8), [3, 3, 3, 16], 'float32'),
              { padding: 'same' },
            ),
            c.conv2d(
              c.tensor(values(4 * 28 * 28 * 8, 16), [4, 28, 28, 8], 'float32'),
              c.tensor(values(3 * 3 * 8 * 16, 17), [3, 3, 8, 16], 'float32'),
              { padding: 'same' },
            ),
            c.tanh(c.tensor(values(300001, 9), [300001], 'float32')),
            c.sum(c.tensor(values(513 * 1025, 10), [513, 1025], 'float32'), 1),
            c.sum(c.tensor(values(513 * 1025, 11), [513, 1025], 'float32'), 0),
            c.softmax(c.tensor(values(999 * 257, 12), [999, 257], 'float32')),
            filterGradient(
              c.tensor(values(8 * 28 * 28 * 3, 13), [8, 28, 28, 3], 'float32'),
              c.tensor(values(3 * 3 * 3 * 16, 14), [3, 3, 3, 16], 'float32'),
              { padding: 'same' },
            ),
            filterGradient(
              c.tensor(values(8 * 28 * 28 * 1, 18), [8, 28, 28, 1], 'float32'),
              c.tensor(values(3 * 3 * 1 * 16, 19), [3, 3, 1, 16], 'float32'),
              { padding: 'same' },
            ),
            c.scatterAdd(
              c.tensor(values(64 * 50 * 33, 20), [64, 50, 33], 'float32'),
              c.tensor(Int32Array.from(values(77, 21, 0, 50), Math.floor), [77]),
              c.tensor(values(64 * 77 * 33, 22), [64, 77, 33], 'float32'),
              1,
            ),
            ...(['max', 'avg'] as const).flatMap((kind) => {
              const k: PoolCase = { kind, x: [8, 28, 28, 16], poolSize: 3, strides: 2, padding: 'same' };
              const x = c.tensor(values(8 * 28 * 28 * 16, 15), k.x, 'float32');
              return [pool(k, x), poolGradient(k, x)];
            }),
          ].map((t) => t.dataSync()),
        ),
      );
    assertThreadInvariant(run);
  });
});
