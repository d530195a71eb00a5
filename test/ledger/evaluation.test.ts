// Classification and fairness reports checked against counts worked out by hand.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { classificationReport, evaluateClassifier } from '../../src/ledger/evaluation.js';
import { classIds, labelDistribution } from '../../src/ledger/fingerprint.js';

test('binary: accuracy, per-class precision/recall/F1, confusion, and group parity for the positive class', () => {
  const predicted = [0, 1, 1, 0, 1, 0];
  const actual = [0, 1, 0, 0, 1, 1];
  const groups = ['a', 'a', 'a', 'b', 'b', 'b'];
  const r = classificationReport(predicted, actual, { groups, attribute: 'site' });
  assert.equal(r.accuracy, 4 / 6);
  assert.deepEqual(r.confusion, [
    [2, 1],
    [1, 2],
  ]);
  assert.deepEqual(
    r.perClass.map((p) => [p.label, p.support, p.precision, p.recall]),
    [
      ['0', 3, 2 / 3, 2 / 3],
      ['1', 3, 2 / 3, 2 / 3],
    ],
  );
  const f = r.fairness!;
  assert.equal(f.attribute, 'site');
  assert.equal(f.positiveClass, '1');
  // Group a: predictions 0 1 1 vs labels 0 1 0 -> accuracy 2/3, selects class 1 in 2 of 3, catches its one 1.
  // Group b: predictions 0 1 0 vs labels 0 1 1 -> accuracy 2/3, selects class 1 in 1 of 3, catches 1 of its two 1s.
  assert.deepEqual(
    f.groups.map((g) => [g.group, g.samples, g.accuracy, g.selectionRate['1'], g.truePositiveRate['1']]),
    [
      ['a', 3, 2 / 3, 2 / 3, 1],
      ['b', 3, 2 / 3, 1 / 3, 0.5],
    ],
  );
  assert.equal(f.demographicParityDifference.value, 2 / 3 - 1 / 3);
  assert.equal(f.equalOpportunityDifference.value, 0.5);
  assert.equal(f.accuracyDifference, 0);
  assert.deepEqual(Object.keys(f.demographicParityDifference.byClass), ['1']);
});

test('multi-class: one-vs-rest per class, worst class reported; undefined rates are null, not invented', () => {
  const predicted = [0, 1, 2, 2, 0, 1];
  const actual = [0, 1, 2, 1, 0, 0];
  const groups = [1, 1, 1, 2, 2, 2];
  const r = classificationReport(predicted, actual, { groups, classNames: ['cat', 'dog', 'eel'] });
  assert.deepEqual(r.labels, ['cat', 'dog', 'eel']);
  const f = r.fairness!;
  assert.equal(f.positiveClass, undefined);
  // Selection rates: group 1 picks each class once (1/3 each); group 2 picks cat 1/3, dog 1/3, eel 1/3.
  assert.deepEqual(f.demographicParityDifference.byClass, { cat: 0, dog: 0, eel: 0 });
  // TPR: group 1 has one cat, dog, eel, all caught (1, 1, 1); group 2 has two cats (one caught: 0.5), one dog
  // (missed: 0), no eel (null).
  assert.deepEqual(f.groups[1].truePositiveRate, { cat: 0.5, dog: 0, eel: null });
  assert.deepEqual(f.equalOpportunityDifference.byClass, { cat: 0.5, dog: 1, eel: null });
  assert.equal(f.equalOpportunityDifference.value, 1);
  // eel never predicted wrongly, dog precision: predicted dog at 1 (dog) and 5 (cat) -> 1/2.
  assert.equal(r.perClass[1].precision, 0.5);
  assert.equal(classificationReport([0, 0], [0, 0], { numClasses: 2 }).perClass[1].precision, null);
  assert.throws(() => classificationReport([0], [0, 1]), /1 predictions for 2 labels/);
  assert.throws(() => classificationReport([0.5], [0]), /non-negative integers/);
  assert.throws(() => classificationReport([0, 1], [0, 1], { groups: ['a'] }), /1 group ids for 2 samples/);
});

test('evaluateClassifier reads argmax predictions and integer or one-hot labels', () => {
  const model = {
    predict: () =>
      c.tensor([
        [0.1, 0.9],
        [0.8, 0.2],
        [0.3, 0.7],
      ]),
  };
  const r = evaluateClassifier(
    model,
    c.zeros([3, 1]),
    c.tensor([
      [0, 1],
      [0, 1],
      [0, 1],
    ]),
  );
  assert.deepEqual(r.confusion, [
    [0, 0],
    [1, 2],
  ]);
  const sigmoid = { predict: () => c.tensor([[0.9], [0.2]]) };
  assert.equal(evaluateClassifier(sigmoid, c.zeros([2, 1]), c.tensor(Int32Array.from([1, 1]), [2])).accuracy, 0.5);
  assert.deepEqual(Array.from(classIds(c.tensor(Int32Array.from([2, 0]), [2, 1]))!), [2, 0]);
  assert.equal(classIds(c.tensor([0.5, 1])), undefined);
  assert.deepEqual(labelDistribution(c.tensor(Int32Array.from([3, 1, 3]), [3])), { 1: 1, 3: 2 });
});
