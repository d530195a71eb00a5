// Float64 finite-difference gradient checks of every differentiable public op, plus the grad engine's API contract.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Tensor,
  ArgumentError,
  DTypeError,
  assertGradients,
  grad,
  valueAndGrad,
  vjp,
  customGrad,
  noGrad,
  stopGradient,
  tensor,
  ones,
  memory,
  dispose,
  cast,
  copy,
  neg,
  abs,
  exp,
  expm1,
  log,
  log1p,
  sqrt,
  rsqrt,
  reciprocal,
  sin,
  cos,
  tanh,
  sigmoid,
  relu,
  erf,
  round,
  add,
  sub,
  mul,
  div,
  pow,
  maximum,
  minimum,
  where,
  clip,
  leakyRelu,
  elu,
  selu,
  gelu,
  softplus,
  swish,
  square,
  greater,
  sum,
  prod,
  max,
  min,
  mean,
  variance,
  std,
  logsumexp,
  argmax,
  matmul,
  outer,
  reshape,
  transpose,
  permute,
  expand,
  slice,
  sliceAxis,
  flip,
  squeeze,
  unsqueeze,
  concat,
  stack,
  split,
  pad,
  gather,
  take,
  scatterAdd,
  softmax,
  logSoftmax,
} from '../../src/index.js';
import { assertClose, flat, rand, randPositive } from '../helpers.js';

type F = (...xs: Tensor[]) => Tensor;

/** One test that checks f's gradient with respect to every input against central differences. */
function check(name: string, f: F, inputs: () => Tensor[]): void {
  test(name, () => assertGradients(f, inputs()));
}

describe('gradcheck: unary math', () => {
  const x = () => [rand([3, 5], 1)];
  const pos = () => [randPositive([3, 5], 2)];
  check('neg', (a) => neg(a), x);
  check('abs', (a) => abs(a), x);
  check('exp', (a) => exp(a), x);
  check('expm1', (a) => expm1(a), x);
  check('log', (a) => log(a), pos);
  check(
    'log1p',
    (a) => log1p(a),
    () => [rand([3, 5], 3, { lo: -0.5, hi: 2 })],
  );
  check('sqrt', (a) => sqrt(a), pos);
  check('rsqrt', (a) => rsqrt(a), pos);
  check('reciprocal (positive)', (a) => reciprocal(a), pos);
  check('reciprocal (negative)', (a) => reciprocal(neg(a)), pos);
  check(
    'sin',
    (a) => sin(a),
    () => [rand([2, 3, 7], 4, { lo: -4, hi: 4 })],
  );
  check(
    'cos',
    (a) => cos(a),
    () => [rand([2, 3, 7], 5, { lo: -4, hi: 4 })],
  );
  check('tanh', (a) => tanh(a), x);
  check(
    'sigmoid',
    (a) => sigmoid(a),
    () => [rand([7], 6, { lo: -6, hi: 6 })],
  );
  check('relu', (a) => relu(a), x);
  check(
    'erf',
    (a) => erf(a),
    () => [rand([2, 3, 7], 7, { lo: -2.5, hi: 2.5 })],
  );
  check('square', (a) => square(a), x);
  check(
    'a chain of unary ops',
    (a) => tanh(exp(sin(a))),
    () => [rand([1, 5], 8)],
  );
});

describe('gradcheck: activations', () => {
  const x = () => [rand([3, 5], 11, { lo: -3, hi: 3 })];
  check('clip', (a) => clip(a, -1, 1.5), x);
  check('leakyRelu (default alpha)', (a) => leakyRelu(a), x);
  check('leakyRelu (alpha 0.05)', (a) => leakyRelu(a, 0.05), x);
  check('elu', (a) => elu(a), x);
  check('elu (alpha 0.5)', (a) => elu(a, 0.5), x);
  check('selu', (a) => selu(a), x);
  check('gelu (exact)', (a) => gelu(a), x);
  check('gelu (tanh approximation)', (a) => gelu(a, true), x);
  check(
    'softplus',
    (a) => softplus(a),
    () => [rand([2, 3, 7], 12, { lo: -30, hi: 30 })],
  );
  check('swish', (a) => swish(a), x);
  check(
    'smooth activations at exactly 0',
    (a) => add(add(softplus(a), gelu(a)), add(gelu(a, true), swish(a))),
    () => [tensor([0, 0, 0.5, -0.5], undefined, 'float64')],
  );
});

