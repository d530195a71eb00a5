// Transfer learning as in keras.io/guides/transfer_learning: a trained model's layers up to a point become a
// frozen base (model.input to getLayer(name).output), a new head trains on it, then the top of the base is
// unfrozen and trained with a low learning rate after recompiling; and weights load by layer name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat, withDir } from '../helpers.js';

const values = (vs: readonly c.Variable[]) => vs.map((v) => flat(v.value));
const names = (vs: readonly c.Variable[]) => vs.map((v) => v.name);

/** Seeded images [n, 6, 6, 1] (shifted by `shift`, so batch statistics differ from the moving ones) and labels. */
function images(n: number, seed: number, shift = 0, classes = 3): { x: c.Tensor; y: c.Tensor } {
  const r = new c.RandomStream(seed);
  const x = c.tidy(() => c.add(r.normal([n, 6, 6, 1], 0, 1), shift));
  const y = c.tensor(
    Int32Array.from({ length: n }, (_, i) => i % classes),
    [n],
  );
  return { x, y };
}

/**
 * The "pretrained" network: a conv block with BatchNormalization, a feature layer and a head of `classes`, named;
 * `between` goes under the head (a layer another network has and the pretrained one lacks).
 */
function pretrained(seed = 3, classes = 3, between: c.Layer[] = []): c.Sequential {
  c.setSeed(seed);
  return new c.Sequential([
    new c.Conv2D({ filters: 4, kernelSize: 3, inputShape: [6, 6, 1], name: 'conv1' }),
    new c.BatchNormalization({ name: 'bn1' }),
    new c.Activation({ activation: 'relu', name: 'relu1' }),
    new c.Flatten({ name: 'flatten' }),
    new c.Dense({ units: 8, activation: 'relu', name: 'features' }),
    ...between,
    new c.Dense({ units: classes, activation: 'softmax', name: 'head' }),
  ]);
}

async function trainedSource(): Promise<c.Sequential> {
  const source = pretrained();
  source.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const { x, y } = images(32, 1);
  await source.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 1 });
  c.dispose([x, y]);
  return source;
}

/** base = Model(source.input, source.getLayer('features').output); model = new head on base(x, training). */
function transferModel(source: c.Sequential, training?: boolean) {
  const base = new c.Model({ inputs: source.input!, outputs: source.getLayer('features').output, name: 'base' });
  base.trainable = false;
  const inputs = c.input({ shape: [6, 6, 1] });
  const features = base.apply(inputs, training === undefined ? {} : { training }) as c.SymbolicTensor;
  const outputs = new c.Dense({ units: 2, activation: 'softmax', name: 'new_head' }).apply(features);
  const model = new c.Model({ inputs, outputs: outputs as c.SymbolicTensor });
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return { base, model };
}

test('model.input and getLayer(name).output make a base that shares the trained weights', async () => {
  const source = await trainedSource();
  const features = source.getLayer('features');
  assert.equal(features.output, source.getLayer('head').inboundNodes[0].inputs[0] as c.SymbolicTensor);
  assert.equal(source.output, source.getLayer('head').output);
  const { base } = transferModel(source);
  assert.deepEqual(
    base.layers.map((l) => l.name).slice(1),
    ['conv1', 'bn1', 'relu1', 'flatten', 'features'],
    'the layers up to features',
  );
  assert.ok(
    base.weights.every((v) => source.weights.includes(v)),
    'the same Variables, not copies',
  );
  const { x } = images(5, 2);
  // The base computes the source's features in inference mode: the source's first five layers in turn.
  let h: c.Tensor = x;
  for (const layer of source.layers.slice(0, 5)) h = layer.apply(h) as c.Tensor;
  assert.deepEqual(flat(base.predict(x) as c.Tensor), flat(h));
  assert.equal(base.input, source.input);
  assert.equal(base.output, features.output);
  c.dispose(x);
});

