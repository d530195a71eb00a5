// Fairness mitigation: reweighing against its formula and on Adult rows (weighted label independent of the
// group), and the threshold optimizer equalising TPR / FPR (or selection rates) on groups with shifted scores.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { reweighing, thresholdOptimizer } from '../../src/explain/fairness/index.js';
import { classificationReport } from '../../src/ledger/evaluation.js';
import { loadTable } from '../../src/privacy/table.js';

test('reweighing: w(g, y) = P(g) P(y) / P(g, y), by hand', () => {
  // n = 5; a: 3, b: 2; label 1: 3, label 0: 2; cells (a,1) 1, (a,0) 2, (b,1) 2.
  const w = reweighing([1, 0, 0, 1, 1], ['a', 'a', 'a', 'b', 'b']);
  const want = [(3 * 3) / (5 * 1), (3 * 2) / (5 * 2), (3 * 2) / (5 * 2), (2 * 3) / (5 * 2), (2 * 3) / (5 * 2)];
  want.forEach((v, i) => assert.ok(Math.abs(w[i] - v) < 1e-15, `sample ${i}: ${w[i]} vs ${v}`));
  assert.throws(() => reweighing([1, 0], ['a']), /1 group ids for 2 labels/);
  assert.throws(() => reweighing([], []), /no samples/);
});

test('reweighing on Adult rows: under the weights, income is independent of sex and of race', async () => {
  // test/fixtures/adult-sample.csv: every 100th row of adult.data.
  const file = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'adult-sample.csv');
  const { rows } = await loadTable(file);
  const labels: number[] = rows.map((r) => (r.Y === '>50K' ? 1 : 0));
  for (const attribute of ['sex', 'race']) {
    const groups = rows.map((r) => r[attribute]);
    const w = reweighing(labels, groups);
    const n = rows.length;
    const total = w.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(total - n) < 1e-9, 'total weight is the sample count');
    const mass = (pick: (i: number) => boolean) => labels.reduce((s, _, i) => s + (pick(i) ? w[i] : 0), 0) / total;
    const count = (pick: (i: number) => boolean) => labels.filter((_, i) => pick(i)).length / n;
    for (const g of new Set(groups))
      for (const y of [0, 1]) {
        if (count((i) => groups[i] === g && labels[i] === y) === 0) continue;
        // Weighted joint = product of the (unweighted) marginals, which the weights leave as they were.
        const joint = mass((i) => groups[i] === g && labels[i] === y);
        const product = count((i) => groups[i] === g) * count((i) => labels[i] === y);
        assert.ok(Math.abs(joint - product) < 1e-12, `${attribute} ${g}, y ${y}: ${joint} vs ${product}`);
        assert.ok(Math.abs(mass((i) => groups[i] === g) - count((i) => groups[i] === g)) < 1e-12);
      }
  }
});

/** Scores of two groups: group A separates its classes better and has more positives than group B. */
function shifted(seed: number) {
  const spec = [
    { group: 'A', n: 3000, positives: 0.4, mean1: 1.5, mean0: -0.5 },
    { group: 'B', n: 2000, positives: 0.2, mean1: 0.5, mean0: -1 },
  ];
  const stream = new c.RandomStream(seed);
  const scores: number[] = [],
    labels: number[] = [],
    groups: string[] = [];
  for (const s of spec) {
    const z = stream.normal([s.n], 0, 1, 'float64');
    const zs = z.dataSync();
    z.dispose();
    for (let i = 0; i < s.n; i++) {
      const y = i < s.n * s.positives ? 1 : 0;
      scores.push(zs[i] + (y ? s.mean1 : s.mean0));
      labels.push(y);
      groups.push(s.group);
    }
  }
  return { scores, labels, groups };
}

/** Expected TPR and FPR of each group under P(positive) = p. */
function expectedRates(p: ArrayLike<number>, labels: number[], groups: string[]) {
  const out: Record<string, { tpr: number; fpr: number; selection: number }> = {};
  for (const g of new Set(groups)) {
    let tp = 0,
      pos = 0,
      fp = 0,
      neg = 0;
    labels.forEach((y, i) => {
      if (groups[i] !== g) return;
      if (y) ((tp += p[i]), pos++);
      else ((fp += p[i]), neg++);
    });
    out[g] = { tpr: tp / pos, fpr: fp / neg, selection: (tp + fp) / (pos + neg) };
  }
  return out;
}

