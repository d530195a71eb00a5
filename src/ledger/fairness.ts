// Fairness of a classifier's decisions across the groups of a sensitive attribute: per-group accuracy,
// selection rate, true- and false-positive rates and calibration; the demographic-parity difference and ratio
// (the four-fifths rule), the equal-opportunity and equalised-odds differences (as Fairlearn defines them), with
// percentile-bootstrap confidence intervals. Every figure comes from per-group confusion matrices, so the point
// estimates and each bootstrap resample go through the same code.
import { ArgumentError, ShapeError } from '../errors.js';
import { RandomStream } from '../ops/random.js';

export interface CalibrationBin {
  /** The bin is [lower, upper) (the last one includes 1). */
  lower: number;
  upper: number;
  samples: number;
  meanScore: number;
  positiveRate: number;
}

/** How well the predicted probability of the positive class matches the observed rate, in one group. */
export interface Calibration {
  /** Mean predicted probability of the positive class. */
  meanScore: number;
  /** Observed fraction of samples whose label is the positive class. */
  positiveRate: number;
  /** Sum over bins of (bin samples / samples) x |bin meanScore - bin positiveRate|. */
  expectedCalibrationError: number;
  /** Equal-width bins of the score over [0, 1]; empty bins are left out. */
  bins: CalibrationBin[];
}

export interface GroupMetrics {
  group: string;
  samples: number;
  accuracy: number;
  /** P(predicted = class | group), per class label. */
  selectionRate: Record<string, number>;
  /** P(predicted = class | true = class, group), per class label; null where the group has no member of the class. */
  truePositiveRate: Record<string, number | null>;
  /** P(predicted = class | true != class, group), per class label; null where every member is of the class. */
  falsePositiveRate?: Record<string, number | null>;
  /** With predicted probabilities of the positive class (ReportOptions.scores). */
  calibration?: Calibration;
}

export interface Disparity {
  /** The worst value over the classes considered (or the positive class's, when one is named). */
  value: number | null;
  /** Per class label (null where fewer than two groups define it). */
  byClass: Record<string, number | null>;
  definition: string;
}

/** The figures of a FairnessReport that summarise it, each with a bootstrap interval. */
export const FAIRNESS_MEASURES = [
  'demographicParityDifference',
  'demographicParityRatio',
  'equalOpportunityDifference',
  'equalizedOddsDifference',
  'accuracyDifference',
] as const;
export type FairnessMeasure = (typeof FAIRNESS_MEASURES)[number];

export interface FairnessIntervals {
  method: string;
  resamples: number;
  /** Coverage of each interval, e.g. 0.95. */
  level: number;
  seed: number;
  /** [lower, upper] per measure; null where no resample defines it. */
  intervals: Record<FairnessMeasure, [number, number] | null>;
}

export interface FairnessReport {
  attribute: string;
  groups: GroupMetrics[];
  /** Largest minus smallest group accuracy. */
  accuracyDifference: number;
  demographicParityDifference: Disparity;
  equalOpportunityDifference: Disparity;
  /** Smallest over largest group selection rate (absent in records written before it was added). */
  demographicParityRatio?: Disparity;
  /** The larger of the true- and false-positive-rate differences (Fairlearn's equalized_odds_difference). */
  equalizedOddsDifference?: Disparity;
  /** The four-fifths rule (US EEOC): passes when the demographic-parity ratio is at least 0.8. */
  fourFifthsRule?: { threshold: number; passes: boolean | null };
  confidenceIntervals?: FairnessIntervals;
  /** The class treated as the favourable outcome; absent for multi-class (one-vs-rest, worst class reported). */
  positiveClass?: string;
}

export interface BootstrapOptions {
  /** Number of resamples (default 1000). */
  resamples?: number;
  /** Coverage of the intervals (default 0.95). */
  level?: number;
  /** Seed of the resampling (default 0): the same seed gives the same intervals. */
  seed?: number;
}

