// Faithfulness measures: deletion / insertion curves against hand-computed curves of a linear model,
// infidelity and max-sensitivity against their closed forms (0 for exact attributions), Spearman with ties.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, DTypeError } from '../../src/errors.js';
import { assertClose, flat, rand } from '../helpers.js';
import { linearModel, tokenModel } from './linear-models.js';

const { deletionCurve, insertionCurve, infidelity, maxSensitivity, spearman } = c.explainability;

/** f(x) = w . x + b: one linear unit, so every measure has a closed form. */
const linear = (w: number[], b: number) => linearModel([w.length], w, b);

/** The explanation with other attributions in its place (a random or scaled attribution to compare). */
const withAttributions = (e: c.explainability.Explanation, attributions: c.Tensor) => ({ ...e, attributions });

test('deletion and insertion curves equal the hand-computed curves of a linear model', () => {
  const model = linear([1, -2, 3, 0.5], 0.25);
  const x = c.tensor([[1, 1, 1, 2]]);
  // w * x = [1, -2, 3, 1]: removed in the order 2, 0, 3 (tie with 0: the lower index first), 1.
  const e = c.explain(model, x, { method: 'gradientXInput' });
  assertClose(flat(e.attributions), [1, -2, 3, 1]);
  const del = deletionCurve(model, x, e, { steps: 4 });
  assert.deepEqual(del.fractions, [[0, 0.25, 0.5, 0.75, 1]]);
  assertClose(del.scores[0], [3.25, 0.25, -0.75, -1.75, 0.25]);
  // 0.25 * ((3.25 + 0.25) + (0.25 - 0.75) + (-0.75 - 1.75) + (-1.75 + 0.25)) / 2
  assertClose(del.auc, [-0.125]);
  assert.equal(del.meanAuc, del.auc[0]);
  const ins = insertionCurve(model, x, e, { steps: 4 });
  assertClose(ins.scores[0], [0.25, 3.25, 4.25, 5.25, 3.25]);
  assertClose(ins.auc, [3.625]);
  // Two steps take round(k * 4 / 2) = 0, 2, 4 features; a baseline of 1 replaces them.
  const coarse = deletionCurve(model, x, e, { steps: 2, baseline: 1 });
  assert.deepEqual(coarse.fractions, [[0, 0.5, 1]]);
  assertClose(coarse.scores[0], [3.25, 3.25, 2.75]);
  // A tensor baseline broadcasts to the inputs: one sample's values here.
  const ones = deletionCurve(model, x, e, { steps: 2, baseline: c.tensor([1, 1, 1, 1]) });
  assert.deepEqual(ones.scores, coarse.scores);
  assert.throws(() => deletionCurve(model, x, e, { baseline: c.tensor([1, 1, 1]) }), /does not broadcast/);
  // Features grouped: {0, 1} and {2, 3} sum to -1 and 4, so the second group goes first.
  const grouped = deletionCurve(model, x, e, { steps: 2, features: { featureMap: [0, 0, 1, 1] } });
  assertClose(grouped.scores[0], [3.25, -0.75, 0.25]);
});

test('token inputs: removed tokens become padding, which is never a feature', () => {
  // f = 0.5 + sum_t e[token t]: tokens [2, 3, 1, padding] score 0.5 - 2 + 3 + 1.
  const model = tokenModel([0, 1, -2, 3], [1, 1, 1, 1], 0.5);
  const tokens = c.tensor([[2, 3, 1, 0]], [1, 4], 'int32');
  const e = c.explain(model, tokens, { method: 'occlusion', window: 1 });
  assertClose(flat(e.attributions), [-2, 3, 1, 0]);
  const del = deletionCurve(model, tokens, e); // features: 'tokens'
  assert.deepEqual(del.fractions, [[0, 1 / 3, 2 / 3, 1]]);
  assertClose(del.scores[0], [2.5, -0.5, -1.5, 0.5]);
  const f = c.explain(model, tokens, { method: 'occlusion', window: 1, faithfulness: true }).faithfulness!;
  assert.equal(f.infidelity, undefined);
  assert.match(f.skipped!.infidelity, /token-id inputs/);
});

