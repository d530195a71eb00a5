// BackupAndRestore: a fit interrupted by an error and restarted on a fresh model with the same callback ends with
// exactly the weights of an uninterrupted fit (per epoch and per batch backups; Adam's state, batch-norm moving
// statistics, dropout's step seeds and fit's drawn seed all restored); the backup is removed at the end, kept
// with deleteCheckpoint: false; another model's backup, a corrupt one and a different seed are typed errors; a
// writer's temp file left by a crash mid-write is ignored and removed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { tempName } from '../../src/io/atomic.js';
import { flat } from '../helpers.js';

const SAMPLES = 20,
  BATCH = 4; // 5 batches an epoch

/** A model with every kind of state a backup must carry: Adam moments, moving statistics, dropout. */
function makeModel(units = 6): c.Sequential {
  const model = new c.Sequential([
    new c.Dense({ units, activation: 'relu', inputShape: [3] }),
    new c.BatchNormalization(),
    new c.Dropout({ rate: 0.25 }),
    new c.Dense({ units: 1 }),
  ]);
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.01 }), loss: 'mse' });
  return model;
}

const data = () => {
  const x = new c.RandomStream(3).uniform([SAMPLES, 3], -1, 1);
  const y = c.tidy(() => c.sum(c.mul(x, c.tensor([1, -2, 0.5])), -1, true));
  return { x, y };
};

/** Throws at batch `batch` of epoch `epoch`, as a crash would (the process goes on, the fit does not). */
function crashAt(epoch: number, batch: number): c.Callback {
  let current = -1;
  return {
    onEpochBegin: (e) => void (current = e),
    onBatchBegin: (b) => {
      if (current === epoch && b === batch) throw new Error('simulated crash');
    },
  };
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'candor-backup-'));
const weightsOf = (m: c.Model) => m.weights.map((v) => flat(v.value));

/** The weights after `epochs` epochs without interruption, with the global stream at `globalSeed`. */
async function uninterrupted(epochs: number, globalSeed: number): Promise<number[][]> {
  const { x, y } = data();
  c.setSeed(globalSeed);
  const model = makeModel();
  await model.fit(x, y, { epochs, batchSize: BATCH, verbose: 0 });
  return weightsOf(model);
}

for (const saveFreq of ['epoch', 3] as const)
  test(`BackupAndRestore (saveFreq ${saveFreq}): a fit resumed after a crash ends as one never stopped`, async () => {
    const dir = join(tempDir(), 'backup');
    const expected = await uninterrupted(4, 7);
    const { x, y } = data();
    const backup = new c.BackupAndRestore({ backupDir: dir, saveFreq });
    c.setSeed(7); // the same initial weights and drawn fit seed as the uninterrupted run
    const first = makeModel();
    await assert.rejects(
      first.fit(x, y, { epochs: 4, batchSize: BATCH, verbose: 0, callbacks: [backup, crashAt(2, 4)] }),
      /simulated crash/,
    );
    assert.ok(existsSync(join(dir, 'backup.safetensors')), 'the last backup is on disk');
    assert.notDeepEqual(weightsOf(first), expected);
    // A fresh process builds the model by the same code (so its dropout has the same seed), then draws fit's
    // seed; the global stream is moved on here so that it draws another, which the backup's must override.
    c.setSeed(7);
    const fresh = makeModel();
    fresh.setWeights(fresh.weights.map((v) => c.zeros(v.shape))); // and the backup's weights these
    c.setSeed(12345);
    const live = c.memory().tensors;
    const history = await fresh.fit(x, y, { epochs: 4, batchSize: BATCH, verbose: 0, callbacks: [backup] });
    // Per epoch: epochs 0 and 1 were backed up, so 2 and 3 run again. Every 3 batches: the last backup was
    // after batch 12 of 20 (epoch 2, its first 2 batches), so epoch 2 goes on from its third batch.
    assert.deepEqual(history.epoch, [2, 3]);
    assert.deepEqual(weightsOf(fresh), expected, 'bit-identical to the uninterrupted run');
    assert.equal(fresh.optimizer!.iterations, 4 * (SAMPLES / BATCH));
    assert.ok(!existsSync(dir), 'deleteCheckpoint (default): the backup and its emptied folder are removed');
    // What the fit keeps: Adam's two moments per trainable weight, as an uninterrupted fit's optimizer does.
    assert.equal(c.memory().tensors, live + 2 * fresh.trainableWeights.length, 'nothing the restore read is left');
    rmSync(join(dir, '..'), { recursive: true, force: true });
  });

