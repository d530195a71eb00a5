// The card and exports say what the record holds and nothing else: validationSplit's part is named as such, an
// old plain SHA-256 is not called an HMAC, withheld label counts and a subset's source are shown, the training
// data is the same dataset everywhere, and explanations fingerprint their inputs under the run's key.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as c from '../../src/index.js';
import { buildCard } from '../../src/cards/card.js';
import { renderMarkdown } from '../../src/cards/document.js';
import { datasetsOf, inputFormatsOf, trainingSummaryOf } from '../../src/cards/exports/facts.js';
import { explanationRecord, recordExplanation } from '../../src/explain/record.js';
import { validateRunRecord, type RunRecord } from '../../src/ledger/record.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import type { Explanation } from '../../src/explain/types.js';
import { firstSamples } from '../../examples/common.js';
import { blobs, tinyRun } from '../ledger/fixtures.js';

const card = (r: RunRecord, info = {}) => renderMarkdown(buildCard(r, { info, sources: {}, files: [] }));
const summaryRow = (md: string, what: string) => md.split('\n').find((l) => l.startsWith(`| ${what} |`)) ?? '';

async function fitWith(args: { validationSplit?: number; validation?: boolean }): Promise<RunRecord> {
  const { x, y } = blobs(30, 3);
  const held = blobs(12, 5);
  const model = new c.Sequential([c.layers.dense({ units: 3, activation: 'softmax', inputShape: [4] })]);
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = new RunRecorder({ energy: false });
  await model.fit(x, y, {
    epochs: 1,
    batchSize: 10,
    verbose: 0,
    validationSplit: args.validationSplit,
    ...(args.validation ? { validationData: [held.x, held.y] as [c.Tensor, c.Tensor] } : {}),
    callbacks: [recorder],
  });
  c.dispose([x, y, held.x, held.y]);
  model.dispose();
  return recorder.record;
}

