// Evaluation beyond the loss: accuracy, per-class precision / recall / F1, the confusion matrix and,
// given a sensitive attribute, the fairness report of fairness.ts (per-group rates, parity differences).
// Pure functions of predicted classes, true classes and group ids, so they can be checked by hand;
// evaluateClassifier() runs a model to get the predictions.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { dispose } from '../tensor/storage.js';
import { classIds } from './fingerprint.js';
import { fairnessReport, type FairnessOptions, type FairnessReport } from './fairness.js';

export type {
  Calibration,
  CalibrationBin,
  Disparity,
  FairnessIntervals,
  FairnessReport,
  GroupMetrics,
} from './fairness.js';

export interface ClassMetrics {
  label: string;
  /** True members of the class. */
  support: number;
  /** null where undefined (no prediction of the class / no member of it). */
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface ClassificationReport {
  samples: number;
  accuracy: number;
  labels: string[];
  perClass: ClassMetrics[];
  /** confusion[true][predicted], in `labels` order. */
  confusion: number[][];
  fairness?: FairnessReport;
}

export interface ReportOptions extends FairnessOptions {
  /** Number of classes (default: 1 + the largest class id seen). */
  numClasses?: number;
  /** Display names of the classes, by id. */
  classNames?: readonly string[];
  /** Group of each sample (a sensitive attribute such as age band or sex), for the fairness section. */
  groups?: ArrayLike<number | string>;
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

/** The report for predicted and true class ids (same length), optionally with a group per sample. */
export function classificationReport(
  predicted: ArrayLike<number>,
  actual: ArrayLike<number>,
  options: ReportOptions = {},
): ClassificationReport {
  const n = actual.length;
  if (predicted.length !== n)
    throw new ShapeError(`classificationReport: ${predicted.length} predictions for ${n} labels`);
  if (n === 0) throw new ArgumentError('classificationReport: no samples');
  let maxId = 0;
  for (let i = 0; i < n; i++) {
    for (const v of [predicted[i], actual[i]]) {
      if (!Number.isInteger(v) || v < 0)
        throw new ArgumentError(
          `classificationReport: class ids must be non-negative integers, got ${v} at sample ${i}`,
        );
      if (v > maxId) maxId = v;
    }
  }
  const k = options.numClasses ?? maxId + 1;
  if (!Number.isInteger(k) || k <= maxId)
    throw new ArgumentError(`classificationReport: numClasses ${k} but class id ${maxId} occurs`);
  const labels = Array.from({ length: k }, (_, c) => options.classNames?.[c] ?? String(c));
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < n; i++) {
    confusion[actual[i]][predicted[i]]++;
    if (actual[i] === predicted[i]) correct++;
  }
  const perClass = labels.map((label, c) => {
    const tp = confusion[c][c];
    const support = confusion[c].reduce((s, v) => s + v, 0);
    const predictedC = confusion.reduce((s, row) => s + row[c], 0);
    const precision = ratio(tp, predictedC),
      recall = ratio(tp, support);
    const f1 =
      precision === null || recall === null
        ? null
        : precision + recall === 0
          ? 0
          : (2 * precision * recall) / (precision + recall);
    return { label, support, precision, recall, f1 };
  });
  const report: ClassificationReport = { samples: n, accuracy: correct / n, labels, perClass, confusion };
  if (options.groups) report.fairness = fairnessReport(predicted, actual, options.groups, labels, options);
  return report;
}

/**
 * The predicted probability of the positive class, for calibration by group: a sigmoid unit's output, or the
 * positive class's column of rows that are probabilities (softmax); undefined without groups or when the
 * outputs are not probabilities (logits).
 */
function scoresOf(out: Tensor, options: ReportOptions): Float64Array | undefined {
  if (!options.groups || out.rank !== 2) return undefined;
  const [n, c] = out.shape;
  const positive = options.positiveClass ?? (c <= 2 ? 1 : undefined);
  if (positive === undefined || (c > 1 && positive >= c)) return undefined;
  const v = out.dataSync();
  const scores = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    if (c === 1) scores[i] = positive === 1 ? v[i] : 1 - v[i];
    else {
      let sum = 0;
      for (let j = 0; j < c; j++) sum += v[i * c + j];
      if (Math.abs(sum - 1) > 1e-3) return undefined;
      scores[i] = v[i * c + positive];
    }
    if (!(scores[i] >= 0 && scores[i] <= 1)) return undefined;
  }
  return scores;
}

/** Anything with Keras' predict (a Model), without importing the training layer. */
export interface Predictor {
  predict(x: Tensor | Tensor[], args?: { batchSize?: number }): Tensor | Tensor[];
}

/** Runs the model on x and reports its predicted classes (argmax of each output row) against y. */
export function evaluateClassifier(
  model: Predictor,
  x: Tensor | Tensor[],
  y: Tensor,
  options: ReportOptions & { batchSize?: number } = {},
): ClassificationReport {
  const out = model.predict(x, { batchSize: options.batchSize ?? 256 });
  try {
    if (Array.isArray(out))
      throw new ArgumentError('evaluateClassifier: the model has several outputs; evaluate one output at a time');
    // One sigmoid unit [N, 1]: class 1 above 0.5 (Keras' binary accuracy); rows [N, C]: argmax.
    const predicted =
      out.rank === 2 && out.shape[1] === 1 ? Int32Array.from(out.dataSync(), (p) => (p > 0.5 ? 1 : 0)) : classIds(out);
    const actual = classIds(y);
    if (!predicted || !actual)
      throw new ArgumentError(
        `evaluateClassifier: cannot read classes from predictions ${out.dtype} [${out.shape.join(', ')}] ` +
          `and labels ${y.dtype} [${y.shape.join(', ')}]`,
      );
    return classificationReport(predicted, actual, { ...options, scores: options.scores ?? scoresOf(out, options) });
  } finally {
    dispose(out);
  }
}