export interface FairnessOptions {
  /** Name of the sensitive attribute (default 'group'). */
  attribute?: string;
  /**
   * The favourable class for the parity metrics. Default: class 1 when there are two classes; for more,
   * none (each class one-vs-rest, the largest difference reported).
   */
  positiveClass?: number;
  /** Predicted probability of the positive class per sample, for the calibration of each group. */
  scores?: ArrayLike<number>;
  /** Equal-width calibration bins over [0, 1] (default 10). */
  calibrationBins?: number;
  /** Bootstrap intervals of the summary measures (default 1000 resamples, level 0.95, seed 0); false: none. */
  bootstrap?: false | BootstrapOptions;
}

/** Rates of one group from its confusion matrix, per class id (null where undefined). */
interface Rates {
  samples: number;
  accuracy: number;
  selection: number[];
  tpr: (number | null)[];
  fpr: (number | null)[];
}

/** conf[t * k + p]: samples of true class t predicted as p. */
function ratesOf(conf: ArrayLike<number>, k: number): Rates {
  let samples = 0,
    correct = 0;
  const predictedAs = new Array<number>(k).fill(0),
    members = new Array<number>(k).fill(0);
  for (let t = 0; t < k; t++)
    for (let p = 0; p < k; p++) {
      const v = conf[t * k + p];
      samples += v;
      predictedAs[p] += v;
      members[t] += v;
      if (t === p) correct += v;
    }
  const ratio = (a: number, b: number) => (b === 0 ? null : a / b);
  return {
    samples,
    accuracy: correct / samples,
    selection: predictedAs.map((s) => s / samples),
    tpr: members.map((m, c) => ratio(conf[c * k + c], m)),
    fpr: members.map((m, c) => ratio(predictedAs[c] - conf[c * k + c], samples - m)),
  };
}

function defined(values: (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null);
}

function spread(values: (number | null)[]): number | null {
  const d = defined(values);
  return d.length < 2 ? null : Math.max(...d) - Math.min(...d);
}

function minOverMax(values: number[]): number | null {
  const max = Math.max(...values);
  return values.length < 2 || max === 0 ? null : Math.min(...values) / max;
}

const maxOf = (v: (number | null)[]) => (defined(v).length ? Math.max(...defined(v)) : null);
const minOf = (v: (number | null)[]) => (defined(v).length ? Math.min(...defined(v)) : null);

/** Per considered class id: each disparity; and the summary value of each measure over the classes. */
function disparities(rates: Rates[], classes: number[]) {
  const per = classes.map((c) => {
    const tpr = spread(rates.map((r) => r.tpr[c])),
      fpr = spread(rates.map((r) => r.fpr[c]));
    return {
      dp: spread(rates.map((r) => r.selection[c])),
      ratio: minOverMax(rates.map((r) => r.selection[c])),
      eo: tpr,
      odds: tpr === null && fpr === null ? null : Math.max(tpr ?? 0, fpr ?? 0),
    };
  });
  const summary: Record<FairnessMeasure, number | null> = {
    demographicParityDifference: maxOf(per.map((p) => p.dp)),
    demographicParityRatio: minOf(per.map((p) => p.ratio)),
    equalOpportunityDifference: maxOf(per.map((p) => p.eo)),
    equalizedOddsDifference: maxOf(per.map((p) => p.odds)),
    accuracyDifference: spread(rates.map((r) => r.accuracy)),
  };
  return { per, summary };
}

/** Sample indices by group, groups in natural order ('2' before '10'). */
/** The samples of each group (by its name), groups in natural order ('2' before '10'). */
export function groupMembers(groups: ArrayLike<number | string>): [string, number[]][] {
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = String(groups[i]);
    let list = byGroup.get(g);
    if (!list) byGroup.set(g, (list = []));
    list.push(i);
  }
  return [...byGroup.entries()].sort((a, b) => a[0].localeCompare(b[0], 'en', { numeric: true }));
}

