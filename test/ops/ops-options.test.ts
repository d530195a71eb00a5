// The ops of issue 11 item 9 (trigonometry, activations, scans, sorts, tile / repeat, unbiased variance,
// einsum): values and vector-Jacobian products against PyTorch 1.13 (test/fixtures/torch/ops.json, written
// by tools/torch-fixtures-ops.py), finite-difference gradient checks, and their errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as o from '../../src/ops/index.js';
import { ArgumentError, ShapeError, type Tensor } from '../../src/index.js';
import { vjp } from '../../src/autograd/grad.js';
import { assertGradients } from '../../src/autograd/check.js';
import { assertClose, flat, rand } from '../helpers.js';

interface Arr {
  shape: number[];
  data: number[];
}
interface Case {
  name: string;
  inputs: Arr[];
  output: Arr;
  projection?: Arr;
  grads?: Arr[];
}

const FIXTURE = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'torch', 'ops.json');
const CASES = new Map((JSON.parse(readFileSync(FIXTURE, 'utf8')) as { cases: Case[] }).cases.map((c) => [c.name, c]));
const t64 = (a: Arr) => o.tensor(Float64Array.from(a.data), a.shape, 'float64');

/** Candor's version of each differentiable fixture case (same names as the Python script). */
const OPS: Record<string, (...xs: Tensor[]) => Tensor> = {
  tan: o.tan,
  asin: o.asin,
  acos: o.acos,
  atan: o.atan,
  atan2: o.atan2,
  atan2Axes: o.atan2,
  log2: o.log2,
  mish: o.mish,
  hardSwish: o.hardSwish,
  logSigmoid: o.logSigmoid,
  softsign: o.softsign,
  softplusBeta: (x) => o.softplus(x, { beta: 2, threshold: 3 }),
  softplusDefault: (x) => o.softplus(x, { threshold: 20 }),
  cumsum: (x) => o.cumsum(x, 1),
  cumsumExclusiveReverse: (x) => o.cumsum(x, 0, { exclusive: true, reverse: true }),
  cumprod: (x) => o.cumprod(x, 2),
  cumprodExclusive: (x) => o.cumprod(x, 1, { exclusive: true }),
  cumprodReverse: (x) => o.cumprod(x, -1, { reverse: true }),
  sort: (x) => o.sort(x, 1),
  sortDescending: (x) => o.sort(x, -1, { descending: true }),
  topK: (x) => o.topK(x, 3).values,
  tile: (x) => o.tile(x, [2, 1, 3]),
  repeat: (x) => o.repeat(x, 3, 1),
  repeatFlat: (x) => o.repeat(x, 2),
  repeatEach: (x) => o.repeat(x, [2, 0, 1, 3], 0),
  varianceUnbiased: (x) => o.variance(x, 1, false, { unbiased: true }),
  stdUnbiased: (x) => o.std(x, [0, 2], true, { correction: 1 }),
  varianceCorrection2: (x) => o.variance(x, undefined, false, { correction: 2 }),
  einsumMatmul: (a, b) => o.einsum('ij,jk->ik', a, b),
  einsumImplicit: (a, b) => o.einsum('ij,kj', a, b),
  einsumBatch: (a, b) => o.einsum('bij,bjk->bik', a, b),
  einsumTrace: (a) => o.einsum('ii->', a),
  einsumDiagonal: (a) => o.einsum('ii->i', a),
  einsumBatchDiagonal: (a) => o.einsum('bii->bi', a),
  einsumOuter: (a, b) => o.einsum('i,j->ij', a, b),
  einsumSum: (a) => o.einsum('ijk->j', a),
  einsumTranspose: (a) => o.einsum('ijk->kij', a),
  einsumEllipsis: (a, b) => o.einsum('...ij,...jk->...ik', a, b),
  einsumEllipsisBroadcast: (a, b) => o.einsum('...ij,jk', a, b),
  einsumThree: (a, b, c) => o.einsum('ij,jk,kl->il', a, b, c),
  einsumBilinear: (a, w, b) => o.einsum('bi,oij,bj->bo', a, w, b),
  einsumAttention: (q, k) => o.einsum('bhqd,bhkd->bhqk', q, k),
  einsumRepeatedAcross: (a, b) => o.einsum('iij,jk->ik', a, b),
  einsumHadamard: (a, b) => o.einsum('ij,ij->ij', a, b),
  einsumDot: (a, b) => o.einsum('i,i', a, b),
  einsumSizeOne: (a, b) => o.einsum('ij,ij->i', a, b),
};

