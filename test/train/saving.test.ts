// Model save/load: bit-identical predictions (Sequential, multi-input functional, BatchNormalization + Dropout),
// restored optimizer state, exact resumption of seeded training, tamper and malformed-file detection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat, withDir } from '../helpers.js';

/** The directory's files, content-named ones by role ('weights-0a1b...safetensors' as 'weights.safetensors'). */
const roles = (names: string[]) => names.map((n) => n.replace(/-[0-9a-f]{16}\.safetensors$/, '.safetensors')).sort();
const listing = (dir: string) => roles(readdirSync(dir));
/** The weights or optimizer file that model.json names. */
const fileOf = (dir: string, role: 'weights' | 'optimizer'): string =>
  (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, string>)[`${role}File`];

const weightsOf = (m: c.Model) => m.weights.map((v) => flat(v.value));
const namesOf = (m: c.Model) => m.weights.map((v) => v.name);

/** Predictions as flat arrays, one per output. */
function predictions(m: c.Model, x: c.Tensor | c.Tensor[]): number[][] {
  const out = m.predict(x, { batchSize: 7 });
  const list = Array.isArray(out) ? out : [out];
  const values = list.map(flat);
  c.dispose(list);
  return values;
}

/** A classifier with BatchNormalization and Dropout, compiled with Adam. */
function bnDropoutModel(seed: number): c.Sequential {
  c.setSeed(seed);
  const model = new c.Sequential([
    new c.Dense({ units: 12, activation: 'relu', inputShape: [5] }),
    new c.BatchNormalization(),
    new c.Dropout({ rate: 0.3 }),
    new c.Dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return model;
}

function data(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const x = new c.RandomStream(seed).normal([n, 5], 0, 1);
  const y = c.tidy(() =>
    c.argmax(
      c.matmul(
        x,
        c.tensor([
          [1, 0, -1],
          [0, 1, 1],
          [-1, 1, 0],
          [0.5, -0.5, 1],
          [0, 0, 0.3],
        ]),
      ),
      -1,
    ),
  );
  return { x, y };
}

test('Sequential: save -> loadModel gives bit-identical predictions, names, config and training setup', async () => {
  await withDir(async (dir) => {
    c.setSeed(1);
    const model = new c.Sequential([
      new c.Dense({ units: 16, activation: 'tanh', inputShape: [5] }),
      new c.Dense({ units: 3, activation: 'softmax' }),
    ]);
    model.compile({
      optimizer: c.optimizers.rmsprop({ learningRate: 0.005, momentum: 0.5 }),
      loss: 'sparseCategoricalCrossentropy',
      metrics: ['accuracy'],
    });
    const { x, y } = data(30, 1);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 1 });
    await model.save(dir);
    assert.deepEqual(
      listing(dir),
      // emissions.csv: the run's row in CodeCarbon's format, written beside run.json (issue 12).
      ['emissions.csv', 'model.json', 'optimizer.safetensors', 'run.json', 'weights.safetensors'],
      'the model files and the run record of its fit: no temp files left behind',
    );

    const loaded = await c.loadModel(dir);
    assert.ok(loaded instanceof c.Sequential);
    assert.equal(loaded.name, model.name);
    assert.deepEqual(namesOf(loaded), namesOf(model));
    assert.deepEqual(weightsOf(loaded), weightsOf(model));
    assert.deepEqual(predictions(loaded, x), predictions(model, x), 'bit-identical predictions');
    assert.deepEqual(loaded.getConfig(), model.getConfig());
    // Compiled from the saved training config: same optimizer class and hyperparameters, same metrics.
    assert.deepEqual(loaded.optimizer!.getConfig(), model.optimizer!.getConfig());
    assert.deepEqual(await loaded.evaluate(x, y), await model.evaluate(x, y));
    c.dispose([x, y]);
  });
});

