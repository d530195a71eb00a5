// Shared test helpers: closeness assertions, seeded random inputs and a slow nested-loop reference.
import './config-dir.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tensor, RandomStream, concat, memory, reshape, tensor, type DType } from '../src/index.js';

/**
 * The results of an op with several, flattened and joined in order (a single tensor passes through): how
 * tests compare them with flat references and check their gradients through one tensor.
 */
export function joined(result: Tensor | readonly Tensor[]): Tensor {
  if (result instanceof Tensor) return result;
  return concat(
    result.map((t) => reshape(t, [t.size])),
    0,
  );
}

/** Flat numbers of a tensor, nested array or typed array. */
export function flat(x: Tensor | ArrayLike<number> | number[][] | number[][][]): number[] {
  if (x instanceof Tensor) return Array.from(x.dataSync());
  if (Array.isArray(x)) return (x as unknown[]).flat(Infinity) as number[];
  return Array.from(x as ArrayLike<number>);
}

/** Asserts |a - e| <= atol + rtol * |e| elementwise (NaN equals NaN, infinities must match). */
export function assertClose(
  actual: Tensor | ArrayLike<number> | number[][],
  expected: Tensor | ArrayLike<number> | number[][] | number[][][],
  { rtol = 1e-5, atol = 1e-6 } = {},
  what = '',
): void {
  if (actual instanceof Tensor && expected instanceof Tensor)
    assert.deepEqual([...actual.shape], [...expected.shape], `${what} shape`);
  const a = flat(actual),
    e = flat(expected);
  assert.equal(a.length, e.length, `${what} length ${a.length} vs ${e.length}`);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(e[i]) && Number.isNaN(a[i])) continue;
    if (a[i] === e[i]) continue;
    const ok = Math.abs(a[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
    assert.ok(ok, `${what} element ${i}: got ${a[i]}, expected ${e[i]}`);
  }
}

/** A seeded random tensor with values in [lo, hi) that avoids exact zeros. */
export function rand(
  shape: readonly number[],
  seed: number,
  { dtype = 'float64' as DType, lo = -2, hi = 2 } = {},
): Tensor {
  const g = new RandomStream(seed);
  const t = g.uniform(shape, lo, hi, dtype);
  const d = t.dataSync();
  t.dispose();
  for (let i = 0; i < d.length; i++) if (Math.abs(d[i]) < 1e-3) d[i] = 0.5;
  return tensor(d, shape, dtype);
}

/** Positive values in [lo, hi), for ops whose domain is x > 0. */
export function randPositive(shape: readonly number[], seed: number, lo = 0.5, hi = 2): Tensor {
  return rand(shape, seed, { lo, hi });
}

/** Plain nested-loop matmul over flat row-major arrays: the slowest, most obvious reference. */
export function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  return c;
}

/** Asserts that fn rejects (or throws) with an error of this class whose message matches, leaking no tensor. */
export async function rejects(fn: () => unknown, cls: new (...a: never[]) => Error, message: RegExp): Promise<void> {
  const before = memory().tensors;
  await assert.rejects(
    async () => fn(),
    (e: Error) => {
      assert.ok(e instanceof cls, `expected ${cls.name}, got ${e.name}: ${e.message}`);
      assert.match(e.message, message);
      return true;
    },
  );
  // A leak raises the count; the garbage collector may free earlier tests' dropped tensors meanwhile (storage's
  // FinalizationRegistry), which lowers it, so the count may not rise rather than must stay equal.
  const after = memory().tensors;
  assert.ok(after <= before, `no tensor leaked by the failed call (${before} live before, ${after} after)`);
}

/** Runs fn with a fresh temp directory, removed afterwards. */
export async function withDir<T>(fn: (dir: string) => Promise<T>, prefix = 'candor-test-'): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pid of a process that has exited: it names no live process (until the system reuses it). */
export const deadPid = (): number => spawnSync(process.execPath, ['-e', '']).pid!;