function calibration(scores: ArrayLike<number>, actual: ArrayLike<number>, idx: number[], pos: number, bins: number) {
  const count = new Array<number>(bins).fill(0),
    sum = new Array<number>(bins).fill(0),
    hits = new Array<number>(bins).fill(0);
  for (const i of idx) {
    const b = Math.min(bins - 1, Math.floor(scores[i] * bins));
    count[b]++;
    sum[b] += scores[i];
    if (actual[i] === pos) hits[b]++;
  }
  const n = idx.length;
  const out: Calibration = {
    meanScore: sum.reduce((a, b) => a + b, 0) / n,
    positiveRate: hits.reduce((a, b) => a + b, 0) / n,
    expectedCalibrationError: 0,
    bins: [],
  };
  for (let b = 0; b < bins; b++) {
    if (count[b] === 0) continue;
    const bin = {
      lower: b / bins,
      upper: (b + 1) / bins,
      samples: count[b],
      meanScore: sum[b] / count[b],
      positiveRate: hits[b] / count[b],
    };
    out.bins.push(bin);
    out.expectedCalibrationError += (count[b] / n) * Math.abs(bin.meanScore - bin.positiveRate);
  }
  return out;
}

/** Successive uint32 words of RandomStream(seed), read in blocks (bootstrap indices need millions of them). */
function streamWords(seed: number): () => number {
  const stream = new RandomStream(seed);
  let buffer: Uint32Array = new Uint32Array(0),
    at = 0;
  return () => {
    if (at === buffer.length) ((buffer = stream.blockWords(1 << 15)), (at = 0));
    return buffer[at++];
  };
}

