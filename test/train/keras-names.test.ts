// Keras names: metrics logged under snake_case keys ('binary_accuracy', 'val_binary_accuracy'), read
// under camelCase too (monitors, History, evaluate); option keys no entry point takes ('batch_size',
// 'optimiser', 'unit') are ArgumentErrors naming the right key; ModelCheckpoint({ saveWeightsOnly }).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat, rejects } from '../helpers.js';

/** A logistic classifier on 24 points of 2 features (label: x0 + x1 > 0). */
function classifier(seed = 1) {
  c.setSeed(seed);
  const x = new c.RandomStream(seed).normal([24, 2]);
  const y = c.tidy(() => c.cast(c.greater(c.sum(x, [1], true), 0), 'float32'));
  const model = new c.Sequential([new c.Dense({ units: 1, activation: 'sigmoid', inputShape: [2] })]);
  model.compile({
    optimizer: c.optimizers.sgd({ learningRate: 0.1 }),
    loss: 'binaryCrossentropy',
    metrics: ['binaryAccuracy', 'meanSquaredError'],
  });
  return { model, x, y };
}

/** Runs fn with console.warn captured. */
async function warnings(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const warn = console.warn;
  console.warn = (...a: unknown[]) => void seen.push(a.join(' '));
  try {
    await fn();
  } finally {
    console.warn = warn;
  }
  return seen;
}

test('metrics are logged under Keras snake_case names and read under camelCase ones too', async () => {
  const { model, x, y } = classifier();
  const history = await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, validationData: [x, y] });
  assert.deepEqual(Object.keys(history.history).sort(), [
    'binary_accuracy',
    'loss',
    'mean_squared_error',
    'val_binary_accuracy',
    'val_loss',
    'val_mean_squared_error',
  ]);
  assert.equal(history.history.binaryAccuracy, history.history.binary_accuracy, 'the old camelCase key still reads');
  assert.equal(history.history.valBinaryAccuracy, history.history.val_binary_accuracy);
  assert.ok('binaryAccuracy' in history.history);
  assert.equal(
    JSON.stringify(Object.keys(JSON.parse(JSON.stringify(history.history)))).includes('binaryAccuracy'),
    false,
  );

  // The logged value is the metric: the fraction of (p > 0.5) equal to the label, from predict.
  const logs = await model.evaluate(x, y);
  const p = model.predict(x) as c.Tensor;
  const labels = flat(y);
  const right = flat(p).filter((v, i) => (v > 0.5 ? 1 : 0) === labels[i]).length;
  assert.equal(logs.binary_accuracy, right / labels.length);
  assert.equal((logs as Record<string, number>).binaryAccuracy, logs.binary_accuracy);
  assert.equal(history.history.val_binary_accuracy.at(-1), logs.binary_accuracy);

  // A metric asked for by its Keras name, and one of several outputs, keep Keras' keys.
  model.compile({ optimizer: 'sgd', loss: 'binary_crossentropy', metrics: ['binary_accuracy', 'acc', 'mse'] });
  assert.deepEqual(Object.keys(await model.evaluate(x, y)).sort(), ['acc', 'binary_accuracy', 'loss', 'mse']);
  c.dispose([x, y, p]);
});

