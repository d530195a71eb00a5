// The run record: RunRecorder during fit, run.json written atomically and valid against the published
// JSON Schema, fingerprints and hashes recomputed independently, evaluations, opt-out, NaN handling.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import { readRunRecord, validateRunRecord, recordHash, RUN_RECORD_FILE } from '../../src/ledger/record.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { RUN_RECORD_SCHEMA } from '../../src/ledger/run-record-schema.js';
import { JsonSchemaValidator } from '../../src/ledger/json-schema.js';
import { canonicalJson } from '../../src/ledger/canonical.js';
import { SchemaError, RecordError } from '../../src/ledger/errors.js';
import { userFingerprintKey } from '../../src/ledger/user-keys.js';
import { tempDir, tinyRun } from './fixtures.js';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sha = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');

test('RunRecorder writes a valid run.json at the end of fit: model, data, compute, energy and history', async () => {
  const tmp = tempDir();
  try {
    const run = await tinyRun({ dir: tmp.dir, evaluate: false });
    const file = join(tmp.dir, RUN_RECORD_FILE);
    assert.ok(existsSync(file));
    assert.deepEqual(readdirSync(tmp.dir), [RUN_RECORD_FILE], 'no temp files left beside it');
    const r = await readRunRecord(tmp.dir);
    assert.deepEqual(r, JSON.parse(JSON.stringify(run.record)));
    // Model: parameters and the architecture hash, recomputed here.
    assert.equal(r.model.parameters.total, 4 * 8 + 8 + 8 * 3 + 3);
    assert.equal(r.model.parameters.trainable, r.model.parameters.total);
    assert.deepEqual(
      r.model.layers.map((l) => [l.className, l.parameters]),
      [
        ['Dense', 40],
        ['Dense', 27],
      ],
    );
    assert.equal(
      r.model.architectureSha256,
      sha(canonicalJson({ className: 'Sequential', config: run.model.getConfig() })),
    );
    // Data: HMAC-SHA256 of the raw bytes under the user's key, shapes, dtype; label counts withheld by default.
    const [train] = r.data;
    assert.equal(train.name, 'train');
    assert.equal(train.samples, 30);
    const xd = run.data.x.dataSync();
    const { key, keyId } = userFingerprintKey();
    assert.deepEqual(train.x[0], {
      shape: [30, 4],
      dtype: 'float32',
      hmacSha256: createHmac('sha256', key)
        .update('candor-tensor-fingerprint-v1\0float32\x0030,4\0')
        .update(new Uint8Array(xd.buffer, xd.byteOffset, xd.byteLength))
        .digest('hex'),
      keyId,
      bytes: 480,
    });
    assert.equal(train.y![0].dtype, 'int32');
    assert.equal(train.labelDistribution, undefined);
    assert.equal(train.labelDistributionWithheld, true);
    // Training: hyperparameters from the model and fit, seeds, history, steps.
    assert.equal(r.status, 'completed');
    assert.deepEqual(r.training.epochs, { requested: 2, completed: 2, initial: 0 });
    assert.equal(r.training.steps, 2 * 4);
    assert.equal((r.training.hyperparameters.optimizer as { className: string }).className, 'Adam');
    assert.equal(r.training.hyperparameters.loss, 'sparseCategoricalCrossentropy');
    assert.equal(r.training.hyperparameters.batchSize, 8);
    assert.deepEqual(r.training.seeds, { fit: 11 });
    assert.deepEqual(r.training.history.epochs, [0, 1]);
    assert.equal(r.training.history.metrics.loss.length, 2);
    assert.equal(r.training.history.metrics.accuracy.length, 2);
    assert.ok(r.training.wallSeconds >= 0 && r.training.cpuSeconds >= 0);
    // Compute: matmul FLOPs of every step (forward 2bDH + 2bHC, backward 4bHC + 2bDH, summed over batches).
    const matmul = r.compute.rows.filter((row) => row.family === 'matmul').reduce((s, row) => s + row.flops, 0);
    assert.equal(matmul, 2 * 30 * (4 * 4 * 8 + 6 * 8 * 3));
    assert.equal(
      r.compute.total.flops,
      r.compute.rows.reduce((s, row) => s + row.flops, 0),
    );
    assert.deepEqual(r.compute.backends, [c.getBackend().name]);
    // Energy is an estimate here (forced), never presented as measured; emissions follow from it.
    assert.equal(r.energy!.method, 'estimate');
    assert.equal(r.energy!.measured, false);
    assert.equal(r.emissions!.grid.gPerKWh, 475);
    assert.equal(r.emissions!.gCO2e, (r.energy!.joules / 3.6e6) * 475);
    // Software and machine.
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(r.software.candor, pkg.version);
    assert.equal(r.software.node, process.versions.node);
    assert.equal(r.machine.backend.name, c.getBackend().name);
    assert.ok(r.machine.logicalCpus >= 1);
    run.dispose();
  } finally {
    tmp.done();
  }
});

