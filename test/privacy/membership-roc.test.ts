// ROC AUC and TPR at FPR of membership scores against a slow reference that enumerates every threshold,
// ties included, and per-example losses against a loop of one-example compiled losses.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { rocAuc, tprAtFpr } from '../../src/privacy/roc.js';
import { perExampleLoss, logitConfidence } from '../../src/privacy/example-loss.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';

/** Every threshold t (each score, and +Infinity): flag "member" when score >= t. */
function rocPoints(members: number[], nonMembers: number[]): { fpr: number; tpr: number }[] {
  const ts = [...new Set([...members, ...nonMembers]), Infinity];
  return ts.map((t) => ({
    fpr: nonMembers.filter((s) => s >= t).length / nonMembers.length,
    tpr: members.filter((s) => s >= t).length / members.length,
  }));
}

/** AUC as the area under the ROC points (trapezoids: a tie group is a diagonal segment). */
function trapezoidAuc(members: number[], nonMembers: number[]): number {
  const pts = rocPoints(members, nonMembers).sort((a, b) => a.fpr - b.fpr || a.tpr - b.tpr);
  let area = 0;
  for (let i = 1; i < pts.length; i++) area += ((pts[i].fpr - pts[i - 1].fpr) * (pts[i].tpr + pts[i - 1].tpr)) / 2;
  return area;
}

/** AUC by counting every pair, ties one half. */
function pairAuc(members: number[], nonMembers: number[]): number {
  let u = 0;
  for (const a of members) for (const b of nonMembers) u += a > b ? 1 : a === b ? 0.5 : 0;
  return u / (members.length * nonMembers.length);
}

function referenceTpr(members: number[], nonMembers: number[], fpr: number): number {
  return Math.max(
    ...rocPoints(members, nonMembers)
      .filter((p) => p.fpr <= fpr + 1e-12)
      .map((p) => p.tpr),
  );
}

test('rocAuc and tprAtFpr equal the enumerated-threshold reference, with and without ties', () => {
  const g = new c.RandomStream(3);
  const draw = (k: number, shift: number, levels: number) => {
    const t = g.normal([k], shift, 1, 'float64');
    const v = Array.from(t.dataSync(), (x) => (levels ? Math.round(x * levels) / levels : x));
    t.dispose();
    return v;
  };
  const cases: [number[], number[]][] = [
    [
      [3, 1, 2],
      [0, 2, 2, -1],
    ],
    [
      [1, 1, 1],
      [1, 1],
    ],
    [[5], [4]],
    [
      [0, 0, 7],
      [7, 7, 7, 0],
    ],
  ];
  for (const [m, n, levels] of [
    [40, 60, 0],
    [55, 45, 2],
    [30, 200, 1],
    [200, 1000, 3],
  ])
    cases.push([draw(m, 0.6, levels), draw(n, 0, levels)]);
  const fprs = [0.001, 0.01, 0.1, 0.25, 0.5, 0.999];
  for (const [mem, non] of cases) {
    const auc = rocAuc(mem, non);
    assert.ok(Math.abs(auc - pairAuc(mem, non)) < 1e-12, `pairs: ${auc} vs ${pairAuc(mem, non)}`);
    assert.ok(Math.abs(auc - trapezoidAuc(mem, non)) < 1e-12, `trapezoids: ${auc} vs ${trapezoidAuc(mem, non)}`);
    const got = tprAtFpr(mem, non, fprs);
    fprs.forEach((f, i) => {
      assert.equal(got[i].fpr, f);
      assert.equal(got[i].tpr, referenceTpr(mem, non, f), `fpr ${f} of ${mem.length}/${non.length}`);
    });
  }
  // Hand-worked: members {3, 1, 2}, non-members {0, 2, 2, -1}: pairs won 4 + 2 + (2 + 2 x 0.5) = 9 of 12.
  assert.equal(rocAuc([3, 1, 2], [0, 2, 2, -1]), 9 / 12);
  // FPR 0.25 allows one false positive, but the two tied 2s come together: the threshold goes above 2.
  // FPR 0.5 admits both: any threshold in (0, 1] flags all three members.
  assert.deepEqual(tprAtFpr([3, 1, 2], [0, 2, 2, -1], [0.25, 0.5]), [
    { fpr: 0.25, tpr: 1 / 3 },
    { fpr: 0.5, tpr: 1 },
  ]);
  // Below 1/n only "no false positive" qualifies.
  assert.deepEqual(tprAtFpr([5, 4, 3], [3.5, 0], [0.001]), [{ fpr: 0.001, tpr: 2 / 3 }]);
  assert.equal(rocAuc([1, 1], [1, 1, 1]), 0.5);
  assert.throws(() => rocAuc([], [1]), ArgumentError);
  assert.throws(() => rocAuc([NaN], [1]), ArgumentError);
  assert.throws(() => tprAtFpr([1], [1], [0]), ArgumentError);
  assert.throws(() => tprAtFpr([1], [1], [1]), ArgumentError);
});