test('functional multi-input, multi-output model: save -> load -> identical predictions', async () => {
  await withDir(async (dir) => {
    c.setSeed(2);
    const a = c.input({ shape: [5], name: 'a' }),
      b = c.input({ shape: [2], name: 'b' });
    const h = new c.Dense({ units: 8, activation: 'relu', name: 'h' }).apply(
      new c.Concatenate({ name: 'cat' }).apply([a, b]),
    ) as c.SymbolicTensor;
    const skip = new c.Add({ name: 'skip' }).apply([
      new c.Dense({ units: 8, name: 'proj' }).apply(a) as c.SymbolicTensor,
      h,
    ]) as c.SymbolicTensor;
    const model = new c.Model({
      name: 'two_in',
      inputs: [a, b],
      outputs: [
        new c.Dense({ units: 1, name: 'reg' }).apply(skip) as c.SymbolicTensor,
        new c.Dense({ units: 3, activation: 'softmax', name: 'cls' }).apply(skip) as c.SymbolicTensor,
      ],
    });
    model.compile({
      optimizer: 'adam',
      loss: { reg: 'mse', cls: 'sparseCategoricalCrossentropy' },
      lossWeights: { reg: 0.5, cls: 1 },
      metrics: { cls: ['accuracy'] },
    });
    const { x, y } = data(20, 2);
    const xb = new c.RandomStream(3).normal([20, 2], 0, 1);
    const yr = c.tidy(() => c.sum(x, -1, true));
    await model.fit([x, xb], [yr, y], { epochs: 1, batchSize: 8, verbose: 0, seed: 2 });
    await model.save(dir);
    const loaded = await c.loadModel(dir);
    assert.equal(loaded.isFunctional, true);
    assert.deepEqual(
      loaded.inputs.map((t) => t.name),
      ['a', 'b'],
    );
    assert.deepEqual(
      loaded.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
    );
    assert.deepEqual(predictions(loaded, [x, xb]), predictions(model, [x, xb]));
    assert.deepEqual(await loaded.evaluate([x, xb], [yr, y]), await model.evaluate([x, xb], [yr, y]));
    c.dispose([x, y, xb, yr]);
  });
});

test('BatchNormalization (moving statistics) and Dropout survive save/load; optimizer state is restored', async () => {
  await withDir(async (dir) => {
    const model = bnDropoutModel(3);
    const { x, y } = data(40, 3);
    await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 3 });
    const bn = model.layers[1] as c.BatchNormalization;
    assert.notDeepEqual(flat(bn.movingMean!.value), new Array(12).fill(0), 'the moving mean has moved');
    await model.save(dir);
    const loaded = await c.loadModel(dir);
    assert.deepEqual(predictions(loaded, x), predictions(model, x));
    assert.deepEqual(
      (loaded.layers[2] as c.Dropout).seed,
      (model.layers[2] as c.Dropout).seed,
      'the dropout seed is part of the config',
    );

    const saved = model.optimizer!.getState(),
      restored = loaded.optimizer!.getState();
    assert.equal(restored.iterations, saved.iterations);
    assert.equal(restored.iterations, 10);
    assert.deepEqual(restored.slotNames, saved.slotNames);
    assert.deepEqual(restored.slots.map(flat), saved.slots.map(flat));
    assert.equal(saved.slots.length, 2 * model.trainableWeights.length, 'Adam: two moments per trainable weight');
    c.dispose([saved.slots, restored.slots, x, y]);
  });
});

test('RESUME: k epochs, save, load, fit with initialEpoch = k gives the weights of N epochs in one go', async () => {
  await withDir(async (dir) => {
    const { x, y } = data(40, 4);
    const N = 4,
      k = 2,
      seed = 11;
    const fitArgs = { batchSize: 8, verbose: 0 as const, seed, validationSplit: 0.2 };

    const straight = bnDropoutModel(4);
    const h1 = await straight.fit(x, y, { ...fitArgs, epochs: N });

    const first = bnDropoutModel(4);
    assert.deepEqual(weightsOf(first), weightsOf(bnDropoutModel(4)), 'same seed, same initial weights');
    const ha = await first.fit(x, y, { ...fitArgs, epochs: k });
    await first.save(dir);
    const resumed = await c.loadModel(dir);
    const hb = await resumed.fit(x, y, { ...fitArgs, epochs: N, initialEpoch: k });

    assert.deepEqual(hb.epoch, [2, 3]);
    assert.deepEqual(weightsOf(resumed), weightsOf(straight), 'exactly equal weights');
    assert.deepEqual([...ha.history.loss, ...hb.history.loss], h1.history.loss, 'and the same per-epoch losses');
    assert.deepEqual([...ha.history.val_accuracy, ...hb.history.val_accuracy], h1.history.val_accuracy);
    assert.equal(resumed.optimizer!.iterations, straight.optimizer!.iterations);
    c.dispose([x, y]);
  });
});