test('a perfect attribution (w * x) beats a random one on deletion AUC', () => {
  const w = flat(rand([12], 1, { dtype: 'float32' }));
  const model = linear(w, 0.1);
  const x = rand([5, 12], 2, { dtype: 'float32' });
  const perfect = c.explain(model, x, { method: 'gradientXInput' });
  const random = withAttributions(perfect, rand([5, 12], 3, { dtype: 'float32' }));
  const good = deletionCurve(model, x, perfect);
  const bad = deletionCurve(model, x, random);
  assert.equal(good.fractions[0].length, 13); // min(features, 50) steps
  for (let i = 0; i < 5; i++)
    assert.ok(good.auc[i] <= bad.auc[i] + 1e-6, `sample ${i}: ${good.auc[i]} vs ${bad.auc[i]}`);
  assert.ok(good.meanAuc < bad.meanAuc - 0.1, `${good.meanAuc} vs ${bad.meanAuc}`);
  assert.ok(insertionCurve(model, x, perfect).meanAuc > insertionCurve(model, x, random).meanAuc + 0.1);
});

test('infidelity is 0 for exact attributions of a linear model and larger for random ones', () => {
  const w = flat(rand([6], 4, { dtype: 'float32' }));
  const model = linear(w, -0.3);
  const x = rand([4, 6], 5, { dtype: 'float32' });
  const gxi = c.explain(model, x, { method: 'gradientXInput', seed: 7 });
  const exact = infidelity(model, x, gxi, { samples: 20 });
  assert.equal(exact.multiplyByInputs, true);
  assert.equal(exact.values.length, 4);
  for (const v of exact.values) assert.ok(v < 1e-9, `w * x: ${v}`);
  const random = infidelity(model, x, withAttributions(gxi, rand([4, 6], 6, { dtype: 'float32' })), { samples: 20 });
  for (const v of random.values) assert.ok(v > 1e-3, `random: ${v}`);
  // Saliency (local): the gradient w dotted with the perturbation itself is exactly the change of f.
  const grad = c.explain(model, x, { method: 'saliency', absolute: false });
  assert.ok(infidelity(model, x, grad).mean < 1e-9);
  // Twice w * x is off by f's change itself, unless normalised (the optimal beta is 1/2).
  const doubled = withAttributions(gxi, c.mul(gxi.attributions, 2));
  assert.ok(infidelity(model, x, doubled).mean > 1e-3);
  assert.ok(infidelity(model, x, doubled, { normalize: true }).mean < 1e-9);
  // Seeded: the same seed gives the same figures.
  assert.deepEqual(
    infidelity(model, x, doubled, { seed: 3 }).values,
    infidelity(model, x, doubled, { seed: 3 }).values,
  );
});

test('max-sensitivity of saliency is 0 on a linear model and positive on a softmax model', () => {
  const model = linear([0.5, -1, 2], 0);
  const x = rand([3, 3], 8, { dtype: 'float32' });
  const s = maxSensitivity(model, x, { method: 'saliency' }, { samples: 4, radius: 0.1 });
  assert.deepEqual(s.values, [0, 0, 0]);
  const softmax = new c.Sequential([c.layers.dense({ units: 3, activation: 'softmax', inputShape: [3] })]);
  const moved = maxSensitivity(softmax, x, { method: 'saliency', target: 1, seed: 2 }, { samples: 4, radius: 0.5 });
  for (const v of moved.values) assert.ok(v > 1e-4 && Number.isFinite(v), `softmax: ${v}`);
});

