// Numerics against PyTorch from committed fixtures: LSTM, GRU, SimpleRNN, MultiHeadAttention to 1e-5.
import { describe, test } from 'node:test';
import { Tensor, mul, sum, add, tensor, tidy } from '../../src/index.js';
import type { Layer } from '../../src/nn/layer.js';
import { GRU, LSTM, MultiHeadAttention, SimpleRNN } from '../../src/nn/layers/index.js';
import { checkAll, gradients, load, maxAbsError, setFixtureWeights, t64 } from './torch-fixtures.js';

// Numerics against PyTorch: LSTM, GRU, SimpleRNN and MultiHeadAttention outputs and their input and weight
// gradients match torch's on the same float64 weights to 1e-5. The fixtures are JSON files made by
// tools/torch-fixtures.py (which documents the torch -> Keras weight mapping); no Python runs here.

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
