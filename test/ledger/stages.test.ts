// The run's life by stage: StageClock's arithmetic on injected clocks (the stages add up to the whole, gaps go
// to 'other', validation is carved out of fit by its own times), and a real recorded fit with validation data,
// a test evaluation and a save, whose record.energy, emissions and emissions.csv row are the sum of its stages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { StageClock } from '../../src/ledger/stages.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readRunRecord } from '../../src/ledger/record.js';
import { co2eGrams } from '../../src/ledger/carbon.js';
import { blobs, tempDir } from './fixtures.js';
import type { EnergyReport } from '../../src/ledger/energy.js';

const close = (a: number, b: number, rel = 1e-9) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-12);

test('StageClock: stages and the gaps between them add up to the whole; parts are carved out by CPU time', () => {
  let wall = 0,
    cpuUs = 0,
    joules = 0;
  const clock = new StageClock(
    // A meter started with the clocks at 0.
    { current: () => ({ joules, wallSeconds: wall / 1000, cpuSeconds: cpuUs / 1e6 }) as EnergyReport },
    {
      wallMs: () => wall,
      cpu: () => ({ user: cpuUs, system: 0 }),
    },
  );
  const at = (w: number, cu: number, j: number) => ((wall = w), (cpuUs = cu), (joules = j));
  let from = clock.mark();
  at(1000, 1e6, 2);
  from = clock.close('fingerprinting', from, 0);
  at(11000, 15e6, 40);
  // fit: 10 s wall, 14 s CPU, 38 J; its validation passes took 2 s wall and 3.5 s CPU.
  clock.close('training', from, 1000, undefined, [
    { stage: 'validation', wallSeconds: 2, cpuSeconds: 3.5, flops: 100 },
  ]);
  at(12000, 15.5e6, 41); // the caller's code: 'other'
  from = clock.mark();
  at(13000, 16.5e6, 44);
  clock.close('testing', from, 50);
  at(14000, 16.5e6, 45);
  clock.settle();
  const by = Object.fromEntries(clock.stages.map((s) => [s.stage, s]));
  assert.deepEqual(
    clock.stages.map((s) => s.stage),
    ['fingerprinting', 'training', 'validation', 'other', 'testing'],
  );
  assert.deepEqual([by.fingerprinting.wallSeconds, by.fingerprinting.joules], [1, 2]);
  assert.deepEqual([by.validation.wallSeconds, by.validation.cpuSeconds, by.validation.flops], [2, 3.5, 100]);
  assert.equal(by.validation.joules, 38 * (3.5 / 14));
  assert.deepEqual([by.training.wallSeconds, by.training.cpuSeconds, by.training.flops], [8, 10.5, 900]);
  assert.equal(by.training.joules, 38 - 38 * (3.5 / 14));
  assert.deepEqual([by.other.wallSeconds, by.other.cpuSeconds, by.other.joules], [2, 0.5, 2]);
  const sum = (k: 'wallSeconds' | 'joules') => clock.stages.reduce((s, x) => s + (x[k] ?? 0), 0);
  assert.equal(sum('wallSeconds'), 14);
  assert.equal(sum('joules'), 45);
});

test('a recorded fit: fingerprinting, training, validation, testing and saving, FLOPs from the meter', async () => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = tmp.dir;
  const data = blobs();
  const model = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  try {
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const recorder = new RunRecorder({ dir: tmp.dir, energy: { method: 'estimate' } });
    await model.fit(data.x, data.y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      seed: 3,
      validationData: [data.x, data.y],
      callbacks: [recorder],
    });
    await recorder.evaluate('test', model, data.x, data.y);
    await model.save(tmp.dir);
    const record = await readRunRecord(tmp.dir);
    const stages = Object.fromEntries(record.stages!.map((s) => [s.stage, s]));
    for (const s of ['fingerprinting', 'training', 'validation', 'testing', 'saving']) assert.ok(stages[s], s);
    // fit's FLOPs split exactly: validation is the meter's phase 'evaluate', training the rest.
    assert.equal(stages.validation.flops, record.compute.byPhase.evaluate.flops);
    assert.ok(stages.validation.flops > 0);
    assert.equal(stages.training.flops + stages.validation.flops, record.compute.total.flops);
    assert.ok(stages.testing.flops > 0, 'the test evaluation ran kernels');
    for (const s of record.stages!) {
      assert.ok(s.wallSeconds >= 0 && s.cpuSeconds >= 0 && s.joules !== null && s.joules >= 0, s.stage);
    }
    assert.ok(stages.validation.wallSeconds > 0);
    // One energy meter: record.energy is the whole life, the sum of the stages (model.save finished the record).
    const energy = record.energy!;
    const sum = (k: 'joules' | 'wallSeconds') => record.stages!.reduce((s, x) => s + (x[k] ?? 0), 0);
    // The stages are differences of the one meter's readings: they sum to its figure.
    assert.ok(close(sum('joules'), energy.joules), `stages ${sum('joules')} J vs record.energy ${energy.joules} J`);
    assert.ok(close(sum('wallSeconds'), energy.wallSeconds), `${sum('wallSeconds')} vs ${energy.wallSeconds}`);
    // The whole life is longer than fit (record.training): testing and saving came after it.
    assert.ok(energy.wallSeconds > record.training.wallSeconds);
    const fit = record.stages!.filter((s) => s.stage === 'training' || s.stage === 'validation');
    assert.ok(fit.reduce((s, x) => s + x.joules!, 0) < energy.joules);
    assert.ok(close(energy.kWh, energy.joules / 3.6e6));
    assert.ok(close(record.emissions!.gCO2e, co2eGrams(energy.joules, record.emissions!.grid)));
    // emissions.csv carries the same figure and span.
    const [header, row] = readFileSync(join(tmp.dir, 'emissions.csv'), 'utf8').trimEnd().split('\n');
    const csv = Object.fromEntries(header.split(',').map((k, i) => [k, row.split(',')[i]]));
    assert.equal(Number(csv.energy_consumed), energy.kWh);
    assert.equal(Number(csv.duration), energy.wallSeconds);
    assert.equal(Number(csv.emissions), record.emissions!.gCO2e / 1000);
    assert.equal(csv.timestamp, record.createdAt.slice(0, 19));
    // A later evaluation adds a stage: run.json's energy grows and the row follows it.
    await recorder.evaluate('again', model, data.x, data.y);
    const later = await readRunRecord(tmp.dir);
    assert.ok(later.energy!.joules > energy.joules);
    const rows = readFileSync(join(tmp.dir, 'emissions.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(rows.length, 2);
    assert.equal(Number(rows[1].split(',')[header.split(',').indexOf('energy_consumed')]), later.energy!.kWh);
  } finally {
    c.dispose([data.x, data.y]);
    model.dispose();
    tmp.done();
  }
});
