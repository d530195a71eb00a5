// Metric state values (stateValues / setStateValues): the states of two parts of the data, summed and set back,
// give the result of one metric over the whole data (what data-parallel fit does across ranks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import * as o from '../../src/ops/index.js';
import { CompileMetrics } from '../../src/train/compile.js';
import type { Metric, StatefulMetric, MetricResult } from '../../src/train/metrics.js';
import { assertClose, rand } from '../helpers.js';

const N = 10;
const rows = (t: c.Tensor, from: number, to: number) => o.sliceAxis(t, 0, from, to);

/** The element-wise sum of two metrics' state values. */
function summedState(a: StatefulMetric<MetricResult>, b: StatefulMetric<MetricResult>): Float64Array {
  const x = a.stateValues!()!,
    y = b.stateValues!()!;
  assert.equal(x.length, y.length);
  return x.map((v, i) => v + y[i]);
}

/** make() over all rows, against two made over rows [0, 4) and [4, N) whose summed state is set into the first. */
function checkHalves(
  make: () => Metric<MetricResult>,
  yTrue: c.Tensor,
  yPred: c.Tensor,
  weight?: c.Tensor,
): MetricResult {
  const whole = make();
  whole.updateState(yTrue, yPred, weight);
  const [a, b] = [make(), make()];
  a.updateState(rows(yTrue, 0, 4), rows(yPred, 0, 4), weight && rows(weight, 0, 4));
  b.updateState(rows(yTrue, 4, N), rows(yPred, 4, N), weight && rows(weight, 4, N));
  const part = a.result();
  a.setStateValues!(summedState(a, b));
  assert.deepEqual(a.result(), whole.result(), `${whole.name}: summed state gives the whole data's result`);
  assert.notDeepEqual(part, whole.result(), `${whole.name}: the first part alone differs (a real check)`);
  return whole.result();
}

const labels = c.tensor([1, 0, 1, 1, 0, 0, 1, 0, 1, 1], [N, 1], 'float32');
const probs = c.tensor([0.9, 0.45, 0.2, 0.7, 0.1, 0.55, 0.8, 0.3, 0.6, 0.95], [N, 1], 'float32');
const weights = c.tensor([1, 2, 0.5, 1, 3, 1, 0.25, 2, 1, 1.5], [N], 'float32');

test('threshold metrics, AUC, means: summed halves equal the whole batch (with and without sample weights)', () => {
  for (const weight of [undefined, weights]) {
    for (const make of [c.metrics.precision, c.metrics.recall, c.metrics.f1Score, c.metrics.auc])
      checkHalves(() => make(), labels, probs, weight);
    checkHalves(() => c.metrics.binaryAccuracy(), labels, probs, weight);
    checkHalves(() => c.metrics.meanSquaredError(), labels, probs, weight);
    // 'accuracy' resolves its kind at the first update.
    checkHalves(() => c.metrics.getMetric('accuracy'), labels, probs, weight);
  }
  // A hand count: precision over the whole data at 0.5 is tp 5 (0.9, 0.7, 0.8, 0.6, 0.95) / predicted 6.
  assertClose([checkHalves(() => c.metrics.precision(), labels, probs) as number], [5 / 6], { rtol: 1e-12, atol: 0 });
});

test('Mean: the state is (total, count), weighted', () => {
  const [a, b, whole] = [new c.metrics.Mean(), new c.metrics.Mean(), new c.metrics.Mean()];
  a.updateState(2, 3);
  b.updateState(c.tensor([1, 5], [2]), c.tensor([1, 2], [2]));
  whole.updateState(c.tensor([2, 1, 5], [3]), c.tensor([3, 1, 2], [3]));
  assert.deepEqual(Array.from(a.stateValues()), [6, 3]);
  a.setStateValues(summedState(a, b));
  assert.equal(a.result(), whole.result());
  assert.equal(a.result(), 17 / 6);
  assert.throws(() => a.setStateValues(new Float64Array(3)), c.ArgumentError);
});

test('confusionMatrix: counts sum; numClasses inferred at the first update or from the state length', () => {
  const yTrue = c.tensor([0, 1, 2, 2, 1, 0, 2, 1, 0, 0], [N], 'int32');
  const yPred = rand([N, 3], 4, { dtype: 'float32', lo: 0, hi: 1 });
  const matrix = checkHalves(() => c.metrics.confusionMatrix(), yTrue, yPred, weights) as number[][];
  assert.equal(matrix.length, 3);
  // A fresh one (numClasses not known yet) takes its size from the state: 9 values, 3 x 3.
  const fresh = c.metrics.confusionMatrix();
  assert.equal(fresh.stateValues().length, 0);
  const whole = c.metrics.confusionMatrix();
  whole.updateState(yTrue, yPred, weights);
  fresh.setStateValues(whole.stateValues());
  assert.deepEqual(fresh.result(), whole.result());
  assert.throws(() => fresh.setStateValues(new Float64Array(4)), c.ArgumentError);
});

test('compile_metrics: the concatenated states of its metrics; undefined with a metric that has none', () => {
  const outputs = { names: ['output'], model: 'm' };
  const make = (metrics: c.metrics.MetricSpec[]) => new CompileMetrics(outputs, [], metrics, ['auc']);
  const [a, b, whole] = [0, 1, 2].map(() => make(['precision', 'recall']));
  assert.equal(a.stateValues()!.length, 0, 'nothing made before the first update');
  whole.updateState(labels, probs, weights);
  a.updateState(rows(labels, 0, 4), rows(probs, 0, 4), rows(weights, 0, 4));
  b.updateState(rows(labels, 4, N), rows(probs, 4, N), rows(weights, 4, N));
  assert.equal(a.stateValues()!.length, 3 + 3 + 2 * 200 + 2);
  a.setStateValues(summedState(a, b));
  assert.deepEqual(a.result(), whole.result());
  assert.throws(() => a.setStateValues(new Float64Array(5)), c.ArgumentError);
  // A user's metric without state values: the container cannot be summed.
  const own: Metric = {
    name: 'own',
    updateState: () => {},
    result: () => 1,
    resetState: () => {},
    getConfig: () => ({ className: 'Own' }),
  };
  const mixed = make([own]);
  mixed.updateState(labels, probs);
  assert.equal(mixed.stateValues(), undefined);
});
