// A gradient check for every differentiable op, driven by the rule tables: the primitives' and views'
// (GRAD_RULES) and the fused ops' specs. CHECKS is typed over every op, so a new op does not compile until
// it has an entry here, and the test fails when an op with a rule has no check (or one without has one).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as o from '../../src/ops/index.js';
import type { Tensor } from '../../src/index.js';
import { assertGradients, type GradCheckOptions } from '../../src/autograd/check.js';
import { vjp } from '../../src/autograd/grad.js';
import { GRAD_RULES, NO_GRADIENT, gradRuleOf, type OpName } from '../../src/autograd/rules.js';
import { FUSED_NAMES, runFusedOp, type FusedName } from '../../src/ops/families/index.js';
import { joined, rand, randPositive } from '../helpers.js';

/**
 * The function to differentiate and a maker of its (float64) inputs; 'none' for ops without a gradient; or, for a
 * rule that is by design not the derivative (a straight-through estimator), a check against its closed form.
 */
type Check =
  | { f: (...xs: Tensor[]) => Tensor; inputs: () => Tensor[]; options?: GradCheckOptions }
  | { closedForm: () => void }
  | 'none';

const x35 = () => [rand([3, 5], 1)];
const two35 = () => [rand([3, 5], 2), rand([3, 5], 3)];
const unary = (f: (x: Tensor) => Tensor, inputs = x35): Check => ({ f, inputs });
const binary = (f: (a: Tensor, b: Tensor) => Tensor, inputs = two35): Check => ({ f, inputs });

const conv = {
  strides: [2, 1],
  dilations: [1, 2],
  pads: [
    [1, 0],
    [0, 1],
  ],
} as const;
const pool = {
  poolSize: [2, 2],
  strides: [2, 1],
  pads: [
    [0, 1],
    [0, 0],
  ],
} as const;
const attention = { scale: 0.7, causal: true, offset: 1 };
const labels = () => o.tensor([2, 0, 3], [3], 'int32');
/** Distinct values, so max pooling has no ties for finite differences to straddle. */
const distinct = (shape: number[], seed: number) =>
  o.add(
    rand(shape, seed, { lo: -0.01, hi: 0.01 }),
    o.reshape(
      o.arange(
        0,
        shape.reduce((a, b) => a * b),
        1,
        'float64',
      ),
      shape,
    ),
  );

const PRIMITIVE_CHECKS: { [K in OpName]: Check } = {
  neg: unary(o.neg),
  abs: unary(o.abs),
  sign: 'none',
  exp: unary(o.exp),
  expm1: unary(o.expm1),
  log: unary(o.log, () => [randPositive([3, 5], 4)]),
  log1p: unary(o.log1p, () => [randPositive([3, 5], 5)]),
  sqrt: unary(o.sqrt, () => [randPositive([3, 5], 6)]),
  rsqrt: unary(o.rsqrt, () => [randPositive([3, 5], 7)]),
  reciprocal: unary(o.reciprocal, () => [randPositive([3, 5], 8)]),
  sin: unary(o.sin),
  cos: unary(o.cos),
  tanh: unary(o.tanh),
  sigmoid: unary(o.sigmoid),
  relu: unary(o.relu),
  erf: unary(o.erf),
  atan: unary((x) => o.atan(o.mul(x, 3))),
  floor: 'none',
  ceil: 'none',
  round: 'none',
  logicalNot: 'none',
  add: binary(o.add, () => [rand([3, 1, 5], 9), rand([4, 1], 10)]),
  sub: binary(o.sub),
  mul: binary(o.mul),
  div: binary(o.div, () => [rand([3, 5], 11), randPositive([3, 5], 12)]),
  pow: binary(o.pow, () => [randPositive([3, 5], 13), rand([3, 5], 14)]),
  maximum: binary(o.maximum),
  minimum: binary(o.minimum),
  equal: 'none',
  notEqual: 'none',
  less: 'none',
  lessEqual: 'none',
  greater: 'none',
  greaterEqual: 'none',
  logicalAnd: 'none',
  logicalOr: 'none',
  sum: unary((x) => o.sum(x, [0])),
  prod: unary((x) => o.prod(x, [1])),
  max: unary((x) => o.max(x, [1])),
  min: unary((x) => o.min(x, [0])),
  argmax: 'none',
  argmin: 'none',
  argsort: 'none',
  where: binary((a, b) => o.where(o.greater(a, b), a, b)),
  matmul: binary(o.matmul, () => [rand([3, 4], 15), rand([4, 2], 16)]),
  gather: unary((x) => o.gather(x, o.tensor([2, 0, 2], [3], 'int32'), 0)),
  scatterAdd: binary(
    (x, u) => o.scatterAdd(x, o.tensor([1, 1, 0], [3], 'int32'), u, 0),
    () => [rand([3, 5], 17), rand([3, 5], 18)],
  ),
  concat: binary((a, b) => o.concat([a, b], 1)),
  pad: unary((x) =>
    o.pad(x, [
      [1, 0, 1],
      [0, 2],
    ]),
  ),
  copy: unary((x) => o.copy(o.permute(x, [1, 0]))),
  // Through float32 and back: a step large against float32 rounding.
  cast: {
    f: (x) => o.cast(o.cast(x, 'float32'), 'float64'),
    inputs: () => [o.tensor([0.5, -1.25, 2], [3], 'float64')],
    options: { eps: 1e-2, atol: 1e-4 },
  },
  philox: 'none',
  reshape: unary((x) => o.reshape(x, [5, 3])),
  permute: unary((x) => o.permute(x, [1, 0])),
  expand: unary((x) => o.expand(x, [2, 3, 5])),
  slice: unary((x) => o.slice(x, [1, 0], [2, 3], [1, 2])),
  flip: unary((x) => o.flip(x, [1])),
};