test('thresholdOptimizer (equalised odds): equal TPR and FPR across groups with shifted scores', () => {
  const fit = shifted(1);
  const opt = thresholdOptimizer(fit.scores, fit.labels, fit.groups);
  assert.equal(opt.constraint, 'equalizedOdds');
  // On the fitting data the randomised rule's expected rates are equal, and agree with the rules it reports.
  const p = opt.predictProbability(fit.scores, fit.groups);
  const r = expectedRates(p, fit.labels, fit.groups);
  assert.ok(Math.abs(r.A.tpr - r.B.tpr) < 1e-9 && Math.abs(r.A.fpr - r.B.fpr) < 1e-9, JSON.stringify(r));
  assert.ok(Math.abs(r.A.fpr - opt.rate) < 1e-9);
  for (const rule of opt.rules) {
    assert.ok(Math.abs(rule.truePositiveRate - r[rule.group].tpr) < 1e-9);
    assert.ok(Math.abs(rule.falsePositiveRate - r[rule.group].fpr) < 1e-9);
    assert.ok(Math.abs(rule.thresholds.reduce((s, t) => s + t.probability, 0) - 1) < 1e-12);
  }
  const expectedAccuracy = p.reduce((s, pi, i) => s + (fit.labels[i] ? pi : 1 - pi), 0) / p.length;
  assert.ok(Math.abs(expectedAccuracy - opt.accuracy) < 1e-9, `${expectedAccuracy} vs ${opt.accuracy}`);
  // The group whose ROC hull lies higher (A) is pulled down to B's by the coin; B needs none.
  assert.ok(opt.rules[0].pIgnore > 0 && opt.rules[1].pIgnore === 0);

  // Fresh data from the same distributions: one threshold for all is far from equalised odds; the rule is not.
  const fresh = shifted(2);
  const odds = (pred: ArrayLike<number>) =>
    classificationReport(pred, fresh.labels, { groups: fresh.groups, bootstrap: false }).fairness!
      .equalizedOddsDifference!.value!;
  const single = odds(fresh.scores.map((s) => (s >= 0.5 ? 1 : 0)));
  const post = odds(opt.predict(fresh.scores, fresh.groups, { seed: 3 }));
  assert.ok(single > 0.25 && post < 0.05, `single threshold ${single}, thresholds ${post}`);
  assert.deepEqual(
    opt.predict(fresh.scores, fresh.groups, { seed: 3 }),
    opt.predict(fresh.scores, fresh.groups, { seed: 3 }),
  );
});

test('thresholdOptimizer (demographic parity): equal selection rates; typed errors', () => {
  const fit = shifted(4);
  const opt = thresholdOptimizer(fit.scores, fit.labels, fit.groups, { constraint: 'demographicParity' });
  const r = expectedRates(opt.predictProbability(fit.scores, fit.groups), fit.labels, fit.groups);
  assert.ok(Math.abs(r.A.selection - r.B.selection) < 1e-9 && Math.abs(r.A.selection - opt.rate) < 1e-9);
  assert.ok(opt.rules.every((rule) => rule.pIgnore === 0));
  assert.throws(() => opt.predict([0.1], ['C']), /group 'C' \(sample 0\) was not in the fitting data/);
  assert.throws(() => thresholdOptimizer([0.1, 0.2], [0, 0], ['a', 'a']), /group 'a' has 0 positive/);
  assert.throws(() => thresholdOptimizer([0.1, NaN], [0, 1], ['a', 'a']), /not finite/);
  assert.throws(() => thresholdOptimizer([0.1], [2], ['a']), /labels must be 0 or 1/);
  assert.throws(() => thresholdOptimizer([0.1], [1], ['a'], { constraint: 'x' as never }), /constraint must be/);
});
