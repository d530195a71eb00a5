// Data keyed by input and output name (Keras: fit({ title, body }, { priority, department })): the same
// training, evaluation and predictions as lists in the model's order, and typed errors naming the
// model's inputs or outputs for wrong names, counts and non-tensor data (never a TypeError).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { rejects } from '../helpers.js';

/** Two inputs (title [3], body [2]) and two outputs (priority: sigmoid [1], department: softmax [3]). */
function ticketModel(): c.Model {
  c.setSeed(7);
  const title = c.input({ shape: [3], name: 'title' });
  const body = c.input({ shape: [2], name: 'body' });
  const h = new c.Dense({ units: 4, activation: 'relu' }).apply(
    new c.Concatenate().apply([title, body]) as c.SymbolicTensor,
  ) as c.SymbolicTensor;
  const priority = new c.Dense({ units: 1, activation: 'sigmoid', name: 'priority' }).apply(h) as c.SymbolicTensor;
  const department = new c.Dense({ units: 3, activation: 'softmax', name: 'department' }).apply(h) as c.SymbolicTensor;
  const model = new c.Model({ inputs: [title, body], outputs: [priority, department] });
  model.compile({
    optimizer: 'adam',
    loss: { priority: 'binaryCrossentropy', department: 'sparseCategoricalCrossentropy' },
    lossWeights: { priority: 2, department: 1 },
    metrics: { priority: ['binaryAccuracy'], department: ['accuracy'] },
  });
  return model;
}

function data() {
  const r = new c.RandomStream(3);
  return {
    title: r.normal([10, 3]),
    body: r.normal([10, 2]),
    priority: c.tensor([0, 1, 0, 1, 1, 0, 0, 1, 1, 0], [10, 1]),
    department: c.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2, 2], [10], 'int32'),
  };
}

const weightsOf = (m: c.Model) => m.weights.map((v) => Array.from(v.value.dataSync()));

test('fit, evaluate, predict and trainOnBatch take objects keyed by input and output name', async () => {
  const d = data();
  const byList = ticketModel();
  const listed = await byList.fit([d.title, d.body], [d.priority, d.department], {
    epochs: 2,
    batchSize: 4,
    seed: 1,
    verbose: 0,
  });
  const byName = ticketModel();
  // Keys in another order than the model's: matched by name, not position.
  const named = await byName.fit(
    { body: d.body, title: d.title },
    { department: d.department, priority: d.priority },
    {
      epochs: 2,
      batchSize: 4,
      seed: 1,
      verbose: 0,
      validationData: [
        { title: d.title, body: d.body },
        { priority: d.priority, department: d.department },
      ],
    },
  );
  assert.deepEqual(weightsOf(byName), weightsOf(byList), 'the same training as lists in the model order');
  assert.deepEqual(named.history.loss, listed.history.loss);
  assert.ok(named.history.val_priority_loss.length === 2, 'validationData keyed by name too');

  const evalList = await byList.evaluate([d.title, d.body], [d.priority, d.department]);
  const evalNamed = await byList.evaluate(
    { title: d.title, body: d.body },
    { department: d.department, priority: d.priority },
  );
  assert.deepEqual({ ...evalNamed }, { ...evalList });

  const [p1, p2] = byList.predict([d.title, d.body]) as c.Tensor[];
  const [q1, q2] = byList.predict({ body: d.body, title: d.title }) as c.Tensor[];
  assert.deepEqual(Array.from(q1.dataSync()), Array.from(p1.dataSync()));
  assert.deepEqual(Array.from(q2.dataSync()), Array.from(p2.dataSync()));

  const a = byList.trainOnBatch([d.title, d.body], [d.priority, d.department]);
  const b = byName.trainOnBatch({ title: d.title, body: d.body }, { priority: d.priority, department: d.department });
  assert.deepEqual(b, a);
  c.dispose([p1, p2, q1, q2, ...Object.values(d)]);
});