test('perExampleLoss equals the compiled loss of one example at a time (several heads, two weighted outputs)', () => {
  c.setSeed(5);
  const x = new c.RandomStream(1).normal([7, 3], 0, 2);
  const y = c.tensor(Int32Array.from([0, 1, 2, 1, 0, 2, 2]), [7], 'int32');
  const yBin = c.tensor(Float32Array.from([1, 0, 1, 1, 0, 0, 1]), [7, 1]);
  const cases: [c.Model, c.Tensor, unknown][] = [];
  const softmax = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'tanh', inputShape: [3] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  softmax.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  cases.push([softmax, y, 'sparse']);
  const sigmoid = new c.Sequential([c.layers.dense({ units: 1, activation: 'sigmoid', inputShape: [3] })]);
  sigmoid.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy' });
  cases.push([sigmoid, yBin, 'binary']);
  const linear = new c.Sequential([c.layers.dense({ units: 1, inputShape: [3] })]);
  linear.compile({ optimizer: 'sgd', loss: 'mse' });
  cases.push([linear, yBin, 'mse']);
  // Two outputs with loss weights: the per-example loss is the weighted sum over outputs.
  const input = c.input({ shape: [3] });
  const hidden = c.layers.dense({ units: 5, activation: 'relu' }).apply(input) as c.SymbolicTensor;
  const outA = c.layers.dense({ units: 3, activation: 'softmax', name: 'a' }).apply(hidden) as c.SymbolicTensor;
  const outB = c.layers.dense({ units: 1, name: 'b' }).apply(hidden) as c.SymbolicTensor;
  const twoHeads = new c.Model({ inputs: input, outputs: [outA, outB] });
  twoHeads.compile({ optimizer: 'sgd', loss: ['sparseCategoricalCrossentropy', 'mse'], lossWeights: [1, 0.5] });
  const both = perExampleLoss(twoHeads, { x, y: [y, yBin] }, 4);
  for (let i = 0; i < 7; i++) {
    const xi = c.slice(x, [i, 0], [1, 3]);
    const ys = [c.slice(y, [i], [1]), c.slice(yBin, [i, 0], [1, 1])];
    const p = twoHeads.apply(xi) as c.Tensor[];
    const want = twoHeads.compiledLoss(ys, p);
    assert.ok(Math.abs(both[i] - want.item()) <= 1e-6 * Math.max(1, want.item()), `two outputs, example ${i}`);
    c.dispose([xi, ys, p, want]);
  }
  // A custom loss that reduces over the batch has no per-example losses: a typed error says so.
  const reducing = new c.Sequential([c.layers.dense({ units: 1, inputShape: [3] })]);
  reducing.compile({ optimizer: 'sgd', loss: (t: c.Tensor, p: c.Tensor) => c.mean(c.square(c.sub(t, p))) });
  assert.throws(
    () => perExampleLoss(reducing, { x, y: yBin }),
    (e: Error) => e instanceof ShapeError && /must give one loss per example/.test(e.message),
  );
  // A compiled loss that is not linear in the sample weights cannot be split this way: checked, not trusted.
  class SquaredWeights extends c.Sequential {
    override compiledLoss(t: c.Tensor | c.Tensor[], p: c.Tensor | c.Tensor[], w?: c.Tensor): c.Tensor {
      return super.compiledLoss(t, p, w && c.square(w));
    }
  }
  const nonlinear = new SquaredWeights([c.layers.dense({ units: 1, inputShape: [3] })]);
  nonlinear.compile({ optimizer: 'sgd', loss: 'mse' });
  assert.throws(() => perExampleLoss(nonlinear, { x, y: yBin }), /does not weigh examples linearly/);
  for (const m of [twoHeads, reducing, nonlinear]) m.dispose();
  for (const [model, labels, name] of cases) {
    const got = perExampleLoss(model, { x, y: labels }, 3);
    for (let i = 0; i < 7; i++) {
      const xi = c.slice(x, [i, 0], [1, 3]);
      const yi = labels.rank === 1 ? c.slice(labels, [i], [1]) : c.slice(labels, [i, 0], [1, 1]);
      const p = model.apply(xi) as c.Tensor;
      const want = model.compiledLoss(yi, p);
      assert.ok(Math.abs(got[i] - want.item()) <= 1e-6 * Math.max(1, want.item()), `${name} example ${i}`);
      c.dispose([xi, yi, p, want]);
    }
  }
  // phi = log(p / (1 - p)) with p = exp(-loss): p = 0.8 gives log 4; saturated losses are capped, not infinite.
  const phi = logitConfidence([-Math.log(0.8), 0, -Math.log(0.5)]);
  assert.ok(Math.abs(phi[0] - Math.log(4)) < 1e-12 && Math.abs(phi[2]) < 1e-12);
  assert.ok(Number.isFinite(phi[1]) && phi[1] > 16 && phi[1] < 17);
  for (const [model] of cases) model.dispose();
  c.dispose([x, y, yBin]);
});