test("monitor 'val_binary_accuracy' (camelCase too) works in EarlyStopping, ReduceLROnPlateau, saving", async () => {
  const { model, x, y } = classifier();
  const dir = mkdtempSync(join(tmpdir(), 'candor-names-'));
  try {
    // The real metric: no "not available" warning for either spelling.
    for (const monitor of ['val_binary_accuracy', 'valBinaryAccuracy']) {
      const seen = await warnings(() =>
        model.fit(x, y, {
          epochs: 2,
          verbose: 0,
          validationData: [x, y],
          callbacks: [new c.EarlyStopping({ monitor, patience: 5 })],
        }),
      );
      assert.deepEqual(seen, [], monitor);
    }
    // Scripted values, so that what each callback does is known: best at epoch 1, then worse.
    const values = [0.5, 0.9, 0.6, 0.6, 0.6, 0.6];
    const script: c.Callback = { onEpochEnd: (epoch, logs) => void (logs.val_binary_accuracy = values[epoch]) };
    const early = new c.EarlyStopping({ monitor: 'valBinaryAccuracy', patience: 2 });
    const plateau = new c.ReduceLROnPlateau({ monitor: 'val_binaryAccuracy', patience: 1, factor: 0.5 });
    const saved: number[] = [];
    const checkpoint = new c.ModelCheckpoint({
      filepath: join(dir, 'e{epoch}'),
      monitor: 'val_binary_accuracy',
      saveBestOnly: true,
      save: async (_m, path) => void saved.push(Number(path.slice(-1))),
    });
    const history = await model.fit(x, y, {
      epochs: 6,
      verbose: 0,
      validationData: [x, y],
      callbacks: [script, early, plateau, checkpoint],
    });
    assert.deepEqual(
      history.epoch,
      [0, 1, 2, 3],
      'maximised (an accuracy), stopped after 2 epochs without improvement',
    );
    // Reduced after epochs 2 and 3; as in Keras, an epoch logs the rate it trained with.
    assert.deepEqual(history.history.learning_rate, [0.1, 0.1, 0.1, 0.05]);
    assert.deepEqual(saved, [1, 2], 'saved at epochs 1 and 2 (the improvements)');
  } finally {
    rmSync(dir, { recursive: true, force: true });
    c.dispose([x, y]);
  }
});

