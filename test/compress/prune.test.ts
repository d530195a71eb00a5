// Magnitude pruning: the PruneLowMagnitude wrapper (through the layer harness), exact mask sparsity on odd
// sizes against a sort-based reference, per-layer and global thresholds, pruned weights staying exactly zero
// through Adam, stripPruning with save and load, and the error cases.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ArgumentError,
  Model,
  Sequential,
  input,
  layers,
  loadModel,
  optimizers,
  type Callback,
  type Layer,
  type Tensor,
} from '../../src/index.js';
import * as compress from '../../src/compress/index.js';
import { runLayerTest } from '../nn/harness.js';
import { rand, withDir } from '../helpers.js';

const { ConstantSparsity, PolynomialDecay, PruneLowMagnitude, UpdatePruningStep, pruneLowMagnitude, stripPruning } =
  compress;

/** Runs one step of the callback by hand (a custom loop): the masks update at step 0 and are applied. */
function pruneOnce(model: Layer): void {
  const cb = new UpdatePruningStep();
  cb.setModel(model);
  cb.onTrainBegin();
  cb.onBatchBegin();
  cb.onBatchEnd();
  cb.onTrainEnd();
}

/** The flat indices kept by a slow reference: sort by |w| descending, ties by position; keep the first k. */
function referenceKept(values: readonly number[], k: number): Set<number> {
  const order = values.map((v, i) => [Math.abs(v), i]).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  return new Set(order.slice(0, k).map(([, i]) => i));
}

const nonZeros = (t: Tensor) => new Set([...t.dataSync()].flatMap((v, i) => (v !== 0 ? [i] : [])));

