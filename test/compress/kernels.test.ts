// The int8 native kernels (kernels/quantized.h) on every instruction set this CPU runs (avx512vnni, avx512, avx2,
// scalar) against the scalar loops of the arithmetic, bit for bit: depths that are not multiples of 4 or 64, column
// counts that are not multiples of 16, more rows than a task's block, extreme codes and weights, every padding and
// dilation path, sums past int32, 1 to 3 threads, and packed weights that must not outlive a change to the weights.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { quantizedConv2d, quantizedMatmul } from '../../src/ops/families/quantized.js';
import { resolvePadding } from '../../src/ops/families/conv.js';
import { rand } from '../helpers.js';
import { onBackend, skip } from '../backends/parity.js';
import {
  int8Weights,
  perChannel,
  referenceConv2d,
  referenceMatmul,
  STRIDE_2_VALID,
  withNaN,
  type QuantizedCase,
} from '../ops/quantized-reference.js';

const addon = loadAddon().addon;

/** Runs fn once per int8 instruction set this CPU has, restoring the default after. */
function eachIsa(fn: (isa: string) => void): void {
  const isas = addon!.quantizedIsa().available;
  assert.ok(isas.includes('scalar'));
  try {
    for (const isa of isas) {
      assert.equal(addon!.quantizedIsa(isa).isa, isa);
      fn(isa);
    }
  } finally {
    addon!.quantizedIsa('');
  }
}

function matmulCase(m: number, k: number, n: number, seed: number, p: QuantizedCase, extremes = false) {
  // With extremes, inputs far outside the range (codes 0 and 255) and weights at -128 / 127 only.
  const x = c.cast(rand([m, k], seed, { lo: extremes ? -50 : -3, hi: extremes ? 50 : 3 }), 'float32');
  const w = extremes
    ? c.tensor(
        Array.from({ length: k * n }, (_, i) => (i % 3 ? -128 : 127)),
        [k, n],
        'int8',
      )
    : int8Weights([k, n], seed + 1);
  return { x, w, scale: perChannel(n, seed + 2, 1e-5, 1e-2), bias: perChannel(n, seed + 3, -1, 1) };
}

const MATMULS: [number, number, number][] = [
  [1, 1600, 10],
  [97, 5, 17],
  [50, 63, 33],
  [49, 130, 65],
  [3, 67, 64],
  [130, 19, 48],
  [2, 0, 3],
];

