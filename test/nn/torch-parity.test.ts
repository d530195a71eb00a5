// Numerics against PyTorch from committed fixtures: LSTM, GRU, SimpleRNN, MultiHeadAttention to 1e-5.
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, copy, grad, mul, sum, add, tensor, tidy } from '../../src/index.js';
import type { Layer } from '../../src/nn/layer.js';
import { GRU, LSTM, MultiHeadAttention, SimpleRNN } from '../../src/nn/layers/index.js';

// Numerics against PyTorch: LSTM, GRU, SimpleRNN and MultiHeadAttention outputs and their input and weight
// gradients match torch's on the same float64 weights to 1e-5. The fixtures are JSON files made by
// tools/torch-fixtures.py (which documents the torch -> Keras weight mapping); no Python runs here.

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
const TOLERANCE = 1e-5;

interface Arr {
  shape: number[];
  data: number[];
}
interface Fixture {
  layer: string;
  config: Record<string, unknown>;
  inputs: Record<string, Arr>;
  attentionMask?: { shape: number[]; data: boolean[] } | null;
  weights: Record<string, Arr>;
  outputs: Record<string, Arr>;
  projections: Record<string, Arr>;
  grads: Record<string, Arr>;
}

const load = (name: string) => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
const t64 = (a: Arr) => tensor(Float64Array.from(a.data), a.shape, 'float64');

/** Largest |actual - expected|, after checking the shapes agree. */
function maxAbsError(actual: Tensor, expected: Arr, what: string): number {
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  return expected.data.reduce((m, e, i) => Math.max(m, Math.abs(a[i] - e)), 0);
}

/** Asserts each quantity's worst error is within TOLERANCE; reports the worst of all as a test diagnostic. */
function checkAll(t: TestContext, errors: Record<string, number>): void {
  for (const [what, err] of Object.entries(errors))
    assert.ok(err <= TOLERANCE, `${what}: max abs error ${err} > ${TOLERANCE}`);
  const [what, worst] = Object.entries(errors).reduce((a, b) => (b[1] > a[1] ? b : a));
  t.diagnostic(`max abs error vs torch ${worst.toExponential(2)} (${what})`);
}

/**
 * Gradients of `loss` w.r.t. the named inputs and every weight. The layer reads its variables, so the
 * traced function installs the differentiated weight arguments as (recorded) copies, as the harness does.
 */
function gradients(
  layer: Layer,
  inputs: Record<string, Tensor>,
  loss: (inputs: Record<string, Tensor>) => Tensor,
): Record<string, Tensor> {
  const names = Object.keys(inputs);
  const vars = layer.weights;
  const args = [...names.map((n) => inputs[n]), ...vars.map((v) => v.value.clone())];
  const f = (xs: Tensor[]) => {
    vars.forEach((v, i) => v.assign(copy(xs[names.length + i])));
    return loss(Object.fromEntries(names.map((n, i) => [n, xs[i]])));
  };
  const gs = grad(f)(args);
  const short = (v: { name: string }) => v.name.slice(layer.name.length + 1);
  return Object.fromEntries([
    ...names.map((n, i) => [n, gs[i]]),
    ...vars.map((v, i) => [short(v), gs[names.length + i]]),
  ]);
}

/** The fixture's weights in the layer's weight order (by Keras name). */
function setFixtureWeights(layer: Layer, f: Fixture): void {
  const names = layer.weights.map((v) => v.name.slice(layer.name.length + 1));
  assert.deepEqual(names.sort(), Object.keys(f.weights).sort(), 'weight names');
  layer.setWeights(layer.weights.map((v) => t64(f.weights[v.name.slice(layer.name.length + 1)])));
}

const RNNS: Record<string, (config: Record<string, unknown>) => Layer> = {
  lstm: (c) => new LSTM({ units: c.units as number, returnSequences: true, returnState: true, dtype: 'float64' }),
  gru: (c) =>
    new GRU({ units: c.units as number, resetAfter: true, returnSequences: true, returnState: true, dtype: 'float64' }),
  simple_rnn: (c) =>
    new SimpleRNN({ units: c.units as number, returnSequences: true, returnState: true, dtype: 'float64' }),
};

describe('recurrent layers match PyTorch (float64, 1e-5)', () => {
  for (const [name, make] of Object.entries(RNNS)) {
    test(`${name}: outputs, final states, input / initial-state / weight gradients`, (t) =>
      tidy(() => {
        const f = load(name);
        const layer = make(f.config);
        const stateNames = f.inputs.c0 ? ['h0', 'c0'] : ['h0'];
        const outNames = f.outputs.c ? ['sequence', 'h', 'c'] : ['sequence', 'h'];
        const inputs = Object.fromEntries(['x', ...stateNames].map((n) => [n, t64(f.inputs[n])]));
        const run = (xs: Record<string, Tensor>) => layer.apply(['x', ...stateNames].map((n) => xs[n])) as Tensor[];
        run(inputs);
        setFixtureWeights(layer, f);
        const errors: Record<string, number> = {};
        run(inputs).forEach(
          (y, i) => (errors[`output ${outNames[i]}`] = maxAbsError(y, f.outputs[outNames[i]], outNames[i])),
        );
        const projections = outNames.map((n) => t64(f.projections[n]));
        const loss = (xs: Record<string, Tensor>) =>
          run(xs)
            .map((y, i) => sum(mul(y, projections[i])))
            .reduce((a, b) => add(a, b));
        const gs = gradients(layer, inputs, loss);
        for (const [k, g] of Object.entries(gs)) errors[`grad ${k}`] = maxAbsError(g, f.grads[k], `grad ${k}`);
        checkAll(t, errors);
        layer.dispose();
      }));
  }
});

describe('MultiHeadAttention matches torch.nn.MultiheadAttention (float64, 1e-5)', () => {
  for (const name of ['mha', 'mha_causal']) {
    test(`${name}: output, per-head attention scores, input and weight gradients`, (t) =>
      tidy(() => {
        const f = load(name);
        const causal = f.config.useCausalMask as boolean;
        const layer = new MultiHeadAttention({
          numHeads: f.config.numHeads as number,
          keyDim: f.config.keyDim as number,
          dtype: 'float64',
        });
        const mask = f.attentionMask
          ? tensor(Uint8Array.from(f.attentionMask.data, Number), f.attentionMask.shape, 'bool')
          : null;
        const inputs = Object.fromEntries(Object.entries(f.inputs).map(([k, v]) => [k, t64(v)]));
        // Self-attention (the causal case) passes the query as key and value, as torch did.
        const run = (xs: Record<string, Tensor>) =>
          layer.attend(xs.query, xs.value ?? xs.query, {
            key: xs.key ?? xs.query,
            attentionMask: mask,
            useCausalMask: causal,
            returnAttentionScores: true,
          });
        run(inputs);
        setFixtureWeights(layer, f);
        const [output, scores] = run(inputs);
        const errors: Record<string, number> = {
          output: maxAbsError(output, f.outputs.output, 'output'),
          scores: maxAbsError(scores, f.outputs.scores, 'scores'),
        };
        const projection = t64(f.projections.output);
        const gs = gradients(layer, inputs, (xs) => sum(mul(run(xs)[0], projection)));
        for (const [k, g] of Object.entries(gs)) errors[`grad ${k}`] = maxAbsError(g, f.grads[k], `grad ${k}`);
        checkAll(t, errors);
        layer.dispose();
      }));
  }
});
