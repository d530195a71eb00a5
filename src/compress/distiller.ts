// Distiller: knowledge distillation as in the Keras example (keras.io/examples/vision/knowledge_distillation),
// a Model that trains a student on the labels and on a frozen teacher's softened outputs through the ordinary fit.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape, fmtValue } from '../errors.js';
import { noGrad } from '../autograd/tape.js';
import { valueAndGrads } from '../autograd/grad.js';
import { withPhase } from '../autograd/annotations.js';
import { tidy } from '../tensor/storage.js';
import { shapesEqual } from '../tensor/shape.js';
import * as o from '../ops/index.js';
import { Layer, type CallContext, type SymShape } from '../nn/layer.js';
import { getLoss, type LossFn, type LossSpec } from '../nn/losses.js';
import { logitsBehind } from '../nn/logits.js';
import { checkOptions } from '../registry.js';
import { Model, type ModelArgs } from '../train/model.js';
import { Mean } from '../train/metrics.js';
import type { CompileArgs, StepData, StepLogs } from '../train/trainer.js';
import { addModelLosses } from '../train/compile.js';
import type { OptimizerSpec } from '../optim/index.js';

export interface DistillerArgs extends Omit<ModelArgs, 'inputs' | 'outputs'> {
  /** The model trained; its outputs must have the teacher's shape (logits, or a softmax whose logits are known). */
  student: Layer;
  /** The trained model distilled: frozen, run in inference mode, never differentiated. */
  teacher: Layer;
}

export interface DistillerCompileArgs {
  /** Default 'rmsprop', as Model.compile. */
  optimizer?: OptimizerSpec;
  /** The student's metrics on the labels (as Model.compile's). */
  metrics?: CompileArgs['metrics'];
  weightedMetrics?: CompileArgs['weightedMetrics'];
  /** The loss of the student's outputs against the labels (Keras' student_loss_fn). */
  studentLoss: LossSpec;
  /** The loss of the student's softened outputs against the teacher's (default KL divergence, as Keras). */
  distillationLoss?: LossSpec;
  /** The weight of the student loss, in [0, 1]; the distillation loss gets 1 - alpha (default 0.1). */
  alpha?: number;
  /** Softens both softmaxes: softmax(logits / temperature); finite and > 0 (default 3). */
  temperature?: number;
}

const COMPILE_KEYS = [
  'optimizer',
  'metrics',
  'weightedMetrics',
  'studentLoss',
  'distillationLoss',
  'alpha',
  'temperature',
] as const;

/** What a Distiller did, as plain data for the run record and the card (see DistillationReport's fields). */
export interface DistillationReport {
  teacher: { name: string; parameters: number };
  student: { name: string; parameters: number };
  alpha: number;
  temperature: number;
  studentLoss: string;
  distillationLoss: string;
}

/** The resolved compile options. */
interface Settings {
  studentLoss: LossFn;
  distillationLoss: LossFn;
  alpha: number;
  temperature: number;
}

/**
 * The logits behind a model's output, which distillation softens: a softmax output gives the logits it was
 * computed from (nn/logits.ts); any other output is taken as logits, unless its rows are probability
 * distributions, whose logits are lost (softening probabilities would be a silent wrong answer). That data test
 * reads the values back (host syncs), so it runs once per model: the models in `checked` passed it.
 */
function logitsOf(role: 'teacher' | 'student', model: Layer, out: Tensor, checked: WeakSet<Layer>): Tensor {
  const logits = logitsBehind(out, 'softmax');
  if (logits) return logits;
  const what = `Distiller: the ${role} '${model.name}'`;
  if (logitsBehind(out, 'sigmoid'))
    throw new ArgumentError(
      `${what} ends in a sigmoid; distillation softens a softmax over classes: give a model whose last layer ` +
        'outputs logits or a softmax',
    );
  if (checked.has(model)) return out;
  const classes = out.shape[out.rank - 1];
  if (classes > 1 && looksLikeProbabilities(out))
    throw new ArgumentError(
      `${what} outputs probabilities (rows of ${fmtShape(out.shape)} are >= 0 and sum to 1) whose logits are ` +
        'unknown; distillation needs logits: give a model whose last layer has no activation (or a softmax ' +
        'activation of its own)',
    );
  checked.add(model);
  return out;
}

/** Whether every row (last axis) is non-negative and sums to 1: what a softmax makes and logits almost never are. */
function looksLikeProbabilities(out: Tensor): boolean {
  const [min, worst] = noGrad(() =>
    tidy(() => {
      const x = o.cast(out, 'float64');
      return [o.min(x).item(), o.max(o.abs(o.sub(o.sum(x, -1), 1))).item()];
    }),
  );
  return min >= 0 && worst <= 1e-4;
}

