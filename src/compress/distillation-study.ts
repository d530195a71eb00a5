// distillationStudy: does distillation help? The same student trained alone and distilled from a teacher, on
// the same data, epochs, batches and initial weights, for several seeds; test accuracy as mean, spread and runs.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, fmtValue } from '../errors.js';
import { setSeed } from '../ops/random.js';
import { Optimizer, type OptimizerSpec } from '../optim/index.js';
import type { LossSpec } from '../nn/losses.js';
import type { Model } from '../train/model.js';
import { Distiller, type DistillationReport } from './distiller.js';
import { accuracyOf } from './measure.js';

export interface DistillationStudyArgs {
  /** The trained teacher (left unchanged). */
  teacher: Model;
  xTrain: Tensor;
  yTrain: Tensor;
  xTest: Tensor;
  yTest: Tensor;
  /**
   * Makes a fresh, untrained student. It is called after setSeed(seed) for each arm, so both arms of a seed
   * start from the same weights; its output must suit studentLoss (a softmax for the default loss).
   */
  studentFactory: () => Model;
  /** One run of each arm per seed (default [1, 2, 3]); the seed sets the initial weights, shuffling and dropout. */
  seeds?: number[];
  /** Default 3. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** A name or config (a fresh optimizer for each run), or a function making one; default 'adam'. */
  optimizer?: OptimizerSpec | (() => OptimizerSpec);
  /** Default 'sparseCategoricalCrossentropy' (integer labels; use 'categoricalCrossentropy' for one-hot). */
  studentLoss?: LossSpec;
  distillationLoss?: LossSpec;
  /** Distiller's alpha (default 0.1, as Keras' example). */
  alpha?: number;
  /** Distiller's temperature (default 3, as Keras' example). */
  temperature?: number;
}

/** Test accuracies of one arm: their mean, sample standard deviation (n - 1; 0 for one run) and the runs. */
export interface StudyArm {
  mean: number;
  std: number;
  runs: number[];
}

export interface DistillationStudyResult {
  /** The students distilled from the teacher. */
  distilled: StudyArm;
  /** The same students trained on the labels alone. */
  alone: StudyArm;
  /** distilled - alone, seed by seed (a paired comparison: same initial weights and batches). */
  gain: StudyArm;
  /** The teacher's test accuracy. */
  teacherAccuracy: number;
  /** The distillation settings and the two models' sizes. */
  distillation: DistillationReport;
  seeds: number[];
  epochs: number;
  batchSize: number;
  /** Wall time of the whole study. */
  seconds: number;
}

/** Mean and sample standard deviation (n - 1) of runs. */
function arm(runs: number[]): StudyArm {
  const mean = runs.reduce((s, v) => s + v, 0) / runs.length;
  const std = runs.length > 1 ? Math.sqrt(runs.reduce((s, v) => s + (v - mean) ** 2, 0) / (runs.length - 1)) : 0;
  return { mean, std, runs };
}

/**
 * Trains studentFactory()'s student alone and distilled from `teacher` for each seed, and reports their test
 * accuracies. Runs without run records (record: false) and quietly; takes about
 * seeds x 2 x (epochs over xTrain) of the student's training, plus the teacher's forward passes.
 */
export async function distillationStudy(args: DistillationStudyArgs): Promise<DistillationStudyResult> {
  const {
    teacher,
    xTrain,
    yTrain,
    xTest,
    yTest,
    studentFactory,
    seeds = [1, 2, 3],
    epochs = 3,
    batchSize = 64,
    optimizer = 'adam',
    studentLoss = 'sparseCategoricalCrossentropy',
    distillationLoss,
    alpha,
    temperature,
  } = args;
  if (typeof studentFactory !== 'function')
    throw new ArgumentError(`distillationStudy: studentFactory must be a function making a student model`);
  if (!Array.isArray(seeds) || seeds.length === 0 || !seeds.every(Number.isSafeInteger))
    throw new ArgumentError(`distillationStudy: seeds must be a non-empty list of integers, got ${fmtValue(seeds)}`);
  if (optimizer instanceof Optimizer)
    throw new ArgumentError(
      'distillationStudy: give the optimizer as a name, a config or a function making one: one Optimizer ' +
        'object would carry its state from run to run',
    );
  const newOptimizer = () => (typeof optimizer === 'function' ? optimizer() : optimizer);
  const start = performance.now();
  const fitArgs = { epochs, batchSize, verbose: 0 as const, record: false as const };
  const alone: number[] = [];
  const distilled: number[] = [];
  let report!: DistillationReport;
  for (const seed of seeds) {
    setSeed(seed);
    const own = studentFactory();
    own.compile({ optimizer: newOptimizer(), loss: studentLoss, metrics: ['accuracy'] });
    await own.fit(xTrain, yTrain, { ...fitArgs, seed });
    alone.push(accuracyOf(own, xTest, yTest));
    own.dispose();

    setSeed(seed);
    const student = studentFactory();
    const distiller = new Distiller({ student, teacher });
    distiller.compile({
      optimizer: newOptimizer(),
      metrics: ['accuracy'],
      studentLoss,
      distillationLoss,
      alpha,
      temperature,
    });
    await distiller.fit(xTrain, yTrain, { ...fitArgs, seed });
    distilled.push(accuracyOf(distiller, xTest, yTest));
    report = distiller.report();
    student.dispose(); // not distiller.dispose(), which would free the teacher too
  }
  return {
    distilled: arm(distilled),
    alone: arm(alone),
    gain: arm(distilled.map((d, i) => d - alone[i])),
    teacherAccuracy: accuracyOf(teacher, xTest, yTest),
    distillation: report,
    seeds,
    epochs,
    batchSize,
    seconds: (performance.now() - start) / 1000,
  };
}
