// gradientReady (what data-parallel buckets start from): told each weight's gradient once, with exactly the
// gradient valueAndGrad(s) returns, as soon as the backward walk has passed the weight's first use, so the last
// layer's weights come first and the first layer's last (the order in which DDP's buckets fill).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { rand } from '../helpers.js';

/** x -> Dense(4, tanh) -> Dense(3, tanh) -> Dense(1): a loss over six weights (kernel, bias per layer). */
function mlp() {
  c.setSeed(7);
  const model = new c.Sequential([
    new c.Dense({ units: 4, activation: 'tanh', inputShape: [2] }),
    new c.Dense({ units: 3, activation: 'tanh' }),
    new c.Dense({ units: 1 }),
  ]);
  const x = rand([5, 2], 1),
    y = rand([5, 1], 2);
  const loss = () => c.mean(c.square(c.sub(model.apply(x, { training: true }) as c.Tensor, y)));
  return { model, loss, dispose: () => c.dispose([x, y]) };
}

test('gradientReady: each weight once, the final gradient, last layer first', () => {
  const { model, loss, dispose } = mlp();
  const weights = model.trainableWeights;
  const plain = c.valueAndGrads(loss, weights);
  const seen: { index: number; values: number[] }[] = [];
  const told = c.valueAndGrads(loss, weights, {
    gradientReady: (index, g) => seen.push({ index, values: Array.from(g.dataSync()) }),
  });
  assert.equal(seen.length, weights.length);
  assert.deepEqual(new Set(seen.map((s) => s.index)).size, weights.length);
  for (const { index, values } of seen) {
    assert.deepEqual(values, Array.from(plain.grads[index].dataSync()), `weight ${weights[index].name}`);
    assert.deepEqual(values, Array.from(told.grads[index].dataSync()));
  }
  // Weights 0-1 are the first layer's, 4-5 the last's: the last layer's are told before any of the first's.
  const order = seen.map((s) => s.index);
  const firstLayer = Math.min(order.indexOf(0), order.indexOf(1));
  assert.ok(Math.max(order.indexOf(4), order.indexOf(5)) < firstLayer, `order ${order}`);
  assert.ok(Math.max(order.indexOf(2), order.indexOf(3)) < firstLayer, `order ${order}`);
  c.dispose([plain.value, plain.grads, told.value, told.grads]);
  dispose();
});

test('gradientReady: a weight read twice waits for its first use; an unused one gets zeros at the end', () => {
  const w = c.tensor([0.5, -1, 2], [3]),
    unused = c.tensor([1, 2], [2]),
    x = c.tensor([1, 2, 3], [3]);
  // w is read first by h = tanh(w * x) and again at the end: its gradient sums both uses.
  const f = ([a, b]: c.Tensor[]) => {
    void b;
    const h = c.tanh(c.mul(a, x));
    return c.sum(c.mul(c.mul(h, h), a));
  };
  const plain = c.valueAndGrad(f)([w, unused]);
  const seen: [number, number[]][] = [];
  const told = c.valueAndGrad(f, { gradientReady: (i, g) => seen.push([i, Array.from(g.dataSync())]) })([w, unused]);
  assert.deepEqual(
    seen,
    plain.grads.map((g, i) => [i, Array.from(g.dataSync())]),
  );
  assert.deepEqual(seen[1][1], [0, 0]);
  c.dispose([plain.value, plain.grads, told.value, told.grads, w, unused, x]);
});
