// The TensorBoard callback during real fits: Keras' directories, tags and steps, values equal to fit's
// history, weight histograms of the final weights, Candor's per-epoch figures adding up to the run record's,
// and Keras options Candor cannot honour refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { readEvents, type TensorBoardEvent } from '../../src/interop/index.js';
import { histogramOf } from '../../src/interop/tensorboard/histogram.js';
import { blobs, tempDir } from '../ledger/fixtures.js';

/** The one event file in dir, its events after the file_version one as tag@step -> summary value. */
function eventsIn(dir: string): { first: TensorBoardEvent; byTag: Map<string, Map<number, c.interop.SummaryValue>> } {
  const files = readdirSync(dir);
  assert.equal(files.length, 1, `one event file in ${dir}`);
  assert.match(files[0], /^events\.out\.tfevents\.\d+\./);
  const [first, ...rest] = readEvents(join(dir, files[0]));
  const byTag = new Map<string, Map<number, c.interop.SummaryValue>>();
  for (const e of rest)
    for (const v of e.summary!.value!) {
      const steps = byTag.get(v.tag!) ?? new Map();
      assert.ok(!steps.has(e.step ?? 0), `${v.tag} written twice at step ${e.step}`);
      byTag.set(v.tag!, steps.set(e.step ?? 0, v));
    }
  return { first, byTag };
}

function model(): c.Sequential {
  const m = new c.Sequential([
    c.layers.dense({ units: 6, activation: 'relu', inputShape: [4], name: 'hidden' }),
    c.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
  ]);
  m.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
  });
  return m;
}

test('a fit writes train/ and validation/ event files with Keras tags and steps and Candor figures', async () => {
  const { dir, done } = tempDir('candor-tb-fit-');
  try {
    const { x, y } = blobs(30);
    const m = model();
    const tb = new c.TensorBoard({ logDir: dir, histogramFreq: 2, updateFreq: 2, wallTime: () => 1700000000.5 });
    // 30 samples, validationSplit 0.2: 24 trained on in batches of 8, so 3 batches per epoch, 9 in all.
    const history = await m.fit(x, y, {
      epochs: 3,
      batchSize: 8,
      validationSplit: 0.2,
      seed: 3,
      verbose: 0,
      callbacks: [tb],
    });
    const train = eventsIn(join(dir, 'train'));
    const validation = eventsIn(join(dir, 'validation'));
    assert.deepEqual(train.first, { wallTime: 1700000000.5, fileVersion: 'brain.Event:2' });
    assert.equal(validation.first.fileVersion, 'brain.Event:2');

    const epochTags = ['epoch_loss', 'epoch_accuracy', 'epoch_learning_rate', 'candor/flops', 'candor/joules'];
    const weights = ['hidden/kernel', 'hidden/bias', 'out/kernel', 'out/bias'].map((w) => `${w}/histogram`);
    assert.deepEqual(
      [...train.byTag.keys()].sort(),
      ['batch_accuracy', 'batch_loss', ...epochTags, 'candor/co2e_grams', ...weights].sort(),
    );
    assert.deepEqual([...validation.byTag.keys()].sort(), ['epoch_accuracy', 'epoch_loss']);
    const steps = (tags: Map<string, Map<number, unknown>>, tag: string) => [...tags.get(tag)!.keys()];
    for (const tag of [...epochTags, 'candor/co2e_grams']) assert.deepEqual(steps(train.byTag, tag), [0, 1, 2], tag);
    for (const tag of weights) assert.deepEqual(steps(train.byTag, tag), [0, 2], tag);
    assert.deepEqual(steps(train.byTag, 'batch_loss'), [2, 4, 6, 8]);

    const value = (tags: Map<string, Map<number, c.interop.SummaryValue>>, tag: string, step: number) =>
      tags.get(tag)!.get(step)!.simpleValue;
    for (let e = 0; e < 3; e++) {
      assert.equal(value(train.byTag, 'epoch_loss', e), Math.fround(history.history.loss[e]));
      assert.equal(value(train.byTag, 'epoch_accuracy', e), Math.fround(history.history.accuracy[e]));
      assert.equal(value(validation.byTag, 'epoch_loss', e), Math.fround(history.history.val_loss[e]));
      assert.equal(value(train.byTag, 'epoch_learning_rate', e), Math.fround(0.01));
    }
    // The last epoch's histograms are of the weights fit leaves.
    for (const v of m.weights)
      assert.deepEqual(train.byTag.get(`${v.name}/histogram`)!.get(2)!.histo, histogramOf(v.value.dataSync()));

    // Candor's figures: each epoch's FLOPs (the same work each epoch), summing to the run record's total.
    const record = m.runRecorder!.record;
    const flops = [0, 1, 2].map((e) => value(train.byTag, 'candor/flops', e)!);
    assert.ok(flops[0] > 0);
    assert.deepEqual(flops, [flops[0], flops[0], flops[0]]);
    assert.equal(flops[0], Math.fround(record.compute.total.flops / 3));
    for (const tag of ['candor/flops', 'candor/joules', 'candor/co2e_grams']) {
      assert.match(train.byTag.get(tag)!.get(0)!.metadata!.summaryDescription!, /epoch/, `${tag} is described`);
      assert.equal(train.byTag.get(tag)!.get(1)!.metadata, undefined, 'once, on the first value');
    }
    const grid = record.emissions!.grid.gPerKWh;
    for (let e = 0; e < 3; e++) {
      const joules = value(train.byTag, 'candor/joules', e)!;
      assert.ok(joules > 0);
      const grams = value(train.byTag, 'candor/co2e_grams', e)!;
      assert.ok(Math.abs(grams - (joules / 3.6e6) * grid) <= 1e-6 * grams, 'CO2e = energy x grid intensity');
    }
  } finally {
    done();
  }
});

