// privacy.membershipAudit: an overfit model leaks membership (loss-threshold AUC well above 0.5), a model
// that saw neither set does not (AUC near 0.5), the calibrated attack beats the loss threshold at low FPR
// when examples differ in difficulty, its scores follow LiRA's Gaussians, and records validate.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { validateRunRecord } from '../../src/ledger/record.js';
import { calibratedScores, inOutSplit } from '../../src/privacy/shadow.js';

/** n points in `dim` dimensions with labels drawn at random from `classes` (nothing to learn but the points). */
function randomLabels(seed: number, n: number, dim: number, classes: number): { x: c.Tensor; y: c.Tensor } {
  const g = new c.RandomStream(seed);
  const x = g.normal([n, dim], 0, 1);
  const u = g.uniform([n], 0, 1, 'float64');
  const y = c.tensor(
    Int32Array.from(u.dataSync(), (v) => Math.floor(v * classes)),
    [n],
    'int32',
  );
  u.dispose();
  return { x, y };
}

/**
 * Examples of two kinds in 20-D, 4 classes: easy ones near their class centre (low loss whether trained on
 * or not) and, with probability hardShare, hard ones anywhere with a random label (low loss only when
 * memorised). A global loss threshold confuses easy non-members with members; per-example calibration not.
 */
function mixedDifficulty(seed: number, n: number, hardShare: number): { x: c.Tensor; y: c.Tensor } {
  const dim = 20,
    classes = 4;
  const g = new c.RandomStream(seed);
  const ut = g.uniform([n, 2], 0, 1, 'float64'),
    zt = g.normal([n, dim], 0, 1, 'float64');
  const [u, z] = [ut.dataSync(), zt.dataSync()];
  c.dispose([ut, zt]);
  const xs = new Float32Array(n * dim),
    ys = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = (ys[i] = Math.floor(u[i * 2 + 1] * classes));
    const hard = u[i * 2] < hardShare;
    for (let j = 0; j < dim; j++)
      xs[i * dim + j] = hard ? z[i * dim + j] : 0.5 * z[i * dim + j] + (j === label ? 4 : 0);
  }
  return { x: c.tensor(xs, [n, dim]), y: c.tensor(ys, [n], 'int32') };
}

function mlp(inputs: number, units: number, classes: number): c.Sequential {
  const model = new c.Sequential([
    c.layers.dense({ units, activation: 'relu', inputShape: [inputs] }),
    c.layers.dense({ units: classes, activation: 'softmax' }),
  ]);
  model.compile({
    optimizer: { className: 'Adam', config: { learningRate: 0.01 } },
    loss: 'sparseCategoricalCrossentropy',
  });
  return model;
}

const free = (...sets: { x: c.Tensor; y: c.Tensor }[]) => sets.forEach((s) => c.dispose([s.x, s.y]));

test('an overfit model leaks membership: loss-threshold AUC well above 0.5, recorded in the run record', async () => {
  c.setSeed(11);
  const members = randomLabels(1, 100, 20, 10),
    nonMembers = randomLabels(2, 100, 20, 10);
  const model = mlp(20, 128, 10);
  await model.fit(members.x, members.y, { epochs: 40, batchSize: 25, verbose: 0, seed: 1 });
  const result = await c.privacy.membershipAudit(model, members, nonMembers);
  assert.deepEqual(
    result.attacks.map((a) => a.attack),
    ['loss-threshold'],
  );
  const a = result.lossThreshold!;
  assert.ok(a.auc > 0.85, `AUC ${a.auc}`);
  assert.deepEqual(
    a.tprAtFpr.map((p) => p.fpr),
    [0.001, 0.01, 0.1],
  );
  assert.ok(a.tprAtFpr[2].tpr > 0.5, `TPR at 10% FPR ${a.tprAtFpr[2].tpr}`);
  assert.equal(result.fprResolution, 0.01);
  assert.equal(a.scores.members.length, 100);
  // The record carries the same figures and sits in the model's run record, which still validates.
  assert.deepEqual(
    { ...a.record, createdAt: '' },
    {
      attack: 'loss-threshold',
      createdAt: '',
      members: 100,
      nonMembers: 100,
      auc: a.auc,
      tprAtFpr: a.tprAtFpr,
      shadowModels: 0,
    },
  );
  const record = model.runRecorder!.record;
  assert.deepEqual(record.privacy!.audits, [a.record]);
  assert.equal(record.privacy!.mechanism, 'none');
  assert.doesNotThrow(() => validateRunRecord(JSON.parse(JSON.stringify(record))));
  // membershipAuc is the same figure, and with record: false nothing more is recorded.
  assert.equal(await c.privacy.membershipAuc(model, members, nonMembers), a.auc);
  await c.privacy.membershipAudit(model, members, nonMembers, { record: false });
  assert.equal(record.privacy!.audits!.length, 1);
  model.dispose();
  free(members, nonMembers);
});