test('saving again overwrites in place; a model compiled but never trained saves and loads', async () => {
  await withDir(async (dir) => {
    const model = bnDropoutModel(5);
    await model.save(dir);
    const untrained = await c.loadModel(dir);
    assert.equal(untrained.optimizer!.iterations, 0);
    const { x, y } = data(16, 5);
    await untrained.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    await untrained.save(dir);
    await untrained.save(dir);
    assert.deepEqual(listing(dir), [
      'emissions.csv',
      'model.json',
      'optimizer.safetensors',
      'run.json',
      'weights.safetensors',
    ]);
    // run.json names the files saved beside it, by hash.
    const run = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as {
      model: { artifacts: Record<string, { sha256: string }> };
    };
    assert.deepEqual(roles(Object.keys(run.model.artifacts)), [
      'model.json',
      'optimizer.safetensors',
      'weights.safetensors',
    ]);
    assert.deepEqual(weightsOf(await c.loadModel(dir)), weightsOf(untrained));
    c.dispose([x, y]);
  });
});

test('a Sequential whose input shape comes from an InputLayer or from its first call saves and loads', async () => {
  await withDir(async (dir) => {
    const x = new c.RandomStream(6).normal([4, 3], 0, 1);
    for (const model of [
      new c.Sequential([new c.InputLayer({ inputShape: [3] }), new c.Dense({ units: 2 })]),
      new c.Sequential([new c.Dense({ units: 2 }), new c.Dense({ units: 1 })]),
    ]) {
      const before = predictions(model, x);
      await model.save(dir);
      const loaded = await c.loadModel(dir);
      assert.deepEqual(predictions(loaded, x), before);
      assert.match(
        loaded.summary(() => {}),
        /\(None, 2\)/,
      );
    }
    c.dispose(x);
  });
});

test('an uncompiled model saves without optimizer state and loads uncompiled', async () => {
  await withDir(async (dir) => {
    c.setSeed(7);
    const model = new c.Sequential([new c.Dense({ units: 2, inputShape: [3] })]);
    await model.save(dir);
    assert.deepEqual(listing(dir), ['model.json', 'weights.safetensors']);
    const loaded = await c.loadModel(dir);
    assert.equal(loaded.optimizer, undefined);
    assert.deepEqual(weightsOf(loaded), weightsOf(model));
  });
});

test('a tampered weights or optimizer file is rejected with FormatError (SHA-256 mismatch)', async () => {
  await withDir(async (dir) => {
    const model = bnDropoutModel(8);
    const { x, y } = data(16, 8);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    await model.save(dir);
    for (const file of [fileOf(dir, 'weights'), fileOf(dir, 'optimizer')]) {
      const path = join(dir, file);
      const good = readFileSync(path);
      const bad = Buffer.from(good);
      bad[bad.length - 1] ^= 1; // one bit of one weight
      writeFileSync(path, bad);
      await assert.rejects(
        c.loadModel(dir),
        (e: Error) =>
          e instanceof c.FormatError &&
          new RegExp(`${file} does not match the SHA-256 recorded in model.json`).test(e.message),
      );
      writeFileSync(path, good.subarray(0, good.length - 8)); // truncated
      await assert.rejects(c.loadModel(dir), c.FormatError);
      writeFileSync(path, good);
    }
    await c.loadModel(dir); // intact again
    c.dispose([x, y]);
  });
});