test('BackupAndRestore: deleteCheckpoint false keeps the backup; a finished fit then trains no more', async () => {
  const root = tempDir();
  const { x, y } = data();
  const backup = new c.BackupAndRestore({ backupDir: root, deleteCheckpoint: false });
  const model = makeModel();
  await model.fit(x, y, { epochs: 2, batchSize: BATCH, verbose: 0, seed: 5, callbacks: [backup] });
  assert.deepEqual(readdirSync(root), ['backup.safetensors']);
  const after = weightsOf(model);
  // As Keras: the backup says 2 epochs are done, so fit({ epochs: 2 }) again resumes past its end.
  const again = await model.fit(x, y, { epochs: 2, batchSize: BATCH, verbose: 0, seed: 5, callbacks: [backup] });
  assert.deepEqual(again.epoch, []);
  assert.deepEqual(weightsOf(model), after);
  // Another seed than the backed-up fit's is not the same fit.
  await assert.rejects(
    model.fit(x, y, { epochs: 3, batchSize: BATCH, verbose: 0, seed: 6, callbacks: [backup] }),
    (e) => e instanceof c.ArgumentError && /seed 6 differs from the seed 5/.test(e.message),
  );
  rmSync(root, { recursive: true, force: true });
});

test('BackupAndRestore: another model, optimizer or layer seed, or a corrupt backup, is a typed error', async () => {
  const root = tempDir();
  const { x, y } = data();
  const backup = new c.BackupAndRestore({ backupDir: root, deleteCheckpoint: false });
  /** Built as the backed-up model was (the same global stream, so the same dropout seed). */
  const rebuilt = (units?: number) => (c.setSeed(1), makeModel(units));
  await rebuilt().fit(x, y, { epochs: 1, batchSize: BATCH, verbose: 0, seed: 1, callbacks: [backup] });
  const fit = (m: c.Model) => m.fit(x, y, { epochs: 2, batchSize: BATCH, verbose: 0, callbacks: [backup] });
  await assert.rejects(
    fit(rebuilt(5)),
    (e) => e instanceof c.ShapeError && /made by another model: weight 0 .* has shape \[3, 6\] there/.test(e.message),
  );
  const sgd = rebuilt();
  sgd.compile({ optimizer: c.optimizers.sgd({ momentum: 0.9 }), loss: 'mse' });
  await assert.rejects(fit(sgd), (e) => e instanceof c.ArgumentError && /optimizer state/.test(e.message));
  c.setSeed(2);
  await assert.rejects(
    fit(makeModel()),
    (e) =>
      e instanceof c.ArgumentError && /layer 'dropout_\d+' of model .* has seed \d+, but the backed-up/.test(e.message),
  );
  writeFileSync(join(root, 'backup.safetensors'), 'not a backup');
  await assert.rejects(fit(rebuilt()), (e) => e instanceof c.FormatError && /backup\.safetensors/.test(e.message));
  rmSync(root, { recursive: true, force: true });
});

test('BackupAndRestore: a temp file left by a writer killed mid-write is ignored and removed', async () => {
  const root = tempDir();
  const { x, y } = data();
  const backup = new c.BackupAndRestore({ backupDir: root });
  c.setSeed(0);
  const model = makeModel();
  const args = { epochs: 3, batchSize: BATCH, verbose: 0, seed: 2 } as const;
  await assert.rejects(model.fit(x, y, { ...args, callbacks: [backup, crashAt(1, 2)] }), /simulated crash/);
  // What writeFileAtomic leaves when its process dies before the rename: a partial file under a temp name
  // with the dead writer's pid. The last good backup (epoch 0's) must be what loads.
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const partial = tempName('backup.safetensors', dead);
  writeFileSync(join(root, partial), new Uint8Array(100).fill(7));
  c.setSeed(0);
  const resumed = makeModel();
  const check = () => assert.ok(!existsSync(join(root, partial)), 'the temp file is removed before the restore');
  const history = await resumed.fit(x, y, { ...args, callbacks: [backup, { onTrainBegin: check }] });
  assert.deepEqual(history.epoch, [1, 2]);
  c.setSeed(0);
  const plain = makeModel();
  await plain.fit(x, y, args);
  assert.deepEqual(weightsOf(resumed), weightsOf(plain));
  rmSync(root, { recursive: true, force: true });
});

test('BackupAndRestore: a parameter-server fit is refused rather than backed up wrongly', async () => {
  const root = tempDir();
  const backup = new c.BackupAndRestore({ backupDir: root });
  backup.setModel(makeModel());
  backup.setParams({ epochs: 1, batchSize: 1, strategy: { name: 'parameter-server' } as c.FitParams['strategy'] });
  await assert.rejects(Promise.resolve(backup.onTrainBegin()), /does not back up a parameter-server fit yet/);
  rmSync(root, { recursive: true, force: true });
});

test('BackupAndRestore: checked options', () => {
  assert.throws(() => new c.BackupAndRestore({ backupDir: '' }), c.ArgumentError);
  assert.throws(() => new c.BackupAndRestore({ backupDir: 'b', saveFreq: 0 }), /saveFreq must be 'epoch' or/);
  assert.throws(() => new c.BackupAndRestore({ backupDir: 'b', saveFreq: 1.5 }), c.ArgumentError);
  assert.throws(() => new c.BackupAndRestore({ backupDir: 'b', saveFreq: 'batch' as 'epoch' }), c.ArgumentError);
  assert.throws(() => new c.BackupAndRestore({ backupDir: 'b', backup_dir: 'c' } as never), c.ArgumentError);
});