function checkSettings(args: DistillerCompileArgs): Settings {
  if (typeof args !== 'object' || args === null)
    throw new ArgumentError(`Distiller.compile: expected { optimizer, metrics, studentLoss, ... }, got ${args}`);
  if ('loss' in args)
    throw new ArgumentError(
      "Distiller.compile: pass the student's loss as studentLoss (and optionally distillationLoss), not loss",
    );
  checkOptions('Distiller.compile', args, COMPILE_KEYS);
  const { studentLoss, distillationLoss = 'kullbackLeiblerDivergence', alpha = 0.1, temperature = 3 } = args;
  if (studentLoss === undefined)
    throw new ArgumentError(
      "Distiller.compile: studentLoss is required (the student's loss on the labels, e.g. " +
        "'sparseCategoricalCrossentropy')",
    );
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1))
    throw new ArgumentError(`Distiller.compile: alpha must be a number in [0, 1], got ${fmtValue(alpha)}`);
  if (typeof temperature !== 'number' || !Number.isFinite(temperature) || temperature <= 0)
    throw new ArgumentError(`Distiller.compile: temperature must be a finite number > 0, got ${fmtValue(temperature)}`);
  return { studentLoss: getLoss(studentLoss), distillationLoss: getLoss(distillationLoss), alpha, temperature };
}

/**
 * A student trained by a teacher (Hinton et al. 2015, as the Keras example): fit minimises
 *
 *   alpha * studentLoss(y, student(x)) + (1 - alpha) * distillationLoss(softmax(t / T), softmax(s / T)) * T^2
 *     + the student's own losses (student.losses: its weights' regularization and what it adds with addLoss)
 *
 * where t and s are the teacher's and student's logits for x and T the temperature (the T^2 keeps the soft
 * targets' gradients on the scale of the hard ones). Only the student's weights are trained: the teacher runs in
 * inference mode without a tape. Sample weights weigh both terms. fit logs loss (the whole sum), student_loss,
 * distillation_loss and the compiled metrics (the student's); evaluate gives student_loss and the metrics; predict
 * is the student's.
 *
 *   const distiller = new Distiller({ student, teacher });
 *   distiller.compile({ optimizer: 'adam', metrics: ['accuracy'], studentLoss: 'sparseCategoricalCrossentropy' });
 *   await distiller.fit(x, y, { epochs: 3 });
 */
export class Distiller extends Model {
  static override readonly className: string = 'Distiller';

  readonly student: Layer;
  readonly teacher: Layer;
  private settings?: Settings;
  // Running means over the epoch (fit resets every metric of model.metrics, these included, each epoch).
  private readonly lossTracker = new Mean({ name: 'loss' });
  private readonly studentLossTracker = new Mean({ name: 'student_loss' });
  private readonly distillationLossTracker = new Mean({ name: 'distillation_loss' });
  // The models whose outputs were found to be logits, not probabilities (see logitsOf): each is checked once.
  private readonly logitsChecked = new WeakSet<Layer>();

  constructor(args: DistillerArgs) {
    if (typeof args !== 'object' || args === null)
      throw new ArgumentError(`Distiller: expected { student, teacher }, got ${fmtValue(args)}`);
    const { student, teacher, ...rest } = args;
    super(rest);
    for (const [role, m] of [
      ['student', student],
      ['teacher', teacher],
    ] as const)
      if (!(m instanceof Layer))
        throw new ArgumentError(`Distiller: ${role} must be a model (or layer), got ${fmtValue(m)}`);
    if (student === teacher)
      throw new ArgumentError(`Distiller: the student and the teacher are the same model '${student.name}'`);
    this.teacher = teacher;
    this.student = student;
  }

  /** As Model.compile, with the student's loss, the distillation loss, alpha and the temperature (see the class). */
  override compile(args: DistillerCompileArgs): void {
    const settings = checkSettings(args);
    super.compile({ optimizer: args.optimizer, metrics: args.metrics, weightedMetrics: args.weightedMetrics });
    this.settings = settings;
  }

  private compiledSettings(op: string): Settings {
    if (!this.settings)
      throw new ArgumentError(
        `${op}: Distiller '${this.name}' must be compiled first: compile({ optimizer, metrics, studentLoss })`,
      );
    return this.settings;
  }

  /** The student's outputs: predict (and evaluate's metrics) see the student alone. */
  override call(inputs: Tensor | Tensor[], ctx: CallContext): Tensor | Tensor[] {
    return this.student.apply(inputs, ctx) as Tensor | Tensor[];
  }

  override computeOutputShape(inputShape: SymShape | SymShape[]): SymShape | SymShape[] {
    return this.student.computeOutputShape(inputShape);
  }

  /** What fit trains: the student's trainable weights (the teacher is frozen whatever its `trainable` says). */
  override get trainableWeights() {
    return this.student.trainableWeights;
  }

