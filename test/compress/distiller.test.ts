// Distiller: the combined loss and its gradient against a hand computation (T^2 factor, alpha edges), alpha = 1
// trains exactly as the student alone, the teacher is untouched, the logs / evaluate / predict / run record, and
// the typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose, flat, rejects } from '../helpers.js';

const { Distiller } = c.compress;

/** n samples of 3 features and integer labels in [0, 4), seeded. */
function data(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const g = new c.RandomStream(seed);
  const x = g.normal([n, 3], 0, 1);
  const labels = Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % 4);
  return { x, y: c.tensor(labels, [n], 'int32') };
}

/** A one-Dense 3 -> 4 model with the given weights (kernel [3][4], bias [4]). */
function linear(kernel: number[][], bias: number[], activation?: string): c.Sequential {
  const model = new c.Sequential([new c.Dense({ units: 4, activation, inputShape: [3] })]);
  model.setWeights([c.tensor(kernel), c.tensor(bias)]);
  return model;
}

const TEACHER_KERNEL = [
  [1.5, -0.5, 0.25, 0.0],
  [-1.0, 2.0, 0.5, -0.75],
  [0.3, 0.1, -1.2, 0.8],
];
const TEACHER_BIAS = [0.1, -0.2, 0.3, 0.0];
const STUDENT_KERNEL = [
  [0.2, -0.1, 0.4, -0.3],
  [0.5, 0.3, -0.2, 0.1],
  [-0.4, 0.2, 0.1, 0.6],
];
const STUDENT_BIAS = [0.05, 0.0, -0.05, 0.1];

/** xs [n][3] times kernel [3][4] plus bias: the logits, in float64. */
function logits(xs: number[][], kernel: number[][], bias: number[]): number[][] {
  return xs.map((row) => bias.map((b, j) => b + row.reduce((s, v, k) => s + v * kernel[k][j], 0)));
}