for (const training of [false, undefined]) {
  test(`a frozen base (called with training: ${training}) stays bit-identical, BN statistics included`, async () => {
    const source = await trainedSource();
    const { base, model } = transferModel(source, training);
    assert.deepEqual(names(model.trainableWeights), ['new_head/kernel', 'new_head/bias']);
    const before = values(base.weights);
    const head = values(model.getLayer('new_head').weights);
    const { x, y } = images(48, 5, 3, 2); // shifted: batch statistics far from the moving ones
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 4 });
    assert.deepEqual(values(base.weights), before, 'conv, BN gamma/beta and moving mean/variance unchanged');
    assert.notDeepEqual(values(model.getLayer('new_head').weights), head, 'the new head trained');
    c.dispose([x, y]);
  });
}

test('unfreezing the top of the base needs a recompile, then trains exactly those layers', async () => {
  const source = await trainedSource();
  const { base, model } = transferModel(source, false);
  const { x, y } = images(48, 6, 0, 2);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 4 });
  base.trainable = true;
  for (const layer of base.layers.slice(0, -1)) layer.trainable = false; // all but 'features'
  await assert.rejects(
    model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 }),
    (e: Error) =>
      e instanceof c.ArgumentError &&
      /newly trainable: features\/kernel, features\/bias/.test(e.message) &&
      /call model.compile\(\) again/.test(e.message),
  );
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 1e-4 }), loss: 'sparseCategoricalCrossentropy' });
  assert.deepEqual(names(model.trainableWeights), [
    'features/kernel',
    'features/bias',
    'new_head/kernel',
    'new_head/bias',
  ]);
  const frozen = ['conv1', 'bn1'].flatMap((n) => source.getLayer(n).weights);
  const frozenBefore = values(frozen);
  const top = values(source.getLayer('features').weights);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 4 });
  assert.deepEqual(values(frozen), frozenBefore, 'the layers below stay frozen, BN statistics included');
  const after = values(source.getLayer('features').weights);
  assert.ok(
    after.every((w, i) => w.some((v, j) => v !== top[i][j])),
    'both weights of the unfrozen layer trained',
  );
  c.dispose([x, y]);
});

test('layer.output before any symbolic call, and model.output of an unbuilt Sequential, are errors', () => {
  const dense = new c.Dense({ units: 2, name: 'lonely' });
  assert.throws(
    () => dense.output,
    (e: Error) =>
      e instanceof c.ArgumentError && /Dense 'lonely' has never been called on symbolic tensors/.test(e.message),
  );
  const seq = new c.Sequential([new c.Dense({ units: 2 })]);
  assert.equal(seq.input, undefined);
  assert.throws(() => seq.output, /its input shape is unknown/);
  assert.throws(() => new c.Sequential().output, /it has no layers/);
  // Several outputs come as a list; a model of one input gives the tensor itself.
  const x = c.input({ shape: [3] });
  const a = new c.Dense({ units: 1 }).apply(x) as c.SymbolicTensor;
  const b = new c.Dense({ units: 2 }).apply(x) as c.SymbolicTensor;
  const two = new c.Model({ inputs: x, outputs: [a, b] });
  assert.deepEqual(two.output, [a, b]);
  assert.equal(two.input, x);
});

test('loadWeights by name: matching layers load; a changed head raises, or is skipped and reported', async () => {
  const source = await trainedSource();
  await withDir(async (dir) => {
    const path = join(dir, 'source.safetensors');
    await source.saveWeights(path);
    // The same layers by name, a head of 2 classes, and a layer the file lacks.
    const target = pretrained(11, 2, [new c.Dense({ units: 4, activation: 'relu', name: 'extra' })]);
    const fresh = values(target.weights);
    await assert.rejects(
      target.loadWeights(path, { byName: true }),
      (e: Error) =>
        e instanceof c.ShapeError &&
        e.message.includes("layer 'head' of model") &&
        e.message.includes("weight 'head/kernel' has shape [4, 2] in the model, [8, 3] in the file") &&
        e.message.includes('skipMismatch: true'),
    );
    assert.deepEqual(values(target.weights), fresh, 'nothing assigned when a layer does not match');

    const report = await target.loadWeights(path, { byName: true, skipMismatch: true });
    const loaded = ['conv1', 'bn1', 'features'];
    assert.deepEqual(
      report.loaded.map((e) => e.weight),
      loaded.flatMap((n) => names(source.getLayer(n).weights)),
    );
    assert.deepEqual(
      report.skipped.map((s) => [s.layer, s.reason]),
      [
        ['extra', 'missing'],
        ['head', 'shape mismatch'],
      ],
    );
    assert.deepEqual(report.skipped[1].weights[0], {
      weight: 'head/kernel',
      shape: [4, 2],
      dtype: 'float32',
      fileShape: [8, 3],
      fileDType: 'float32',
    });
    assert.deepEqual(report.unused, ['head/kernel', 'head/bias']);
    for (const n of loaded) assert.deepEqual(values(target.getLayer(n).weights), values(source.getLayer(n).weights));
    const untouched = ['extra', 'head'].flatMap((n) => target.getLayer(n).weights);
    assert.deepEqual(values(untouched), fresh.slice(fresh.length - 4), 'skipped layers keep their weights');
  });
});