  /**
   * The student's loss, the distillation loss (T^2 included) and their alpha-weighted sum for one batch, as
   * scalar tensors; the student's outputs are differentiable, the teacher's are not.
   */
  distillationLosses(
    x: Tensor | Tensor[],
    y: Tensor,
    studentOut: Tensor,
    sampleWeight?: Tensor,
  ): { loss: Tensor; studentLoss: Tensor; distillationLoss: Tensor } {
    const { studentLoss, distillationLoss, alpha, temperature: t } = this.compiledSettings('Distiller');
    const teacherOut = noGrad(() => this.teacher.apply(x, { training: false }));
    if (Array.isArray(teacherOut) || Array.isArray(studentOut as unknown))
      throw new ArgumentError(`Distiller '${this.name}': the teacher and the student must each have one output`);
    if (!shapesEqual(teacherOut.shape, studentOut.shape))
      throw new ShapeError(
        `Distiller '${this.name}': the teacher '${this.teacher.name}' outputs ${fmtShape(teacherOut.shape)} but ` +
          `the student '${this.student.name}' outputs ${fmtShape(studentOut.shape)}; distillation needs the same ` +
          'shape (the same classes)',
      );
    const soft = (logits: Tensor) => o.softmax(o.div(logits, t), -1);
    const teacherSoft = noGrad(() =>
      soft(o.cast(logitsOf('teacher', this.teacher, teacherOut, this.logitsChecked), studentOut.dtype)),
    );
    const student = studentLoss(y, studentOut, sampleWeight);
    const distill = o.mul(
      distillationLoss(
        teacherSoft,
        soft(logitsOf('student', this.student, studentOut, this.logitsChecked)),
        sampleWeight,
      ),
      t * t,
    );
    const loss = o.add(o.mul(student, alpha), o.mul(distill, 1 - alpha));
    return { loss, studentLoss: student, distillationLoss: distill };
  }

  /** One step on the combined loss, with respect to the student's weights only (Keras' train_step). */
  override trainStep([x, y, sampleWeight]: StepData): StepLogs {
    const labels = oneLabel(this.name, y);
    const weights = this.trainableWeights;
    if (weights.length === 0)
      throw new ArgumentError(
        `fit: the student '${this.student.name}' of Distiller '${this.name}' has no trainable weights`,
      );
    let studentOut!: Tensor;
    let parts!: ReturnType<Distiller['distillationLosses']>;
    let total!: Tensor;
    // Phases marked as the default step marks them, so the run record splits the FLOPs the same way.
    const { grads } = withPhase('backward', () =>
      valueAndGrads(
        () =>
          withPhase('forward', () => {
            studentOut = this.student.apply(x, { training: true, seed: this.stepSeed }) as Tensor;
            parts = this.distillationLosses(x, labels, studentOut, sampleWeight);
            // The student's own loss terms (regularization, addLoss), added as Model's computeLoss adds them.
            total = addModelLosses(parts.loss, this.student.losses)!;
            return total;
          }),
        weights,
      ),
    );
    withPhase('optimizer', () => this.optimizer!.applyGradients(grads, weights));
    const n = batchSize(x);
    this.lossTracker.updateState(total.item(), n);
    this.studentLossTracker.updateState(parts.studentLoss.item(), n);
    this.distillationLossTracker.updateState(parts.distillationLoss.item(), n);
    this.compiledMetrics.updateState(labels, studentOut, sampleWeight);
    return {
      loss: this.lossTracker.result(),
      student_loss: this.studentLossTracker.result(),
      distillation_loss: this.distillationLossTracker.result(),
      ...this.compiledMetrics.result(),
    };
  }

  /** The student alone in inference mode: its loss on the labels and the metrics (Keras' test_step). */
  override testStep([x, y, sampleWeight]: StepData): StepLogs {
    const labels = oneLabel(this.name, y);
    const { studentLoss } = this.compiledSettings('evaluate');
    withPhase('evaluate', () =>
      noGrad(() => {
        const studentOut = this.student.apply(x, { training: false }) as Tensor;
        this.studentLossTracker.updateState(studentLoss(labels, studentOut, sampleWeight).item(), batchSize(x));
        this.compiledMetrics.updateState(labels, studentOut, sampleWeight);
      }),
    );
    return { student_loss: this.studentLossTracker.result(), ...this.compiledMetrics.result() };
  }

  /** The settings and the two models' sizes, as plain data (for the run record and the card). */
  report(): DistillationReport {
    const s = this.compiledSettings('report');
    return {
      teacher: { name: this.teacher.name, parameters: this.teacher.countParams() },
      student: { name: this.student.name, parameters: this.student.countParams() },
      alpha: s.alpha,
      temperature: s.temperature,
      studentLoss: s.studentLoss.lossName,
      distillationLoss: s.distillationLoss.lossName,
    };
  }
}

function oneLabel(name: string, y: Tensor | Tensor[] | undefined): Tensor {
  if (y === undefined) throw new ArgumentError(`Distiller '${name}': fit and evaluate need labels y`);
  if (Array.isArray(y)) {
    if (y.length === 1) return y[0];
    throw new ArgumentError(`Distiller '${name}': expected one label tensor, got ${y.length}`);
  }
  return y;
}

function batchSize(x: Tensor | Tensor[]): number {
  return (Array.isArray(x) ? x[0] : x).shape[0];
}