test('Spearman correlation equals the hand computation with tied values', () => {
  // Ranks [1, 2.5, 2.5, 4, 5] and [2, 1, 3.5, 3.5, 5]: sum of products of deviations 7.25, each variance 9.5.
  assertClose([spearman([1, 2, 2, 3, 5], [2, 1, 4, 4, 6])], [7.25 / 9.5], { atol: 1e-12 });
  assert.equal(spearman([1, 2, 3], [30, 20, 10]), -1);
  assert.equal(spearman([1, 1, 1], [1, 2, 3]), 0);
  assert.throws(() => spearman([1], [1]), ArgumentError);
});

test('explain({ faithfulness }) puts the measures next to the explanation', () => {
  const model = linear([1, -2, 3, 0.5], 0.25);
  const x = c.tensor([
    [1, 1, 1, 2],
    [0.5, -1, 2, 1],
  ]);
  const e = c.explain(model, x, { method: 'gradientXInput', faithfulness: true, seed: 1 });
  const f = e.faithfulness!;
  assert.deepEqual(Object.keys(f).sort(), ['deletion', 'infidelity', 'insertion', 'seconds']);
  assert.deepEqual(f.deletion, deletionCurve(model, x, e));
  assert.deepEqual(f.infidelity, infidelity(model, x, e));
  const some = c.explain(model, x, {
    method: 'saliency',
    faithfulness: { deletion: { steps: 2 }, maxSensitivity: { samples: 2 } },
  }).faithfulness!;
  assert.deepEqual(Object.keys(some).sort(), ['deletion', 'maxSensitivity', 'seconds']);
  assert.equal(some.deletion!.fractions[0].length, 3);
  assert.equal(c.explain(model, x, { method: 'saliency' }).faithfulness, undefined);
  assert.throws(
    () => c.explain(model, x, { method: 'saliency', faithfulness: { deletions: true } as never }),
    /unknown faithfulness measure deletions/,
  );
  // A function target is not kept in the explanation: the measures need it again.
  const custom = c.explain(model, x, { method: 'saliency', target: (out) => c.sum(out as c.Tensor, [1]) });
  assert.throws(() => deletionCurve(model, x, custom), /give it again as options.target/);
  assert.equal(deletionCurve(model, x, custom, { target: (out) => c.sum(out as c.Tensor, [1]) }).auc.length, 2);
  assert.throws(() => deletionCurve(model, x, withAttributions(e, c.zeros([2, 3]))), /do not have the inputs' shape/);
  assert.throws(() => infidelity(model, c.tensor([[1, 2, 3, 4]], [1, 4], 'int32'), e), DTypeError);
});

test('every global method equals w * x on a linear model with a zero baseline, so its infidelity is 0', () => {
  const model = linear([1, -2, 3, 0.5], 0.25);
  const x = c.tensor([
    [1, 1, 1, 2],
    [0.5, -1, 2, 1],
  ]);
  const zeros = c.zeros([1, 4]);
  const reference = c.explain(model, x, { method: 'gradientXInput', faithfulness: true, seed: 4 }).faithfulness!;
  const methods: c.explainability.ExplainOptions[] = [
    { method: 'integratedGradients', steps: 8 },
    { method: 'occlusion', window: 1 },
    { method: 'kernelShap', background: zeros, samples: 64 },
    { method: 'shapley', background: zeros },
  ];
  for (const options of methods) {
    const e = c.explain(model, x, { ...options, faithfulness: true, seed: 4 });
    assertClose(flat(e.attributions), [1, -2, 3, 1, 0.5, 2, 6, 0.5], { atol: 1e-5 }, options.method);
    const f = e.faithfulness!;
    assert.equal(f.infidelity!.multiplyByInputs, true, options.method);
    assert.ok(f.infidelity!.mean < 1e-9, `${options.method}: ${f.infidelity!.mean}`);
    assert.deepEqual(f.deletion!.fractions, reference.deletion!.fractions);
    assertClose(f.deletion!.auc, reference.deletion!.auc, { atol: 1e-5 }, options.method);
    assertClose(f.insertion!.auc, reference.insertion!.auc, { atol: 1e-5 }, options.method);
  }
});