function softmax(z: number[], t = 1): number[] {
  const m = Math.max(...z);
  const e = z.map((v) => Math.exp((v - m) / t));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

/**
 * The Keras example's loss written out: alpha * CE(y, s) + (1 - alpha) * KL(softmax(t/T) || softmax(s/T)) * T^2
 * (batch means, KL's probabilities clipped to [1e-7, 1] as Keras), and its gradient with respect to the student's
 * logits: alpha (softmax(s) - onehot) / n + (1 - alpha) T (softmax(s/T) - softmax(t/T)) / n.
 */
function handLoss(xs: number[][], ys: number[], alpha: number, temperature: number) {
  const n = xs.length;
  const t = logits(xs, TEACHER_KERNEL, TEACHER_BIAS),
    s = logits(xs, STUDENT_KERNEL, STUDENT_BIAS);
  const clip = (p: number) => Math.min(1, Math.max(1e-7, p));
  let ce = 0,
    kl = 0;
  const dLogits = s.map((row, i) => {
    const p = softmax(row),
      ps = softmax(row, temperature),
      pt = softmax(t[i], temperature);
    ce -= Math.log(p[ys[i]]) / n;
    kl += pt.reduce((acc, q, j) => acc + clip(q) * Math.log(clip(q) / clip(ps[j])), 0) / n;
    return p.map((v, j) => (alpha * (v - (j === ys[i] ? 1 : 0)) + (1 - alpha) * temperature * (ps[j] - pt[j])) / n);
  });
  const distill = kl * temperature ** 2;
  const dKernel = STUDENT_KERNEL.map((r, k) =>
    r.map((_, j) => xs.reduce((acc, row, i) => acc + row[k] * dLogits[i][j], 0)),
  );
  const dBias = STUDENT_BIAS.map((_, j) => dLogits.reduce((acc, row) => acc + row[j], 0));
  return { loss: alpha * ce + (1 - alpha) * distill, student: ce, distill, dKernel, dBias };
}

test('the combined loss and one SGD step equal the hand computation (T^2 included), at alpha 0, 0.3 and 1', () => {
  const { x, y } = data(6, 1);
  const xFlat = flat(x);
  const xs = Array.from({ length: 6 }, (_, i) => xFlat.slice(3 * i, 3 * i + 3)),
    ys = flat(y);
  const lr = 0.5,
    temperature = 2.5;
  for (const alpha of [0, 0.3, 1]) {
    // A softmax teacher (its logits are recovered) and a logits student, as in the Keras example.
    const teacher = linear(TEACHER_KERNEL, TEACHER_BIAS, 'softmax');
    const student = linear(STUDENT_KERNEL, STUDENT_BIAS);
    const distiller = new Distiller({ student, teacher });
    distiller.compile({
      optimizer: c.optimizers.sgd({ learningRate: lr }),
      studentLoss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
      alpha,
      temperature,
    });
    const hand = handLoss(xs, ys, alpha, temperature);
    const logs = distiller.trainOnBatch(x, y);
    const close = (a: number, e: number, what: string) =>
      assert.ok(Math.abs(a - e) <= 1e-5 * Math.abs(e) + 1e-6, `alpha ${alpha} ${what}: ${a} vs ${e}`);
    close(logs.loss, hand.loss, 'loss');
    close(logs.student_loss, hand.student, 'student_loss');
    close(logs.distillation_loss, hand.distill, 'distillation_loss');
    const [kernel, bias] = student.getWeights();
    const stepped = (w: number[][], g: number[][]) => w.map((r, k) => r.map((v, j) => v - lr * g[k][j]));
    assertClose(kernel, stepped(STUDENT_KERNEL, hand.dKernel), { rtol: 1e-5, atol: 1e-6 }, `alpha ${alpha} kernel`);
    assertClose(bias, stepped([STUDENT_BIAS], [hand.dBias])[0], { rtol: 1e-5, atol: 1e-6 }, `alpha ${alpha} bias`);
    c.dispose([kernel, bias]);
    teacher.dispose();
    student.dispose();
  }
  c.dispose([x, y]);
});

test("a softmax student's logits are what is softened: the same step as its logits twin", () => {
  const { x, y } = data(8, 2);
  const step = (activation: string | undefined) => {
    const student = linear(STUDENT_KERNEL, STUDENT_BIAS, activation);
    const distiller = new Distiller({ student, teacher: linear(TEACHER_KERNEL, TEACHER_BIAS) });
    distiller.compile({
      optimizer: c.optimizers.sgd({ learningRate: 0.2 }),
      studentLoss: c.losses.sparseCategoricalCrossentropy({ fromLogits: activation === undefined }),
      alpha: 0.2,
      temperature: 4,
    });
    const logs = distiller.trainOnBatch(x, y);
    return { logs, weights: student.getWeights() };
  };
  const soft = step('softmax'),
    plain = step(undefined);
  assert.ok(Math.abs(soft.logs.loss - plain.logs.loss) < 1e-6, `${soft.logs.loss} vs ${plain.logs.loss}`);
  soft.weights.forEach((w, i) => assertClose(w, plain.weights[i], { rtol: 1e-5, atol: 1e-7 }));
  c.dispose([x, y, ...soft.weights, ...plain.weights]);
});

/**
 * A small student with dropout (so fit's step seed matters), the same weights for the same seed; with a
 * regularizer, on both kernels.
 */
function dropoutStudent(seed: number, kernelRegularizer?: 'l2'): c.Sequential {
  c.setSeed(seed);
  return new c.Sequential([
    new c.Dense({ units: 8, activation: 'relu', inputShape: [3], kernelRegularizer }),
    new c.Dropout({ rate: 0.3 }),
    new c.Dense({ units: 4, activation: 'softmax', kernelRegularizer }),
  ]);
}

/** A teacher with BatchNormalization and dropout, whose moving statistics would move if run in training mode. */
function bnTeacher(seed: number): c.Sequential {
  c.setSeed(seed);
  return new c.Sequential([
    new c.Dense({ units: 6, activation: 'relu', inputShape: [3] }),
    new c.BatchNormalization(),
    new c.Dropout({ rate: 0.5 }),
    new c.Dense({ units: 4, activation: 'softmax' }),
  ]);
}

/** Fits a student alone and the same student (same seed) distilled with alpha = 1; returns both and the logs. */
async function aloneAndDistilled(kernelRegularizer?: 'l2') {
  const { x, y } = data(40, 3);
  const fitArgs = { epochs: 2, batchSize: 8, seed: 11, verbose: 0 as const, record: false as const };
  const alone = dropoutStudent(5, kernelRegularizer);
  alone.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const h1 = await alone.fit(x, y, fitArgs);
  const student = dropoutStudent(5, kernelRegularizer);
  const distiller = new Distiller({ student, teacher: bnTeacher(6) });
  distiller.compile({
    optimizer: 'adam',
    metrics: ['accuracy'],
    studentLoss: 'sparseCategoricalCrossentropy',
    alpha: 1,
  });
  const h2 = await distiller.fit(x, y, fitArgs);
  alone.weights.forEach((w, i) => assert.deepEqual(flat(student.weights[i].value), flat(w.value), w.name));
  assert.deepEqual(h2.history.accuracy, h1.history.accuracy);
  c.dispose([x, y]);
  return { h1, h2 };
}

test('alpha = 1 trains the student exactly as training it alone (same seed: same weights, bit for bit)', async () => {
  const { h1, h2 } = await aloneAndDistilled();
  assert.deepEqual(h2.history.student_loss, h1.history.loss);
  assert.deepEqual(h2.history.loss, h1.history.loss, 'alpha = 1: the loss is the student loss');
});

test("a regularised student's penalties are trained and logged: alpha = 1 is still the student alone", async () => {
  const { h1, h2 } = await aloneAndDistilled('l2');
  assert.deepEqual(h2.history.loss, h1.history.loss, 'the loss includes the regularization, as Model.fit logs it');
  // student_loss is the labels' loss alone, below the regularised total.
  h2.history.student_loss.forEach((s, i) => assert.ok((s as number) < (h1.history.loss[i] as number)));
});

test('only the student trains: the teacher (BatchNormalization statistics too) is unchanged', async () => {
  const { x, y } = data(32, 4);
  const teacher = bnTeacher(7);
  const student = dropoutStudent(8);
  const distiller = new Distiller({ student, teacher });
  distiller.compile({ optimizer: 'adam', metrics: ['accuracy'], studentLoss: 'sparseCategoricalCrossentropy' });
  teacher.predict(x); // builds the teacher
  const teacherBefore = teacher.weights.map((w) => flat(w.value));
  assert.equal(teacher.weights.length, 8, 'kernel, bias, gamma, beta, moving mean and variance, kernel, bias');
  const studentBefore = student.weights.map((w) => flat(w.value));
  assert.deepEqual(distiller.trainableWeights, student.trainableWeights, 'the teacher is not trained');
  await distiller.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, record: false });
  teacher.weights.forEach((w, i) => assert.deepEqual(flat(w.value), teacherBefore[i], `teacher ${w.name}`));
  assert.equal(teacher.trainable, true, "the teacher's own flag is left as it was");
  assert.ok(
    student.weights.some((w, i) => flat(w.value).some((v, j) => v !== studentBefore[i][j])),
    'the student trained',
  );
  c.dispose([x, y]);
});

