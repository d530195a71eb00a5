// The fairness report (src/ledger/fairness.ts) against confusion matrices worked out by hand, its bootstrap
// intervals, and the run record's schema for it (new reports and reports written before it grew).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationReport } from '../../src/ledger/evaluation.js';
import { FAIRNESS_MEASURES, type FairnessReport } from '../../src/ledger/fairness.js';
import { validateRunRecord } from '../../src/ledger/record.js';
import { RandomStream, philox4x32 } from '../../src/ops/random.js';
import { tinyRun } from '../ledger/fixtures.js';

const close = (a: number | null | undefined, b: number, what: string) =>
  assert.ok(a !== null && a !== undefined && Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

// Group a: labels 1 1 0 0 0, predictions 1 0 1 0 0 -> TP 1, FN 1, FP 1, TN 2.
// Group b: labels 1 1 1 0 0 0, predictions 1 1 0 1 1 0 -> TP 2, FN 1, FP 2, TN 1.
const actual = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0];
const predicted = [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0];
const groups = ['a', 'a', 'a', 'a', 'a', 'b', 'b', 'b', 'b', 'b', 'b'];
// Group a's scores: bins [0, 0.5) hold 0.4 (label 1), 0.2, 0.05 (label 0); [0.5, 1] hold 0.9 (1), 0.7 (0).
const scores = [0.9, 0.4, 0.7, 0.2, 0.05, 0.8, 0.6, 0.3, 0.55, 0.9, 0.1];

test('binary: every per-group rate and disparity equals the hand-computed confusion matrices', () => {
  const f = classificationReport(predicted, actual, { groups, scores, calibrationBins: 2, bootstrap: false }).fairness!;
  const [a, b] = f.groups;
  // a: accuracy (1 + 2) / 5, selection 2 / 5, TPR 1 / 2, FPR 1 / 3; b: 3 / 6, 4 / 6, 2 / 3, 2 / 3.
  for (const [g, want] of [
    [a, [3 / 5, 2 / 5, 1 / 2, 1 / 3]],
    [b, [1 / 2, 2 / 3, 2 / 3, 2 / 3]],
  ] as const) {
    close(g.accuracy, want[0], `${g.group} accuracy`);
    close(g.selectionRate['1'], want[1], `${g.group} selection rate`);
    close(g.truePositiveRate['1'], want[2], `${g.group} TPR`);
    close(g.falsePositiveRate!['1'], want[3], `${g.group} FPR`);
  }
  close(f.demographicParityDifference.value, 2 / 3 - 2 / 5, 'DP difference');
  close(f.demographicParityRatio!.value, 2 / 5 / (2 / 3), 'DP ratio');
  assert.deepEqual(f.fourFifthsRule, { threshold: 0.8, passes: false }, 'ratio 0.6 fails the four-fifths rule');
  close(f.equalOpportunityDifference.value, 2 / 3 - 1 / 2, 'equal opportunity');
  // Equalised odds: max(TPR difference 1/6, FPR difference 2/3 - 1/3).
  close(f.equalizedOddsDifference!.value, 1 / 3, 'equalised odds');
  close(f.accuracyDifference, 1 / 10, 'accuracy difference');
  assert.equal(f.confidenceIntervals, undefined);
  // Calibration of a: mean score 2.25 / 5, positives 2 / 5; bins as above; ECE = 3/5 |0.65/3 - 1/3| + 2/5 |0.8 - 0.5|.
  const cal = a.calibration!;
  close(cal.meanScore, 2.25 / 5, 'mean score');
  close(cal.positiveRate, 2 / 5, 'positive rate');
  assert.deepEqual(
    cal.bins.map((bin) => [bin.lower, bin.upper, bin.samples]),
    [
      [0, 0.5, 3],
      [0.5, 1, 2],
    ],
  );
  close(cal.bins[0].meanScore, 0.65 / 3, 'bin 0 mean score');
  close(cal.bins[0].positiveRate, 1 / 3, 'bin 0 positive rate');
  close(cal.bins[1].meanScore, 0.8, 'bin 1 mean score');
  close(cal.bins[1].positiveRate, 1 / 2, 'bin 1 positive rate');
  close(cal.expectedCalibrationError, (3 / 5) * (1 / 3 - 0.65 / 3) + (2 / 5) * 0.3, 'ECE');
  // Equal selection rates pass the rule; a group selecting no one gives ratio 0.
  const fair = classificationReport([1, 0, 1, 0], [1, 0, 0, 1], { groups: ['x', 'x', 'y', 'y'], bootstrap: false });
  assert.deepEqual(fair.fairness!.fourFifthsRule, { threshold: 0.8, passes: true });
  close(fair.fairness!.demographicParityRatio!.value, 1, 'equal selection');
});

