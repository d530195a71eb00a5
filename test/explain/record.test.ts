// Explanations in the run record: the bounded summary against a slow reference (channels summed, blocks
// averaged, quantised within half a step; padding tokens left out; the largest features kept), the schema with
// and without explanations, recording through a RunRecorder and into a run directory, and the ledger catching
// an edited attribution as it catches any other edited record field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { summarizeAttributions, storedAttributionMap, QUANTUM } from '../../src/ledger/explanation.js';
import { readRunRecord, validateRunRecord, type RunRecord } from '../../src/ledger/record.js';
import { SchemaError } from '../../src/ledger/errors.js';
import { appendToLedger, verifyLedger } from '../../src/ledger/ledger.js';
import { tempDir, tinyRun } from '../ledger/fixtures.js';

/** A deterministic signed pattern. */
const pattern = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)));

test('image summaries sum channels and average blocks (slow reference), quantised within half a step', () => {
  const [n, h, w, ch] = [3, 6, 5, 2];
  const a = pattern(n * h * w * ch);
  const s = summarizeAttributions(a, [n, h, w, ch], { maxSamples: 2, maxValues: 9 });
  // 30 pixels into at most 9: blocks of 2 x 2 (ceil(sqrt(30 / 9)) = 2), giving 3 x 3.
  assert.equal(s.layout, 'image');
  assert.deepEqual(s.storedShape, [3, 3]);
  assert.equal(s.truncated, true);
  assert.match(s.reduction, /first 2 of 3 samples; 2 channels summed; 2 x 2 pixel blocks averaged/);
  assert.equal(s.samples.length, 2);
  for (const stored of s.samples) {
    const i = stored.sample;
    const want: number[] = [];
    for (let by = 0; by < 3; by++)
      for (let bx = 0; bx < 3; bx++) {
        let sum = 0,
          count = 0;
        for (let y = 2 * by; y < Math.min(h, 2 * by + 2); y++)
          for (let x = 2 * bx; x < Math.min(w, 2 * bx + 2); x++) {
            for (let k = 0; k < ch; k++) sum += a[((i * h + y) * w + x) * ch + k];
            count++;
          }
        want.push(sum / count);
      }
    const scale = Math.max(...want.map(Math.abs));
    assert.ok(Math.abs(stored.scale - scale) <= 1e-5 * scale);
    const got = storedAttributionMap(s, stored);
    want.forEach((v, j) => assert.ok(Math.abs(got[j] - v) <= (0.5 * scale) / QUANTUM + 1e-6, `pixel ${j}`));
    const total = Array.from(a.subarray(i * h * w * ch, (i + 1) * h * w * ch)).reduce((p, q) => p + q, 0);
    assert.ok(Math.abs(stored.sum - total) <= 1e-5 * Math.abs(total) + 1e-6);
  }
  // Small enough: stored as it is.
  const whole = summarizeAttributions(a, [n, h, w, ch]);
  assert.deepEqual(whole.storedShape, [h, w]);
  assert.equal(whole.truncated, false);
});

test('token summaries leave padding out and carry words; feature summaries keep the largest values', () => {
  const tokens = Int32Array.from([5, 2, 0, 0, 7, 0, 3, 1]);
  const a = Float32Array.from([0.5, -0.25, 9, 9, 1, 9, 0.125, -1]);
  const vocabulary = ['', '[UNK]', 'free', 'meeting', 'x', 'win', 'y', 'prize'];
  const s = summarizeAttributions(a, [2, 4], { tokens, vocabulary });
  assert.equal(s.layout, 'tokens');
  assert.deepEqual(
    s.samples.map((x) => [x.tokens, x.words, Array.from(storedAttributionMap(s, x), (v) => Number(v.toFixed(3)))]),
    [
      [
        [5, 2],
        ['win', 'free'],
        [0.5, -0.25],
      ],
      [
        [7, 3, 1],
        ['prize', 'meeting', '[UNK]'],
        [1, 0.125, -1],
      ],
    ],
  );
  assert.deepEqual(
    s.samples.map((x) => x.sum),
    [18.25, 9.125],
  );
  const f = summarizeAttributions(Float32Array.from([0.1, -4, 0.2, 2, -0.05]), [1, 5], { maxValues: 2 });
  assert.equal(f.layout, 'features');
  assert.deepEqual(f.samples[0].indices, [1, 3]);
  assert.deepEqual(Array.from(storedAttributionMap(f, f.samples[0])), [0, -4, 0, 2, 0]);
  assert.match(f.reduction, /the 2 largest \|attributions\| of 5/);
});

