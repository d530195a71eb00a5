// model.inputs / outputs in the run record: names, shapes and dtypes of the model's own tensors, and what the
// outputs mean from the last layer's activation, its width and the loss.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { modelSignature, outputMeaning } from '../../src/train/model-signature.js';
import { tinyRun } from '../ledger/fixtures.js';

test("the record holds the model's inputs and outputs, not the targets", async () => {
  const run = await tinyRun({ evaluate: false, options: { energy: false } });
  assert.deepEqual(
    run.record.model.inputs!.map((s) => [s.shape, s.dtype]),
    [[[null, 4], 'float32']],
  );
  assert.deepEqual(
    run.record.model.outputs!.map((s) => [s.shape, s.dtype, s.meaning]),
    [[[null, 3], 'float32', 'softmax probabilities over 3 classes']],
  );
  run.dispose();
});

test('output meanings: logits, sigmoid, regression; a functional model with two outputs', async () => {
  assert.equal(
    outputMeaning('linear', 5, { name: 'sparsecategoricalcrossentropy', fromLogits: true }),
    'logits over 5 classes (unnormalised scores; apply softmax for probabilities)',
  );
  assert.equal(
    outputMeaning('linear', 5, { name: 'sparsecategoricalcrossentropy', fromLogits: false }),
    'unnormalised scores over 5 classes, which the loss reads as probabilities (no softmax; fromLogits is false)',
  );
  assert.equal(outputMeaning('sigmoid', 1, undefined), 'sigmoid probability of the positive class');
  assert.equal(
    outputMeaning('linear', 1, { name: 'mse', fromLogits: false }),
    '1 regression value per sample (loss mse)',
  );
  const x = c.input({ shape: [6] });
  const h = c.layers.dense({ units: 4, activation: 'relu' }).apply(x) as c.SymbolicTensor;
  const a = c.layers.dense({ units: 2, name: 'scores' }).apply(h) as c.SymbolicTensor;
  const b = c.layers.dense({ units: 1, activation: 'sigmoid', name: 'flag' }).apply(h) as c.SymbolicTensor;
  const model = new c.Model({ inputs: x, outputs: [a, b] });
  model.compile({
    optimizer: 'sgd',
    loss: ['meanSquaredError', 'binaryCrossentropy'],
  });
  // The loss is known once the model has trained (trainingConfig), as it has when a recorder reads it.
  const xs = c.tensor(new Float32Array(24).fill(0.5), [4, 6]);
  const ys = [c.tensor(new Float32Array([1, 0, 0, 1, 1, 0, 0, 1]), [4, 2]), c.tensor(new Float32Array(4), [4, 1])];
  await model.fit(xs, ys, { epochs: 1, batchSize: 4, verbose: 0 });
  const sig = modelSignature(model)!;
  assert.deepEqual(
    sig.inputs.map((s) => [s.shape, s.dtype]),
    [[[null, 6], 'float32']],
  );
  assert.deepEqual(
    sig.outputs.map((s) => s.meaning),
    ['2 regression values per sample (loss meansquarederror)', 'sigmoid probability of the positive class'],
  );
  c.dispose([xs, ...ys]);
  model.dispose();
});