describe('PruneLowMagnitude', () => {
  test('through the layer harness (wrapping Dense)', () =>
    runLayerTest({
      make: () => {
        const w = new PruneLowMagnitude({
          layer: layers.dense({ units: 3, activation: 'tanh' }),
          pruningSchedule: new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0 }),
        });
        // Training calls need the callback's step window (the harness calls in training mode too).
        const cb = new UpdatePruningStep();
        cb.setModel(w);
        cb.onTrainBegin();
        cb.onBatchBegin();
        return w;
      },
      inputShape: [2, 5],
      expectedOutputShape: [2, 3],
      expectedWeights: { trainable: 2, nonTrainable: 3 },
    }));

  test('masks give exactly the requested sparsity on odd sizes, keeping the largest magnitudes', () => {
    const dense = layers.dense({ units: 13, inputShape: [7] });
    const conv = layers.conv2d({ filters: 7, kernelSize: 3 });
    const model = new Sequential([input({ shape: [6, 6, 5] }), conv, layers.flatten(), layers.dense({ units: 3 })]);
    const mlp = new Sequential([dense, layers.dense({ units: 5 })]);
    for (const [m, sparsity] of [
      [model, 0.6],
      [mlp, 0.37],
    ] as const) {
      const before = m.layers.map((l) => (l.weights[0] ? [...l.weights[0].value.dataSync()] : []));
      const pruned = pruneLowMagnitude(m, {
        pruningSchedule: new ConstantSparsity({ targetSparsity: sparsity, beginStep: 0 }),
      });
      pruneOnce(pruned);
      const report = compress.pruningReport(pruned);
      const kernels = m.layers.filter((l) => l.weights.length > 0);
      assert.equal(report.weights.length, kernels.length);
      for (const entry of report.weights) {
        const layer = m.getLayer(entry.layer);
        const kernel = layer.weights[0];
        assert.equal(entry.weight, kernel.name);
        const k = compress.keptCount(kernel.value.size, sparsity);
        assert.equal(entry.zeros, kernel.value.size - k, `${entry.weight}: zeros`);
        const ref = referenceKept(before[m.layers.indexOf(layer)], k);
        assert.deepEqual(nonZeros(kernel.value), ref, `${entry.weight}: the kept entries`);
      }
    }
  });

  test('global pruning ranks all kernels together with one threshold', () => {
    const a = layers.dense({ units: 9, inputShape: [11] });
    const b = layers.dense({ units: 4 });
    const model = new Sequential([a, b]);
    // Make the second layer's weights much larger: a global threshold must prune mostly the first layer.
    b.setWeights([rand([9, 4], 3, { dtype: 'float32', lo: 5, hi: 10 }), rand([4], 4, { dtype: 'float32' })]);
    const all = [...a.weights[0].value.dataSync(), ...b.weights[0].value.dataSync()];
    const pruned = pruneLowMagnitude(model, {
      pruningSchedule: new ConstantSparsity({ targetSparsity: 0.7, beginStep: 0 }),
      globalPruning: true,
    });
    pruneOnce(pruned);
    const k = compress.keptCount(all.length, 0.7);
    const kept = new Set([...nonZeros(a.weights[0].value), ...[...nonZeros(b.weights[0].value)].map((i) => i + 99)]);
    assert.deepEqual(kept, referenceKept(all, k));
    assert.equal(compress.pruningReport(pruned).zeros, all.length - k);
    assert.equal(nonZeros(b.weights[0].value).size, 36, 'the large layer is kept whole');
  });

  test('pruned weights stay exactly zero through Adam steps, and the forward pass sees them zero', async () => {
    const dense1 = layers.dense({ units: 6, activation: 'tanh', inputShape: [5] });
    const model = new Sequential([dense1, layers.dense({ units: 2 })]);
    const pruned = pruneLowMagnitude(model, {
      // Masks set once at step 0; Adam then runs 12 steps with momentum built up by every weight.
      pruningSchedule: new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0, frequency: 1000 }),
      layers: [dense1.name],
    });
    pruned.compile({ optimizer: optimizers.adam({ learningRate: 0.05 }), loss: 'meanSquaredError' });
    const x = rand([24, 5], 1, { dtype: 'float32' }),
      y = rand([24, 2], 2, { dtype: 'float32' });
    const initial = [...dense1.weights[0].value.dataSync()];
    const kept = referenceKept(initial, compress.keptCount(30, 0.5));
    // A callback after UpdatePruningStep sees the weights the forward pass of each batch uses.
    let checkedBatches = 0;
    const probe: Callback = {
      onBatchBegin: () => {
        assert.deepEqual(nonZeros(dense1.weights[0].value), kept);
        checkedBatches++;
      },
    };
    await pruned.fit(x, y, {
      epochs: 3,
      batchSize: 6,
      verbose: 0,
      record: false,
      callbacks: [new UpdatePruningStep(), probe],
    });
    assert.equal(checkedBatches, 12);
    const w = dense1.weights[0].value.dataSync();
    for (let i = 0; i < w.length; i++)
      if (!kept.has(i)) assert.ok(Object.is(w[i], 0), `pruned entry ${i} is ${w[i]}, not +0`);
    const changed = [...kept].filter((i) => w[i] !== initial[i]).length;
    assert.equal(changed, kept.size, 'the kept weights train');
    assert.equal((pruned.layers[0] as InstanceType<typeof PruneLowMagnitude>).pruningStep, 12);
    x.dispose();
    y.dispose();
  });

  test('PolynomialDecay raises the sparsity over the steps during fit', async () => {
    const dense = layers.dense({ units: 8, inputShape: [10] });
    const model = new Sequential([dense, layers.dense({ units: 1 })]);
    const schedule = new PolynomialDecay({
      initialSparsity: 0.2,
      finalSparsity: 0.9,
      beginStep: 0,
      endStep: 6,
      frequency: 2,
    });
    const pruned = pruneLowMagnitude(model, { pruningSchedule: schedule, layers: [dense.name] });
    pruned.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const seen: number[] = [];
    const probe: Callback = {
      onBatchBegin: () => {
        seen.push(compress.pruningReport(dense).zeros);
      },
    };
    const x = rand([8, 10], 5, { dtype: 'float32' }),
      y = rand([8, 1], 6, { dtype: 'float32' });
    await pruned.fit(x, y, {
      epochs: 8,
      batchSize: 8,
      verbose: 0,
      record: false,
      callbacks: [new UpdatePruningStep(), probe],
    });
    // Steps 0, 2, 4, 6 update the masks; between them the sparsity holds.
    const zerosAt = (t: number) => 80 - compress.keptCount(80, schedule.sparsity(t));
    assert.deepEqual(seen, [0, 0, 2, 2, 4, 4, 6, 6].map(zerosAt));
    assert.equal(compress.pruningReport(dense).zeros, zerosAt(6));
    x.dispose();
    y.dispose();
  });

  test('stripPruning gives the original layer classes; the model saves and loads as an ordinary one', async () => {
    const inp = input({ shape: [4, 4, 2] });
    const h = layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu' }).apply(inp);
    const out = layers.dense({ units: 2 }).apply(layers.flatten().apply(h));
    const model = new Model({ inputs: inp, outputs: out });
    const pruned = pruneLowMagnitude(model, {
      pruningSchedule: new ConstantSparsity({ targetSparsity: 0.8, beginStep: 0 }),
    });
    assert.deepEqual(
      pruned.layers.map((l) => l.className),
      ['InputLayer', 'PruneLowMagnitude', 'Flatten', 'PruneLowMagnitude'],
    );
    pruned.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    const x = rand([5, 4, 4, 2], 8, { dtype: 'float32' }),
      y = rand([5, 2], 9, { dtype: 'float32' });
    await pruned.fit(x, y, { epochs: 2, verbose: 0, record: false, callbacks: [new UpdatePruningStep()] });
    await withDir(async (dir) => {
      // The model being pruned saves and loads too, resuming at its step.
      await pruned.save(`${dir}/pruning`);
      const resumed = await loadModel(`${dir}/pruning`);
      assert.equal((resumed.layers[1] as InstanceType<typeof PruneLowMagnitude>).pruningStep, 2);
      const stripped = stripPruning(pruned);
      assert.deepEqual(
        stripped.layers.map((l) => l.className),
        ['InputLayer', 'Conv2D', 'Flatten', 'Dense'],
      );
      const report = compress.pruningReport(stripped);
      assert.deepEqual(
        report.weights.map((w) => w.zeros),
        [24 - compress.keptCount(24, 0.8), 54 - compress.keptCount(54, 0.8)],
      );
      await stripped.save(`${dir}/stripped`);
      const loaded = await loadModel(`${dir}/stripped`);
      assert.ok(loaded.flattenLayers().every((l) => !(l instanceof PruneLowMagnitude)));
      assert.deepEqual(compress.pruningReport(loaded), report);
      const a = stripped.predict(x) as Tensor,
        b = loaded.predict(x) as Tensor,
        c = resumed.predict(x) as Tensor;
      assert.deepEqual([...b.dataSync()], [...a.dataSync()]);
      assert.deepEqual([...c.dataSync()], [...a.dataSync()]);
      for (const t of [a, b, c]) t.dispose();
      loaded.dispose();
      resumed.dispose();
    });
    x.dispose();
    y.dispose();
  });

  test('a wrapper built layer by layer, in a Sequential', () => {
    const dense = layers.dense({ units: 4, inputShape: [3] });
    const wrapped = pruneLowMagnitude(dense, {
      pruningSchedule: new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0 }),
    });
    const model = new Sequential([wrapped, layers.dense({ units: 1 })]);
    pruneOnce(model);
    assert.equal(compress.pruningReport(model).weights[0].zeros, 6);
    assert.equal(compress.pruningReport(model).weights[1].zeros, 0, 'the unwrapped layer is not pruned');
    assert.equal(stripPruning(wrapped).className, 'Dense');
    // As run-record layer entries of the stripped model: 12 + 4 parameters, 6 of the kernel's 12 zero.
    const stripped = stripPruning(model);
    assert.deepEqual(compress.describeLayers(stripped, stripped)[0], {
      name: dense.name,
      className: 'Dense',
      parameters: { before: 16, after: 16 },
      sparsity: 0.5,
      weightBits: 32,
      activationBits: 32,
    });
  });
});

