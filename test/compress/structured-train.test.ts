// A structurally pruned model is an ordinary model: it compiles and trains with fit, saves and loads with the
// same predictions (Sequential and functional), and pruning leaks no tensor.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat, withDir } from '../helpers.js';

const { layers: L } = c;

/** Synthetic images [n, 8, 8, 1] whose class (0..2) is the brightest third of the rows. */
function images(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const g = new c.RandomStream(seed);
  const noise = g.uniform([n, 8, 8, 1], 0, 0.5);
  const data = Float32Array.from(noise.dataSync());
  noise.dispose();
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 3;
    for (let r = 0; r < 8; r++)
      for (let col = 0; col < 8; col++) if (Math.floor((r * 3) / 8) === labels[i]) data[i * 64 + r * 8 + col] += 1;
  }
  return { x: c.tensor(data, [n, 8, 8, 1]), y: c.tensor(labels, [n], 'int32') };
}

async function trainsSavesLoads(model: c.Model, expectedParams: number): Promise<void> {
  const { x, y } = images(96, 1);
  const { model: pruned, report } = c.compress.pruneStructured(model, { ratio: 0.5 });
  assert.equal(pruned.countParams(), expectedParams);
  assert.equal(report.paramsAfter, expectedParams);
  pruned.compile({ optimizer: c.optimizers.adam({ learningRate: 0.01 }), loss: 'sparseCategoricalCrossentropy' });
  const history = await pruned.fit(x, y, { epochs: 4, batchSize: 16, verbose: 0, seed: 1, record: false });
  const losses = history.history.loss;
  assert.ok(losses[losses.length - 1] < losses[0] * 0.7, `fine-tuning lowers the loss: ${losses.join(', ')}`);
  await withDir(async (dir) => {
    await pruned.save(dir);
    const loaded = await c.loadModel(dir);
    assert.deepEqual(
      loaded.weights.map((w) => [...w.shape]),
      pruned.weights.map((w) => [...w.shape]),
    );
    const [a, b] = [pruned.predict(x) as c.Tensor, loaded.predict(x) as c.Tensor];
    assertClose(b, a, { rtol: 0, atol: 0 }, 'loaded vs saved pruned model');
    c.dispose([a, b]);
    loaded.dispose();
  });
  c.dispose([x, y]);
  pruned.dispose();
}

test('a pruned Sequential CNN with BatchNormalization trains with fit, saves and loads', async () => {
  c.setSeed(7);
  const model = new c.Sequential([
    L.conv2d({ filters: 6, kernelSize: 3, inputShape: [8, 8, 1], name: 'c1' }),
    L.batchNormalization({ name: 'bn' }),
    L.activation({ activation: 'relu', name: 'act' }),
    L.maxPooling2d({ poolSize: 2, name: 'pool' }),
    L.flatten({ name: 'flat' }),
    L.dense({ units: 5, activation: 'relu', name: 'hidden' }),
    L.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ]);
  // c1 keeps 3 filters, bn 4 x 3 entries, hidden 2 units (2.5 of 5 removed rounds up to 3) of 3 * 3 * 3 inputs.
  await trainsSavesLoads(model, 3 * 3 * 3 + 3 + 4 * 3 + (27 * 2 + 2) + (2 * 3 + 3));
  model.dispose();
});

test('a pruned functional model trains, saves and loads; pruning leaks no tensor', async () => {
  c.setSeed(8);
  const inp = c.input({ shape: [8, 8, 1] });
  const a = L.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'a' }).apply(inp) as c.SymbolicTensor;
  const b = L.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', name: 'b' }).apply(inp) as c.SymbolicTensor;
  const cat = L.concatenate({ name: 'cat' }).apply([a, b]) as c.SymbolicTensor;
  const pooled = L.flatten({ name: 'flat' }).apply(L.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(cat));
  const out = L.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(
    pooled as c.SymbolicTensor,
  ) as c.SymbolicTensor;
  const model = new c.Model({ inputs: inp, outputs: out });
  const before = c.memory().tensors;
  c.compress.pruneStructured(model, { ratio: 0.5 }).model.dispose();
  assert.equal(c.memory().tensors, before, 'tensors after pruning and disposing the pruned model');
  const original = model.weights.map((w) => flat(w.value));
  await trainsSavesLoads(model, 9 * 2 + 2 + (9 * 3 + 3) + (3 * 3 * 5 * 3 + 3));
  assert.deepEqual(
    model.weights.map((w) => flat(w.value)),
    original,
    'training the pruned model leaves the original as it was',
  );
  model.dispose();
});
