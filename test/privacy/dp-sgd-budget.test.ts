// DP-SGD's budget and record: targetEpsilon picks sigma for the planned steps, the budget stops training before
// it is exceeded, epsilon is logged each epoch, and the run record's privacy section carries the run and validates.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { validateRunRecord } from '../../src/ledger/record.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const N = 64;

function data(): { x: c.Tensor; y: c.Tensor } {
  const x = new c.RandomStream(1).normal([N, 3], 0, 1);
  const y = c.tidy(() => c.cast(c.greater(c.sum(x, -1), 0), 'int32'));
  return { x, y };
}

function model(privacy?: c.privacy.DpSgdOptions): c.Sequential {
  c.setSeed(3);
  const m = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3], activation: 'softmax' })]);
  m.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], privacy });
  return m;
}

test('fit({ privacy: { targetEpsilon } }) picks sigma so that the planned steps end at epsilon <= target', async () => {
  const { x, y } = data();
  const m = model();
  const history = await m.fit(x, y, {
    epochs: 4,
    batchSize: 8,
    verbose: 0,
    privacy: { targetEpsilon: 2, delta: 1e-5, l2NormClip: 1 },
  });
  const r = m.runRecorder!.record!;
  validateRunRecord(r);
  const p = r.privacy as c.privacy.DpSgdRecord;
  assert.equal(p.steps, 32); // 4 epochs of round(64 / 8)
  assert.equal(p.stoppedByBudget, false);
  assert.equal(p.targetEpsilon, 2);
  assert.ok(p.epsilon <= 2 && p.epsilon > 1.98, `epsilon ${p.epsilon}`);
  // The recorded epsilon is the accountant's for the recorded sigma, q and steps.
  const again = c.privacy.computeEpsilon({
    sampleRate: 8 / N,
    noiseMultiplier: p.noiseMultiplier,
    steps: 32,
    delta: 1e-5,
  });
  assert.ok(Math.abs(again.epsilon - p.epsilon) < 1e-9);
  assert.equal(p.order, again.order);
  assert.deepEqual(
    { mechanism: p.mechanism, delta: p.delta, C: p.l2NormClip, q: p.sampleRate, sampling: p.sampling },
    { mechanism: 'dp-sgd', delta: 1e-5, C: 1, q: 0.125, sampling: 'poisson' },
  );
  assert.equal(p.expectedBatchSize, 8);
  assert.equal(p.accountant, 'rdp');
  assert.equal(p.conversion, 'improved');
  assert.equal(p.secureNoise, true);
  assert.ok(p.perExampleGradients && p.perExampleGradients.fast.length + p.perExampleGradients.fallback.length > 0);
  // Epsilon grows each epoch in History, and the last is the record's.
  const eps = history.history.epsilon;
  assert.equal(eps.length, 4);
  for (let i = 1; i < 4; i++) assert.ok(eps[i] > eps[i - 1]);
  assert.ok(Math.abs(eps[3] - p.epsilon) < 1e-12);
  c.dispose([x, y]);
});

test('a budget smaller than the planned steps need stops training before a step would exceed it', async () => {
  const { x, y } = data();
  const m = model({ l2NormClip: 1, noiseMultiplier: 1.5 });
  await m.fit(x, y, { epochs: 10, batchSize: 8, verbose: 0, privacy: { targetEpsilon: 2.5 } });
  const p = m.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(p.stoppedByBudget, true);
  assert.equal(m.runRecorder!.record!.status, 'stopped');
  assert.ok(p.steps < 80 && p.steps > 0, `${p.steps} steps`);
  assert.ok(p.epsilon <= 2.5, `epsilon ${p.epsilon}`);
  // One more step would have exceeded the budget.
  const next = c.privacy.computeEpsilon({ sampleRate: 0.125, noiseMultiplier: 1.5, steps: p.steps + 1, delta: 1e-5 });
  assert.ok(next.epsilon > 2.5, `next ${next.epsilon}`);
  c.dispose([x, y]);
});

