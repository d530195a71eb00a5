// loadKerasWeights: Keras 3 .weights.h5 and legacy .h5 weights (written by h5py in tools/keras-weights-fixtures.py
// in Keras' layouts) load into matching Candor models with the right values; mismatches are refused by name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { Sequential, input, interop, layers, type Model } from '../../src/index.js';
import { FIXTURES, fixtureValues } from './keras-helpers.js';

/** Asserts each of the model's weights (in order) holds fixtureValues(k) for the given k and offsets. */
function assertFixtureWeights(model: Model, ks: number[], offsets: Record<number, number> = {}): void {
  const weights = model.weights;
  assert.equal(weights.length, ks.length);
  weights.forEach((v, i) => {
    const expected = fixtureValues(ks[i], v.value.size, offsets[ks[i]] ?? 0);
    assert.deepEqual([...v.value.dataSync()], expected, `weight ${v.name}`);
  });
}

const denseBn = () =>
  new Sequential([
    input({ shape: [4] }),
    layers.dense({ units: 3, activation: 'relu' }),
    layers.batchNormalization(),
    layers.dense({ units: 2 }),
  ]);

describe('loadKerasWeights', () => {
  it('loads a Keras 3 .weights.h5 by class and position, whatever the layers are named', async () => {
    const model = denseBn();
    const report = await interop.loadKerasWeights(model, join(FIXTURES, 'dense-bn.weights.h5'));
    assert.equal(report.layout, 'keras3');
    const [d0, bn, d1] = model.layers;
    assert.deepEqual(report.loaded, [
      { layer: d0.name, path: 'layers/dense', weights: 2 },
      { layer: bn.name, path: 'layers/batch_normalization', weights: 4 },
      { layer: d1.name, path: 'layers/dense_1', weights: 2 },
    ]);
    assert.deepEqual([report.missing, report.extra], [[], []]);
    // BatchNormalization: gamma, beta, moving_mean, moving_variance (k = 2..5, the variance offset by 1).
    assertFixtureWeights(model, [0, 1, 2, 3, 4, 5, 6, 7], { 5: 1 });
  });

  it('loads nested models and layers with nested cells (an LSTM keeps its weights under cell/)', async () => {
    const inner = new Sequential([input({ shape: [5, 4] }), layers.dense({ units: 3 })]);
    const model = new Sequential([
      input({ shape: [5, 4] }),
      inner,
      layers.lstm({ units: 2 }),
      layers.dense({ units: 1 }),
    ]);
    const report = await interop.loadKerasWeights(model, join(FIXTURES, 'nested.weights.h5'));
    assert.deepEqual(
      report.loaded.map((l) => l.path),
      ['layers/sequential/layers/dense', 'layers/lstm', 'layers/dense'],
    );
    assertFixtureWeights(model, [0, 1, 2, 3, 4, 5, 6]);
  });

  it('loads legacy (Keras 2) weights by layer name in weight_names order', async () => {
    const model = new Sequential([
      input({ shape: [4] }),
      layers.dense({ units: 3, name: 'dense' }),
      layers.dropout({ rate: 0.5, name: 'dropout' }),
      layers.dense({ units: 2, name: 'dense_1' }),
    ]);
    const report = await interop.loadKerasWeights(model, join(FIXTURES, 'legacy.weights.h5'));
    assert.equal(report.layout, 'legacy');
    assert.deepEqual(
      report.loaded.map((l) => [l.layer, l.weights]),
      [
        ['dense', 2],
        ['dense_1', 2],
      ],
    );
    assertFixtureWeights(model, [0, 1, 2, 3]);
  });

  // legacy-nested.weights.h5: Sequential [sequential [dense (frozen), dense_1, batch_normalization], dense_2 (frozen)],
  // the nested group in Keras' order: dense_1, BN gamma/beta (k = 0..3), then dense (4, 5), BN moving stats (6, 7).
  const legacyNested = (names: string[], frozen: boolean) =>
    new Sequential([
      input({ shape: [8] }),
      new Sequential({
        name: 'sequential',
        layers: [
          input({ shape: [8] }),
          layers.dense({ units: 8, name: names[0], trainable: !frozen }),
          layers.dense({ units: 8, name: names[1] }),
          layers.batchNormalization({ name: names[2] }),
        ],
      }),
      layers.dense({ units: 2, name: 'dense_2', trainable: false }),
    ]);
  const nestedKs = [4, 5, 0, 1, 2, 3, 6, 7, 8, 9];

  it('loads a legacy nested model saved trainable weights first, matching the datasets by name', async () => {
    // The names identify every weight, so the Candor model's trainable flags do not matter.
    for (const frozen of [true, false]) {
      const model = legacyNested(['dense', 'dense_1', 'batch_normalization'], frozen);
      const report = await interop.loadKerasWeights(model, join(FIXTURES, 'legacy-nested.weights.h5'));
      assert.deepEqual(
        report.loaded.map((l) => [l.layer, l.path, l.weights]),
        [
          ['dense', '/sequential', 2],
          ['dense_1', '/sequential', 2],
          ['batch_normalization', '/sequential', 4],
          ['dense_2', '/dense_2', 2],
        ],
      );
      assertFixtureWeights(model, nestedKs, { 7: 1 });
    }
  });

  it('loads a legacy nested model by Keras order when the names do not identify the layers', async () => {
    const path = join(FIXTURES, 'legacy-nested.weights.h5');
    const model = legacyNested(['a', 'b', 'c'], true);
    await interop.loadKerasWeights(model, path);
    assertFixtureWeights(model, nestedKs, { 7: 1 });
    // With 'a' trainable, Keras' order would put the file's 'batch_normalization/gamma:0' on b/kernel: refused.
    const unfrozen = legacyNested(['a', 'b', 'c'], false);
    const before = unfrozen.weights.map((v) => [...v.value.dataSync()]);
    await assert.rejects(
      interop.loadKerasWeights(unfrozen, path),
      (e: Error) =>
        e instanceof interop.FormatError &&
        e.message.includes("/sequential: weight_names does not identify the weights of 'sequential'") &&
        e.message.includes("'batch_normalization/gamma:0' would be 'b/kernel'"),
    );
    assert.deepEqual(
      unfrozen.weights.map((v) => [...v.value.dataSync()]),
      before,
    );
  });

  it('reads the bytes of a file as well as its path', async () => {
    const model = denseBn();
    await interop.loadKerasWeights(model, new Uint8Array(readFileSync(join(FIXTURES, 'dense-bn.weights.h5'))));
    assertFixtureWeights(model, [0, 1, 2, 3, 4, 5, 6, 7], { 5: 1 });
  });

  it('refuses a model the file does not match, naming the layers, and assigns nothing', async () => {
    const path = join(FIXTURES, 'dense-bn.weights.h5');
    // One Dense more than the file holds: layers/dense_2 is missing.
    const longer = new Sequential([
      input({ shape: [4] }),
      layers.dense({ units: 3, name: 'a' }),
      layers.batchNormalization({ name: 'b' }),
      layers.dense({ units: 2, name: 'c' }),
      layers.dense({ units: 2, name: 'd' }),
    ]);
    const before = longer.weights.map((v) => [...v.value.dataSync()]);
    await assert.rejects(
      interop.loadKerasWeights(longer, path),
      (e: Error) => e instanceof interop.FormatError && /missing from the file: d \(layers\/dense_2\)/.test(e.message),
    );
    assert.deepEqual(
      longer.weights.map((v) => [...v.value.dataSync()]),
      before,
    );
    const report = await interop.loadKerasWeights(longer, path, { strict: false });
    assert.deepEqual(report.missing, [{ layer: 'd', path: 'layers/dense_2' }]);
    assert.equal(report.loaded.length, 3);

    // Without the BatchNormalization the file has a group left over.
    const shorter = new Sequential([input({ shape: [4] }), layers.dense({ units: 3 }), layers.dense({ units: 2 })]);
    await assert.rejects(interop.loadKerasWeights(shorter, path), (e: Error) =>
      /no layer takes: layers\/batch_normalization/.test(e.message),
    );

    // A Dense of 5 units where the file's has 3: the layer, the weight and both shapes are named.
    const wider = new Sequential([
      input({ shape: [4] }),
      layers.dense({ units: 5, name: 'wide' }),
      layers.batchNormalization(),
      layers.dense({ units: 2 }),
    ]);
    await assert.rejects(
      interop.loadKerasWeights(wider, path),
      (e: Error) =>
        e instanceof interop.FormatError &&
        e.message.includes(
          "layer 'wide' (Dense) weight 'kernel' has shape [4, 5], the file's layers/dense/vars/0 has [4, 3]",
        ),
    );
  });

  it('refuses files that are not Keras weights with a FormatError', async () => {
    await assert.rejects(
      interop.loadKerasWeights(denseBn(), new TextEncoder().encode('not an hdf5 file at all')),
      (e: Error) => e instanceof interop.FormatError && /not an HDF5 file/.test(e.message),
    );
  });
});