describe('gradcheck: binary arithmetic and broadcasting', () => {
  const same = () => [rand([3, 5], 21), rand([3, 5], 22)];
  const bcast = () => [rand([3, 1, 5], 23), rand([4, 1], 24)];
  check('add', (a, b) => add(a, b), same);
  check('add [3,1,5] + [4,1]', (a, b) => add(a, b), bcast);
  check(
    'add of a rank-0 scalar tensor',
    (a, s) => add(a, s),
    () => [rand([3, 5], 25), tensor(0.7, [], 'float64')],
  );
  check(
    'add of a number operand',
    (a) => add(2.5, a),
    () => [rand([7], 26)],
  );
  check('sub', (a, b) => sub(a, b), same);
  check('sub [3,1,5] - [4,1]', (a, b) => sub(a, b), bcast);
  check(
    'sub with a number on the left',
    (a) => sub(1, a),
    () => [rand([1, 5], 27)],
  );
  check('mul', (a, b) => mul(a, b), same);
  check('mul [3,1,5] * [4,1]', (a, b) => mul(a, b), bcast);
  check(
    'mul by [1,5] row',
    (a, b) => mul(a, b),
    () => [rand([3, 5], 28), rand([1, 5], 29)],
  );
  check(
    'div',
    (a, b) => div(a, b),
    () => [rand([3, 5], 30), randPositive([3, 5], 31)],
  );
  check(
    'div [3,1,5] / [4,1]',
    (a, b) => div(a, b),
    () => [rand([3, 1, 5], 32), randPositive([4, 1], 33)],
  );
  check(
    'div by a negative divisor',
    (a, b) => div(a, neg(b)),
    () => [rand([7], 34), randPositive([7], 35)],
  );
  check(
    'div of a number by a tensor',
    (b) => div(3, b),
    () => [randPositive([2, 3, 7], 36)],
  );
  check(
    'pow (both operands)',
    (a, b) => pow(a, b),
    () => [randPositive([3, 5], 37), rand([3, 5], 38)],
  );
  check(
    'pow [3,1,5] ^ [4,1] (both operands)',
    (a, b) => pow(a, b),
    () => [randPositive([3, 1, 5], 39), rand([4, 1], 40)],
  );
  check(
    'pow with a number exponent',
    (a) => pow(a, 3),
    () => [rand([3, 5], 41)],
  );
  check(
    'pow with a number base',
    (b) => pow(2, b),
    () => [rand([3, 5], 42)],
  );
  check('maximum', (a, b) => maximum(a, b), same);
  check('maximum [3,1,5] vs [4,1]', (a, b) => maximum(a, b), bcast);
  check(
    'maximum with a number',
    (a) => maximum(a, 0.3),
    () => [rand([3, 5], 43)],
  );
  check('minimum', (a, b) => minimum(a, b), same);
  check('minimum [3,1,5] vs [4,1]', (a, b) => minimum(a, b), bcast);
  check(
    'minimum with a number',
    (a) => minimum(a, -0.3),
    () => [rand([3, 5], 44)],
  );
});

describe('gradcheck: where', () => {
  const cond = () =>
    tensor([
      [true, false, true, true, false],
      [false, false, true, false, true],
      [true, true, false, false, true],
    ]);
  check(
    'where (a and b, same shape)',
    (a, b) => where(cond(), a, b),
    () => [rand([3, 5], 51), rand([3, 5], 52)],
  );
  check(
    'where with broadcast operands [3,1] and [5]',
    (a, b) => where(cond(), a, b),
    () => [rand([3, 1], 53), rand([5], 54)],
  );
  check(
    'where with a broadcast condition [1,5] and a number',
    (a) => where(tensor([[true, false, false, true, true]]), a, 0.5),
    () => [rand([3, 5], 55)],
  );
  check(
    'where with a data-dependent condition',
    (a, b) => where(greater(a, b), mul(a, b), sub(a, b)),
    () => [rand([2, 3, 7], 56), rand([2, 3, 7], 57)],
  );
});