test("fit's logs, evaluate and predict are the student's; the run record counts the student as trainable", async () => {
  const { x, y } = data(24, 5);
  const student = dropoutStudent(9);
  const teacher = bnTeacher(10);
  const distiller = new Distiller({ student, teacher });
  distiller.compile({
    optimizer: 'adam',
    metrics: ['accuracy'],
    studentLoss: 'sparseCategoricalCrossentropy',
    alpha: 0.5,
    temperature: 2,
  });
  const history = await distiller.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, validationData: [x, y] });
  assert.deepEqual(Object.keys(history.history).sort(), [
    'accuracy',
    'distillation_loss',
    'loss',
    'student_loss',
    'val_accuracy',
    'val_student_loss',
  ]);
  history.history.loss.forEach((l, i) => {
    const mixed = 0.5 * history.history.student_loss[i] + 0.5 * history.history.distillation_loss[i];
    assert.ok(Math.abs(l - mixed) < 1e-5 * mixed, `epoch ${i}: loss ${l} is the epoch mean of the mix, ${mixed}`);
  });
  const logs = await distiller.evaluate(x, y, { batchSize: 5 });
  student.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const own = await student.evaluate(x, y, { batchSize: 5 });
  assert.deepEqual(Object.keys(logs).sort(), ['accuracy', 'student_loss']);
  assert.ok(Math.abs(logs.student_loss - own.loss) < 1e-6, `${logs.student_loss} vs ${own.loss}`);
  assert.equal(logs.accuracy, own.accuracy);
  const p1 = distiller.predict(x) as c.Tensor,
    p2 = student.predict(x) as c.Tensor;
  assert.deepEqual(flat(p1), flat(p2));
  const record = distiller.runRecorder!.record;
  const studentParams = student.countParams();
  assert.deepEqual(record.model.parameters, {
    total: studentParams + teacher.countParams(),
    trainable: studentParams,
    nonTrainable: teacher.countParams(),
  });
  assert.ok(record.compute.byPhase.forward.flops > 0 && record.compute.byPhase.backward.flops > 0, 'phases marked');
  assert.deepEqual(distiller.report(), {
    teacher: { name: teacher.name, parameters: teacher.countParams() },
    student: { name: student.name, parameters: studentParams },
    alpha: 0.5,
    temperature: 2,
    studentLoss: 'sparseCategoricalCrossentropy',
    distillationLoss: 'kullbackLeiblerDivergence',
  });
  c.dispose([x, y, p1, p2]);
});