test('members and non-members drawn alike, never seen by the model: AUC near 0.5', async () => {
  c.setSeed(12);
  const other = randomLabels(3, 100, 20, 10);
  const model = mlp(20, 64, 10);
  await model.fit(other.x, other.y, { epochs: 10, batchSize: 25, verbose: 0, seed: 2, record: false });
  const members = randomLabels(4, 300, 20, 10),
    nonMembers = randomLabels(5, 300, 20, 10);
  const { attacks } = await c.privacy.membershipAudit(model, members, nonMembers, { batchSize: 64 });
  // The AUC's standard deviation under the null is sqrt((m + n + 1) / (12 m n)) = 0.024 here.
  assert.ok(Math.abs(attacks[0].auc - 0.5) < 0.1, `AUC ${attacks[0].auc}`);
  model.dispose();
  free(other, members, nonMembers);
});

test('the calibrated attack is stronger than the loss threshold at low FPR when difficulty varies', async () => {
  c.setSeed(13);
  const members = mixedDifficulty(113, 100, 0.5),
    nonMembers = mixedDifficulty(213, 100, 0.5);
  const model = mlp(20, 64, 4);
  await model.fit(members.x, members.y, { epochs: 30, batchSize: 25, verbose: 0, seed: 3 });
  const fprs = [0.01, 0.05];
  const result = await c.privacy.membershipAudit(model, members, nonMembers, {
    fprs,
    shadow: { count: 4, epochs: 30, batchSize: 25, seed: 3 },
  });
  const [loss, cal] = [result.lossThreshold!, result.calibrated!];
  assert.ok(cal.auc > loss.auc, `AUC calibrated ${cal.auc}, loss threshold ${loss.auc}`);
  fprs.forEach((f, i) =>
    assert.ok(
      cal.tprAtFpr[i].tpr > loss.tprAtFpr[i].tpr,
      `TPR at ${f}: ${cal.tprAtFpr[i].tpr} vs ${loss.tprAtFpr[i].tpr}`,
    ),
  );
  assert.equal(cal.record.shadowModels, 4);
  const record = model.runRecorder!.record;
  assert.deepEqual(
    record.privacy!.audits!.map((r) => r.attack),
    ['loss-threshold', 'calibrated'],
  );
  assert.doesNotThrow(() => validateRunRecord(JSON.parse(JSON.stringify(record))));
  model.dispose();
  free(members, nonMembers);
});

test('LiRA scores: Gaussian likelihood ratio (online) and OUT z-score (offline), shared or own variance', () => {
  // Two examples, four shadows; example 0 is IN for shadows 0 and 1, example 1 for shadows 2 and 3.
  const inMask = [Uint8Array.from([1, 0]), Uint8Array.from([1, 0]), Uint8Array.from([0, 1]), Uint8Array.from([0, 1])];
  const phi = [
    Float64Array.from([4, 0]),
    Float64Array.from([6, 1]),
    Float64Array.from([1, 3]),
    Float64Array.from([3, 7]),
  ];
  const target = Float64Array.from([5, 2]);
  // Example 0: IN {4, 6} (mean 5, sd sqrt 2), OUT {1, 3} (mean 2, sd sqrt 2); example 1: IN {3, 7} (5, sd sqrt 8),
  // OUT {0, 1} (0.5, sd sqrt 0.5).
  const lp = (x: number, m: number, s: number) => -0.5 * ((x - m) / s) ** 2 - Math.log(s);
  const own = calibratedScores(target, phi, inMask, { variant: 'online', globalVariance: false });
  const wantOwn = [lp(5, 5, Math.SQRT2) - lp(5, 2, Math.SQRT2), lp(2, 5, Math.sqrt(8)) - lp(2, 0.5, Math.sqrt(0.5))];
  own.forEach((v, i) => assert.ok(Math.abs(v - wantOwn[i]) < 1e-12, `online own ${i}`));
  // Shared: IN pooled sd sqrt((2 + 8) / 2) = sqrt 5; OUT sqrt((2 + 0.5) / 2) = sqrt 1.25.
  const shared = calibratedScores(target, phi, inMask, { variant: 'online', globalVariance: true });
  const [si, so] = [Math.sqrt(5), Math.sqrt(1.25)];
  const wantShared = [lp(5, 5, si) - lp(5, 2, so), lp(2, 5, si) - lp(2, 0.5, so)];
  shared.forEach((v, i) => assert.ok(Math.abs(v - wantShared[i]) < 1e-12, `online shared ${i}`));
  const offline = calibratedScores(target, phi, inMask, { variant: 'offline', globalVariance: true });
  [(5 - 2) / so, (2 - 0.5) / so].forEach((w, i) => assert.ok(Math.abs(offline[i] - w) < 1e-12, `offline ${i}`));
  // The split: every example IN for exactly half the shadows, the same for the same seed.
  const split = inOutSplit(6, 50, 9);
  for (let i = 0; i < 50; i++)
    assert.equal(
      split.reduce((s, m) => s + m[i], 0),
      3,
    );
  assert.deepEqual(inOutSplit(6, 50, 9), split);
  assert.notDeepEqual(inOutSplit(6, 50, 10), split);
});