test('the PrivacyBudget callback stops a private fit and is refused by an ordinary one', async () => {
  const { x, y } = data();
  const m = model({ l2NormClip: 1, noiseMultiplier: 1, delta: 1e-6 });
  const budget = new c.privacy.PrivacyBudget({ targetEpsilon: 1 });
  await m.fit(x, y, { epochs: 20, batchSize: 8, verbose: 0, callbacks: [budget] });
  const p = m.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(p.stoppedByBudget, true);
  assert.equal(p.targetEpsilon, 1);
  assert.ok(p.epsilon <= 1);
  const plain = model();
  await assert.rejects(
    plain.fit(x, y, { epochs: 1, verbose: 0, callbacks: [new c.privacy.PrivacyBudget({ targetEpsilon: 1 })] }),
    (e: Error) => e instanceof c.ArgumentError && /does not train privately/.test(e.message),
  );
  // A run without DP says so.
  await plain.fit(x, y, { epochs: 1, verbose: 0 });
  assert.deepEqual(plain.runRecorder!.record!.privacy, { mechanism: 'none' });
  c.dispose([x, y]);
});

test('the accountant composes the steps of successive fits', async () => {
  const { x, y } = data();
  const m = model({ l2NormClip: 1, noiseMultiplier: 1.2 });
  await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
  await m.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
  const p = m.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(p.steps, 8 + 8);
  const acc = new c.privacy.RdpAccountant();
  acc.step({ noiseMultiplier: 1.2, sampleRate: 0.125 }, 8);
  acc.step({ noiseMultiplier: 1.2, sampleRate: 0.25 }, 8);
  assert.ok(Math.abs(acc.getEpsilon(1e-5).epsilon - p.epsilon) < 1e-12);
  c.dispose([x, y]);
});

test('save and load keep the privacy options and the steps spent: epsilon composes after loading', async () => {
  const { x, y } = data();
  const dir = mkdtempSync(join(tmpdir(), 'candor-dp-save-'));
  try {
    const m = model({ l2NormClip: 1, noiseMultiplier: 1.2 });
    await m.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0 });
    await m.save(dir);
    m.dispose();
    const loaded = await c.loadModel(dir);
    // Recompiled from the saved config with DP-SGD: a plain fit of the loaded model is private again.
    await loaded.fit(x, y, { epochs: 2, batchSize: 16, verbose: 0 });
    const p = loaded.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
    assert.equal(p.mechanism, 'dp-sgd');
    assert.equal(p.steps, 8 + 8);
    const acc = new c.privacy.RdpAccountant();
    acc.step({ noiseMultiplier: 1.2, sampleRate: 0.125 }, 8);
    acc.step({ noiseMultiplier: 1.2, sampleRate: 0.25 }, 8);
    assert.ok(Math.abs(acc.getEpsilon(1e-5).epsilon - p.epsilon) < 1e-12);
    loaded.dispose();
    // A malformed history is a FormatError, not a fresh accountant.
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    manifest.privateSteps = [{ noiseMultiplier: -1, sampleRate: 0.125, steps: 8 }];
    writeFileSync(join(dir, 'model.json'), JSON.stringify(manifest));
    await assert.rejects(c.loadModel(dir), /privateSteps/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    c.dispose([x, y]);
  }
});

test("privacy.accountant 'prv': the PRV epsilon of the steps taken (below RDP's) in logs and record", async () => {
  const { x, y } = data();
  const m = model({ l2NormClip: 1, noiseMultiplier: 1.2, accountant: 'prv' });
  const history = await m.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0 });
  const p = m.runRecorder!.record!.privacy as c.privacy.DpSgdRecord;
  assert.equal(p.accountant, 'prv');
  assert.equal(p.order, null);
  const prv = new c.privacy.PrvAccountant();
  prv.step({ noiseMultiplier: 1.2, sampleRate: 0.125 }, 16);
  assert.ok(Math.abs(prv.getEpsilon(1e-5).epsilon - p.epsilon) < 1e-9);
  const rdp = c.privacy.computeEpsilon({ sampleRate: 0.125, noiseMultiplier: 1.2, steps: 16, delta: 1e-5 }).epsilon;
  assert.ok(p.epsilon < rdp, `PRV ${p.epsilon} should be below RDP ${rdp}`);
  assert.ok(Math.abs(history.history.epsilon[1] - p.epsilon) < 1e-9);
  assert.throws(() => model({ l2NormClip: 1, noiseMultiplier: 1, accountant: 'pld' as 'prv' }), /privacy\.accountant/);
  c.dispose([x, y]);
});
