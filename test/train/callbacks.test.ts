// Training callbacks: EarlyStopping (patience, restoreBestWeights), ModelCheckpoint (saveBestOnly, {epoch} paths),
// LearningRateScheduler, ReduceLROnPlateau, TerminateOnNaN, CSVLogger and custom hook objects, with scripted metric
// sequences where exact behaviour matters.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat } from '../helpers.js';

/** y = 2x - 1 on 16 points, with a 1-unit Dense model and SGD. */
function regression(seed: number, lr = 0.05): { model: c.Sequential; x: c.Tensor; y: c.Tensor } {
  c.setSeed(seed);
  const x = new c.RandomStream(seed).uniform([16, 1], -1, 1);
  const y = c.tidy(() => c.sub(c.mul(x, 2), 1));
  const model = new c.Sequential([new c.Dense({ units: 1, inputShape: [1] })]);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: lr }), loss: 'mse' });
  return { model, x, y };
}

/** A callback that overwrites logs[key] with a scripted value per epoch, so monitors see a known sequence. */
const script = (key: string, values: number[]): c.Callback => ({
  onEpochEnd: (epoch, logs) => void (logs[key] = values[epoch]),
});

/** A callback that records the model's weights at the end of every epoch. */
function weightRecorder(): c.Callback & { byEpoch: number[][][] } {
  let model: c.Model;
  const byEpoch: number[][][] = [];
  return {
    byEpoch,
    setModel: (m) => void (model = m),
    onEpochEnd: () => void byEpoch.push(model.weights.map((v) => flat(v.value))),
  };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'candor-callbacks-'));
const weightsOf = (m: c.Model) => m.weights.map((v) => flat(v.value));

test('EarlyStopping stops after `patience` epochs without improvement and restores the best weights', async () => {
  const { model, x, y } = regression(1);
  const recorder = weightRecorder();
  const early = new c.EarlyStopping({ monitor: 'val_loss', patience: 2, restoreBestWeights: true });
  const live = c.memory().tensors;
  // Best at epoch 1; epochs 2 and 3 do not improve: stop after epoch 3.
  const history = await model.fit(x, y, {
    epochs: 10,
    verbose: 0,
    seed: 1,
    callbacks: [script('val_loss', [1, 0.8, 0.9, 0.85, 0.1, 0.1]), recorder, early],
  });
  assert.deepEqual(history.epoch, [0, 1, 2, 3]);
  assert.deepEqual(history.history.val_loss, [1, 0.8, 0.9, 0.85], 'History records the logs as callbacks left them');
  assert.equal(early.stoppedEpoch, 3);
  assert.deepEqual(weightsOf(model), recorder.byEpoch[1], 'weights of the best epoch (1)');
  assert.notDeepEqual(recorder.byEpoch[3], recorder.byEpoch[1]);
  assert.equal(c.memory().tensors, live, 'the best-weights copies are freed');

  // Without restoreBestWeights the last weights stay; mode 'max' for accuracy-like monitors; minDelta.
  const { model: m2, x: x2, y: y2 } = regression(2);
  const rec2 = weightRecorder();
  const early2 = new c.EarlyStopping({ monitor: 'val_accuracy', patience: 1, minDelta: 0.05 });
  const h2 = await m2.fit(x2, y2, {
    epochs: 10,
    verbose: 0,
    callbacks: [script('val_accuracy', [0.5, 0.6, 0.62, 0.7]), rec2, early2],
  });
  assert.deepEqual(h2.epoch, [0, 1, 2], '0.62 is not 0.05 better than 0.6');
  assert.deepEqual(weightsOf(m2), rec2.byEpoch[2]);
  c.dispose([x, y, x2, y2]);
});

