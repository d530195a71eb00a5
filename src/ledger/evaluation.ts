// Evaluation beyond the loss: accuracy, per-class precision / recall / F1, the confusion matrix and,
// given a sensitive attribute, per-group accuracy with demographic-parity and equal-opportunity
// differences. Pure functions of predicted classes, true classes and group ids, so they can be checked
// by hand; evaluateClassifier() runs a model to get the predictions.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError } from '../errors.js';
import { dispose } from '../tensor/storage.js';
import { classIds } from './fingerprint.js';

export interface ClassMetrics {
  label: string;
  /** True members of the class. */
  support: number;
  /** null where undefined (no prediction of the class / no member of it). */
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

export interface GroupMetrics {
  group: string;
  samples: number;
  accuracy: number;
  /** P(predicted = class | group), per class label. */
  selectionRate: Record<string, number>;
  /** P(predicted = class | true = class, group), per class label; null where the group has no member of the class. */
  truePositiveRate: Record<string, number | null>;
}

export interface Disparity {
  /** The largest difference over the classes considered (or the positive class's, when one is named). */
  value: number | null;
  /** max - min over groups, per class label (null where fewer than two groups define it). */
  byClass: Record<string, number | null>;
  definition: string;
}

export interface FairnessReport {
  attribute: string;
  groups: GroupMetrics[];
  /** Largest minus smallest group accuracy. */
  accuracyDifference: number;
  demographicParityDifference: Disparity;
  equalOpportunityDifference: Disparity;
  /** The class treated as the favourable outcome; absent for multi-class (one-vs-rest, worst class reported). */
  positiveClass?: string;
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

export interface ReportOptions {
  /** Number of classes (default: 1 + the largest class id seen). */
  numClasses?: number;
  /** Display names of the classes, by id. */
  classNames?: readonly string[];
  /** Group of each sample (a sensitive attribute such as age band or sex), for the fairness section. */
  groups?: ArrayLike<number | string>;
  /** Name of the sensitive attribute (default 'group'). */
  attribute?: string;
  /**
   * The favourable class for the parity metrics. Default: class 1 when there are two classes; for more,
   * none (each class one-vs-rest, the largest difference reported).
   */
  positiveClass?: number;
}

const ratio = (a: number, b: number): number | null => (b === 0 ? null : a / b);

function spread(values: (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length < 2 ? null : Math.max(...defined) - Math.min(...defined);
}

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
  if (options.groups) report.fairness = fairness(predicted, actual, options.groups, labels, options);
  return report;
}

function fairness(
  predicted: ArrayLike<number>,
  actual: ArrayLike<number>,
  groups: ArrayLike<number | string>,
  labels: string[],
  options: ReportOptions,
): FairnessReport {
  const n = actual.length,
    k = labels.length;
  if (groups.length !== n) throw new ShapeError(`classificationReport: ${groups.length} group ids for ${n} samples`);
  const positive = options.positiveClass ?? (k === 2 ? 1 : undefined);
  if (positive !== undefined && !(Number.isInteger(positive) && positive >= 0 && positive < k))
    throw new ArgumentError(`classificationReport: positiveClass ${positive} is not a class id in 0..${k - 1}`);
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < n; i++) {
    const g = String(groups[i]);
    let list = byGroup.get(g);
    if (!list) byGroup.set(g, (list = []));
    list.push(i);
  }
  const groupMetrics: GroupMetrics[] = [...byGroup.entries()]
    .sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }))
    .map(([group, idx]) => {
      const selected = new Array<number>(k).fill(0),
        members = new Array<number>(k).fill(0),
        hits = new Array<number>(k).fill(0);
      let correct = 0;
      for (const i of idx) {
        selected[predicted[i]]++;
        members[actual[i]]++;
        if (predicted[i] === actual[i]) {
          hits[actual[i]]++;
          correct++;
        }
      }
      return {
        group,
        samples: idx.length,
        accuracy: correct / idx.length,
        selectionRate: Object.fromEntries(labels.map((l, c) => [l, selected[c] / idx.length])),
        truePositiveRate: Object.fromEntries(labels.map((l, c) => [l, ratio(hits[c], members[c])])),
      };
    });
  const classes = positive === undefined ? labels : [labels[positive]];
  const dp = Object.fromEntries(classes.map((l) => [l, spread(groupMetrics.map((g) => g.selectionRate[l]))]));
  const eo = Object.fromEntries(classes.map((l) => [l, spread(groupMetrics.map((g) => g.truePositiveRate[l]))]));
  const worst = (m: Record<string, number | null>) => {
    const defined = Object.values(m).filter((v): v is number => v !== null);
    return defined.length === 0 ? null : Math.max(...defined);
  };
  const scope =
    positive === undefined
      ? 'for each class one-vs-rest; the value is the largest over classes'
      : `for the positive class '${labels[positive]}'`;
  const accs = groupMetrics.map((g) => g.accuracy);
  return {
    attribute: options.attribute ?? 'group',
    groups: groupMetrics,
    accuracyDifference: Math.max(...accs) - Math.min(...accs),
    demographicParityDifference: {
      value: worst(dp),
      byClass: dp,
      definition: `max - min over groups of P(prediction = class | group), ${scope}`,
    },
    equalOpportunityDifference: {
      value: worst(eo),
      byClass: eo,
      definition:
        'max - min over groups of the true-positive rate P(prediction = class | label = class, group), ' +
        `${scope}; groups without members of a class are left out for it`,
    },
    ...(positive !== undefined ? { positiveClass: labels[positive] } : {}),
  };
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
    return classificationReport(predicted, actual, options);
  } finally {
    dispose(out);
  }
}
