// The run's one energy meter: record.energy is the whole life of the run (fingerprinting, training, validation,
// testing, saving, ...) and equals the sum of record.stages; emissions and emissions.csv report the same figure;
// the meter is sampled every step, so RAPL counter wraps during fit are all counted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { readRunRecord } from '../../src/ledger/record.js';
import { co2eGrams } from '../../src/ledger/carbon.js';
import { blobs, tempDir } from './fixtures.js';

function model(): c.Sequential {
  const m = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const close = (a: number, b: number, rel = 1e-9) => Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b), 1e-12);

test('one meter: record.energy, emissions and emissions.csv are the whole run, the sum of its stages', async () => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = tmp.dir;
  const data = blobs();
  const m = model();
  try {
    const recorder = new RunRecorder({ dir: tmp.dir, energy: { method: 'estimate' } });
    await m.fit(data.x, data.y, {
      epochs: 2,
      batchSize: 8,
      verbose: 0,
      seed: 3,
      validationData: [data.x, data.y],
      callbacks: [recorder],
    });
    await recorder.evaluate('test', m, data.x, data.y);
    await m.save(tmp.dir);
    await recorder.finish();
    const record = await readRunRecord(tmp.dir);
    const energy = record.energy!;
    const stages = record.stages!;
    const sum = (k: 'joules' | 'wallSeconds') => stages.reduce((s, x) => s + (x[k] ?? 0), 0);
    for (const s of ['fingerprinting', 'training', 'validation', 'testing', 'saving'])
      assert.ok(
        stages.some((x) => x.stage === s),
        s,
      );
    // The stages are differences of the one meter's readings: they sum to its figure.
    assert.ok(close(sum('joules'), energy.joules), `stages ${sum('joules')} J vs record.energy ${energy.joules} J`);
    assert.ok(close(sum('wallSeconds'), energy.wallSeconds), `${sum('wallSeconds')} vs ${energy.wallSeconds}`);
    // The whole life is longer than fit (record.training): testing and saving came after it.
    assert.ok(energy.wallSeconds > record.training.wallSeconds);
    const fit = stages.filter((s) => s.stage === 'training' || s.stage === 'validation');
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
    await recorder.evaluate('again', m, data.x, data.y);
    const later = await readRunRecord(tmp.dir);
    assert.ok(later.energy!.joules > energy.joules);
    const rows = readFileSync(join(tmp.dir, 'emissions.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(rows.length, 2);
    assert.equal(Number(rows[1].split(',')[header.split(',').indexOf('energy_consumed')]), later.energy!.kWh);
  } finally {
    c.dispose([data.x, data.y]);
    m.dispose();
    tmp.done();
  }
});

test('the meter is sampled every step: RAPL counter wraps during fit are all counted', async () => {
  const tmp = tempDir();
  process.env.CANDOR_CONFIG_DIR = tmp.dir;
  // A fake package zone whose counter wraps at 1000 uJ; each batch adds 600 uJ (one wrap at most between steps).
  const zone = join(tmp.dir, 'powercap', 'intel-rapl:0');
  mkdirSync(zone, { recursive: true });
  writeFileSync(join(zone, 'name'), 'package-0\n');
  writeFileSync(join(zone, 'max_energy_range_uj'), '1000\n');
  let uj = 0;
  writeFileSync(join(zone, 'energy_uj'), '0\n');
  const data = blobs();
  const m = model();
  let batches = 0;
  const burn: c.Callback = {
    onBatchBegin(): void {
      batches++;
      uj += 600;
      writeFileSync(join(zone, 'energy_uj'), `${uj % 1000}\n`);
    },
  };
  try {
    const recorder = new RunRecorder({
      energy: { method: 'rapl', powercapRoot: join(tmp.dir, 'powercap') },
      sampleEveryMs: 0,
    });
    await m.fit(data.x, data.y, { epochs: 1, batchSize: 8, verbose: 0, seed: 3, callbacks: [burn, recorder] });
    const record = recorder.record;
    assert.equal(batches, 4);
    const training = record.stages!.find((s) => s.stage === 'training')!;
    assert.ok(close(training.joules!, (600 * batches) / 1e6), `${training.joules} J`);
    assert.ok(close(record.energy!.joules, (600 * batches) / 1e6), `${record.energy!.joules} J`);
    assert.equal(record.energy!.domains![0].wraps, 2);
  } finally {
    c.dispose([data.x, data.y]);
    m.dispose();
    tmp.done();
  }
});
