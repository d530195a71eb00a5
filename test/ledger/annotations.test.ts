// Layer annotations in the core: each tape node carries the layer scope that made it, and a fit that
// throws stops its recorder's metering (Model.fit aborts it), so no meter stays subscribed.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { Tape, pushTape, popTape } from '../../src/autograd/tape.js';
import { withLayerPath } from '../../src/autograd/annotations.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';

test('tape nodes are stamped with the layer scope that made them', () => {
  const model = new c.Sequential({
    name: 'net',
    layers: [
      c.layers.dense({ units: 3, activation: 'relu', inputShape: [2], name: 'hidden' }),
      c.layers.dense({ units: 1, name: 'head' }),
    ],
  });
  const x = c.ones([4, 2]);
  model.apply(x); // builds the weights outside the tape
  const tape = new Tape();
  for (const w of model.trainableWeights) tape.tracked.add(w.value.key);
  pushTape(tape);
  let y: c.Tensor;
  try {
    y = withLayerPath('outer', () => c.sum(model.apply(x) as c.Tensor));
  } finally {
    popTape(tape);
  }
  const scopes = tape.nodes.map((n) => `${n.op}@${n.layerPath}`);
  // Every node made inside a layer names it, nested under the model's and the caller's scopes.
  assert.ok(scopes.includes('matmul@outer/net/hidden'), scopes.join(' '));
  assert.ok(scopes.includes('matmul@outer/net/head'), scopes.join(' '));
  assert.ok(
    tape.nodes.some((n) => n.layerPath === 'outer/net/hidden' && n.op !== 'matmul'),
    'the bias add and relu of hidden are stamped too',
  );
  assert.equal(tape.nodes[tape.nodes.length - 1].layerPath, 'outer', 'the sum was made outside every layer');
  tape.dispose();
  c.dispose([x, y]);
  model.dispose();
});

test('a fit that throws stops its recorder metering', async () => {
  const model = new c.Sequential([c.layers.dense({ units: 1, inputShape: [2] })]);
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const recorder = new RunRecorder({ energy: false });
  const x = c.ones([4, 2]),
    y = c.ones([4, 1]);
  const boom = { onBatchEnd: () => Promise.reject(new Error('boom')) };
  await assert.rejects(model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [recorder, boom] }), /boom/);
  assert.equal(recorder.meter.running, false);
  assert.equal(recorder.hasRecord, false);
  c.dispose([x, y]);
  model.dispose();
});