describe('gradcheck: reductions', () => {
  const x3 = () => [rand([2, 3, 7], 61)];
  for (const [label, axes, keep] of [
    ['all axes', undefined, false],
    ['all axes, keepDims', undefined, true],
    ['axis 0', 0, false],
    ['axis 1, keepDims', 1, true],
    ['axis -1', -1, false],
    ['axes [0, 2]', [0, 2], false],
    ['axes [2, 0], keepDims', [2, 0], true],
    ['axes [-1, -2]', [-1, -2], false],
  ] as const) {
    const ax = axes as number | number[] | undefined;
    check(`sum over ${label}`, (a) => sum(a, ax, keep), x3);
    check(`mean over ${label}`, (a) => mean(a, ax, keep), x3);
    check(`max over ${label}`, (a) => max(a, ax, keep), x3);
    check(`min over ${label}`, (a) => min(a, ax, keep), x3);
    check(
      `prod over ${label}`,
      (a) => prod(a, ax, keep),
      () => [rand([2, 3, 7], 62, { lo: 0.6, hi: 1.6 })],
    );
    check(`variance over ${label}`, (a) => variance(a, ax, keep), x3);
    check(`std over ${label}`, (a) => std(a, ax, keep), x3);
    check(`logsumexp over ${label}`, (a) => logsumexp(a, ax, keep), x3);
  }
  check(
    'prod with mixed signs',
    (a) => prod(a, 1),
    () => [rand([3, 5], 63, { lo: -1.5, hi: 1.5 })],
  );
  check(
    'prod with exact zeros (none, one and two per row)',
    (a) => prod(a, 1),
    () => [
      tensor(
        [
          [1.5, -0.7, 2, 0.9],
          [1.2, 0, -1.1, 0.8],
          [0, 1.3, 0, 2.1],
        ],
        undefined,
        'float64',
      ),
    ],
  );
  check(
    'prod with exact zeros over axis 0 and all axes',
    (a) => add(sum(prod(a, 0)), prod(a)),
    () => [
      tensor(
        [
          [1.5, 0, 2],
          [0, 0, 0.5],
          [1.1, 2, 3],
        ],
        undefined,
        'float64',
      ),
    ],
  );
  check(
    'logsumexp of large values',
    (a) => logsumexp(add(a, 500), -1),
    () => [rand([3, 5], 64)],
  );
  check(
    'a reduction of a broadcast sum',
    (a, b) => max(add(a, b), [0, 2]),
    () => [rand([3, 1, 5], 65), rand([4, 1], 66)],
  );
});

describe('gradcheck: matmul', () => {
  check(
    '2-D [3,5] x [5,4]',
    (a, b) => matmul(a, b),
    () => [rand([3, 5], 71), rand([5, 4], 72)],
  );
  check(
    'batched [2,3,5] x [2,5,7]',
    (a, b) => matmul(a, b),
    () => [rand([2, 3, 5], 73), rand([2, 5, 7], 74)],
  );
  check(
    'batched with broadcast batch dims [2,1,3,5] x [4,5,2]',
    (a, b) => matmul(a, b),
    () => [rand([2, 1, 3, 5], 75), rand([4, 5, 2], 76)],
  );
  check(
    'batched x 2-D [2,3,5] x [5,3]',
    (a, b) => matmul(a, b),
    () => [rand([2, 3, 5], 77), rand([5, 3], 78)],
  );
  check(
    '1-D x 2-D [5] x [5,3]',
    (a, b) => matmul(a, b),
    () => [rand([5], 79), rand([5, 3], 80)],
  );
  check(
    '2-D x 1-D [3,5] x [5]',
    (a, b) => matmul(a, b),
    () => [rand([3, 5], 81), rand([5], 82)],
  );
  check(
    '1-D x 1-D (dot product)',
    (a, b) => matmul(a, b),
    () => [rand([7], 83), rand([7], 84)],
  );
  check(
    'transposed left operand matmul(transpose(a), b)',
    (a, b) => matmul(transpose(a), b),
    () => [rand([5, 3], 85), rand([5, 4], 86)],
  );
  check(
    'transposed right operand matmul(a, transpose(b))',
    (a, b) => matmul(a, transpose(b)),
    () => [rand([3, 5], 87), rand([4, 5], 88)],
  );
  check(
    'both operands transposed',
    (a, b) => matmul(transpose(a), transpose(b)),
    () => [rand([5, 3], 89), rand([4, 5], 90)],
  );
  check(
    'batched transposed views',
    (a, b) => matmul(permute(a, [0, 2, 1]), permute(b, [0, 2, 1])),
    () => [rand([2, 5, 3], 91), rand([2, 4, 5], 92)],
  );
  check(
    'a sliced (strided) operand',
    (a, b) => matmul(slice(a, [0, 1], [3, 5], [1, 2]), b),
    () => [rand([3, 11], 93), rand([5, 2], 94)],
  );
  check(
    'outer product',
    (a, b) => outer(a, b),
    () => [rand([3], 95), rand([5], 96)],
  );
  check(
    'the same tensor on both sides (x^T x)',
    (a) => matmul(transpose(a), a),
    () => [rand([5, 3], 97)],
  );
});