test('evaluations are added to the record and rewrite run.json; the record hash changes with them', async () => {
  const tmp = tempDir();
  try {
    const run = await tinyRun({ dir: tmp.dir, evaluate: false });
    const before = recordHash(run.record);
    const entry = await run.recorder.evaluate('test', run.model, run.data.x, run.data.y, {
      groups: run.data.groups,
      attribute: 'parity',
    });
    const r = await readRunRecord(tmp.dir);
    assert.equal(r.evaluation.length, 1);
    assert.deepEqual(r.evaluation[0], JSON.parse(JSON.stringify(entry)));
    const rep = r.evaluation[0].report!;
    assert.equal(rep.samples, 30);
    assert.equal(
      rep.perClass.reduce((s, p) => s + p.support, 0),
      30,
    );
    assert.equal(rep.fairness!.attribute, 'parity');
    assert.deepEqual(
      rep.fairness!.groups.map((g) => [g.group, g.samples]),
      [
        ['even', 15],
        ['odd', 15],
      ],
    );
    assert.ok(
      Math.abs(rep.accuracy - r.evaluation[0].metrics.accuracy!) < 1e-6,
      'report accuracy agrees with model.evaluate',
    );
    assert.notEqual(recordHash(r), before);
    await run.recorder.addEvaluation('test', { loss: 1 });
    assert.equal((await readRunRecord(tmp.dir)).evaluation.length, 1, 'same name replaces');
    run.dispose();
  } finally {
    tmp.done();
  }
});

test('opt-out: write false keeps the record in memory; no dir writes nothing; a recorder records one fit', async () => {
  const tmp = tempDir();
  try {
    const run = await tinyRun({ dir: tmp.dir, evaluate: false, options: { write: false, energy: false } });
    assert.deepEqual(readdirSync(tmp.dir), []);
    assert.equal(run.record.energy, null);
    assert.equal(run.record.emissions, null);
    validateRunRecord(run.record);
    await assert.rejects(
      run.model.fit(run.data.x, run.data.y, { epochs: 1, verbose: 0, callbacks: [run.recorder] }),
      RecordError,
    );
    assert.throws(() => new RunRecorder().record, /no record yet/);
    // A fit that throws never reaches onTrainEnd: abort() unsubscribes the meter.
    const failed = new RunRecorder({ energy: false });
    failed.setModel(run.model);
    failed.onTrainBegin();
    assert.equal(failed.meter.running, true);
    failed.abort();
    assert.equal(failed.meter.running, false);
    assert.equal(failed.hasRecord, false);
    run.dispose();
  } finally {
    tmp.done();
  }
});

test('NaN metrics become null with a note; without fit params the data gap is noted', async () => {
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const recorder = new RunRecorder({ energy: false });
  recorder.setModel(model);
  recorder.onTrainBegin();
  recorder.onEpochBegin(0);
  recorder.onEpochEnd(0, { loss: 0.5 });
  recorder.onEpochBegin(1);
  recorder.onEpochEnd(1, { loss: NaN, extra: 2 });
  await recorder.onTrainEnd();
  const r = recorder.record;
  assert.deepEqual(r.training.history.metrics, { loss: [0.5, null], extra: [null, 2] });
  assert.ok(r.notes.some((n) => /metric 'loss' at epoch 1 was NaN; recorded as null/.test(n)));
  assert.ok(r.notes.some((n) => /training data was not fingerprinted/.test(n)));
  assert.ok(r.notes.some((n) => /could not be split by phase/.test(n)) || r.compute.attribution.phases);
  assert.equal(r.training.epochs.requested, null);
  validateRunRecord(r);
  model.dispose();
});

test('the schema rejects records with missing, mistyped or unexpected fields, naming each', async () => {
  const run = await tinyRun({ evaluate: false, options: { energy: false } });
  const good = JSON.parse(JSON.stringify(run.record));
  validateRunRecord(good);
  const bad = JSON.parse(JSON.stringify(good));
  delete bad.model.parameters;
  bad.training.steps = -1;
  bad.compute.rows[0].phase = 'sideways';
  bad.surprise = true;
  bad.data[0].x[0].sha256 = 'xyz';
  try {
    validateRunRecord(bad);
    assert.fail('expected a SchemaError');
  } catch (e) {
    assert.ok(e instanceof SchemaError);
    const p = e.problems.join('\n');
    assert.match(p, /\$\.model: missing required property 'parameters'/);
    assert.match(p, /\$\.training\.steps: -1 is below the minimum 0/);
    assert.match(p, /\$\.compute\.rows\[0\]\.phase: "sideways" is not one of/);
    assert.match(p, /\$: unexpected property 'surprise'/);
    assert.match(p, /\$\.data\[0\]\.x\[0\]\.sha256: "xyz" does not match/);
  }
  run.dispose();
});

test('readRunRecord: typed errors for a missing file, bad JSON and a foreign file', async () => {
  const tmp = tempDir();
  try {
    await assert.rejects(
      readRunRecord(tmp.dir),
      (e: Error) => e instanceof RecordError && /cannot read/.test(e.message),
    );
    writeFileSync(join(tmp.dir, RUN_RECORD_FILE), '{ nope');
    await assert.rejects(readRunRecord(tmp.dir), /not valid JSON/);
    writeFileSync(join(tmp.dir, RUN_RECORD_FILE), '{"format":"other"}');
    await assert.rejects(readRunRecord(tmp.dir), /not a Candor run record/);
  } finally {
    tmp.done();
  }
});

test('schemas/run-record.schema.json is the published RUN_RECORD_SCHEMA, a valid 2020-12 schema here', () => {
  const published = JSON.parse(readFileSync(join(repoRoot, 'schemas', 'run-record.schema.json'), 'utf8'));
  assert.deepEqual(
    published,
    JSON.parse(JSON.stringify(RUN_RECORD_SCHEMA)),
    'regenerate with: node dist/src/cli/main.js schema > schemas/run-record.schema.json',
  );
  assert.equal(published.$schema, 'https://json-schema.org/draft/2020-12/schema');
  new JsonSchemaValidator(published);
});
