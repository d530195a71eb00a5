// Compression in the run record and card: measureModel's figures against direct computations, the schema with a
// compression entry, recording through a RunRecorder and into a run directory, and the card's section.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { readRunRecord, validateRunRecord } from '../../src/ledger/record.js';
import { SchemaError } from '../../src/ledger/errors.js';
import { buildCard } from '../../src/cards/card.js';
import { renderMarkdown } from '../../src/cards/document.js';
import type { CompressionRecord } from '../../src/ledger/compression.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';

const quick = { repeats1: 3, repeats256: 2, energyPredictions: 512, energy: { method: 'estimate' as const } };

test('measureModel: accuracy, bytes and parameters as computed directly; timings and energy positive', async () => {
  const model = new c.Sequential([c.layers.dense({ units: 3, activation: 'softmax', inputShape: [5] })]);
  const x = c.randomNormal([300, 5], { seed: 3 });
  const y = c.tensor(
    Array.from({ length: 300 }, (_, i) => i % 3),
    [300],
    'int32',
  );
  const m = await c.compress.measureModel(model, x, y, quick);
  const predicted = c.argmax(model.predict(x) as c.Tensor, -1).dataSync();
  const right = Array.from(predicted).filter((p, i) => p === i % 3).length;
  assert.equal(m.accuracy, right / 300);
  assert.equal(m.parameters, 5 * 3 + 3);
  const { dir, done } = tempDir();
  try {
    await model.save(dir);
    const file = readdirSync(dir).find((f) => f.endsWith('.safetensors'))!;
    assert.equal(m.bytes, statSync(join(dir, file)).size);
  } finally {
    done();
  }
  for (const k of ['msBatch1', 'msBatch256', 'joulesPer1000'] as const) assert.ok(m[k] > 0, k);
  assert.equal(m.energyMethod, 'estimate');
  assert.equal((await c.compress.measureModel(model, x, null, quick)).accuracy, null);
  await assert.rejects(() => c.compress.measureModel(model, c.slice(x, [0], [100]), null), /at least 256 inputs/);
  await assert.rejects(
    () => c.compress.measureModel(model, x, c.slice(y, [0], [10]), quick),
    /labels \[10\] do not match inputs \[300, 5\]/,
  );
});

test('interleavedLatency: one median per model and batch size, each positive', () => {
  const small = new c.Sequential([c.layers.dense({ units: 2, inputShape: [5] })]);
  const large = new c.Sequential([c.layers.dense({ units: 64, inputShape: [5] })]);
  const x = c.randomNormal([256, 5], { seed: 4 });
  const t = c.compress.interleavedLatency({ small, large }, x, { rounds: 2, repeats1: 2, repeats256: 1 });
  assert.deepEqual(Object.keys(t), ['small', 'large']);
  for (const v of Object.values(t)) assert.ok(v.msBatch1 > 0 && v.msBatch256 > 0);
  assert.equal(x.isDisposed, false, "the caller's inputs stay live");
  assert.throws(() => c.compress.interleavedLatency({ small }, c.slice(x, [0], [10])), /needs 256 inputs/);
});

function entry(name: string, accuracyAfter: number): CompressionRecord {
  const before = {
    accuracy: 0.9,
    bytes: 4000,
    parameters: 1000,
    msBatch1: 0.2,
    msBatch256: 4,
    joulesPer1000: 1.5,
    energyMethod: 'estimate',
  };
  return {
    method: 'magnitude pruning',
    name,
    createdAt: new Date().toISOString(),
    description: 'Kernels pruned to 80% sparsity by magnitude during fine-tuning.',
    parameters: { finalSparsity: 0.8 },
    layers: [{ name: 'dense_1', className: 'Dense', parameters: { before: 1000, after: 1000 }, sparsity: 0.8 }],
    before,
    after: { ...before, accuracy: accuracyAfter, bytes: 1100 },
    evaluatedOn: 'blobs (30 rows)',
  };
}

test('recordCompression: via a RunRecorder and into a run directory, validated, on the card', async () => {
  const { dir, done } = tempDir();
  const run = await tinyRun({ dir });
  try {
    await c.compress.recordCompression(run.recorder, entry('pruned80', 0.88));
    await c.compress.recordCompression(run.recorder, entry('pruned80', 0.87));
    let record = await readRunRecord(dir);
    assert.equal(record.compression?.length, 1);
    assert.equal(record.compression?.[0].after.accuracy, 0.87);
    await c.compress.recordCompression(dir, entry('pruned90', 0.8));
    record = await readRunRecord(dir);
    assert.deepEqual(
      record.compression?.map((e) => e.name),
      ['pruned80', 'pruned90'],
    );
    const card = renderMarkdown(buildCard(record));
    assert.match(card, /## Compression/);
    assert.match(card, /\| Weights file \| 4,000 bytes \| 1,100 bytes \| 0\.275x \|/);
    assert.match(card, /\| dense_1 \| Dense \| 1,000 -> 1,000 \|  \| 80% \|/);
    const bad = structuredClone(record);
    (bad.compression![0].after as { accuracy: unknown }).accuracy = 1.5;
    assert.throws(() => validateRunRecord(bad), SchemaError);
  } finally {
    run.dispose();
    done();
  }
});