describe('gradcheck: views and movement', () => {
  const x = () => [rand([3, 5], 101)];
  const x3 = () => [rand([2, 3, 7], 102)];
  check('reshape', (a) => reshape(a, [5, 3]), x);
  check('reshape with -1', (a) => reshape(a, [-1, 7]), x3);
  check('reshape of a transposed view', (a) => reshape(transpose(a), [15]), x);
  check('transpose', (a) => transpose(a), x3);
  check('permute [2, 0, 1]', (a) => permute(a, [2, 0, 1]), x3);
  check('permute with negative axes', (a) => permute(a, [-1, 0, -2]), x3);
  check(
    'expand [3,1,5] -> [2,3,4,5]',
    (a) => expand(a, [2, 3, 4, 5]),
    () => [rand([3, 1, 5], 103)],
  );
  check(
    'expand of a scalar',
    (a) => expand(a, [3, 5]),
    () => [tensor(1.3, [], 'float64')],
  );
  check(
    'expand then multiply',
    (a) => mul(expand(a, [4, 5]), a),
    () => [rand([1, 5], 104)],
  );
  check('slice (contiguous, with offset)', (a) => slice(a, [1, 0], [2, 5]), x);
  check('slice with steps', (a) => slice(a, [0, 0, 1], [2, 2, 3], [1, 2, 2]), x3);
  check('slice with a negative begin and size -1', (a) => slice(a, [-2, 2], [-1, -1]), x);
  check('slice with a step that does not divide the axis', (a) => slice(a, [1, 0, 0], [1, 2, 3], [1, 2, 3]), x3);
  check('sliceAxis', (a) => sliceAxis(a, 1, 1, -1), x);
  check('sliceAxis with a step', (a) => sliceAxis(a, -1, 0, undefined, 3), x3);
  check('an offset slice fed to a kernel', (a) => exp(sliceAxis(a, 0, 1)), x);
  check('a strided slice fed to a kernel', (a) => mul(sliceAxis(a, 2, 1, 6, 2), 3), x3);
  check('flip one axis', (a) => flip(a, 1), x3);
  check('flip all axes', (a) => flip(a), x3);
  check('flip then slice', (a) => sliceAxis(flip(a, -1), 1, 0, 4, 2), x);
  check(
    'squeeze',
    (a) => squeeze(a),
    () => [rand([1, 5, 1], 105)],
  );
  check(
    'squeeze one axis',
    (a) => squeeze(a, 0),
    () => [rand([1, 5, 1], 106)],
  );
  check('unsqueeze', (a) => unsqueeze(a, 1), x);
  check('unsqueeze at -1', (a) => unsqueeze(a, -1), x);
  check('copy of a transposed view', (a) => copy(transpose(a)), x);
});

describe('gradcheck: joining, splitting, padding, indexing', () => {
  check(
    'concat of three along axis 1',
    (a, b, c) => concat([a, b, c], 1),
    () => [rand([3, 2], 111), rand([3, 5], 112), rand([3, 1], 113)],
  );
  check(
    'concat along axis 0',
    (a, b) => concat([a, b], 0),
    () => [rand([1, 5], 114), rand([3, 5], 115)],
  );
  check(
    'concat along axis -1 of rank 3',
    (a, b) => concat([a, b], -1),
    () => [rand([2, 3, 7], 116), rand([2, 3, 2], 117)],
  );
  check(
    'concat of a tensor with itself',
    (a) => concat([a, mul(a, 2), a], 0),
    () => [rand([3, 5], 118)],
  );
  check(
    'stack along axis 0',
    (a, b, c) => stack([a, b, c]),
    () => [rand([3, 5], 119), rand([3, 5], 120), rand([3, 5], 121)],
  );
  check(
    'stack along axis -1',
    (a, b) => stack([a, b], -1),
    () => [rand([3, 5], 122), rand([3, 5], 123)],
  );
  check(
    'split into sizes, used differently',
    (a) => {
      const [p, q, r] = split(a, [2, 3, 2], 2);
      return concat([exp(r), p, sin(q)], 2);
    },
    () => [rand([2, 3, 7], 124)],
  );
  check(
    'split into equal parts along axis 0',
    (a) => {
      const [p, q, r] = split(a, 3, 0);
      return add(mul(p, q), r);
    },
    () => [rand([3, 5], 125)],
  );
  check(
    'split with an unused part',
    (a) => split(a, [1, 4], 1)[1],
    () => [rand([3, 5], 126)],
  );
  check(
    'pad',
    (a) =>
      pad(a, [
        [1, 2],
        [0, 3],
      ]),
    () => [rand([3, 5], 127)],
  );
  check(
    'pad with a value',
    (a) =>
      pad(
        a,
        [
          [1, 0],
          [2, 1],
        ],
        0.5,
      ),
    () => [rand([3, 5], 128)],
  );
  check(
    'pad with interior padding',
    (a) =>
      pad(a, [
        [1, 2, 1],
        [0, 1, 2],
      ]),
    () => [rand([3, 5], 129)],
  );
  check(
    'pad with interior padding, rank 3',
    (a) =>
      pad(
        a,
        [
          [0, 0, 1],
          [1, 1, 0],
          [2, 0, 3],
        ],
        -1,
      ),
    () => [rand([2, 3, 7], 130)],
  );
  check(
    'gather along axis 0 (repeated indices)',
    (a) => gather(a, [3, 0, 3, 1]),
    () => [rand([5, 3], 131)],
  );
  check(
    'gather along axis 1 with 2-D indices',
    (a) =>
      gather(
        a,
        tensor(
          [
            [0, 4],
            [4, 2],
            [1, 1],
          ],
          undefined,
          'int32',
        ),
        1,
      ),
    () => [rand([3, 5], 132)],
  );
  check(
    'gather with negative indices',
    (a) => gather(a, [-1, 0, -2], -1),
    () => [rand([2, 3, 7], 133)],
  );
  check(
    'take',
    (a) => take(a, [2, 2, 0], 0),
    () => [rand([7], 134)],
  );
  check(
    'scatterAdd (x and updates)',
    (a, u) => scatterAdd(a, [0, 2, 2, 4], u),
    () => [rand([5, 3], 135), rand([4, 3], 136)],
  );
  check(
    'scatterAdd along axis 1',
    (a, u) => scatterAdd(a, [1, 1, 6], u, 1),
    () => [rand([2, 7, 3], 137), rand([2, 3, 3], 138)],
  );
  check(
    'scatterAdd of a function of x into x',
    (a) => scatterAdd(a, [4, 0], mul(gather(a, [0, 1]), 2)),
    () => [rand([5, 3], 139)],
  );
});