test('a dataset may yield batches keyed by input and output name', async () => {
  const d = data();
  // A one-shot generator of two batches (the loop frees what it yields).
  const batches = function* () {
    for (const s of [0, 5])
      yield {
        x: { title: c.sliceAxis(d.title, 0, s, s + 5), body: c.sliceAxis(d.body, 0, s, s + 5) },
        y: { department: c.sliceAxis(d.department, 0, s, s + 5), priority: c.sliceAxis(d.priority, 0, s, s + 5) },
      };
  };
  const byList = ticketModel();
  await byList.fit([d.title, d.body], [d.priority, d.department], {
    epochs: 1,
    batchSize: 5,
    shuffle: false,
    verbose: 0,
  });
  const byName = ticketModel();
  await byName.fit(batches(), { epochs: 1, verbose: 0 });
  assert.deepEqual(weightsOf(byName), weightsOf(byList));
  const evaluated = await byName.evaluate(batches());
  assert.deepEqual(
    { ...evaluated },
    { ...(await byName.evaluate([d.title, d.body], [d.priority, d.department], { batchSize: 5 })) },
  );
  c.dispose(Object.values(d));
});

test('wrong names, counts and non-tensor data are ArgumentErrors naming the inputs or outputs', async () => {
  const m = ticketModel();
  const d = data();
  const y = [d.priority, d.department];
  const cases: [() => unknown, RegExp][] = [
    [() => m.fit({ title: d.title }, y, { verbose: 0 }), /^fit: x has no entry for input 'body'; the inputs of model/],
    [
      () => m.fit({ titel: d.title, body: d.body }, y, { verbose: 0 }),
      /^fit: x has 'titel', which is not an input name \(did you mean 'title'\?\); the inputs of model/,
    ],
    [
      () => m.evaluate({ title: d.title, body: d.body, extra: d.body }, y),
      /^evaluate: x has 'extra', which is not an input name;/,
    ],
    [
      () => m.fit([d.title, d.body], { priority: d.priority }, { verbose: 0 }),
      /^fit: y has no entry for output 'department'; the outputs of model '[^']+' are 'priority', 'department'$/,
    ],
    [
      () => m.fit([d.title, d.body], d.priority, { verbose: 0 }),
      /^fit: y has 1 tensor for the 2 outputs of model '[^']+' \(priority, department\); give one per output/,
    ],
    [
      () => m.fit([d.title, d.body], [d.priority, [1, 2]] as never, { verbose: 0 }),
      /^fit: y\[1\] is a plain array of numbers; expected a Tensor \(make one with tensor\(values\)\)$/,
    ],
    [
      () => m.fit([[1, 2, 3]] as never, y, { verbose: 0 }),
      /^fit: x is a plain array of numbers; expected a Tensor or a list of Tensors \(make one with tensor\(values\)\)$/,
    ],
    [
      () => m.predict(new Float32Array(6) as never),
      /^predict: x is a Float32Array; expected a Tensor or a list of Tensors \(make one with tensor\(data, shape\)\)$/,
    ],
    [
      () => m.predict({ title: d.title, body: 3 } as never),
      /^predict: x\.body is 3; expected a Tensor or a list of Tensors$/,
    ],
    [
      () => m.fit(undefined as never, y, { verbose: 0 }),
      /^fit: x is undefined; expected a Tensor or a list of Tensors$/,
    ],
    [() => m.predict(d.title), /^Model: expects 2 inputs \('title' \(None, 3\), 'body' \(None, 2\)\), got 1 tensor$/],
    [() => m.fit([d.title, d.body], y, 5 as never), /^fit: expected an options object, got 5$/],
  ];
  for (const [fn, message] of cases) await rejects(fn, c.ArgumentError, message);
  assert.equal(m.optimizer!.iterations, 0, 'no bad call trained');
  // A Sequential model's input has no name to key by: an object is not its data.
  const seq = new c.Sequential([new c.Dense({ units: 1, inputShape: [3] })]);
  seq.compile({ optimizer: 'sgd', loss: 'mse' });
  await rejects(
    () => seq.fit({ x: d.title } as never, d.priority, { verbose: 0 }),
    c.ArgumentError,
    /^fit: x is an object \(Object\); expected a Tensor or a list of Tensors$/,
  );
  c.dispose(Object.values(d));
});
