// Shared helpers of the native-vs-reference parity tests: seeded inputs that do not depend on any
// backend, views that start partway into a buffer, running one function on both backends and comparing.
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import type { DType, Tensor, TypedArray } from '../../src/index.js';
import { nativeAvailability } from '../../src/backends/native/index.js';
import { runPrimitive } from '../../src/ops/dispatch.js';

const availability = nativeAvailability();
export const skip = availability.available ? false : `native addon not built: ${availability.reason}`;
if (skip) console.log(`# skipping native backend tests: ${skip}`);

export const SIZES = [1, 7, 33, 257];
export const F32 = 1e-5;

/** Seeded values in [lo, hi) (a small LCG: the inputs must not depend on any backend). */
export function values(n: number, seed: number, lo = -2, hi = 2): Float64Array {
  const out = new Float64Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((s >>> 8) / 2 ** 24) * (hi - lo);
  }
  return out;
}

/** A tensor of `shape` that is a contiguous view starting `lead` elements into a larger buffer. */
export function offsetView(data: ArrayLike<number>, shape: readonly number[], dtype: DType, lead = 3): Tensor {
  const n = data.length;
  const padded = new Float64Array(n + lead + 2).fill(dtype === 'bool' ? 1 : 7);
  padded.set(data, lead);
  const whole = c.tensor(padded, [n + lead + 2], dtype);
  return c.reshape(c.slice(whole, [lead], [n]), shape);
}

export function onBackend<T>(name: string, fn: () => T): T {
  const prev = c.getBackend().name;
  c.setBackend(name);
  try {
    return fn();
  } finally {
    c.setBackend(prev);
  }
}

/** Runs fn on the JS reference and on the native backend; returns both outputs' elements. */
export function both(fn: () => Tensor): { js: TypedArray; native: TypedArray; shape: readonly number[] } {
  const js = onBackend('js', () =>
    c.tidy(() => {
      const t = fn();
      return { data: t.dataSync(), shape: t.shape };
    }),
  );
  const native = onBackend('native', () => c.tidy(() => fn().dataSync()));
  return { js: js.data, native, shape: js.shape };
}

/** Every element within rtol of the reference, measured against max |reference| for sums with cancellation. */
export function assertParity(
  actual: TypedArray,
  expected: TypedArray,
  rtol: number,
  what: string,
  normwise = false,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  if (normwise) for (const v of expected) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i],
      e = expected[i];
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    const tol = rtol * (normwise ? scale : Math.abs(e)) + 1e-30;
    assert.ok(
      Math.abs(a - e) <= tol,
      `${what}: element ${i} is ${a}, reference ${e} (|diff| ${Math.abs(a - e)} > ${tol})`,
    );
  }
}

export function checkBoth(fn: () => Tensor, rtol: number, what: string, normwise = false): void {
  const { js, native } = both(fn);
  assertParity(native, js, rtol, what, normwise);
}

export const bitsOf = (a: TypedArray) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** The matmul primitive itself, which takes the transposes (a: [B, M, K] or [B, K, M], b: [B, K, N] or [B, N, K]). */
export const mm = (a: Tensor, b: Tensor, transA: boolean, transB: boolean) =>
  runPrimitive('matmul', [a, b], { transA, transB });

/** Runs `run` with 1, 2 and 3 native threads and asserts every output is bit-identical to the 1-thread one. */
export function assertThreadInvariant(run: () => readonly TypedArray[]): void {
  const threads = c.getNumThreads();
  try {
    c.setNumThreads(1);
    const one = run();
    for (const n of [2, 3]) {
      c.setNumThreads(n);
      run().forEach((r, i) => assert.ok(bitsOf(r).equals(bitsOf(one[i])), `output ${i} differs with ${n} threads`));
    }
  } finally {
    c.setNumThreads(threads);
  }
}