describe('int8 kernels on every instruction set', { skip: skip || !addon }, () => {
  test('quantizedMatmul equals the scalar reference on odd shapes, zero points and extremes', () => {
    onBackend('native', () =>
      eachIsa((isa) => {
        for (const [i, [m, k, n]] of MATMULS.entries())
          for (const [zeroPoint, activation, extremes] of [
            [0, 'linear', false],
            [255, 'relu', false],
            [131, 'linear', true],
            [0, 'relu', true],
          ] as const) {
            const p = { inputScale: 0.0237, zeroPoint, activation } as const;
            const { x, w, scale, bias } = matmulCase(m, k, n, 10 * i + 1, p, extremes);
            const y = quantizedMatmul(x, w, scale, bias, { ...p, inputZeroPoint: zeroPoint });
            const label = `${isa} ${m}x${k}x${n} zero point ${zeroPoint} ${activation}${extremes ? ' extremes' : ''}`;
            assert.deepEqual(y.dataSync(), referenceMatmul(x, w, scale, bias, p), label);
          }
      }),
    );
  });

  test('quantizedConv2d equals the scalar reference on the MNIST shapes, padding, strides and dilations', () => {
    const convs = [
      { x: [2, 28, 28, 1], w: [3, 3, 1, 32], strides: [1, 1], dilations: [1, 1], same: false },
      { x: [2, 13, 13, 32], w: [3, 3, 32, 64], strides: [1, 1], dilations: [1, 1], same: false },
      { x: [1, 9, 11, 5], w: [3, 2, 5, 19], strides: [2, 3], dilations: [1, 2], same: true },
      { x: [3, 7, 6, 4], w: [5, 5, 4, 9], strides: [1, 1], dilations: [1, 1], same: true },
      { x: [1, 12, 9, 6], w: [2, 3, 6, 33], strides: [1, 2], dilations: [3, 1], same: true },
      { x: [2, 5, 7, 3], w: [1, 1, 3, 70], strides: [2, 2], dilations: [1, 1], same: false },
    ] as const;
    onBackend('native', () =>
      eachIsa((isa) => {
        for (const [i, spec] of convs.entries()) {
          const [kh, kw, , cout] = spec.w;
          const x = c.cast(rand(spec.x, 50 + i, { lo: -2, hi: 5 }), 'float32');
          const w = int8Weights([...spec.w], 60 + i);
          const scale = perChannel(cout, 70 + i, 1e-4, 1e-2),
            bias = perChannel(cout, 80 + i, -1, 1);
          const mode = spec.same ? 'same' : 'valid';
          const pads = resolvePadding('t', mode, [spec.x[1], spec.x[2]], [kh, kw], spec.strides, spec.dilations);
          const p = {
            inputScale: 4 / 255,
            inputZeroPoint: 77 + i,
            activation: i % 2 ? 'linear' : 'relu',
            strides: spec.strides,
            dilations: spec.dilations,
            pads,
          } as const;
          const y = quantizedConv2d(x, w, scale, bias, p);
          const want = referenceConv2d(x, w, scale, bias, { ...p, zeroPoint: p.inputZeroPoint }, y.shape.slice(1, 3));
          assert.deepEqual(y.dataSync(), want, `${isa} conv ${spec.x.join('x')} * ${spec.w.join('x')}`);
        }
      }),
    );
  });

  test('sums past int32 (depth 70000 at the extremes) run exactly', () => {
    // |acc| reaches 70000 * 255 * 128 > 2^31: int32 sums would wrap.
    const [m, k, n] = [2, 70000, 3];
    const x = c.tensor(new Float32Array(m * k).fill(100), [m, k], 'float32');
    const w = c.tensor(new Int8Array(k * n).fill(-128), [k, n], 'int8');
    const scale = c.tensor([1, 0.5, 0.25], [3], 'float32'),
      bias = c.zeros([3]);
    const p = { inputScale: 0.1, zeroPoint: 0, activation: 'linear' } as const;
    const want = referenceMatmul(x, w, scale, bias, p);
    assert.equal(want[0], Math.fround(-70000 * 255 * 128));
    onBackend('native', () =>
      eachIsa((isa) => {
        const y = quantizedMatmul(x, w, scale, bias, { ...p, inputZeroPoint: 0 });
        assert.deepEqual(y.dataSync(), want, isa);
      }),
    );
  });

  test('a NaN input anywhere (SIMD body, tail, unread pixels, any row) raises ArgumentError on every ISA', () => {
    const p = { inputScale: 0.02, inputZeroPoint: 100, activation: 'linear' } as const;
    // k = 37: lanes of 16 and 8 plus a tail; m = 100: rows in several tasks.
    const [m, k, n] = [100, 37, 5];
    const w = int8Weights([k, n], 3);
    const s = perChannel(n, 4, 1e-3, 1e-2);
    const kw = int8Weights([3, 3, 2, 4], 5);
    const ks = perChannel(4, 6, 1e-3, 1e-2);
    const conv = { ...p, ...STRIDE_2_VALID };
    onBackend('native', () =>
      eachIsa((isa) => {
        for (const at of [0, 15, 16, 33, 36, 50 * k + 20, m * k - 1])
          assert.throws(
            () => quantizedMatmul(withNaN([m, k], at), w, s, s, p),
            (e: Error) =>
              e instanceof c.ArgumentError && /quantizedMatmul: input \[100, 37\] contains NaN/.test(e.message),
            `${isa} matmul NaN at ${at}`,
          );
        // x [2, 6, 6, 2], 3x3 stride 2 valid: the last row and column of each image are read by no window.
        for (const at of [0, 1, 35, 60, 71, 143])
          assert.throws(
            () => quantizedConv2d(withNaN([2, 6, 6, 2], at), kw, ks, ks, conv),
            (e: Error) =>
              e instanceof c.ArgumentError && /quantizedConv2d: input \[2, 6, 6, 2\] contains NaN/.test(e.message),
            `${isa} conv NaN at ${at}`,
          );
        // No NaN: the same inputs compute (the flag is per call, not left over).
        const x = withNaN([m, k]);
        assert.deepEqual(
          quantizedMatmul(x, w, s, s, p).dataSync(),
          referenceMatmul(x, w, s, s, { ...p, zeroPoint: 100 }),
        );
      }),
    );
  });

  test('results are bit-identical with 1, 2 and 3 threads', () => {
    const threads = c.getNumThreads();
    const { x, w, scale, bias } = matmulCase(300, 290, 70, 5, { inputScale: 0.02, zeroPoint: 9, activation: 'relu' });
    const xc = c.cast(rand([4, 15, 15, 32], 6, { lo: -1, hi: 3 }), 'float32'),
      wc = int8Weights([3, 3, 32, 64], 7);
    const sc = perChannel(64, 8, 1e-4, 1e-2),
      bc = perChannel(64, 9, -1, 1);
    const pads = [
      [1, 1],
      [1, 1],
    ] as const;
    const run = () =>
      onBackend('native', () => [
        quantizedMatmul(x, w, scale, bias, { inputScale: 0.02, inputZeroPoint: 9, activation: 'relu' }).dataSync(),
        quantizedConv2d(xc, wc, sc, bc, {
          inputScale: 0.015,
          inputZeroPoint: 3,
          activation: 'linear',
          strides: [1, 1],
          dilations: [1, 1],
          pads,
        }).dataSync(),
      ]);
    try {
      const results = [1, 2, 3].map((t) => (c.setNumThreads(t), run()));
      for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
    } finally {
      c.setNumThreads(threads);
    }
  });

  test('weights changed in place are packed again (the packed weights are keyed by their bytes)', () => {
    const p = { inputScale: 0.05, zeroPoint: 20, activation: 'linear' } as const;
    onBackend('native', () =>
      eachIsa((isa) => {
        const { x, w, scale, bias } = matmulCase(5, 37, 21, 3, p);
        const first = quantizedMatmul(x, w, scale, bias, { ...p, inputZeroPoint: 20 })
          .dataSync()
          .slice();
        assert.deepEqual(first, referenceMatmul(x, w, scale, bias, p), isa);
        // The buffer the kernel reads, changed in place (as a pooled block reused by other weights would be).
        const data = w.storage.buffer as Int8Array;
        data[7] = data[7] === 1 ? 2 : 1;
        const again = quantizedMatmul(x, w, scale, bias, { ...p, inputZeroPoint: 20 }).dataSync();
        assert.deepEqual(again, referenceMatmul(x, w, scale, bias, p), `${isa} after the change`);
        assert.notDeepEqual(again, first);
      }),
    );
  });

  test('the default int8 kernels follow the backend ISA: VNNI where the CPU has it', () => {
    const { isa, available } = addon!.quantizedIsa();
    assert.equal(isa, available[0]);
    assert.throws(() => addon!.quantizedIsa('sse9'), /quantizedIsa: instruction set 'sse9' is unknown/);
  });
});