test('EarlyStopping on the real training loss ends training once it stops improving', async () => {
  const { model, x, y } = regression(3, 0.3);
  const noisyY = c.tidy(() => c.add(y, new c.RandomStream(9).normal([16, 1], 0, 0.01)));
  const early = new c.EarlyStopping({ monitor: 'loss', patience: 0, minDelta: 1e-3 });
  const history = await model.fit(x, noisyY, { epochs: 200, batchSize: 16, verbose: 0, seed: 3, callbacks: [early] });
  assert.ok(history.epoch.length < 200, `stopped after ${history.epoch.length} epochs`);
  assert.ok(history.history.loss.at(-1)! < 0.01, 'it had converged');
  c.dispose([x, y, noisyY]);
});

test('ModelCheckpoint: {epoch} path template, saveBestOnly writes only on improvement, the files load', async () => {
  const dir = tempDir();
  try {
    const { model, x, y } = regression(4);
    const recorder = weightRecorder();
    const ckpt = new c.ModelCheckpoint({
      filepath: join(dir, 'ckpt-{epoch:02d}'),
      monitor: 'val_loss',
      saveBestOnly: true,
    });
    await model.fit(x, y, {
      epochs: 5,
      verbose: 0,
      seed: 4,
      callbacks: [script('val_loss', [1, 0.5, 0.7, 0.4, 0.4]), recorder, ckpt],
    });
    assert.deepEqual(readdirSync(dir).sort(), ['ckpt-01', 'ckpt-02', 'ckpt-04']);
    assert.ok(existsSync(join(dir, 'ckpt-04', 'model.json')));
    assert.ok(readdirSync(join(dir, 'ckpt-04')).some((f) => /^weights-[0-9a-f]{16}\.safetensors$/.test(f)));
    const loaded = await c.loadModel(join(dir, 'ckpt-02'));
    assert.deepEqual(
      weightsOf(loaded),
      recorder.byEpoch[1],
      'the checkpoint of epoch 2 holds the weights after epoch 2',
    );

    // Without saveBestOnly every epoch is written; a fixed path is overwritten each time.
    const every = new c.ModelCheckpoint({ filepath: join(dir, 'every-{epoch}') });
    const latest = new c.ModelCheckpoint({ filepath: join(dir, 'latest') });
    await model.fit(x, y, { epochs: 3, verbose: 0, callbacks: [every, latest] });
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.startsWith('every'))
        .sort(),
      ['every-1', 'every-2', 'every-3'],
    );
    const last = await c.loadModel(join(dir, 'latest'));
    assert.deepEqual(weightsOf(last), weightsOf(model));
    c.dispose([x, y]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("LearningRateScheduler sets the optimizer's learning rate at the start of each epoch", async () => {
  const { model, x, y } = regression(5);
  const seen: number[] = [];
  const recorder = weightRecorder();
  const scheduler = new c.LearningRateScheduler((epoch, lr) => (epoch === 0 ? 0.1 : epoch === 2 ? 0 : lr / 2));
  const probe: c.Callback = { onBatchBegin: (batch) => void (batch === 0 && seen.push(model.optimizer!.learningRate)) };
  const history = await model.fit(x, y, {
    epochs: 4,
    batchSize: 8,
    verbose: 0,
    seed: 5,
    callbacks: [scheduler, probe, recorder],
  });
  assert.deepEqual(seen, [0.1, 0.05, 0, 0]);
  assert.deepEqual(history.history.learning_rate, [0.1, 0.05, 0, 0], 'logged as learning_rate');
  assert.deepEqual(recorder.byEpoch[2], recorder.byEpoch[1], 'a zero learning rate leaves the weights as they were');
  await assert.rejects(
    model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new c.LearningRateScheduler(() => NaN)] }),
    /schedule returned NaN for epoch 0/,
  );
  c.dispose([x, y]);
});