describe('gradcheck: softmax family and casts', () => {
  check(
    'softmax over the last axis',
    (a) => softmax(a),
    () => [rand([3, 5], 141, { lo: -3, hi: 3 })],
  );
  check(
    'softmax over axis 0',
    (a) => softmax(a, 0),
    () => [rand([3, 5], 142, { lo: -3, hi: 3 })],
  );
  check(
    'softmax over a middle axis',
    (a) => softmax(a, 1),
    () => [rand([2, 3, 7], 143, { lo: -3, hi: 3 })],
  );
  check(
    'logSoftmax over the last axis',
    (a) => logSoftmax(a),
    () => [rand([3, 5], 144, { lo: -3, hi: 3 })],
  );
  check(
    'logSoftmax over axis 0',
    (a) => logSoftmax(a, 0),
    () => [rand([2, 3, 7], 145, { lo: -3, hi: 3 })],
  );
  check(
    'softmax of a transposed view',
    (a) => softmax(transpose(a)),
    () => [rand([3, 5], 146)],
  );
  check(
    'cross-entropy style composite',
    (a) =>
      neg(
        mean(
          sum(
            mul(
              logSoftmax(a),
              tensor(
                [
                  [0, 1, 0, 0, 0],
                  [1, 0, 0, 0, 0],
                  [0, 0, 0, 0, 1],
                ],
                undefined,
                'float64',
              ),
            ),
            -1,
          ),
        ),
      ),
    () => [rand([3, 5], 147)],
  );
  check(
    'cast float64 -> float64 chain',
    (a) => cast(cast(mul(a, 2), 'float64'), 'float64'),
    () => [rand([3, 5], 148)],
  );
});