test('explanations are recorded through a RunRecorder and into a run directory; the schema checks them', async () => {
  const { dir, done } = tempDir();
  const run = await tinyRun({ dir });
  try {
    // A record without explanations (as every record before them) validates.
    assert.equal(run.record.explanations, undefined);
    validateRunRecord(JSON.parse(JSON.stringify(run.record)));
    const x = c.slice(run.data.x, [0, 0], [5, 4]);
    const e = c.explain(run.model, x, { method: 'gradientXInput' });
    const recorded = await c.explainability.recordExplanation(run.recorder, e, {
      inputs: x,
      labels: [0, 1, 2, 0, 1],
      model: run.model,
      name: 'first five',
    });
    assert.equal(run.record.explanations!.length, 1);
    assert.deepEqual(recorded.target, e.target);
    assert.deepEqual(recorded.inputShape, [4]);
    assert.equal(recorded.inputs.sha256, c.fingerprintTensor(x).sha256);
    assert.equal(recorded.attributions.layout, 'features');
    const onDisk = await readRunRecord(dir);
    assert.deepEqual(onDisk.explanations, JSON.parse(JSON.stringify(run.record.explanations)));
    // The same name and method replaces; another method or name adds. Into the directory this time.
    const s = c.explain(run.model, x, { method: 'saliency', target: 1 });
    const t = c.explain(run.model, x, { method: 'gradientXInput', target: 2 });
    await c.explainability.recordExplanation(dir, s, { inputs: x, name: 'first five' });
    await c.explainability.recordExplanation(dir, t, { inputs: x, name: 'first five' });
    await c.explainability.recordExplanation(dir, e, { inputs: x, name: 'again' });
    const back = await readRunRecord(dir);
    assert.deepEqual(
      back.explanations?.map((v) => [v.name, v.method, v.target]),
      [
        ['first five', 'saliency', [1, 1, 1, 1, 1]],
        ['first five', 'gradientXInput', [2, 2, 2, 2, 2]],
        ['again', 'gradientXInput', e.target],
      ],
    );
    // Sums are exact (before quantisation), so completeness can be checked from the record.
    const sums = c.explainability.attributionSums(e.attributions);
    back.explanations![2].attributions.samples.forEach((v, i) => assert.ok(Math.abs(v.sum - sums[i]) < 1e-5));
    // A malformed explanation is refused.
    const bad = JSON.parse(JSON.stringify(back)) as RunRecord;
    (bad.explanations![0].attributions as { layout: string }).layout = 'pixels';
    assert.throws(() => validateRunRecord(bad), SchemaError);
    delete (bad.explanations![0] as Partial<NonNullable<RunRecord['explanations']>[number]>).scores;
    assert.throws(() => validateRunRecord(bad), /scores/);
    await assert.rejects(
      c.explainability.recordExplanation(dir, e, { inputs: run.data.x }),
      (err: Error) => err instanceof c.ShapeError && /30 samples .* attributions 5/.test(err.message),
    );
    c.dispose([x, e.attributions, s.attributions, t.attributions]);
  } finally {
    run.dispose();
    done();
  }
});

test('the ledger catches an edited attribution as it catches any other edited field', async () => {
  const { dir, done } = tempDir();
  const run = await tinyRun();
  try {
    const x = c.slice(run.data.x, [0, 0], [3, 4]);
    const e = c.explain(run.model, x, { method: 'gradientXInput' });
    await c.explainability.recordExplanation(run.recorder, e, { inputs: x });
    const ledger = join(dir, 'ledger.jsonl');
    await appendToLedger(ledger, run.record);
    assert.equal((await verifyLedger(ledger)).ok, true);
    const text = readFileSync(ledger, 'utf8');
    const stored = run.record.explanations![0].attributions.samples[0];
    const from = `"values":[${stored.values.join(',')}]`;
    assert.ok(text.includes(from));
    const edited = [stored.values[0] + 1, ...stored.values.slice(1)];
    writeFileSync(ledger, text.replace(from, `"values":[${edited.join(',')}]`));
    const r = await verifyLedger(ledger);
    assert.deepEqual([r.ok, r.firstBad?.kind], [false, 'record-hash']);
    c.dispose([x, e.attributions]);
  } finally {
    run.dispose();
    done();
  }
});
