// The pieces of a custom training loop: valueAndGrads (gradients with respect to variables, GradientTape style)
// against closed forms, and optimizer.applyGradients against a manual SGD update, in Keras 3 and Keras 2 forms.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat } from '../helpers.js';

test('valueAndGrads: gradients with respect to variables, in their order; forward tensors stay usable', () => {
  const w = new c.Variable('w', c.tensor([1, -2, 3])),
    b = new c.Variable('b', c.scalar(0.5)),
    unused = new c.Variable('unused', c.tensor([7, 7]));
  const x = c.tensor([2, 1, -1]);
  const live = c.memory().tensors;
  c.tidy(() => {
    let pred!: c.Tensor;
    // loss = (w . x + b)^2: d/dw = 2 (w.x + b) x, d/db = 2 (w.x + b).
    const { value, grads } = c.valueAndGrads(() => {
      pred = c.add(c.sum(c.mul(w.value, x)), b.value);
      return c.square(pred);
    }, [w, b, unused]);
    const s = 2 - 2 - 3 + 0.5;
    assert.equal(value.item(), s * s);
    assertClose(grads[0], [2 * s * 2, 2 * s * 1, 2 * s * -1]);
    assertClose(grads[1], [2 * s]);
    assert.deepEqual(flat(grads[2]), [0, 0], 'zeros where no gradient flows');
    assert.equal(pred.item(), s, 'what the function made is still alive after it');
  });
  assert.equal(c.memory().tensors, live, 'the enclosing tidy frees the forward and the results');
  assert.throws(() => c.valueAndGrads(() => x, [{} as c.Variable]), /source 0 is neither a Tensor nor a Variable/);
  c.dispose([w, b, unused, x]);
});

test('applyGradients matches a manual SGD update, as (grads, variables) and as [grad, variable] pairs', () => {
  const make = () => [new c.Variable('a', c.tensor([1, 2])), new c.Variable('b', c.tensor([[3], [4]]))];
  const grads = [c.tensor([0.5, -1]), c.tensor([[2], [0]])];
  const manual = [
    [1 - 0.1 * 0.5, 2 + 0.1],
    [3 - 0.1 * 2, 4],
  ];
  const vars = make();
  const opt = c.optimizers.sgd({ learningRate: 0.1 });
  const live = c.memory().tensors;
  opt.applyGradients(grads, vars);
  assert.equal(c.memory().tensors, live, 'old values freed, new ones held by the variables');
  vars.forEach((v, i) => assertClose(v.value, manual[i]));
  assert.equal(opt.iterations, 1);
  const pairs = make();
  c.optimizers.sgd({ learningRate: 0.1 }).applyGradients([
    [grads[0], pairs[0]],
    [grads[1], pairs[1]],
  ]);
  pairs.forEach((v, i) => assertClose(v.value, manual[i]));
  assert.throws(() => opt.applyGradients([grads[0]], vars), /1 gradients for 2 variables/);
  assert.throws(() => opt.applyGradients([grads[0], undefined as unknown as c.Tensor], vars), /gradient 1 \(for 'b'\)/);
  c.dispose([grads, vars, pairs]);
});

test('a custom loop over a model with valueAndGrads and applyGradients trains it (Adam)', () => {
  c.setSeed(4);
  const model = new c.Sequential([new c.Dense({ units: 1, inputShape: [2] })]);
  const x = c.tensor([
      [1, 0],
      [0, 1],
      [1, 1],
      [2, 1],
    ]),
    y = c.tensor([[1], [-1], [0], [1]]); // y = x0 - x1
  const opt = c.optimizers.adam({ learningRate: 0.1 });
  const weights = model.trainableWeights;
  const loss = () => c.losses.meanSquaredError(y, model.apply(x, { training: true }) as c.Tensor);
  const step = () =>
    c.tidy(() => {
      const { value, grads } = c.valueAndGrads(loss, weights);
      opt.applyGradients(grads, weights);
      return value.item();
    });
  const first = step(); // builds Adam's state
  const live = c.memory().tensors;
  let last = first;
  for (let i = 0; i < 200; i++) last = step();
  assert.ok(last < 1e-3 * first, `loss ${first} -> ${last}`);
  assert.equal(c.memory().tensors, live, 'no tensor left per step');
  c.dispose([x, y]);
});