describe('ops against PyTorch 1.13', () => {
  for (const [name, f] of Object.entries(OPS)) {
    test(`${name}: values and vector-Jacobian product`, () => {
      const c = CASES.get(name);
      assert.ok(c?.grads && c.projection, `fixture case ${name}`);
      const inputs = c.inputs.map(t64);
      const { value, grads } = vjp((xs: Tensor[]) => f(...xs), inputs, t64(c.projection));
      assertClose(value, t64(c.output), { rtol: 1e-10, atol: 1e-12 }, `${name} value`);
      grads.forEach((g, i) => assertClose(g, t64(c.grads![i]), { rtol: 1e-9, atol: 1e-11 }, `${name} grad ${i}`));
    });
  }

  test('argsort and topK indices', () => {
    const idx = (name: string) => CASES.get(name)!.output.data;
    assert.deepEqual(flat(o.argsort(t64(CASES.get('argsort')!.inputs[0]), 1)), idx('argsort'));
    assert.deepEqual(flat(o.topK(t64(CASES.get('topKIndices')!.inputs[0]), 3).indices), idx('topKIndices'));
    const z = t64(CASES.get('argsortDescending')!.inputs[0]);
    assert.deepEqual(flat(o.argsort(z, 0, { descending: true })), idx('argsortDescending'));
  });

  test('every case of the fixture is checked', () => {
    const integer = ['argsort', 'topKIndices', 'argsortDescending'];
    assert.deepEqual([...CASES.keys()].sort(), [...Object.keys(OPS), ...integer].sort());
  });
});

describe('gradients by finite differences (float64)', () => {
  const unit = () => [rand([3, 4], 3, { lo: -0.9, hi: 0.9 })];
  const checks: [string, (...xs: Tensor[]) => Tensor, () => Tensor[]][] = [
    ['tan', o.tan, () => [rand([3, 4], 1, { lo: -1.2, hi: 1.2 })]],
    ['asin', o.asin, unit],
    ['acos', o.acos, unit],
    ['atan2', o.atan2, () => [rand([3, 1], 4), rand([1, 4], 5)]],
    ['log2', o.log2, () => [rand([3, 4], 6, { lo: 0.3, hi: 2 })]],
    ['mish', o.mish, () => [rand([3, 4], 7, { lo: -4, hi: 4 })]],
    ['hardSwish', o.hardSwish, () => [rand([3, 4], 8, { lo: -5, hi: 5 })]],
    ['logSigmoid', o.logSigmoid, () => [rand([3, 4], 9, { lo: -6, hi: 6 })]],
    ['softsign', o.softsign, () => [rand([3, 4], 10)]],
    ['softplus beta', (x) => o.softplus(x, { beta: 3, threshold: 4 }), () => [rand([3, 4], 11)]],
    ['cumsum', (x) => o.cumsum(x, 1, { exclusive: true }), () => [rand([2, 5, 3], 12)]],
    ['cumprod', (x) => o.cumprod(x, 1, { reverse: true }), () => [rand([2, 5, 3], 13)]],
    ['sort', (x) => o.sort(x, 0, { descending: true }), () => [rand([5, 3], 14)]],
    ['topK', (x) => o.topK(x, 2).values, () => [rand([3, 5], 15)]],
    ['tile', (x) => o.tile(x, [3, 2]), () => [rand([2, 3], 16)]],
    ['repeat', (x) => o.repeat(x, [1, 3, 0], 1), () => [rand([2, 3], 17)]],
    ['std unbiased', (x) => o.std(x, 0, false, { unbiased: true }), () => [rand([4, 3], 18)]],
    ['einsum', (a, b) => o.einsum('bii,bjk->bkj', a, b), () => [rand([2, 3, 3], 19), rand([2, 2, 3], 20)]],
    ['einsum ellipsis', (a, b) => o.einsum('...i,i...->...', a, b), () => [rand([2, 3, 4], 21), rand([4, 3], 22)]],
  ];
  for (const [name, f, inputs] of checks) test(name, () => assertGradients(f, inputs()));
});