test('multi-class: false-positive rates and equalised odds one-vs-rest, by hand', () => {
  // Group 2: labels dog cat cat, predictions eel cat dog. Group 1 is all correct (FPR 0 for every class).
  const r = classificationReport([0, 1, 2, 2, 0, 1], [0, 1, 2, 1, 0, 0], {
    groups: [1, 1, 1, 2, 2, 2],
    classNames: ['cat', 'dog', 'eel'],
    bootstrap: false,
  });
  const f = r.fairness!;
  // FPR in group 2: cat 0 of 1 non-cat; dog 1 (the cat at 5) of 2 non-dogs; eel 1 (the dog at 3) of 3.
  assert.deepEqual(f.groups[1].falsePositiveRate, { cat: 0, dog: 1 / 2, eel: 1 / 3 });
  assert.deepEqual(f.groups[0].falsePositiveRate, { cat: 0, dog: 0, eel: 0 });
  // max(TPR spread, FPR spread): cat max(0.5, 0), dog max(1, 0.5), eel max(undefined, 1/3).
  assert.deepEqual(f.equalizedOddsDifference!.byClass, { cat: 0.5, dog: 1, eel: 1 / 3 });
  assert.equal(f.equalizedOddsDifference!.value, 1);
  assert.deepEqual(f.demographicParityRatio!.byClass, { cat: 1, dog: 1, eel: 1 });
  assert.throws(
    () => classificationReport([0, 1, 2], [0, 1, 2], { groups: [1, 1, 2], scores: [0.1, 0.2, 0.3] }),
    /scores .* need a positiveClass/,
  );
  assert.throws(
    () => classificationReport([0, 1], [0, 1], { groups: [1, 2], scores: [0.1, 1.2] }),
    /probabilities in \[0, 1\], got 1.2 at sample 1/,
  );
});

/** n samples in two groups whose selection and true-positive rates differ, from a fixed pattern. */
function population(n: number) {
  const actual: number[] = [],
    predicted: number[] = [],
    groups: string[] = [];
  for (let i = 0; i < n; i++) {
    const g = i % 3 === 0 ? 'minority' : 'majority';
    const y = (i * 7) % 5 < 2 ? 1 : 0;
    const hit = (i * 13) % 10 < (g === 'majority' ? 8 : 5);
    actual.push(y);
    predicted.push(hit ? y : 1 - y);
    groups.push(g);
  }
  return { actual, predicted, groups };
}

test('bootstrap: seeded percentile intervals contain the point estimates and repeat exactly', () => {
  const { actual, predicted, groups } = population(600);
  const run = (seed: number) =>
    classificationReport(predicted, actual, { groups, bootstrap: { resamples: 300, seed } }).fairness!;
  const f = run(5);
  const ci = f.confidenceIntervals!;
  assert.equal(ci.resamples, 300);
  assert.equal(ci.level, 0.95);
  assert.match(ci.method, /stratified by group/);
  const point: Record<string, number | null> = {
    demographicParityDifference: f.demographicParityDifference.value,
    demographicParityRatio: f.demographicParityRatio!.value,
    equalOpportunityDifference: f.equalOpportunityDifference.value,
    equalizedOddsDifference: f.equalizedOddsDifference!.value,
    accuracyDifference: f.accuracyDifference,
  };
  for (const m of FAIRNESS_MEASURES) {
    const [lo, hi] = ci.intervals[m]!;
    assert.ok(lo < hi && lo <= point[m]! && point[m]! <= hi, `${m}: ${point[m]} in [${lo}, ${hi}]`);
  }
  assert.deepEqual(run(5).confidenceIntervals, ci, 'same seed, same intervals');
  assert.notDeepEqual(run(6).confidenceIntervals!.intervals, ci.intervals, 'another seed, other intervals');
  // Within-group resampling keeps each group: groups that always / never select give exactly [1, 1].
  const split = classificationReport([1, 1, 1, 0, 0, 0], [1, 0, 1, 0, 1, 0], {
    groups: ['p', 'p', 'p', 'q', 'q', 'q'],
    bootstrap: { resamples: 50 },
  }).fairness!;
  assert.deepEqual(split.confidenceIntervals!.intervals.demographicParityDifference, [1, 1]);
  // The bootstrap's indices come from RandomStream.blockWords: the backend's Philox blocks of counters 0, 1, ...
  const stream = new RandomStream(9);
  const words = stream.blockWords(2);
  assert.deepEqual([...words], [...philox4x32([0, 0, 0, 0], [9, 0]), ...philox4x32([1, 0, 0, 0], [9, 0])]);
  assert.equal(stream.position, 2);
  assert.throws(
    () => classificationReport([1, 0], [1, 0], { groups: [1, 2], bootstrap: { level: 1.5 } }),
    /level must be in \(0, 1\)/,
  );
});

test('run-record schema: the extended report validates, and so does a report written before it grew', async () => {
  const run = await tinyRun({ options: { write: false, energy: false } });
  try {
    const record = structuredClone(run.record);
    const report = record.evaluation[0].report!;
    assert.ok(report.fairness!.confidenceIntervals && report.fairness!.equalizedOddsDifference);
    validateRunRecord(record);
    // A binary report with calibration and intervals in the same record.
    report.fairness = classificationReport(predicted, actual, { groups, scores }).fairness!;
    validateRunRecord(record);
    // The fields an older Candor wrote, and nothing else.
    const old = report.fairness as Partial<FairnessReport>;
    for (const k of ['demographicParityRatio', 'equalizedOddsDifference', 'fourFifthsRule', 'confidenceIntervals'])
      delete old[k as keyof FairnessReport];
    for (const g of old.groups!) (delete g.falsePositiveRate, delete g.calibration);
    validateRunRecord(record);
    (report.fairness as FairnessReport).confidenceIntervals = {
      method: 'm',
      resamples: 1,
      level: 0.9,
      seed: 0,
      intervals: { demographicParityDifference: [0, 1, 2] } as never,
    };
    assert.throws(() => validateRunRecord(record), /more than 2 items/);
  } finally {
    run.dispose();
  }
});