test("validationSplit's held-out part is named as such on the card, not as fit's validationData", async () => {
  const split = await fitWith({ validationSplit: 0.2 });
  assert.equal(split.data.find((d) => d.name === 'validation')!.samples, 6);
  const md = card(split);
  const row = summaryRow(md, 'Validation');
  assert.match(row, /last 20% of the training data \(validationSplit; 6 samples/);
  assert.doesNotMatch(md, /separate validation set|validationSplit not used|not used: fit validated on/);

  // validationData given too: it replaced the split's part (fit still held the last 20% out of training).
  const both = card(await fitWith({ validationSplit: 0.2, validation: true }));
  assert.match(summaryRow(both, 'Validation'), /separate validation set of 12 samples .*replaced validationSplit/);
  const only = card(await fitWith({ validation: true }));
  assert.match(summaryRow(only, 'Validation'), /separate validation set of 12 samples.*validationSplit not used/);
});

function fakeExplanation(n: number): Explanation {
  return {
    method: 'saliency',
    attributions: c.tensor(new Float32Array(n * 4).fill(0.5), [n, 4]),
    target: Array.from({ length: n }, () => 0),
    logit: false,
    scores: Array.from({ length: n }, () => 0.5),
    parameters: {},
    seconds: 0.01,
  };
}

test('an old plain SHA-256 of explained inputs is shown as SHA-256, a keyed one as HMAC with its key', async () => {
  const run = await tinyRun({ epochs: 1, evaluate: false });
  const inputs = c.tensor(new Float32Array(8).fill(1), [2, 4]);
  const keyed = explanationRecord(fakeExplanation(2), { inputs });
  const old = structuredClone(keyed) as unknown as Record<string, Record<string, unknown>>;
  old.inputs.sha256 = 'e'.repeat(64);
  delete old.inputs.hmacSha256;
  delete old.inputs.keyId;
  const row = (e: unknown) =>
    summaryRow(card({ ...run.record, explanations: [e] } as RunRecord), 'Inputs explained').replace(/<[^>]*>/g, '');
  assert.match(row(old), /\[2, 4\] float32, SHA-256 e{64}/);
  assert.doesNotMatch(row(old), /HMAC/);
  assert.match(row(keyed), new RegExp(`HMAC-SHA-256 \\(key ${keyed.inputs.keyId}\\) ${keyed.inputs.hmacSha256}`));
  inputs.dispose();
  run.dispose();
});

test('explained inputs are fingerprinted under the given key, or a one-off key where none can be stored', async () => {
  const key = { key: randomBytes(32), keyId: 'abcdefabcdefabcd' };
  const run = await tinyRun({ epochs: 1, evaluate: false, options: { fingerprintKey: key } });
  const inputs = c.tensor(new Float32Array(8).fill(1), [2, 4]);
  const entry = await recordExplanation(run.recorder, fakeExplanation(2), { inputs, fingerprintKey: key });
  assert.equal(entry.inputs.keyId, key.keyId);
  assert.ok(!run.recorder.record.notes.some((n) => /do not compare/.test(n)));
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = '/dev/null/candor'; // mkdir fails: not a directory
  try {
    const other = await recordExplanation(run.recorder, fakeExplanation(2), { inputs, name: 'no key' });
    assert.match(other.inputs.keyId, /^[0-9a-f]{16}$/);
    const notes = run.recorder.record.notes;
    assert.ok(notes.some((n) => /could not be stored.*one-off key/.test(n)));
    assert.ok(notes.some((n) => /'no key' were fingerprinted under key .*do not compare/.test(n)));
    validateRunRecord(run.recorder.record);
  } finally {
    process.env.CANDOR_CONFIG_DIR = saved;
  }
  inputs.dispose();
  run.dispose();
});

test('withheld label counts are said on the card; card.json data.sources is not asked for when given', async () => {
  const run = await tinyRun({ epochs: 1, evaluate: false });
  assert.equal(run.record.data[0].labelDistributionWithheld, true);
  const md = card(run.record);
  assert.match(md, /Label distribution: withheld/);
  assert.match(summaryRow(md, 'Training data'), /set `data.sources` in card.json/);
  const given = card(run.record, { data: { sources: 'Synthetic blobs drawn by the test.' } });
  assert.doesNotMatch(summaryRow(given, 'Training data'), /set `data.sources`/);
  assert.match(summaryRow(given, 'Training data'), /card.json's data.sources describes it/);
  run.dispose();
});

test("the training data is one dataset for the card and the exports, whatever the record's order", async () => {
  const test0 = blobs(9, 4);
  const run = await tinyRun({ epochs: 1, evaluate: false, options: { data: { test: { x: test0.x, y: test0.y } } } });
  const r = structuredClone(run.record);
  r.data.sort((a, b) => (a.name === 'test' ? -1 : b.name === 'test' ? 1 : 0));
  assert.equal(r.data[0].name, 'test');
  assert.match(trainingSummaryOf(r), /on 30 samples \('train'\)/);
  assert.deepEqual(inputFormatsOf(r), ['float32 tensor, shape [4] per sample']);
  const sets = datasetsOf(r);
  assert.deepEqual(
    sets.map((d) => [d.names, d.trainedOn]),
    [
      [['test'], false],
      [['train'], true],
    ],
  );
  assert.match(summaryRow(card(r), 'Training data'), /train: 30 samples/);
  c.dispose([test0.x, test0.y]);
  run.dispose();
});

test("a first-N slice of a loader's tensors keeps its source, noted as a subset", () => {
  const x = c.tensor(new Float32Array(20), [10, 2]);
  const y = c.tensor(new Int32Array(10), [10], 'int32');
  const source = { name: 'Blobs', licence: 'CC0-1.0', url: 'https://example.org/blobs', files: [] };
  c.attachSource([x, y], () => source);
  const part = firstSamples({ x, y }, 4);
  const fp = c.fingerprintDataset('train', part.x, part.y);
  assert.equal(fp.source?.name, 'Blobs');
  assert.match(fp.source!.note!, /^Used here: a subset, the first 4 of the 10 samples these files hold\.$/);
  assert.equal(c.sourceOf(x)?.note, undefined, "the whole tensor's source is unchanged");
  c.dispose([x, y, part.x, part.y]);
});
