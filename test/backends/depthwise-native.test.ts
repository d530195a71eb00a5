// Parity of the native depthwise convolution kernels (kernels/depthwise.h) with the JS reference: forward,
// input gradient and filter gradient on seeded random inputs of odd sizes, depthMultiplier 1 (the vector
// path, with whole and partial channel blocks) and above (scalar and vector-over-m paths), strides,
// dilations and asymmetric padding, views that start partway into a buffer; on every instruction set the
// CPU has; bit-identical whatever the thread count; and the addon's bounds checks.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import type { Tensor, TypedArray } from '../../src/index.js';
import { findBackend } from '../../src/backends/backend.js';
import { nativeIsas, setNativeIsa } from '../../src/backends/native/index.js';
import { F32, assertThreadInvariant, checkBoth, offsetView, onBackend, skip, values } from './parity.js';

interface Case {
  x: number[];
  f: number[];
  strides: number | [number, number];
  dilations: number | [number, number];
  padding: c.ConvPadding;
}

const CASES: Case[] = [
  { x: [2, 7, 9, 3], f: [3, 3, 3, 1], strides: 1, dilations: 1, padding: 'same' },
  { x: [1, 9, 7, 37], f: [3, 3, 37, 1], strides: 2, dilations: 1, padding: 'valid' },
  {
    x: [2, 11, 10, 70],
    f: [5, 3, 70, 1],
    strides: [2, 1],
    dilations: [1, 2],
    padding: [
      [2, 1],
      [0, 3],
    ],
  },
  { x: [1, 8, 9, 3], f: [3, 3, 3, 2], strides: 1, dilations: 1, padding: 'same' },
  { x: [2, 6, 7, 2], f: [2, 3, 2, 17], strides: [1, 2], dilations: 1, padding: 1 },
  { x: [3, 13, 12, 5], f: [1, 1, 5, 3], strides: 3, dilations: 1, padding: 'valid' },
  { x: [1, 5, 5, 19], f: [7, 7, 19, 1], strides: 1, dilations: 1, padding: 'same' },
];

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Forward, input gradient and filter gradient of one case for a seeded dy, on the current backend. */
function depthwiseAll(k: Case, dtype: 'float32' | 'float64'): Tensor[] {
  const x = offsetView(values(size(k.x), 1), k.x, dtype),
    f = offsetView(values(size(k.f), 2), k.f, dtype);
  const y = c.depthwiseConv2d(x, f, k);
  const dy = c.tensor(values(size(y.shape), 3), y.shape, dtype);
  const { grads } = c.vjp(([xx, ff]: Tensor[]) => c.depthwiseConv2d(xx, ff, k), [x, f], dy);
  return [y, ...grads];
}

/** Checks the three results of a case on native against the JS reference. */
function checkCase(k: Case, what: string): void {
  for (const dtype of ['float32', 'float64'] as const) {
    const tol = dtype === 'float32' ? F32 : 1e-12;
    ['forward', 'input gradient', 'filter gradient'].forEach((name, i) =>
      checkBoth(() => depthwiseAll(k, dtype)[i], tol, `${what} ${name} ${dtype}`, true),
    );
  }
}

describe('native depthwise convolution matches the reference', { skip }, () => {
  for (const k of CASES) {
    const title =
      `x ${JSON.stringify(k.x)} f ${JSON.stringify(k.f)} strides ${JSON.stringify(k.strides)} ` +
      `dilations ${JSON.stringify(k.dilations)} padding ${JSON.stringify(k.padding)}`;
    test(title, () => checkCase(k, title));
  }

  test('on each instruction set the CPU has', () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const k of [CASES[2], CASES[4]]) checkCase(k, isa);
      }
    } finally {
      setNativeIsa(nativeIsas()[0]);
    }
  });

  test('bit-identical with 1, 2 and 3 threads (the filter gradient over many chunks)', () => {
    const k: Case = { x: [4, 28, 28, 32], f: [3, 3, 32, 1], strides: 1, dilations: 1, padding: 'same' };
    assertThreadInvariant(() =>
      onBackend('native', () => c.tidy(() => depthwiseAll(k, 'float32').map((t): TypedArray => t.dataSync().slice()))),
    );
  });

  test('the addon checks extents', () => {
    const native = findBackend('native');
    const arg = (buffer: TypedArray, shape: number[]) => ({
      buffer,
      dtype: 'float32' as const,
      shape,
      strides: [],
      offset: 0,
    });
    const p = {
      strides: [1, 1] as const,
      dilations: [1, 1] as const,
      pads: [
        [0, 0],
        [0, 0],
      ] as const,
    };
    assert.throws(
      () =>
        native.fused.depthwiseConv2dBackpropFilter!(
          [arg(new Float32Array(31), [1, 4, 4, 2]), arg(new Float32Array(8), [1, 2, 2, 2])],
          arg(new Float32Array(18), [3, 3, 2, 1]),
          { ...p, filterShape: [3, 3, 2, 1] },
        ),
      /depthwiseConv2dBackpropFilter: input needs elements \[0, 32\) but has 31/,
    );
    assert.throws(
      () =>
        native.fused.depthwiseConv2d!(
          [arg(new Float32Array(32), [1, 4, 4, 2]), arg(new Float32Array(18), [3, 3, 2, 1])],
          arg(new Float32Array(7), [1, 2, 2, 2]),
          p,
        ),
      /depthwiseConv2d: out needs elements \[0, 8\) but has 7/,
    );
  });
});