test('loadWeights by name refuses other weights for a layer, another dtype, and skipMismatch alone', async () => {
  c.setSeed(2);
  const withBias = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'd' })]);
  const noBias = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'd', useBias: false })]);
  const wide = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'd', dtype: 'float64' })]);
  await withDir(async (dir) => {
    const path = join(dir, 'w.safetensors');
    await withBias.saveWeights(path);
    await assert.rejects(
      noBias.loadWeights(path, { byName: true }),
      (e: Error) => e instanceof c.ShapeError && /layer 'd' .* the file also has 'd\/bias'/.test(e.message),
    );
    const skipped = await noBias.loadWeights(path, { byName: true, skipMismatch: true });
    assert.deepEqual([skipped.loaded, skipped.skipped[0].reason], [[], 'weights differ']);
    await assert.rejects(
      wide.loadWeights(path, { byName: true }),
      (e: Error) =>
        e instanceof c.DTypeError && /'d\/kernel' is float64 in the model, float32 in the file/.test(e.message),
    );
    await assert.rejects(noBias.loadWeights(path, { skipMismatch: true }), /skipMismatch needs byName: true/);
    await assert.rejects(
      noBias.loadWeights(path, { by_name: true } as never),
      (e: Error) => e instanceof c.ArgumentError && /by_name/.test(e.message),
    );
    // Positional loading reports every weight as loaded.
    const copy = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'other' })]);
    const report = await copy.loadWeights(path);
    assert.deepEqual(report, {
      loaded: [
        { layer: 'other', weight: 'other/kernel', shape: [3, 2] },
        { layer: 'other', weight: 'other/bias', shape: [2] },
      ],
      skipped: [],
      unused: [],
    });
  });
});

test('recompiling with the optimizer of another trainable set is refused (its state fits other weights)', async () => {
  // Before the fix the second fit applied b's Adam moments to a's weights, of the same shapes, silently.
  c.setSeed(1);
  const a = new c.Dense({ units: 4, inputShape: [4], name: 'a' });
  const b = new c.Dense({ units: 4, name: 'b' });
  const model = new c.Sequential([a, b]);
  const optimizer = c.optimizers.adam({ learningRate: 0.1 });
  a.trainable = false;
  model.compile({ optimizer, loss: 'mse' });
  const x = new c.RandomStream(1).normal([8, 4]);
  const y = new c.RandomStream(2).normal([8, 4]);
  await model.fit(x, y, { epochs: 1, verbose: 0 });
  model.compile({ optimizer, loss: 'mae' }); // the same weights: the optimizer carries on
  await model.fit(x, y, { epochs: 1, verbose: 0 });
  a.trainable = true;
  b.trainable = false;
  model.compile({ optimizer, loss: 'mse' });
  await assert.rejects(
    model.fit(x, y, { epochs: 1, verbose: 0 }),
    (e: Error) =>
      e instanceof c.ArgumentError &&
      e.message.includes('was built for other weights (b/kernel, b/bias), not the trainable ones now (a/kernel') &&
      e.message.includes('pass a new optimizer to compile()'),
  );
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 1e-3 }), loss: 'mse' });
  await model.fit(x, y, { epochs: 1, verbose: 0 });
  c.dispose([x, y]);
});