describe('grad engine', () => {
  test('grad over a nested object {w, b: [t1, t2]}', () => {
    const x = rand([3, 5], 201);
    const params = { w: rand([3, 5], 202), b: [rand([5], 203), rand([2, 3], 204)] };
    const g = grad((p: typeof params) => add(add(sum(mul(p.w, x)), sum(p.b[0])), mul(sum(mul(p.b[1], p.b[1])), 2)))(
      params,
    );
    assert.deepEqual(Object.keys(g), ['w', 'b']);
    assert.equal(g.b.length, 2);
    assertClose(g.w, x);
    assertClose(g.b[0], ones([5], 'float64'));
    assertClose(g.b[1], mul(params.b[1], 4));
    assert.equal(g.w.dtype, 'float64');
  });

  test('grad over a Map of parameters', () => {
    const a = rand([3], 205),
      b = rand([3], 206);
    const params = new Map<string, Tensor>([
      ['a', a],
      ['b', b],
    ]);
    const g = grad((p: Map<string, Tensor>) => sum(mul(p.get('a')!, p.get('b')!)))(params);
    assert.ok(g instanceof Map);
    assert.deepEqual([...g.keys()], ['a', 'b']);
    assertClose(g.get('a')!, b);
    assertClose(g.get('b')!, a);
  });

  test('grad passes extra arguments through to f', () => {
    const w = rand([2, 3], 207),
      x = rand([3, 5], 208);
    const g = grad((p: Tensor, input: Tensor, k: number) => mul(sum(matmul(p, input)), k))(w, x, 3);
    assertClose(g, mul(expand(reshape(sum(x, 1), [1, 3]), [2, 3]), 3));
  });

  test('valueAndGrad returns the value and the gradient', () => {
    const x = tensor([1, 2, 3], undefined, 'float64');
    const { value, grads } = valueAndGrad((p: Tensor) => sum(mul(p, p)))(x);
    assert.equal(value.item(), 14);
    assert.deepEqual([...value.shape], []);
    assertClose(grads, [2, 4, 6]);
  });

  test('the gradient of an unused parameter is zeros of its shape and dtype', () => {
    const params = { used: rand([3], 209), unused: rand([2, 5], 210) };
    const g = grad((p: typeof params) => sum(exp(p.used)))(params);
    assertClose(g.used, exp(params.used));
    assert.deepEqual([...g.unused.shape], [2, 5]);
    assert.equal(g.unused.dtype, 'float64');
    assertClose(g.unused, new Float64Array(10));
  });

  test('a tensor used twice accumulates: d/dx (x*x + x) = 2x + 1', () => {
    const x = rand([3, 5], 211);
    const g = grad((p: Tensor) => sum(add(mul(p, p), p)))(x);
    assertClose(g, add(mul(x, 2), 1));
  });

  test('the identity function has gradient one and a separate tensor', () => {
    const x = tensor(3, [], 'float64');
    const g = grad((p: Tensor) => p)(x);
    assert.equal(g.item(), 1);
    assert.notEqual(g, x);
    g.dispose();
    assert.equal(x.item(), 3);
  });

  test('grad does not dispose a tensor that f returns but did not make', () => {
    const x = tensor(3, [], 'float64');
    const c = tensor(5, [], 'float64');
    assert.equal(grad((p: Tensor) => p)(x).item(), 1);
    assert.equal(grad((_p: Tensor) => c)(x).item(), 0);
    assert.equal(x.item(), 3);
    assert.equal(c.item(), 5);
  });

  test('matmul gradients with one operand tracked, for every transposed layout', () => {
    const a = rand([3, 5], 240),
      b = rand([5, 4], 241);
    const aT = transpose(copy(transpose(a))),
      bT = transpose(copy(transpose(b))); // same values, transposed storage
    for (const [x, y] of [
      [a, b],
      [aT, b],
      [a, bT],
      [aT, bT],
    ]) {
      // d sum(x @ y) / dx = ones @ y^T, d / dy = x^T @ ones.
      const gx = grad((p: Tensor) => sum(matmul(p, y)))(x);
      const gy = grad((p: Tensor) => sum(matmul(x, p)))(y);
      assertClose(gx, expand(reshape(sum(b, 1), [1, 5]), [3, 5]), { rtol: 1e-12, atol: 1e-12 });
      assertClose(gy, expand(reshape(sum(a, 0), [5, 1]), [5, 4]), { rtol: 1e-12, atol: 1e-12 });
    }
  });

  test('the same leaf twice in the parameters gets its own gradient tensor in each slot', () => {
    const x = rand([3], 212);
    const g = grad((p: Tensor[]) => sum(mul(p[0], 2)))([x, x]);
    assertClose(g[0], [2, 2, 2]);
    assertClose(g[1], [2, 2, 2]);
    assert.notEqual(g[0], g[1]);
    g[0].dispose();
    assertClose(g[1], [2, 2, 2]);
  });

  test('vjp with a non-scalar dy', () => {
    const x = rand([2, 3], 213);
    const dy = rand([2, 3], 214);
    const { value, grads } = vjp((p: Tensor) => mul(p, p), x, dy);
    assertClose(value, mul(x, x));
    assertClose(grads, mul(mul(x, 2), dy));
  });

  test('vjp through a broadcast and a matmul', () => {
    const a = rand([3, 4], 215),
      b = rand([4, 2], 216),
      dy = rand([3, 2], 217);
    const { grads } = vjp((p: Tensor[]) => matmul(p[0], p[1]), [a, b], dy);
    assertClose(grads[0], matmul(dy, transpose(b)), { rtol: 1e-12, atol: 1e-12 });
    assertClose(grads[1], matmul(transpose(a), dy), { rtol: 1e-12, atol: 1e-12 });
  });

  test('vjp rejects a dy of the wrong shape', () => {
    assert.throws(() => vjp((p: Tensor) => mul(p, 2), rand([2, 3], 218), rand([3, 2], 219)), ArgumentError);
  });

  test('customGrad: a straight-through estimator for round', () => {
    const ste = customGrad((x) => ({ value: round(x), gradFunc: (dy) => [dy] }));
    const x = tensor([0.2, 1.7, -2.4, 3.5], undefined, 'float64');
    const w = tensor([1, 2, 3, 4], undefined, 'float64');
    const { value, grads } = valueAndGrad((p: Tensor) => sum(mul(ste(p), w)))(x);
    assert.equal(value.item(), 0 + 2 * 2 + 3 * -2 + 4 * 4);
    assertClose(grads, w);
    // Without the custom rule round has no gradient at all.
    assertClose(grad((p: Tensor) => sum(mul(round(p), w)))(x), [0, 0, 0, 0]);
  });

  test('customGrad: a clipped gradient', () => {
    const clipGrad = customGrad((x) => ({ value: mul(x, 1), gradFunc: (dy) => [clip(dy, -0.5, 0.5)] }));
    const x = tensor([1, 2, 3], undefined, 'float64');
    const g = grad((p: Tensor) => sum(mul(clipGrad(p), tensor([0.1, -2, 3], undefined, 'float64'))))(x);
    assertClose(g, [0.1, -0.5, 0.5]);
  });

  test('customGrad with two inputs, one broadcast, and a null gradient', () => {
    const op = customGrad((a, b, c) => ({
      value: add(mul(a, c), b),
      gradFunc: (dy) => [mul(dy, 10), mul(dy, 3), null],
    }));
    const a = rand([3, 5], 220),
      b = rand([5], 221),
      c = rand([3, 5], 222);
    const g = grad((p: Tensor[]) => sum(op(p[0], p[1], p[2])))([a, b, c]);
    assertClose(g[0], mul(ones([3, 5], 'float64'), 10));
    assertClose(g[1], mul(ones([5], 'float64'), 9));
    assertClose(g[2], new Float64Array(15));
  });

  test('customGrad composes with ordinary ops around it', () => {
    const double = customGrad((x) => ({ value: mul(x, 2), gradFunc: (dy) => [mul(dy, 2)] }));
    assertGradients((a) => exp(double(sin(a))), [rand([3, 5], 223)]);
  });

  test('customGrad rejects a wrong number of gradients', () => {
    const bad = customGrad((x) => ({ value: mul(x, 2), gradFunc: (dy) => [dy, dy] }));
    assert.throws(() => grad((p: Tensor) => sum(bad(p)))(rand([3], 224)), ArgumentError);
  });

  test('noGrad blocks the gradient of what it computes', () => {
    const x = rand([3, 5], 225);
    const g = grad((p: Tensor) =>
      sum(
        mul(
          p,
          noGrad(() => mul(p, p)),
        ),
      ),
    )(x);
    assertClose(g, mul(x, x));
  });

  test('stopGradient blocks the gradient through its argument', () => {
    const x = rand([3, 5], 226);
    const g = grad((p: Tensor) => sum(add(mul(p, stopGradient(exp(p))), stopGradient(p))))(x);
    assertClose(g, exp(x));
  });

  test('a function of only stopped values has zero gradient', () => {
    const x = rand([4], 227);
    const g = grad((p: Tensor) => sum(stopGradient(mul(p, p))))(x);
    assertClose(g, [0, 0, 0, 0]);
  });

  test('argmax inside f contributes no gradient but does not break the tape', () => {
    const x = tensor(
      [
        [1, 5, 2],
        [7, 0.5, 3],
      ],
      undefined,
      'float64',
    );
    const g = grad((p: Tensor) => sum(gather(p, argmax(p, -1), 1)))(x);
    // gather along axis 1 with indices shape [2] selects columns [1, 0] of every row.
    assertClose(g, [
      [1, 1, 0],
      [1, 1, 0],
    ]);
  });

  test('second order: grad of grad of x^3 at x = 2 is 12', () => {
    const x = tensor(2, [], 'float64');
    const d1 = grad((p: Tensor) => mul(mul(p, p), p));
    assert.equal(d1(x).item(), 12);
    const d2 = grad((p: Tensor) => d1(p));
    assert.equal(d2(x).item(), 12);
    const d2pow = grad((p: Tensor) => grad((q: Tensor) => pow(q, 3))(p));
    assertClose([d2pow(x).item()], [12], { rtol: 1e-12, atol: 1e-12 });
  });

  test('second order: third derivative of x^4 and a Hessian-vector style check', () => {
    const x = tensor(1.5, [], 'float64');
    const f = (p: Tensor) => mul(mul(p, p), mul(p, p));
    const d3 = grad((p: Tensor) => grad((q: Tensor) => grad(f)(q))(p));
    assertClose([d3(x).item()], [24 * 1.5], { rtol: 1e-12, atol: 1e-12 });
    // grad of sum(grad(sum(sin(v)))) = grad of sum(cos(v)) = -sin(v).
    const v = rand([3, 5], 228);
    const h = grad((p: Tensor) => sum(grad((q: Tensor) => sum(sin(q)))(p)))(v);
    assertClose(h, neg(sin(v)), { rtol: 1e-12, atol: 1e-12 });
  });

  test('gradients at kinks and at 0 follow the usual conventions', () => {
    const g = (f: (p: Tensor) => Tensor, x: number[]) =>
      flat(grad((p: Tensor) => sum(f(p)))(tensor(x, undefined, 'float64')));
    assert.deepEqual(g(relu, [0, 1, -1]), [0, 1, 0]);
    assert.deepEqual(g(abs, [0, 2, -2]), [0, 1, -1]);
    assert.deepEqual(g(softplus, [0]), [0.5]);
    assert.deepEqual(
      g((p) => gelu(p), [0]),
      [0.5],
    );
    assert.deepEqual(g(swish, [0]), [0.5]);
    assert.deepEqual(
      g((p) => max(p), [1, 3, 3]),
      [0, 0.5, 0.5],
    ); // ties share the gradient
    assert.deepEqual(
      g((p) => min(p), [2, 2, 2, 5]),
      [1 / 3, 1 / 3, 1 / 3, 0],
    );
    assert.deepEqual(
      g((p) => maximum(p, 0), [0, 1]),
      [1, 1],
    ); // a tie goes to the first operand
    assert.deepEqual(
      g((p) => prod(p), [0, 2, 3]),
      [6, 0, 0],
    );
    assert.deepEqual(
      g((p) => prod(p), [0, 2, 0]),
      [0, 0, 0],
    );
    assert.deepEqual(
      g((p) => logsumexp(p), [-Infinity, 0, 0]),
      [0, 0.5, 0.5],
    );
    assert.deepEqual(
      g((p) => mul(softmax(p), tensor([1, 1, 1], undefined, 'float64')), [-Infinity, 0, 1]).map(
        (v) => Math.abs(v) < 1e-15,
      ),
      [true, true, true],
    );
    assert.deepEqual(
      g((p) => pow(p, 2), [-3]),
      [-6],
    );
  });

  test('grad on a non-scalar output throws ArgumentError', () => {
    assert.throws(() => grad((p: Tensor) => mul(p, 2))(rand([3], 229)), ArgumentError);
  });

  test('grad on a non-float output throws ArgumentError', () => {
    assert.throws(() => grad((p: Tensor) => argmax(reshape(p, [1, 3]), -1))(rand([3], 230)), ArgumentError);
  });

  test('grad with respect to an int32 tensor throws DTypeError', () => {
    const i = tensor([1, 2, 3], undefined, 'int32');
    assert.throws(() => grad((p: Tensor) => sum(cast(p, 'float64')))(i), DTypeError);
    assert.throws(() => grad((p: { a: Tensor; b: Tensor }) => sum(p.a))({ a: rand([2], 231), b: i }), DTypeError);
  });

  test('gradients are cast back to the dtype of each leaf', () => {
    const x = rand([3, 5], 232);
    const w = rand([3, 5], 233, { dtype: 'float32' });
    const g = grad((p: Tensor) => sum(mul(cast(p, 'float32'), w)))(x);
    assert.equal(g.dtype, 'float64');
    assertClose(g, cast(w, 'float64'));
    const g32 = grad((p: Tensor) => sum(mul(cast(p, 'float64'), x)))(w);
    assert.equal(g32.dtype, 'float32');
    assertClose(g32, cast(x, 'float32'));
  });

  test('float32 parameters: a matmul gradient matches the analytic formula', () => {
    const a = rand([3, 5], 234, { dtype: 'float32' }),
      b = rand([5, 4], 235, { dtype: 'float32' });
    const g = grad((p: Tensor[]) => sum(matmul(p[0], p[1])))([a, b]);
    assert.equal(g[0].dtype, 'float32');
    assertClose(g[0], expand(reshape(sum(b, 1), [1, 5]), [3, 5]), { rtol: 1e-5, atol: 1e-5 });
    assertClose(g[1], expand(reshape(sum(a, 0), [5, 1]), [5, 4]), { rtol: 1e-5, atol: 1e-5 });
  });

  test('grad leaves no tensors behind besides its result', () => {
    const x = rand([3, 5], 236),
      y = rand([5, 2], 237);
    const f = (p: Tensor[]) => sum(softmax(matmul(exp(p[0]), p[1])));
    dispose(grad(f)([x, y])); // warm-up: lazily created singletons do not count
    const before = memory().tensors;
    const g = grad(f)([x, y]);
    assert.equal(memory().tensors, before + 2);
    dispose(g);
    assert.equal(memory().tensors, before);
  });

  test('inputs disposed inside f do not break the backward pass', () => {
    const x = rand([3, 5], 238);
    const g = grad((p: Tensor) => {
      const e = exp(p);
      const s = sin(e);
      const out = sum(mul(s, p));
      e.dispose();
      s.dispose();
      return out;
    })(x);
    const e = exp(x);
    assertClose(g, add(mul(mul(cos(e), e), x), sin(e)));
  });

  test('a scalar number seed: grad of mean is 1/n', () => {
    const g = grad((p: Tensor) => mean(p))(rand([3, 5], 239));
    assertClose(g, mul(ones([3, 5], 'float64'), 1 / 15));
  });
});
