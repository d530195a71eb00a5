// MNIST distillation: the Keras MNIST CNN, trained on all 60,000 images, teaches a small MLP (Flatten -> Dense 32
// -> Dense 10) on 2,000 of them; the same student trained alone on the same images, epochs and initial weights is
// the baseline, over several seeds (mean, spread and the paired gain). `--epochs N` (teacher, default 2),
// `--json` for a final JSON line.
import * as c from '../src/index.js';
import { mnistCnn, parseExampleArgs } from './common.js';

const { epochs, json, verbose, seed } = parseExampleArgs({ epochs: 2 });
const { train, test } = await c.datasets.mnist({ flatten: false });
const teacher = mnistCnn();
teacher.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
await teacher.fit(train.x, train.y, { epochs, batchSize: 128, verbose, seed });

// Few images and many epochs: where soft targets help a small student (docs/compression.md has the other settings).
const subset = 2000;
const study = await c.compress.distillationStudy({
  teacher,
  xTrain: c.slice(train.x, [0], [subset]),
  yTrain: c.slice(train.y, [0], [subset]),
  xTest: test.x,
  yTest: test.y,
  seeds: [1, 2, 3, 4, 5],
  epochs: 20,
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
if (!json) {
  const pct = (a: c.compress.StudyArm) => `${(a.mean * 100).toFixed(2)}% ± ${(a.std * 100).toFixed(2)}`;
  console.log(`teacher ${(study.teacherAccuracy * 100).toFixed(2)}%`);
  console.log(`student distilled ${pct(study.distilled)}, alone ${pct(study.alone)}, gain ${pct(study.gain)}`);
}
console.log(JSON.stringify(figures));