test('membershipAudit: typed errors for bad shapes, counts, options and a model without a compiled loss', async () => {
  const data = randomLabels(6, 8, 3, 2);
  const model = mlp(3, 4, 2);
  const audit = (opts: object, m: object = data, n: object = data, target: c.Model = model) =>
    c.privacy.membershipAudit(target, m as never, n as never, opts);
  await assert.rejects(
    audit({}, { x: data.x, y: c.zeros([5]) }),
    (e: Error) => e instanceof ShapeError && /5 samples/.test(e.message),
  );
  await assert.rejects(audit({}, { x: data.x }), ArgumentError);
  await assert.rejects(audit({ attacks: ['calibrated'] }), /shadow/);
  await assert.rejects(audit({ attacks: ['guess'] }), ArgumentError);
  await assert.rejects(audit({ fprs: [0] }), ArgumentError);
  await assert.rejects(audit({ threshold: 1 }), /unknown option 'threshold'/);
  await assert.rejects(audit({ shadow: { count: 3, epochs: 1 } }), /even integer >= 4/);
  await assert.rejects(audit({ shadow: { count: 4 } }), /shadow.epochs/);
  await assert.rejects(
    audit({ shadow: { count: 4, epochs: 1, population: { x: data.x, y: c.zeros([2]) } } }),
    ShapeError,
  );
  const uncompiled = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  await assert.rejects(audit({}, data, data, uncompiled), /not compiled/);
  const noLoss = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  noLoss.compile({ optimizer: 'sgd' });
  await assert.rejects(audit({}, data, data, noLoss), /compiled without a loss/);
  await assert.rejects(audit({}, { x: c.zeros([8, 5]), y: data.y }), ShapeError);
  for (const m of [model, uncompiled, noLoss]) m.dispose();
  free(data);
});

test('calibrated attack end to end: extra population, offline variant, shadows compiled as told', async () => {
  c.setSeed(14);
  const members = randomLabels(7, 12, 3, 2),
    nonMembers = randomLabels(8, 12, 3, 2),
    population = randomLabels(9, 16, 3, 2);
  const model = mlp(3, 8, 2);
  await model.fit(members.x, members.y, { epochs: 2, batchSize: 4, verbose: 0, record: false });
  const shadow = { count: 4, epochs: 2, batchSize: 4, population, variant: 'offline' as const, seed: 1 };
  const result = await c.privacy.membershipAudit(model, members, nonMembers, { attacks: ['calibrated'], shadow });
  const cal = result.calibrated!;
  assert.equal(result.lossThreshold, undefined);
  assert.equal(cal.record.shadowModels, 4);
  assert.ok([...cal.scores.members, ...cal.scores.nonMembers].every(Number.isFinite));
  assert.ok(cal.auc >= 0 && cal.auc <= 1);
  // A model compiled with a loss function cannot be recompiled from its config: shadow.compile is asked for.
  const custom = mlp(3, 8, 2);
  const loss = (t: c.Tensor, p: c.Tensor) => c.sub(0, c.sum(c.mul(c.oneHot(c.cast(t, 'int32'), 2), c.log(p)), -1));
  custom.compile({ optimizer: 'sgd', loss });
  await assert.rejects(
    c.privacy.membershipAudit(custom, members, nonMembers, { shadow }),
    (e: Error) => e instanceof ArgumentError && /pass shadow\.compile/.test(e.message),
  );
  const given = await c.privacy.membershipAudit(custom, members, nonMembers, {
    shadow: { ...shadow, compile: { optimizer: 'sgd', loss } },
  });
  assert.deepEqual(
    given.attacks.map((a) => a.attack),
    ['loss-threshold', 'calibrated'],
  );
  for (const m of [model, custom]) m.dispose();
  free(members, nonMembers, population);
});