/** The p-quantile of sorted values, interpolating linearly between order statistics (numpy's default). */
function quantile(sorted: number[], p: number): number {
  const at = p * (sorted.length - 1),
    lo = Math.floor(at);
  return lo + 1 < sorted.length ? sorted[lo] + (at - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
}

/**
 * Percentile-bootstrap intervals of the summary measures, resampling with replacement within each group (a
 * stratified bootstrap: every resample keeps each group's size, so no group goes missing from one).
 */
function bootstrap(cells: Int32Array, members: number[][], k: number, classes: number[], o: BootstrapOptions) {
  const { resamples = 1000, level = 0.95, seed = 0 } = o;
  if (!Number.isInteger(resamples) || resamples < 1)
    throw new ArgumentError(`fairness bootstrap: resamples must be a positive integer, got ${resamples}`);
  if (!(level > 0 && level < 1)) throw new ArgumentError(`fairness bootstrap: level must be in (0, 1), got ${level}`);
  const draws = Object.fromEntries(FAIRNESS_MEASURES.map((m) => [m, [] as number[]])) as Record<
    FairnessMeasure,
    number[]
  >;
  const conf = new Float64Array(k * k);
  const words = streamWords(seed);
  for (let r = 0; r < resamples; r++) {
    const rates = members.map((idx) => {
      conf.fill(0);
      const m = idx.length;
      // floor(word m / 2^32): exact in doubles (m < 2^21), biased by less than m / 2^32.
      for (let j = 0; j < m; j++) conf[cells[idx[Math.floor((words() * m) / 4294967296)]]]++;
      return ratesOf(conf, k);
    });
    const { summary } = disparities(rates, classes);
    for (const m of FAIRNESS_MEASURES) if (summary[m] !== null) draws[m].push(summary[m]);
  }
  const tail = (1 - level) / 2;
  const intervals = Object.fromEntries(
    FAIRNESS_MEASURES.map((m) => {
      const sorted = draws[m].sort((a, b) => a - b);
      return [m, sorted.length ? [quantile(sorted, tail), quantile(sorted, 1 - tail)] : null];
    }),
  ) as Record<FairnessMeasure, [number, number] | null>;
  return {
    method: `percentile bootstrap, resampling with replacement within each group (stratified by group)`,
    resamples,
    level,
    seed,
    intervals,
  };
}

/**
 * The fairness report of predicted against true class ids (integers in 0..k-1, checked) over
 * the groups of a sensitive attribute; `labels` names the k classes.
 */
export function fairnessReport(
  predicted: ArrayLike<number>,
  actual: ArrayLike<number>,
  groups: ArrayLike<number | string>,
  labels: readonly string[],
  options: FairnessOptions = {},
): FairnessReport {
  const n = actual.length,
    k = labels.length;
  const op = 'fairnessReport';
  if (predicted.length !== n) throw new ShapeError(`${op}: ${predicted.length} predictions for ${n} labels`);
  if (groups.length !== n) throw new ShapeError(`${op}: ${groups.length} group ids for ${n} samples`);
  for (let i = 0; i < n; i++)
    for (const v of [predicted[i], actual[i]])
      if (!(Number.isInteger(v) && v >= 0 && v < k))
        throw new ArgumentError(`${op}: class ids must be integers in 0..${k - 1}, got ${v} at sample ${i}`);
  const positive = options.positiveClass ?? (k === 2 ? 1 : undefined);
  if (positive !== undefined && !(Number.isInteger(positive) && positive >= 0 && positive < k))
    throw new ArgumentError(`${op}: positiveClass ${positive} is not a class id in 0..${k - 1}`);
  const { scores, calibrationBins = 10 } = options;
  if (scores) {
    if (positive === undefined)
      throw new ArgumentError(`${op}: scores (probabilities of the positive class) need a positiveClass`);
    if (scores.length !== n) throw new ShapeError(`${op}: ${scores.length} scores for ${n} samples`);
    for (let i = 0; i < n; i++)
      if (!(scores[i] >= 0 && scores[i] <= 1))
        throw new ArgumentError(`${op}: scores must be probabilities in [0, 1], got ${scores[i]} at sample ${i}`);
  }
  if (!Number.isInteger(calibrationBins) || calibrationBins < 1)
    throw new ArgumentError(`${op}: calibrationBins must be a positive integer, got ${calibrationBins}`);
  const cells = new Int32Array(n);
  for (let i = 0; i < n; i++) cells[i] = actual[i] * k + predicted[i];
  const byGroup = groupMembers(groups);
  const rates = byGroup.map(([, idx]) => {
    const conf = new Float64Array(k * k);
    for (const i of idx) conf[cells[i]]++;
    return ratesOf(conf, k);
  });
  const perLabel = <T>(values: T[]) => Object.fromEntries(labels.map((l, c) => [l, values[c]]));
  const groupMetrics: GroupMetrics[] = byGroup.map(([group, idx], g) => ({
    group,
    samples: rates[g].samples,
    accuracy: rates[g].accuracy,
    selectionRate: perLabel(rates[g].selection),
    truePositiveRate: perLabel(rates[g].tpr),
    falsePositiveRate: perLabel(rates[g].fpr),
    ...(scores ? { calibration: calibration(scores, actual, idx, positive!, calibrationBins) } : {}),
  }));
  const classes = positive === undefined ? labels.map((_, c) => c) : [positive];
  const { per, summary } = disparities(rates, classes);
  const byClass = (key: keyof (typeof per)[number]) =>
    Object.fromEntries(classes.map((c, j) => [labels[c], per[j][key]]));
  const scope =
    positive === undefined
      ? 'for each class one-vs-rest; the value is the worst over classes'
      : `for the positive class '${labels[positive]}'`;
  const ratio = summary.demographicParityRatio;
  return {
    attribute: options.attribute ?? 'group',
    groups: groupMetrics,
    accuracyDifference: summary.accuracyDifference ?? 0,
    demographicParityDifference: {
      value: summary.demographicParityDifference,
      byClass: byClass('dp'),
      definition: `max - min over groups of P(prediction = class | group), ${scope}`,
    },
    equalOpportunityDifference: {
      value: summary.equalOpportunityDifference,
      byClass: byClass('eo'),
      definition:
        'max - min over groups of the true-positive rate P(prediction = class | label = class, group), ' +
        `${scope}; groups without members of a class are left out for it`,
    },
    demographicParityRatio: {
      value: ratio,
      byClass: byClass('ratio'),
      definition: `min / max over groups of P(prediction = class | group), ${scope}`,
    },
    equalizedOddsDifference: {
      value: summary.equalizedOddsDifference,
      byClass: byClass('odds'),
      definition:
        'the larger of the true-positive-rate difference and the false-positive-rate difference ' +
        `(max - min over groups of P(prediction = class | label != class, group)), ${scope}`,
    },
    fourFifthsRule: { threshold: 0.8, passes: ratio === null ? null : ratio >= 0.8 },
    ...(options.bootstrap !== false
      ? {
          confidenceIntervals: bootstrap(
            cells,
            byGroup.map(([, idx]) => idx),
            k,
            classes,
            options.bootstrap ?? {},
          ),
        }
      : {}),
    ...(positive !== undefined ? { positiveClass: labels[positive] } : {}),
  };
}