test('ReduceLROnPlateau reduces the rate after `patience` epochs without improvement, down to minLr', async () => {
  const { model, x, y } = regression(6, 0.1);
  const reduce = new c.ReduceLROnPlateau({ monitor: 'val_loss', factor: 0.5, patience: 2, minLr: 0.02 });
  const history = await model.fit(x, y, {
    epochs: 8,
    verbose: 0,
    callbacks: [script('val_loss', [1, 1, 1, 0.5, 1, 1, 1, 1]), reduce],
  });
  // Epoch 2 is the 2nd without improvement: reduced at its end. Epoch 3 improves; 4, 5 do not: reduced again;
  // then floored at minLr.
  assert.deepEqual(history.history.learning_rate, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025]);
  assert.equal(model.optimizer!.learningRate, 0.02);
  c.dispose([x, y]);
});

/** Runs fn with console.error captured. */
async function captureStderr<T>(fn: () => Promise<T>): Promise<{ result: T; text: string }> {
  const original = console.error;
  let text = '';
  console.error = (...a: unknown[]) => void (text += a.join(' ') + '\n');
  try {
    return { result: await fn(), text };
  } finally {
    console.error = original;
  }
}

test('TerminateOnNaN stops training with a clear message when the loss diverges or the input holds NaN', async () => {
  // A huge learning rate: the loss overflows to Infinity / NaN within a few steps.
  const { model, x, y } = regression(7, 1e6);
  const nan = new c.TerminateOnNaN();
  let batches = 0;
  const { result: history, text } = await captureStderr(() =>
    model.fit(x, y, { epochs: 50, batchSize: 4, verbose: 0, callbacks: [nan, { onBatchEnd: () => void batches++ }] }),
  );
  assert.ok(history.epoch.length < 50 && batches < 200, `stopped after ${batches} batches`);
  assert.ok(!Number.isFinite(history.history.loss.at(-1)!));
  assert.match(
    nan.message!,
    /^TerminateOnNaN: loss became (NaN|Infinity) at epoch \d+, batch \d+; training stopped\. Lower the learning rate/,
  );
  assert.match(text, /TerminateOnNaN: loss became/);

  // NaN in the input: stops after the first batch, in the first epoch.
  const { model: m2, y: y2 } = regression(8);
  const bad = c.tensor(Array.from({ length: 16 }, (_, i) => [i === 0 ? NaN : i / 16]));
  const nan2 = new c.TerminateOnNaN();
  let batches2 = 0;
  const r2 = await captureStderr(() =>
    m2.fit(bad, y2, { epochs: 3, batchSize: 16, verbose: 0, callbacks: [nan2, { onBatchEnd: () => void batches2++ }] }),
  );
  assert.equal(batches2, 1);
  assert.deepEqual(r2.result.epoch, [0]);
  assert.match(nan2.message!, /loss became NaN at epoch 1, batch 1/);

  // { raise: true }: fit rejects with a typed NaNLossError (after every onTrainEnd ran).
  const { model: m3, y: y3 } = regression(9);
  let ended = false;
  await captureStderr(() =>
    assert.rejects(
      m3.fit(bad, y3, {
        epochs: 3,
        batchSize: 8,
        shuffle: false,
        verbose: 0,
        callbacks: [new c.TerminateOnNaN({ raise: true }), { onTrainEnd: () => void (ended = true) }],
      }),
      (e: Error) => e instanceof c.NaNLossError && /loss became NaN at epoch 1, batch 1/.test(e.message),
    ),
  );
  assert.ok(ended);
  c.dispose([x, y, y2, bad, y3]);
});

