// Bad options that ran without a word (found by a second reader): each is now a typed error naming the method,
// and maxSensitivity frees the explanation it makes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { linearModel } from './linear-models.js';

test('options that did nothing are refused: IG tolerance without rule adaptive, NaN baselines, one LIME sample', () => {
  const model = linearModel([3], [0.5, -1, 2], 0.1);
  const x = c.tensor([[1, 2, 3]]);
  const ig = (o: object) => () => c.explain(model, x, { method: 'integratedGradients', target: 0, ...o });
  assert.throws(ig({ tolerance: 1e-9 }), /tolerance and maxSegments are options of rule 'adaptive', not of/);
  assert.throws(ig({ rule: 'riemannLeft', maxSegments: 2 }), ArgumentError);
  assert.throws(ig({ rule: 'adaptive', tolerance: Infinity }), /tolerance must be a positive finite number/);
  assert.throws(ig({ baseline: NaN }), /baseline must be finite, got NaN/);
  assert.throws(
    () => c.explain(model, x, { method: 'lime', target: 0, samples: 1 }),
    /samples must be an integer >= 2/,
  );
  const background = c.tensor([[0, NaN, 0]]);
  assert.throws(() => c.explain(model, x, { method: 'shapley', target: 0, background }), /background holds NaN/);
  assert.throws(() => c.explain(model, x, { method: 'kernelShap', target: 0, background }), /background holds NaN/);
});

test('fairnessReport checks its inputs itself; threshold predict refuses NaN scores', () => {
  const { fairness } = c.explainability;
  assert.throws(() => fairness.fairnessReport([1, 0], [1, 0, 1, 1], [0, 0, 1, 1], ['0', '1']), ShapeError);
  assert.throws(
    () => fairness.fairnessReport([1, 2], [1, 0], [0, 1], ['0', '1']),
    /class ids must be integers in 0..1/,
  );
  assert.throws(
    () => fairness.fairnessReport([1, 0], [1, 0], [0, 1], ['0', '1'], { calibrationBins: -3 }),
    /calibrationBins must be a positive integer/,
  );
  const scores = [0.1, 0.4, 0.6, 0.9, 0.2, 0.7, 0.8, 0.3];
  const labels = [0, 0, 1, 1, 0, 1, 1, 0];
  const groups = ['a', 'a', 'a', 'a', 'b', 'b', 'b', 'b'];
  const optimizer = fairness.thresholdOptimizer(scores, labels, groups);
  assert.throws(() => optimizer.predictProbability([NaN], ['a']), /score NaN at sample 0 is not finite/);
});

test('maxSensitivity frees the explanation it makes', () => {
  const model = linearModel([3], [0.5, -1, 2], 0.1);
  const x = c.tensor([[1, 2, 3]]);
  const before = c.memory().tensors;
  c.explainability.maxSensitivity(model, x, { method: 'saliency', target: 0 }, { samples: 2 });
  assert.equal(c.memory().tensors, before);
});