test('unknown and snake_case option keys are ArgumentErrors naming the right key', async () => {
  const { model, x, y } = classifier();
  const cases: [() => unknown, RegExp][] = [
    [
      () => model.fit(x, y, { batch_size: 8 } as never),
      /^fit: unknown option 'batch_size'; did you mean 'batchSize'\? \(options are camelCase\)/,
    ],
    [() => model.fit(x, y, { epoch: 2 } as never), /^fit: unknown option 'epoch'; did you mean 'epochs'\?/],
    [() => model.fit(x, y, { validation_split: 0.2 } as never), /did you mean 'validationSplit'\?/],
    [
      () => model.evaluate(x, y, { batch_size: 8 } as never),
      /^evaluate: unknown option 'batch_size'; did you mean 'batchSize'\?/,
    ],
    [() => model.predict(x, { steps: 2 } as never), /^predict: unknown option 'steps'; known: batchSize, verbose$/],
    [
      () => model.compile({ optimiser: 'adam', loss: 'mse' } as never),
      /^compile: unknown option 'optimiser'; did you mean 'optimizer'\?/,
    ],
    [
      () => model.compile({ optimizer: 'adam', loss: 'mse', loss_weights: [1] } as never),
      /did you mean 'lossWeights'\?/,
    ],
    [
      () => new c.EarlyStopping({ patiance: 3 } as never),
      /^EarlyStopping: unknown option 'patiance'; did you mean 'patience'\?/,
    ],
    [
      () => new c.ModelCheckpoint({ filepath: 'm', save_best_only: true } as never),
      /^ModelCheckpoint: unknown option 'save_best_only'; did you mean 'saveBestOnly'\?/,
    ],
    [
      () => new c.ReduceLROnPlateau({ min_lr: 0.001 } as never),
      /^ReduceLROnPlateau: unknown option 'min_lr'; did you mean 'minLr'\?/,
    ],
    [() => new c.TerminateOnNaN({ raise_error: true } as never), /^TerminateOnNaN: unknown option 'raise_error'/],
    [
      () => c.layers.dense({ unit: 10 } as never),
      /^layers\.dense: unknown option 'unit'; did you mean 'units'\? \(Dense '.*': units must be/,
    ],
    [
      () => c.layers.dense({ units: 2, kernel_initializer: 'zeros' } as never),
      /^layers\.dense: unknown option 'kernel_initializer'; did you mean 'kernelInitializer'\?/,
    ],
    [
      () => c.layers.dense({ units: 2, activaton: 'relu' } as never),
      /^layers\.dense: unknown option 'activaton'; did you mean 'activation'\?/,
    ],
    [() => c.layers.dropout({ rate: 0.5, noise_shape: [1] } as never), /did you mean 'noiseShape'\?/],
    [
      () => c.layers.lstm({ units: 2, return_sequences: true } as never),
      /^layers\.lstm: .*did you mean 'returnSequences'\?/,
    ],
    [() => c.optimizers.adam({ learning_rate: 0.1 } as never), /did you mean 'learningRate'\?/],
  ];
  // Options of the wrong kind were TypeErrors deep inside fit or compile.
  cases.push(
    [
      () => model.fit(x, y, { callbacks: new c.EarlyStopping() } as never),
      /^fit: callbacks must be a list of callbacks/,
    ],
    [() => model.fit(x, y, { callbacks: [5] } as never), /^fit: callbacks\[0\] is 5; expected a callback object$/],
    [() => model.fit(x, y, { shuffle: 'batch' } as never), /^fit: shuffle must be true or false, got 'batch'$/],
    [() => model.fit(x, y, { classWeight: 3 } as never), /^fit: classWeight must be an object from class index/],
  );
  for (const [fn, message] of cases) await rejects(fn, c.ArgumentError, message);
  // Every layer the factory makes accepts its own config's keys (no false alarm), e.g. a full LSTM.
  const lstm = c.layers.lstm({
    units: 2,
    returnSequences: true,
    dropout: 0.1,
    seed: 3,
    inputShape: [4, 3],
    name: 'rnn',
  });
  assert.equal(lstm.name, 'rnn');
  c.dispose([x, y]);
});

test('ModelCheckpoint({ saveWeightsOnly }) writes weights that model.loadWeights restores', async () => {
  const { model, x, y } = classifier();
  const dir = mkdtempSync(join(tmpdir(), 'candor-names-'));
  try {
    const byEpoch: number[][][] = [];
    const record: c.Callback = { onEpochEnd: () => void byEpoch.push(model.weights.map((v) => flat(v.value))) };
    await model.fit(x, y, {
      epochs: 3,
      verbose: 0,
      callbacks: [
        record,
        new c.ModelCheckpoint({
          filepath: join(dir, 'w-{epoch:02d}.safetensors'),
          monitor: 'loss',
          saveWeightsOnly: true,
        }),
      ],
    });
    assert.deepEqual(readdirSync(dir).sort(), ['w-01.safetensors', 'w-02.safetensors', 'w-03.safetensors']);
    assert.equal(existsSync(join(dir, 'model.json')), false, 'weights only, no architecture');
    // A model rebuilt by the same code (other default layer names) takes the weights of epoch 2.
    const fresh = classifier(9).model;
    await fresh.loadWeights(join(dir, 'w-02.safetensors'));
    assert.deepEqual(
      fresh.weights.map((v) => flat(v.value)),
      byEpoch[1],
    );
    // Another architecture, or a file that is not a weights file, is a typed error.
    const wide = new c.Sequential([new c.Dense({ units: 3, inputShape: [2] })]);
    await rejects(
      () => wide.loadWeights(join(dir, 'w-02.safetensors')),
      c.FormatError,
      /^loadWeights: weight 0 \(.*\) has shape \[2, 1\], but .* has \[2, 3\]$/,
    );
    await model.save(join(dir, 'model'));
    const modelFile = readdirSync(join(dir, 'model')).find((f) => f.startsWith('weights-'))!;
    await rejects(
      () => fresh.loadWeights(join(dir, 'model', modelFile)),
      c.FormatError,
      /is not a weights file written by saveWeights/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
    c.dispose([x, y]);
  }
});