describe('pruning errors', () => {
  const schedule = new ConstantSparsity({ targetSparsity: 0.5, beginStep: 0 });

  test('fit without UpdatePruningStep raises rather than silently not pruning', async () => {
    const pruned = pruneLowMagnitude(new Sequential([layers.dense({ units: 2, inputShape: [3] })]), {
      pruningSchedule: schedule,
    });
    pruned.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = rand([4, 3], 1, { dtype: 'float32' }),
      y = rand([4, 2], 2, { dtype: 'float32' });
    await assert.rejects(pruned.fit(x, y, { verbose: 0, record: false }), (e: Error) => {
      assert.ok(e instanceof ArgumentError);
      assert.match(e.message, /PruneLowMagnitude 'prune_low_magnitude_dense.*UpdatePruningStep/);
      return true;
    });
    // Inference needs no callback.
    (pruned.predict(x) as Tensor).dispose();
    x.dispose();
    y.dispose();
  });

  test('a layer without a prunable weight, by name or wrapped directly', () => {
    const drop = layers.dropout({ rate: 0.2 });
    const norm = layers.batchNormalization();
    const model = new Sequential([layers.dense({ units: 3, inputShape: [4] }), drop, norm, layers.dense({ units: 1 })]);
    assert.throws(
      () => pruneLowMagnitude(model, { pruningSchedule: schedule, layers: [drop.name] }),
      (e: Error) => e instanceof ArgumentError && /no weight to prune/.test(e.message) && e.message.includes(drop.name),
    );
    assert.throws(
      () => pruneLowMagnitude(model, { pruningSchedule: schedule, layers: [norm.name] }),
      /no weight to prune/,
    );
    assert.throws(
      () => pruneLowMagnitude(model, { pruningSchedule: schedule, layers: ['nope'] }),
      /no layer named 'nope'/,
    );
    assert.throws(
      () => pruneLowMagnitude(norm, { pruningSchedule: schedule }),
      /BatchNormalization .* no weight to prune/,
    );
    // An unbuilt layer is checked when it is built.
    const lazy = pruneLowMagnitude(layers.batchNormalization(), { pruningSchedule: schedule });
    assert.throws(() => new Sequential([input({ shape: [3] }), lazy]), /no weight to prune/);
    assert.throws(
      () => pruneLowMagnitude(model, { pruningSchedule: schedule, sparsity: 0.5 } as never),
      /unknown option/,
    );
    assert.throws(() => pruneLowMagnitude(model, {} as never), /pruningSchedule is required/);
    const twice = pruneLowMagnitude(model, { pruningSchedule: schedule });
    assert.throws(
      () => pruneLowMagnitude(twice, { pruningSchedule: schedule, layers: [twice.layers[0].name] }),
      /already/,
    );
  });

  test('globally pruned layers must share one schedule', () => {
    const model = new Sequential([
      pruneLowMagnitude(layers.dense({ units: 3, inputShape: [2] }), {
        pruningSchedule: schedule,
        globalPruning: true,
      }),
      pruneLowMagnitude(layers.dense({ units: 1 }), {
        pruningSchedule: new ConstantSparsity({ targetSparsity: 0.2, beginStep: 0 }),
        globalPruning: true,
      }),
    ]);
    assert.throws(() => pruneOnce(model), /share one schedule/);
  });
});
