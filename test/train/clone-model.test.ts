// cloneModel (Keras clone_model): same architecture (config and parameter count), fresh weights, and a clone
// that trains without touching the original, for functional and Sequential models.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat } from '../helpers.js';

const values = (m: c.Model) => m.weights.map((w) => flat(w.value));

async function checkClone(model: c.Model): Promise<void> {
  const clone = c.cloneModel(model);
  assert.equal(clone.constructor, model.constructor);
  assert.deepEqual(clone.getConfig(), model.getConfig(), 'same architecture');
  assert.equal(clone.countParams(), model.countParams());
  assert.deepEqual(
    clone.weights.map((w) => w.shape),
    model.weights.map((w) => w.shape),
  );
  assert.ok(
    clone.weights.every((w, i) => w !== model.weights[i]),
    'new variables',
  );
  assert.notDeepEqual(values(clone), values(model), 'weights drawn afresh');
  const before = values(model);
  const x = new c.RandomStream(9).normal([8, 4], 0, 1),
    y = c.zeros([8, 2]);
  clone.compile({ optimizer: 'sgd', loss: 'mse' });
  await clone.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, record: false });
  assert.deepEqual(values(model), before, 'training the clone leaves the original as it was');
  clone.setWeights(model.getWeights());
  const [a, b] = [model.predict(x) as c.Tensor, clone.predict(x) as c.Tensor];
  assert.deepEqual(flat(a), flat(b), 'with the weights copied, the clone computes the same function');
  c.dispose([x, y, a, b]);
  clone.dispose();
}

test('cloneModel: a functional model with two branches', async () => {
  c.setSeed(1);
  const x = c.input({ shape: [4] });
  const a = new c.Dense({ units: 3, activation: 'relu' }).apply(x) as c.SymbolicTensor;
  const b = new c.Dense({ units: 3 }).apply(x) as c.SymbolicTensor;
  const out = new c.Dense({ units: 2 }).apply(new c.Concatenate().apply([a, b]) as c.SymbolicTensor);
  await checkClone(new c.Model({ inputs: x, outputs: out as c.SymbolicTensor }));
});

test('cloneModel: a Sequential model; a subclass model gets a typed error', async () => {
  c.setSeed(2);
  await checkClone(
    new c.Sequential([new c.Dense({ units: 5, activation: 'tanh', inputShape: [4] }), new c.Dense({ units: 2 })]),
  );
  class Own extends c.Model {
    readonly dense = new c.Dense({ units: 1 });
    override call(x: c.Tensor | c.Tensor[]) {
      return this.dense.apply(x);
    }
  }
  assert.throws(
    () => c.cloneModel(new Own()),
    (e: Error) => e instanceof c.ArgumentError && /subclass model/.test(e.message),
  );
});