const FUSED_CHECKS: { [F in FusedName]: Check } = {
  softmax: unary((x) => runFusedOp('softmax', [x], { axis: 1 })),
  logSoftmax: unary((x) => runFusedOp('logSoftmax', [x], { axis: 0 })),
  conv2d: binary(
    (x, f) => runFusedOp('conv2d', [x, f], conv),
    () => [rand([1, 4, 5, 2], 20), rand([2, 2, 2, 3], 21)],
  ),
  conv2dBackpropInput: binary(
    (dy, f) => runFusedOp('conv2dBackpropInput', [dy, f], { ...conv, inputShape: [1, 4, 5, 2] }),
    () => [rand([1, 2, 4, 3], 22), rand([2, 2, 2, 3], 23)],
  ),
  conv2dBackpropFilter: binary(
    (x, dy) => runFusedOp('conv2dBackpropFilter', [x, dy], { ...conv, filterShape: [2, 2, 2, 3] }),
    () => [rand([1, 4, 5, 2], 24), rand([1, 2, 4, 3], 25)],
  ),
  // Depthwise: 2 channels with depthMultiplier 2, the same windows as conv2d's check.
  depthwiseConv2d: binary(
    (x, f) => runFusedOp('depthwiseConv2d', [x, f], conv),
    () => [rand([1, 4, 5, 2], 60), rand([2, 2, 2, 2], 61)],
  ),
  depthwiseConv2dBackpropInput: binary(
    (dy, f) => runFusedOp('depthwiseConv2dBackpropInput', [dy, f], { ...conv, inputShape: [1, 4, 5, 2] }),
    () => [rand([1, 2, 4, 4], 62), rand([2, 2, 2, 2], 63)],
  ),
  depthwiseConv2dBackpropFilter: binary(
    (x, dy) => runFusedOp('depthwiseConv2dBackpropFilter', [x, dy], { ...conv, filterShape: [2, 2, 2, 2] }),
    () => [rand([1, 4, 5, 2], 64), rand([1, 2, 4, 4], 65)],
  ),
  maxPool2d: unary(
    (x) => runFusedOp('maxPool2d', [x], pool),
    () => [distinct([1, 4, 4, 2], 26)],
  ),
  avgPool2d: unary(
    (x) => runFusedOp('avgPool2d', [x], pool),
    () => [rand([1, 4, 4, 2], 27)],
  ),
  maxPool2dBackprop: binary(
    (x, dy) => runFusedOp('maxPool2dBackprop', [x, dy], pool),
    () => [distinct([1, 4, 4, 2], 28), rand([1, 2, 3, 2], 29)],
  ),
  avgPool2dBackprop: unary(
    (dy) => runFusedOp('avgPool2dBackprop', [dy], { ...pool, inputShape: [1, 4, 4, 2] }),
    () => [rand([1, 2, 3, 2], 30)],
  ),
  biasActivation: binary(
    (z, b) => runFusedOp('biasActivation', [z, b], { activation: 'tanh' }),
    () => [rand([3, 4], 31), rand([4], 32)],
  ),
  activationGrad: binary(
    (dy, y) => runFusedOp('activationGrad', [dy, y], { activation: 'sigmoid' }),
    () => [rand([3, 4], 33), rand([3, 4], 34, { lo: 0.1, hi: 0.9 })],
  ),
  sparseSoftmaxCrossEntropy: unary(
    (logits) => runFusedOp('sparseSoftmaxCrossEntropy', [logits, labels()], {}),
    () => [rand([3, 4], 35)],
  ),
  sparseSoftmaxCrossEntropyGrad: binary(
    (logits, dy) => runFusedOp('sparseSoftmaxCrossEntropyGrad', [logits, labels(), dy], {}),
    () => [rand([3, 4], 36), rand([3], 37)],
  ),
  adamStep: 'none',
  sgdStep: 'none',
  dropout: unary((x) => runFusedOp('dropout', [x], { seed: 5, counter: 3, rate: 0.4 })),
  layerNorm: {
    f: (x, g, b) => runFusedOp('layerNorm', [x, g, b], { epsilon: 1e-3 }),
    inputs: () => [rand([3, 4], 38), rand([4], 39), rand([4], 40)],
  },
  layerNormGrad: {
    f: (x, g, dy) => joined(runFusedOp('layerNormGrad', [x, g, dy], { epsilon: 1e-3 })),
    inputs: () => [rand([3, 4], 41), rand([4], 42), rand([3, 4], 43)],
  },
  lstmCell: {
    f: (xw, hu, c) => joined(runFusedOp('lstmCell', [xw, hu, c], {})),
    inputs: () => [rand([2, 8], 44), rand([2, 8], 45), rand([2, 2], 46)],
  },
  lstmCellGrad: {
    f: (xw, hu, c, dh, dc) => joined(runFusedOp('lstmCellGrad', [xw, hu, c, dh, dc], {})),
    inputs: () => [rand([2, 8], 47), rand([2, 8], 48), rand([2, 2], 49), rand([2, 2], 50), rand([2, 2], 51)],
  },
  gruCell: {
    f: (xw, hu, h, bias) => runFusedOp('gruCell', [xw, hu, h, bias], {}),
    inputs: () => [rand([2, 6], 52), rand([2, 6], 53), rand([2, 2], 54), rand([6], 55)],
  },
  gruCellGrad: {
    f: (xw, hu, h, dy, bias) => joined(runFusedOp('gruCellGrad', [xw, hu, h, dy, bias], {})),
    inputs: () => [rand([2, 6], 56), rand([2, 6], 57), rand([2, 2], 58), rand([2, 2], 59), rand([6], 60)],
  },
  attention: {
    f: (q, k, v, mask) => runFusedOp('attention', [q, k, v, mask], attention),
    inputs: () => [rand([1, 2, 2, 3], 61), rand([1, 3, 2, 3], 62), rand([1, 3, 2, 2], 63), rand([1, 2, 3], 64)],
  },
  attentionGrad: {
    f: (q, k, v, dy) => joined(runFusedOp('attentionGrad', [q, k, v, dy], attention)),
    inputs: () => [rand([1, 2, 2, 3], 65), rand([1, 3, 2, 3], 66), rand([1, 3, 2, 2], 67), rand([1, 2, 2, 2], 68)],
  },
  // int8 inference: piecewise constant in x (quantised), no gradient; QAT trains through fake quantisation instead.
  quantizedMatmul: 'none',
  quantizedConv2d: 'none',
  // The straight-through estimator is not fakeQuantize's derivative (0 almost everywhere: finite differences away
  // from the rounding steps see a constant), so its rule is checked against the closed form: dy where the unclamped
  // code round(x / s) + z lies in [quantMin, quantMax], else 0; no gradient for the scale and zero point.
  fakeQuantize: { closedForm: checkStraightThrough },
};