test("updateFreq 'epoch', no validation, record: false: epoch scalars, no validation/, no candor/", async () => {
  const { dir, done } = tempDir('candor-tb-fit-');
  try {
    const { x, y } = blobs(16);
    await model().fit(x, y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      record: false,
      callbacks: [new c.TensorBoard(dir)],
    });
    assert.ok(!existsSync(join(dir, 'validation')));
    const { byTag } = eventsIn(join(dir, 'train'));
    assert.deepEqual([...byTag.keys()].sort(), ['epoch_accuracy', 'epoch_learning_rate', 'epoch_loss']);
  } finally {
    done();
  }
});

test('Keras options Candor cannot honour are refused by name; bad values are ArgumentErrors', () => {
  const refused: [c.TensorBoardArgs, RegExp][] = [
    [{ writeGraph: true }, /writeGraph: true is not supported/],
    [{ writeImages: true }, /writeImages: true is not supported/],
    [{ profileBatch: 5 }, /profileBatch: 5 is not supported/],
    [{ embeddingsFreq: 1 }, /embeddingsFreq: 1 is not supported/],
    [{ updateFreq: 0 }, /updateFreq must be 'epoch', 'batch' or a positive integer/],
    [{ updateFreq: 'step' as 'batch' }, /updateFreq must be/],
    [{ histogramFreq: -1 }, /histogramFreq must be a non-negative integer/],
    [{ logDir: '' }, /logDir must be a non-empty string/],
    [{ log_dir: 'x' } as never, /unknown option 'log_dir'; did you mean 'logDir'\?/],
  ];
  for (const [args, message] of refused)
    assert.throws(() => new c.TensorBoard(args), { name: 'ArgumentError', message });
  const ok = new c.TensorBoard({ writeGraph: false, profileBatch: 0, embeddingsFreq: 0, updateFreq: 'batch' });
  assert.equal(ok.updateFreq, 1);
  assert.equal(ok.logDir, 'logs');
});