test('CSVLogger writes a header and one row per epoch; append adds rows under the same header', async () => {
  const dir = tempDir();
  try {
    const file = join(dir, 'log.csv');
    const { model, x, y } = regression(10);
    model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'mse', metrics: ['mae'] });
    const history = await model.fit(x, y, {
      epochs: 3,
      verbose: 0,
      validationData: [x, y],
      callbacks: [new c.CSVLogger(file)],
    });
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], 'epoch,loss,mae,val_loss,val_mae');
    assert.equal(lines.length, 4);
    lines.slice(1).forEach((line, i) => {
      const cells = line.split(',').map(Number);
      assert.equal(cells[0], i);
      assert.equal(cells[1], history.history.loss[i]);
      assert.equal(cells[4], history.history.val_mae[i]);
    });
    await model.fit(x, y, {
      epochs: 2,
      verbose: 0,
      validationData: [x, y],
      callbacks: [new c.CSVLogger(file, { append: true })],
    });
    const appended = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(appended.length, 6);
    assert.equal(appended.filter((l) => l.startsWith('epoch')).length, 1);
    // Without append the file starts over; another separator.
    await model.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new c.CSVLogger(file, { separator: ';' })] });
    assert.deepEqual(readFileSync(file, 'utf8').trimEnd().split('\n')[0], 'epoch;loss;mae');
    c.dispose([x, y]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a custom callback object receives every hook, in order, with logs; async hooks are awaited', async () => {
  const { model, x, y } = regression(11);
  const events: string[] = [];
  let given: c.Model | undefined;
  const cb: c.Callback = {
    setModel: (m) => void (given = m),
    onTrainBegin: () => void events.push('trainBegin'),
    onEpochBegin: (e) => void events.push(`epochBegin ${e}`),
    onBatchBegin: (b) => void events.push(`batchBegin ${b}`),
    onBatchEnd: (b, logs) => void events.push(`batchEnd ${b} ${typeof logs.loss}`),
    onEpochEnd: async (e, logs) => {
      await new Promise((r) => setTimeout(r, 5));
      events.push(`epochEnd ${e} ${Object.keys(logs).sort().join(',')}`);
    },
    onTrainEnd: () => void events.push('trainEnd'),
  };
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, validationSplit: 0.5, callbacks: [cb] });
  assert.equal(given, model);
  assert.deepEqual(events, [
    'trainBegin',
    'epochBegin 0',
    'batchBegin 0',
    'batchEnd 0 number',
    'epochEnd 0 loss,val_loss',
    'epochBegin 1',
    'batchBegin 0',
    'batchEnd 0 number',
    'epochEnd 1 loss,val_loss',
    'trainEnd',
  ]);
  // A callback may stop training by setting model.stopTraining.
  const stopper: c.Callback = { onBatchEnd: (b) => void (b === 1 && (model.stopTraining = true)) };
  let batches = 0;
  const history = await model.fit(x, y, {
    epochs: 5,
    batchSize: 4,
    verbose: 0,
    callbacks: [stopper, { onBatchEnd: () => void batches++ }],
  });
  assert.equal(batches, 2);
  assert.deepEqual(history.epoch, [0]);
  c.dispose([x, y]);
});

test('hooks run in order; a promise a hook returns is awaited before the next hook and the next step', async () => {
  const { model, x, y } = regression(3);
  const events: string[] = [];
  const pause = () => new Promise<void>((resolve) => setTimeout(resolve, 2));
  const slow: c.Callback = {
    onEpochBegin: async (epoch) => {
      await pause();
      events.push(`slow epochBegin ${epoch}`);
    },
    onBatchBegin: (batch) => void events.push(`slow batchBegin ${batch}`),
    onBatchEnd: async (batch) => {
      await pause();
      events.push(`slow batchEnd ${batch}`);
    },
  };
  const quick: c.Callback = {
    onEpochBegin: (epoch) => void events.push(`quick epochBegin ${epoch}`),
    onBatchEnd: (batch, logs) => void events.push(`quick batchEnd ${batch} ${Number.isFinite(logs.loss)}`),
    onEpochEnd: (epoch) => void events.push(`quick epochEnd ${epoch}`),
  };
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, record: false, callbacks: [slow, quick] });
  const epoch = (e: number) => [
    `slow epochBegin ${e}`,
    `quick epochBegin ${e}`,
    ...[0, 1].flatMap((b) => [`slow batchBegin ${b}`, `slow batchEnd ${b}`, `quick batchEnd ${b} true`]),
    `quick epochEnd ${e}`,
  ];
  assert.deepEqual(events, [...epoch(0), ...epoch(1)]);
});