function checkStraightThrough(): void {
  const params = { quantMin: -8, quantMax: 7 };
  const [x, dy] = [rand([3, 4], 69), rand([3, 4], 70)];
  const scale = o.tensor([0.05, 0.1, 0.25, 0.5], [4], 'float64');
  const zeroPoint = o.tensor([0, 3, -2, 1], [4], 'float64');
  const { grads } = vjp((p: Tensor[]) => runFusedOp('fakeQuantize', p, params), [x, scale, zeroPoint], dy);
  const [xs, dys, ss, zs] = [x, dy, scale, zeroPoint].map((t) => t.dataSync());
  const expected = Array.from(xs, (v, i) => {
    const code = Math.round(v / ss[i % 4]) + zs[i % 4]; // no value of x sits on a rounding tie
    return code >= params.quantMin && code <= params.quantMax ? dys[i] : 0;
  });
  assert.ok(expected.some((g) => g === 0) && expected.some((g) => g !== 0), 'inputs inside and outside the range');
  assert.deepEqual(Array.from(grads[0].dataSync()), expected);
  for (const g of grads.slice(1))
    assert.ok(
      g.dataSync().every((v) => v === 0),
      'no gradient for scale, zeroPoint',
    );
}

const CHECKS: Record<string, Check> = { ...PRIMITIVE_CHECKS, ...FUSED_CHECKS };
const OPS = [...Object.keys(GRAD_RULES), ...FUSED_NAMES];

describe('gradcheck: every op in the rule tables', () => {
  test('an op has a check exactly when it has a gradient', () => {
    assert.deepEqual(Object.keys(CHECKS).sort(), [...OPS].sort());
    for (const op of OPS) assert.equal(CHECKS[op] === 'none', gradRuleOf(op) === NO_GRADIENT, op);
  });

  for (const op of OPS) {
    const check = CHECKS[op];
    if (check === 'none' || check === undefined) continue;
    test(op, () =>
      'closedForm' in check ? check.closedForm() : assertGradients(check.f, check.inputs(), check.options),
    );
  }
});