test('a truncated or malformed model.json is rejected with FormatError', async () => {
  await withDir(async (dir) => {
    const model = bnDropoutModel(9);
    await model.save(dir);
    const path = join(dir, 'model.json');
    const text = readFileSync(path, 'utf8');
    const manifest = JSON.parse(text) as Record<string, unknown>;
    const cases: [string, string, RegExp][] = [
      ['truncated', text.slice(0, Math.floor(text.length / 2)), /is not valid JSON/],
      ['empty', '', /is not valid JSON/],
      ['not an object', '[1, 2]', /is not a Candor model/],
      ['another format', JSON.stringify({ ...manifest, format: 'keras' }), /is not a Candor model \(format "keras"\)/],
      ['newer version', JSON.stringify({ ...manifest, version: 99 }), /version 99 is newer than this Candor reads/],
      ['no version', JSON.stringify({ ...manifest, version: 'one' }), /no valid format version/],
      ['no model', JSON.stringify({ ...manifest, model: null }), /lacks the model config or file list/],
      ['no files', JSON.stringify({ ...manifest, files: null }), /lacks the model config or file list/],
      [
        'bad file entry',
        JSON.stringify({ ...manifest, files: { 'weights.safetensors': 'abc' } }),
        /malformed entry for weights\.safetensors/,
      ],
      ['unlisted weights', JSON.stringify({ ...manifest, files: {} }), /weightsFile .* its file list does not hold/],
      [
        'unknown layer class',
        text.replace('"BatchNormalization"', '"BatchNormalisation"'),
        /cannot be rebuilt: layerFromConfig: unknown layer class "BatchNormalisation"/,
      ],
      [
        'architecture changed',
        text.replace('"units": 12', '"units": 13'),
        /weight 'dense_\d+\/kernel' of Dense 'dense_\d+' is declared \[5, 13\] but stored as \[5, 12\]/,
      ],
    ];
    for (const [what, content, message] of cases) {
      writeFileSync(path, content);
      await assert.rejects(c.loadModel(dir), (e: Error) => {
        assert.ok(e instanceof c.FormatError, `${what}: ${e.name}: ${e.message}`);
        assert.match(e.message, message, what);
        return true;
      });
    }
  });
});

test("optimizer slots are keyed by their place in the state, so another optimizer's state is detected", async () => {
  await withDir(async (dir) => {
    const model = bnDropoutModel(10);
    const { x, y } = data(16, 10);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    await model.save(dir);
    const { tensors, metadata } = c.parseSafetensors(new Uint8Array(readFileSync(join(dir, fileOf(dir, 'optimizer')))));
    assert.deepEqual(JSON.parse(metadata.slotNames), model.optimizer!.getState().slotNames);
    assert.ok(tensors.has('0/mu/0') && tensors.has('0/nu/0'), `keys: ${[...tensors.keys()].join(', ')}`);
    c.dispose([...tensors.values()]);
    // Pretend the optimizer was RMSprop with momentum: as many slots as Adam's, in other places.
    const path = join(dir, 'model.json');
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { training: { optimizer: unknown } };
    manifest.training.optimizer = { className: 'RMSprop', config: { learningRate: 0.01, momentum: 0.9 } };
    writeFileSync(path, JSON.stringify(manifest));
    await assert.rejects(
      c.loadModel(dir),
      /slot 0 is '0\/mu\/0' in the saved state but '0\/nu\/0' here; was it saved by another kind of optimizer\?/,
    );
    c.dispose([x, y]);
  });
});

test('subclass models cannot be saved as architecture; saving leaks no tensors', async () => {
  class Tiny extends c.Model {
    readonly d = new c.Dense({ units: 2 });
    override call(x: c.Tensor | c.Tensor[]): c.Tensor {
      return this.d.apply(x as c.Tensor) as c.Tensor;
    }
  }
  await withDir(async (dir) => {
    const tiny = new Tiny();
    assert.equal(tiny.name.startsWith('tiny'), true, `named after the class: ${tiny.name}`);
    await assert.rejects(tiny.save(dir), /subclass models have no architecture config/);
    const model = bnDropoutModel(12);
    const { x, y } = data(16, 12);
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    const before = c.memory().tensors;
    await model.save(dir);
    const loaded = await c.loadModel(dir);
    assert.equal(
      c.memory().tensors,
      before + loaded.weights.length + 2 * loaded.trainableWeights.length,
      'only the loaded weights and Adam slots',
    );
    c.dispose([x, y]);
  });
});
