// The run's one energy meter is sampled every step, so RAPL counter wraps during fit are all counted (that
// record.energy is the sum of record.stages is tested in stages.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
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
