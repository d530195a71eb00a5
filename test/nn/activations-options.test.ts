// The activations added for issue 11 by name, in layers: 'mish', 'hard_swish', 'log_sigmoid', 'softsign',
// their values through a Dense layer, and the saved config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { activationNames, getActivation } from '../../src/nn/activations.js';
import { assertClose } from '../helpers.js';

test('new activations resolve by Keras name and match the ops', () => {
  const x = c.tensor([-4, -1.5, 0, 0.7, 3.5], [5], 'float64');
  const pairs: [string, (t: c.Tensor) => c.Tensor][] = [
    ['mish', c.mish],
    ['hard_swish', c.hardSwish],
    ['hard_silu', c.hardSwish],
    ['log_sigmoid', c.logSigmoid],
    ['softsign', c.softsign],
  ];
  for (const [name, op] of pairs) assertClose(getActivation(name)(x), op(x), { rtol: 0, atol: 0 }, name);
  for (const name of ['mish', 'hardSwish', 'logSigmoid', 'softsign']) assert.ok(activationNames().includes(name));
  // mish(x) = x tanh(log(1 + e^x)), written out.
  assertClose(
    c.mish(x),
    [-4, -1.5, 0, 0.7, 3.5].map((v) => v * Math.tanh(Math.log1p(Math.exp(v)))),
    { rtol: 1e-14, atol: 1e-16 },
  );
});

test("a Dense layer with activation: 'mish' applies it and saves its name", () => {
  const layer = c.layers.dense({ units: 3, activation: 'mish', useBias: false, inputShape: [2] });
  const x = c.tensor([[1, -2]], [1, 2]);
  const y = layer.apply(x) as c.Tensor;
  const [kernel] = layer.getWeights();
  assertClose(y, c.mish(c.matmul(x, kernel)), { rtol: 1e-6, atol: 1e-7 });
  assert.equal(layer.getConfig().activation, 'mish');
});
