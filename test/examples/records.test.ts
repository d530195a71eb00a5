// Examples end to end with tiny settings: each writes its run record (valid), card, emissions.csv and signed ledger
// entry under --out, through the one shared ending in examples/common.ts, and `candor verify` (verifyRun, with the
// example's own key trusted) passes; --no-record writes none of them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRunRecord } from '../../src/index.js';
import { checkPublished, runExample } from './run-example.js';

test('sine-mlp (its own loop, LoopRecorder) writes record, card and ledger in runs/sine-mlp by default', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'candor-example-'));
  try {
    const figures = runExample('sine-mlp', ['--steps', '10'], cwd);
    const out = join(cwd, 'runs', 'sine-mlp');
    await checkPublished(
      out,
      'sine-mlp',
      {
        runRecord: join(cwd, figures.runRecord as string),
        card: join(cwd, figures.card as string),
      },
      cwd,
    );
    assert.deepEqual(readdirSync(out).sort(), ['card.html', 'card.md', 'emissions.csv', 'ledger.jsonl', 'run.json']);
    const record = await readRunRecord(out);
    assert.equal(record.training.steps, 11);
    assert.equal(record.training.history.epochs.length, 11);
    assert.equal(record.evaluation[0].metrics.loss, figures.finalLoss);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('mnist-mlp (trainAndReport, recordRun) writes the model, record, card and ledger under --out', async () => {
  const cwd = mkdtempSync(join(tmpdir(), 'candor-example-'));
  try {
    const out = join(cwd, 'run');
    const figures = runExample('mnist-mlp', ['--epochs', '1', '--limit', '256', '--out', out], cwd);
    await checkPublished(out, 'mnist-mlp', figures, cwd);
    const record = await readRunRecord(out);
    assert.equal(record.evaluation.find((e) => e.name === 'test')?.metrics.accuracy, figures.testAccuracy);
    // Training alone and evaluation apart: the epochs' steps take part of fit's time, at 256 samples an epoch.
    const { seconds, trainSeconds, trainSamplesPerSec, evaluationSeconds } = figures as Record<string, number>;
    assert.ok(trainSeconds > 0 && trainSeconds < seconds, `trainSeconds ${trainSeconds} of ${seconds}`);
    assert.ok(Math.abs(trainSamplesPerSec * trainSeconds - 256) < 1e-6, `${trainSamplesPerSec} x ${trainSeconds}`);
    assert.ok(evaluationSeconds > 0, `evaluationSeconds ${evaluationSeconds}`);
    assert.ok(record.model.artifacts?.['model.json']);
    for (const file of Object.keys(record.model.artifacts!)) assert.ok(existsSync(join(out, file)), file);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});

test('--no-record writes no run directory', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'candor-example-'));
  try {
    const figures = runExample('sine-mlp', ['--steps', '2', '--no-record'], cwd);
    assert.equal(figures.runRecord, undefined);
    assert.deepEqual(readdirSync(cwd), []);
  } finally {
    rmSync(cwd, { recursive: true, force: true });
  }
});
