// compress.transferStudy's plumbing on a few synthetic 28x28 images (the MNIST figures come from running it by hand:
// see docs/compression.md): one run per seed, means over them, the layers it froze and fine-tuned, no leaked
// tensors, and typed errors for bad options, before any training.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

/** n images [n, 28, 28, 1] and labels 0-9 in turn. */
function split(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  return {
    x: new c.RandomStream(seed).uniform([n, 28, 28, 1]),
    y: c.tensor(
      Int32Array.from({ length: n }, (_, i) => i % 10),
      [n],
    ),
  };
}

test('transferStudy: a run per seed, their means, the frozen and fine-tuned layers, nothing leaked', async () => {
  const train = split(30, 1);
  const test = split(10, 2);
  const before = c.memory().tensors;
  const small = { pretrainEpochs: 1, labelled: 8, headEpochs: 1, fineTuneEpochs: 1, batchSize: 8 };
  const result = await c.compress.transferStudy({ train, test, ...small, seeds: [1, 2] });
  assert.equal(c.memory().tensors, before, 'the study frees what it makes');
  assert.deepEqual(
    result.runs.map((r) => r.seed),
    [1, 2],
  );
  for (const key of ['fineTuned', 'scratch', 'headOnly'] as const) {
    for (const r of result.runs) assert.ok(r[key] >= 0 && r[key] <= 1, `${key} ${r[key]}`);
    assert.equal(result[key], (result.runs[0][key] + result.runs[1][key]) / 2);
  }
  assert.equal(result.testSamples, 5, 'the test images of 5-9');
  assert.equal(result.labelled, 8);
  assert.deepEqual(result.frozenLayers, ['conv1', 'bn1', 'relu1', 'pool1']);
  assert.deepEqual(result.fineTunedLayers, ['conv2', 'bn2', 'relu2', 'pool2', 'flatten']);
  c.dispose([train.x, train.y, test.x, test.y]);
});

test('transferStudy refuses bad options with typed errors', async () => {
  const train = split(20, 3);
  const flat = { x: c.zeros([20, 784]), y: train.y };
  const before = c.memory().tensors;
  const rejects = (options: object, pattern: RegExp) =>
    assert.rejects(
      c.compress.transferStudy({ train, test: train, ...options }),
      (e: Error) => e instanceof c.ArgumentError && pattern.test(e.message),
    );
  await rejects({ cutAt: 'head' }, /cutAt 'head' is not a layer below the head/);
  await rejects({ unfreezeFrom: 'features' }, /unfreezeFrom 'features' is not a base layer: conv1, .*, flatten$/);
  await rejects({ labelled: 1000 }, /1000 labelled images asked, the target digits have 10/);
  await rejects({ seeds: [] }, /at least one seed/);
  await rejects({ epochs: 3 }, /transferStudy.*'epochs'/);
  await rejects({ train: flat }, /images \[N, 28, 28, 1\]/);
  assert.equal(c.memory().tensors, before);
  c.dispose([train.x, train.y, flat.x]);
});