test('what a distillation step makes is freed: the tensor count is flat across fits', async () => {
  const { x, y } = data(16, 6);
  const distiller = new Distiller({ student: dropoutStudent(1), teacher: bnTeacher(2) });
  distiller.compile({ optimizer: 'adam', studentLoss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const args = { epochs: 1, batchSize: 4, verbose: 0 as const, record: false as const };
  await distiller.fit(x, y, args);
  const live = c.memory().tensors;
  await distiller.fit(x, y, { ...args, epochs: 2 });
  await distiller.evaluate(x, y);
  assert.equal(c.memory().tensors, live);
  c.dispose([x, y]);
});

test('whether an output is probabilities is read back once per model, not every step (no host syncs)', async () => {
  const { x, y } = data(8, 8);
  // Logits outputs (no softmax), so the data test runs for both models.
  const distiller = new Distiller({
    student: linear(STUDENT_KERNEL, STUDENT_BIAS),
    teacher: linear(TEACHER_KERNEL, TEACHER_BIAS),
  });
  distiller.compile({ optimizer: 'sgd', studentLoss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }) });
  const item = c.Tensor.prototype.item;
  let reads = 0;
  c.Tensor.prototype.item = function (this: c.Tensor) {
    reads++;
    return item.call(this);
  };
  const counted = async () => {
    reads = 0;
    await distiller.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, record: false });
    return reads;
  };
  try {
    const first = await counted();
    const second = await counted();
    // The first step checks the teacher's and the student's outputs, two reads each (min, worst row sum).
    assert.equal(first - second, 4, `first fit ${first} reads, second ${second}`);
    assert.equal(await counted(), second);
  } finally {
    c.Tensor.prototype.item = item;
  }
  c.dispose([x, y]);
});

/** A layer computing a softmax without remembering its logits (as an imported graph's Softmax node may). */
class OpaqueSoftmax extends c.Layer {
  override call(x: c.Tensor | c.Tensor[]): c.Tensor {
    return c.softmax(x as c.Tensor, -1);
  }
}

/** Asserts that fn throws an error of class cls whose message matches. */
function throwsTyped(fn: () => unknown, cls: new (...a: never[]) => Error, message: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof cls && message.test(e.message));
}

test('bad settings and models that cannot be distilled get typed errors naming what is wrong', async () => {
  const { x, y } = data(8, 7);
  const make = (student = linear(STUDENT_KERNEL, STUDENT_BIAS), teacher = linear(TEACHER_KERNEL, TEACHER_BIAS)) =>
    new Distiller({ student, teacher });
  const studentLoss = c.losses.sparseCategoricalCrossentropy({ fromLogits: true });
  const distiller = make();
  for (const alpha of [-0.1, 1.5, Number.NaN, '0.5' as never])
    throwsTyped(() => distiller.compile({ studentLoss, alpha }), c.ArgumentError, /alpha must be a number in \[0, 1\]/);
  for (const temperature of [0, -1, Number.POSITIVE_INFINITY, Number.NaN])
    throwsTyped(() => distiller.compile({ studentLoss, temperature }), c.ArgumentError, /temperature must be a finite/);
  throwsTyped(() => distiller.compile({} as never), c.ArgumentError, /studentLoss is required/);
  throwsTyped(() => distiller.compile({ loss: 'mse', studentLoss } as never), c.ArgumentError, /as studentLoss/);
  throwsTyped(() => distiller.compile({ studentLoss, temprature: 2 } as never), c.ArgumentError, /did you mean/);
  throwsTyped(() => new Distiller({ student: {} as never, teacher: distiller.teacher }), c.ArgumentError, /student/);
  const same = distiller.student;
  throwsTyped(() => new Distiller({ student: same, teacher: same }), c.ArgumentError, /the same model/);
  await rejects(() => distiller.fit(x, y, { verbose: 0 }), c.ArgumentError, /must be compiled first/);
  await rejects(() => distiller.evaluate(x, y), c.ArgumentError, /must be compiled first/);

  const compiled = (d: c.compress.Distiller) => {
    d.compile({ optimizer: 'sgd', studentLoss });
    return d;
  };
  const fitArgs = { verbose: 0 as const, record: false as const };
  // Three classes against the teacher's four.
  const narrow = compiled(make(new c.Sequential([new c.Dense({ units: 3, inputShape: [3] })])));
  narrow.student.apply(x); // built outside the counted call (its weights are not a leak)
  await rejects(
    () => narrow.fit(x, y, fitArgs),
    c.ShapeError,
    /the teacher 'sequential_\d+' outputs \[8, 4\] but the student 'sequential_\d+' outputs \[8, 3\]/,
  );
  const opaqueTeacher = new c.Sequential([new c.Dense({ units: 4, inputShape: [3] }), new OpaqueSoftmax()]);
  opaqueTeacher.apply(x);
  const opaque = compiled(make(undefined, opaqueTeacher));
  await rejects(() => opaque.fit(x, y, fitArgs), c.ArgumentError, /teacher .* outputs probabilities .* logits/);
  const sigmoid = compiled(make(linear(STUDENT_KERNEL, STUDENT_BIAS, 'sigmoid')));
  await rejects(() => sigmoid.fit(x, y, fitArgs), c.ArgumentError, /student .* ends in a sigmoid/);
  await rejects(() => sigmoid.fit(x, fitArgs), c.ArgumentError, /need labels y/);
  c.dispose([x, y]);
});
