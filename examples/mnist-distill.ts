// MNIST distillation: the Keras MNIST CNN, trained on all 60,000 images, teaches a small MLP (Flatten -> Dense 32
// -> Dense 10) on 2,000 of them; the same student trained alone on the same images, epochs and initial weights is
// the baseline, over several seeds (mean, spread and the paired gain). `--epochs N` (teacher, default 2),
// `--json` for a final JSON line, `--out DIR` (default runs/mnist-distill: the teacher, and one run record, card and
// ledger entry for the whole study) / `--no-record`.
import * as c from '../src/index.js';
import { LoopRecorder, firstSamples, mnistCnn, parseExampleArgs, publishedFiles, recordRun } from './common.js';

const { epochs, json, verbose, seed, out, limit } = parseExampleArgs({ epochs: 2, name: 'mnist-distill' });
const mnist = await c.datasets.mnist({ flatten: false });
const { test } = mnist,
  train = firstSamples(mnist.train, limit);
const teacher = mnistCnn();
teacher.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
// One record covers the teacher's training and the study's students (begun outside fit: every kernel counts).
const recorder = out ? new LoopRecorder({ name: 'mnist-distill' }) : undefined;
recorder?.beginLoop({ x: train.x, y: train.y });
await teacher.fit(train.x, train.y, {
  epochs,
  batchSize: 128,
  verbose,
  seed,
  callbacks: recorder
    ? [{ onBatchEnd: () => recorder.onBatchEnd(), onEpochEnd: (e, l) => recorder.onEpochEnd(e, l) }]
    : [],
});

// Few images and many epochs: where soft targets help a small student (docs/compression.md has the other settings).
const subset = Math.min(2000, train.x.shape[0]);
const STUDENT_EPOCHS = 20;
const study = await c.compress.distillationStudy({
  teacher,
  xTrain: c.slice(train.x, [0], [subset]),
  yTrain: c.slice(train.y, [0], [subset]),
  xTest: test.x,
  yTest: test.y,
  seeds: [1, 2, 3, 4, 5],
  epochs: STUDENT_EPOCHS,
  batchSize: 64,
  studentFactory: () =>
    new c.Sequential([
      c.layers.flatten({ inputShape: [28, 28, 1] }),
      c.layers.dense({ units: 32, activation: 'relu' }),
      c.layers.dense({ units: 10, activation: 'softmax' }),
    ]),
});
const figures = {
  example: 'mnist-distill',
  teacherAccuracy: study.teacherAccuracy,
  studentImages: subset,
  seeds: study.seeds,
  distilled: study.distilled,
  alone: study.alone,
  gain: study.gain,
  seconds: study.seconds,
  backend: c.getBackend().name,
};
let run: Awaited<ReturnType<typeof recordRun>> | undefined;
if (recorder && out) {
  await recorder.endLoop({
    model: c.modelFacts(teacher),
    status: 'completed',
    hyperparameters: {
      teacher: { optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', epochs, batchSize: 128 },
      students: { layers: 'Flatten -> Dense 32 relu -> Dense 10', images: subset, epochs: STUDENT_EPOCHS },
      seeds: study.seeds,
    },
    seeds: { fit: seed },
    epochs: { requested: epochs },
  });
  const arm = (a: c.compress.StudyArm) => ({ accuracy: a.mean, std: a.std });
  run = await recordRun(recorder, out, {
    model: teacher,
    test,
    evaluations: {
      'students distilled (mean over seeds), test': arm(study.distilled),
      'students alone (mean over seeds), test': arm(study.alone),
      'gain of distillation (paired by seed), test': arm(study.gain),
    },
  });
}
if (!json) {
  const pct = (a: c.compress.StudyArm) => `${(a.mean * 100).toFixed(2)}% ± ${(a.std * 100).toFixed(2)}`;
  console.log(`teacher ${(study.teacherAccuracy * 100).toFixed(2)}%`);
  console.log(`student distilled ${pct(study.distilled)}, alone ${pct(study.alone)}, gain ${pct(study.gain)}`);
}
console.log(JSON.stringify({ ...figures, ...publishedFiles(run) }));