describe('op behaviour', () => {
  test('cumsum and cumprod along each axis, on int32 and bool, against sequential loops', () => {
    const x = o.tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.deepEqual(flat(o.cumsum(x, 1)), [1, 3, 6, 4, 9, 15]);
    assert.deepEqual(flat(o.cumsum(x)), [1, 2, 3, 5, 7, 9]);
    assert.deepEqual(flat(o.cumprod(x, 1, { exclusive: true })), [1, 1, 2, 1, 4, 20]);
    assert.deepEqual(flat(o.cumsum(x, -1, { reverse: true })), [6, 5, 3, 15, 11, 6]);
    const ints = o.tensor(Int32Array.from([3, -1, 4, 1, 5, 9, 2, 6, 5, 3, 5]));
    const c = o.cumsum(ints);
    assert.equal(c.dtype, 'int32');
    let s = 0;
    assert.deepEqual(
      flat(c),
      [3, -1, 4, 1, 5, 9, 2, 6, 5, 3, 5].map((v) => (s += v)),
    );
    assert.deepEqual(flat(o.cumsum(o.tensor([true, false, true, true]))), [1, 1, 2, 3]);
  });

  test('sort is stable, NaN last (first descending), and topK picks the lower index among ties', () => {
    const x = o.tensor([3, NaN, 1, 3, -Infinity, 1]);
    assert.deepEqual(flat(o.argsort(x)), [4, 2, 5, 0, 3, 1]);
    assert.deepEqual(flat(o.argsort(x, 0, { descending: true })), [1, 0, 3, 2, 5, 4]);
    const { values, indices } = o.topK(o.tensor([1, 5, 2, 5, 0]), 3);
    assert.deepEqual(flat(values), [5, 5, 2]);
    assert.deepEqual(flat(indices), [1, 3, 2]);
    assert.deepEqual(flat(o.topK(o.tensor([4, 1, 3]), 2, { largest: false }).values), [1, 3]);
    assert.deepEqual(flat(o.sort(o.tensor(Int32Array.from([3, -2, 7])))), [-2, 3, 7]);
  });

  test('takeAlongAxis gathers per line and refuses indices out of range', () => {
    const x = o.tensor([
      [10, 20, 30],
      [40, 50, 60],
    ]);
    const idx = o.tensor(Int32Array.from([2, -1, 0, 1]), [2, 2]);
    assert.deepEqual(flat(o.takeAlongAxis(x, idx, 1)), [30, 30, 40, 50]);
    assert.throws(() => o.takeAlongAxis(x, o.tensor(Int32Array.from([3, 0]), [2, 1]), 1), /index 3 is out of range/);
  });

  test('repeat with a tensor of counts, tile by zero, and their errors', () => {
    const x = o.tensor([1, 2, 3]);
    assert.deepEqual(flat(o.repeat(x, o.tensor(Int32Array.from([0, 2, 1])))), [2, 2, 3]);
    assert.deepEqual([...o.tile(x, [0]).shape], [0]);
    assert.throws(
      () => o.repeat(x, [1, 2]),
      (e: Error) => e instanceof ArgumentError && /2 repeats for axis 0 of size 3/.test(e.message),
    );
    assert.throws(() => o.tile(x, [2, 2]), ArgumentError);
    assert.throws(() => o.repeat(x, -1), ArgumentError);
  });

  test('variance: correction and unbiased, not both; one element unbiased is NaN (as PyTorch)', () => {
    const x = o.tensor([1, 2, 3, 4], [4], 'float64');
    assert.equal(o.variance(x).item(), 1.25);
    assert.equal(o.variance(x, 0, false, { unbiased: true }).item(), 5 / 3);
    assert.ok(Number.isNaN(o.variance(o.tensor([2]), 0, false, { correction: 1 }).item()));
    assert.throws(() => o.variance(x, 0, false, { correction: 1, unbiased: true }), ArgumentError);
  });

  test('atan2 in every quadrant and on the axes matches Math.atan2', () => {
    const ys = [1, 1, -1, -1, 0, 0, 2, -2, 0.5, 3];
    const xs = [1, -1, 1, -1, 1, -1, 0, 0, 0.25, -7];
    const got = flat(o.atan2(o.tensor(ys, [10], 'float64'), o.tensor(xs, [10], 'float64')));
    assertClose(
      got,
      ys.map((y, i) => Math.atan2(y, xs[i])),
      { rtol: 1e-15, atol: 1e-15 },
    );
    assert.equal(o.atan2(o.tensor([0], [1], 'float64'), 0).item(), 0);
  });

  test('asin and acos keep their precision near +-1 and give NaN outside [-1, 1]', () => {
    const v = [1, -1, 1 - 1e-12, -0.999999, 0.5, 0];
    const x = o.tensor(v, [v.length], 'float64');
    assertClose(flat(o.asin(x)), v.map(Math.asin), { rtol: 1e-12, atol: 1e-15 });
    assertClose(flat(o.acos(x)), v.map(Math.acos), { rtol: 1e-12, atol: 1e-15 });
    assert.ok(Number.isNaN(o.asin(o.tensor([1.5])).item()));
  });

  test('einsum with int32 operands, and its errors name the equation', () => {
    const a = o.tensor(Int32Array.from([1, 2, 3, 4]), [2, 2]);
    const p = o.einsum('ij,jk->ik', a, a);
    assert.equal(p.dtype, 'int32');
    assert.deepEqual(flat(p), [7, 10, 15, 22]);
    const f = o.ones([2, 3]);
    const err = (fn: () => unknown, cls: typeof ArgumentError | typeof ShapeError, re: RegExp) =>
      assert.throws(fn, (e: Error) => e instanceof cls && re.test(e.message));
    err(() => o.einsum('ij,jk', f, f), ShapeError, /einsum\('ij,jk'\): label j has size 3 elsewhere but 2/);
    err(() => o.einsum('ij->k', f), ArgumentError, /output label k appears in no operand/);
    err(() => o.einsum('ij,jk', f), ArgumentError, /2 operand subscripts for 1 tensors/);
    err(() => o.einsum('ijk', f), ArgumentError, /does not fit 'ijk'/);
    err(() => o.einsum('i1', f), ArgumentError, /'1' is not a subscript letter/);
    err(() => o.einsum('ij->ii', f), ArgumentError, /appears twice/);
  });
});
