// distillationStudy: its arms are paired (same initial weights and batches per seed: with alpha = 1 the distilled
// students equal the students trained alone), mean / spread / gain are computed from the runs, and bad options fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat, rejects } from '../helpers.js';

/** Four Gaussian blobs in 3-D (a learnable problem), n samples, seeded. */
function blobs(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const g = new c.RandomStream(seed);
  const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
  const noise = flat(g.normal([n, 3], 0, 0.7));
  const centres = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
    [-1, -1, -1],
  ];
  const x = Float32Array.from({ length: n * 3 }, (_, k) => centres[labels[Math.floor(k / 3)]][k % 3] * 2 + noise[k]);
  return { x: c.tensor(x, [n, 3]), y: c.tensor(labels, [n], 'int32') };
}

const student = () =>
  new c.Sequential([
    new c.Dense({ units: 8, activation: 'relu', inputShape: [3] }),
    new c.Dense({ units: 4, activation: 'softmax' }),
  ]);

async function trainedTeacher(train: { x: c.Tensor; y: c.Tensor }): Promise<c.Sequential> {
  c.setSeed(3);
  const teacher = new c.Sequential([
    new c.Dense({ units: 16, activation: 'relu', inputShape: [3] }),
    new c.Dense({ units: 4, activation: 'softmax' }),
  ]);
  teacher.compile({ optimizer: c.optimizers.adam({ learningRate: 0.05 }), loss: 'sparseCategoricalCrossentropy' });
  await teacher.fit(train.x, train.y, { epochs: 10, batchSize: 16, verbose: 0, record: false, seed: 1 });
  return teacher;
}

test('the arms are paired: with alpha = 1 each distilled run equals its run alone', async () => {
  const train = blobs(96, 1),
    testData = blobs(40, 2);
  const teacher = await trainedTeacher(train);
  const before = teacher.weights.map((w) => flat(w.value));
  const args = {
    teacher,
    xTrain: train.x,
    yTrain: train.y,
    xTest: testData.x,
    yTest: testData.y,
    studentFactory: student,
    seeds: [4, 5, 6],
    epochs: 1,
    batchSize: 16,
  };
  const paired = await c.compress.distillationStudy({ ...args, alpha: 1 });
  assert.deepEqual(paired.distilled.runs, paired.alone.runs);
  assert.deepEqual(paired.gain.runs, [0, 0, 0]);

  const r = await c.compress.distillationStudy({ ...args, temperature: 2 });
  assert.deepEqual(r.alone.runs, paired.alone.runs, 'the students alone do not depend on the distillation settings');
  for (const arm of [r.distilled, r.alone, r.gain]) {
    assert.equal(arm.runs.length, 3);
    const mean = (arm.runs[0] + arm.runs[1] + arm.runs[2]) / 3;
    const std = Math.sqrt(arm.runs.reduce((s, v) => s + (v - mean) ** 2, 0) / 2);
    assert.ok(Math.abs(arm.mean - mean) < 1e-12 && Math.abs(arm.std - std) < 1e-12, JSON.stringify(arm));
  }
  r.gain.runs.forEach((g, i) => assert.equal(g, r.distilled.runs[i] - r.alone.runs[i]));
  for (const a of [...r.distilled.runs, ...r.alone.runs]) assert.ok(a >= 0 && a <= 1 && a * 40 === Math.round(a * 40));
  assert.ok(r.teacherAccuracy > 0.8, `the teacher learnt the blobs: ${r.teacherAccuracy}`);
  assert.equal(r.distillation.temperature, 2);
  assert.equal(r.distillation.alpha, 0.1);
  assert.deepEqual(
    teacher.weights.map((w) => flat(w.value)),
    before,
    'the teacher is unchanged',
  );
  c.dispose([train.x, train.y, testData.x, testData.y]);
  teacher.dispose();
});

test('distillationStudy rejects a shared Optimizer object, no seeds and a missing studentFactory', async () => {
  const data = blobs(8, 3);
  const teacher = student();
  const args = { teacher, xTrain: data.x, yTrain: data.y, xTest: data.x, yTest: data.y, studentFactory: student };
  await rejects(
    () => c.compress.distillationStudy({ ...args, optimizer: c.optimizers.adam() }),
    c.ArgumentError,
    /carry its state from run to run/,
  );
  await rejects(() => c.compress.distillationStudy({ ...args, seeds: [] }), c.ArgumentError, /seeds must be/);
  await rejects(
    () => c.compress.distillationStudy({ ...args, studentFactory: undefined as never }),
    c.ArgumentError,
    /studentFactory must be a function/,
  );
  c.dispose([data.x, data.y]);
  teacher.dispose();
});
