// Integrated Gradients and SmoothGrad: completeness on the MNIST CNN and spam LSTM architectures (float32 and
// float64), quadrature convergence, closed forms on linear models, the noise tunnel's identities, seeding,
// memory, and typed errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, DTypeError, ShapeError } from '../../src/errors.js';
import type { IntegrationRule } from '../../src/explain/types.js';
import { assertClose, flat, rejects } from '../helpers.js';

type Dtype = 'float32' | 'float64';

/** Every weight times `factor`: random-init models are nearly flat; this makes their outputs curve. */
function scaleWeights(model: c.Sequential, factor: number): void {
  for (const w of model.weights) w.assign(c.mul(w.value, factor));
}

/** examples/mnist-cnn.ts's model, seeded, with Keras' initialisers (zero biases) and weights x 3. */
function mnistCnn(dtype: Dtype): c.Sequential {
  c.setSeed(5);
  const model = new c.Sequential([
    c.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [28, 28, 1], dtype }),
    c.layers.maxPooling2d({ poolSize: 2, dtype }),
    c.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu', dtype }),
    c.layers.maxPooling2d({ poolSize: 2, dtype }),
    c.layers.flatten({ dtype }),
    c.layers.dropout({ rate: 0.5, dtype }),
    c.layers.dense({ units: 10, activation: 'softmax', dtype }),
  ]);
  model.build([null, 28, 28, 1]);
  scaleWeights(model, 3);
  return model;
}

/** examples/spam-lstm.ts's model (Embedding maskZero 32, Bidirectional LSTM 16, sigmoid) on 50 words x 20. */
function spamLstm(dtype: Dtype): c.Sequential {
  c.setSeed(7);
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: 50, outputDim: 32, maskZero: true, inputShape: [20], dtype }),
    c.layers.bidirectional({ layer: c.layers.lstm({ units: 16, dtype }), dtype }),
    c.layers.dense({ units: 1, activation: 'sigmoid', dtype }),
  ]);
  model.build([null, 20]);
  scaleWeights(model, 2);
  return model;
}

/** Two emails of token ids, the first left-padded with id 0. */
const emails = () =>
  c.tensor(
    Int32Array.from({ length: 40 }, (_, i) => (i < 5 ? 0 : 1 + ((i * 17) % 49))),
    [2, 20],
    'int32',
  );

const maxGap = (e: c.explainability.Explanation) => Math.max(...e.completenessGap!);

test('IG on the MNIST CNN: completeness gap below 1e-4 in float32 and 1e-8 in float64', (t) => {
  for (const [dtype, steps, bound] of [
    ['float32', 10, 1e-4],
    ['float64', 12, 1e-8],
  ] as const) {
    const model = mnistCnn(dtype);
    const x = c.randomUniform([1, 28, 28, 1], { seed: 1, dtype });
    const e = c.explain(model, x, { method: 'integratedGradients', steps });
    assert.equal(e.attributions.dtype, dtype);
    assert.deepEqual(e.attributions.shape, [1, 28, 28, 1]);
    assert.ok(
      e.scores.some((s) => s > 0.5),
      'the scaled model is confident, so the path curves',
    );
    assert.ok(maxGap(e) < bound, `${dtype} gap ${maxGap(e)}`);
    t.diagnostic(`${dtype} MNIST CNN, Gauss-Legendre ${steps} steps: gap ${maxGap(e).toExponential(2)}`);
  }
});

test('IG on the spam LSTM (token ids, via embeddings): gap below 1e-4 / 1e-8; Gauss-Legendre is fastest', (t) => {
  const ids = emails();
  const email = c.slice(ids, [0, 0], [1, 20]);
  const gaps = (model: c.Sequential, rule: IntegrationRule, steps: number) =>
    maxGap(c.explain(model, email, { method: 'integratedGradients', rule, steps }));
  for (const [dtype, steps, bound] of [
    ['float32', 16, 1e-4],
    ['float64', 24, 1e-8],
  ] as const) {
    const model = spamLstm(dtype);
    const e = c.explain(model, ids, { method: 'integratedGradients', steps });
    assert.equal(e.attributions.dtype, dtype);
    assert.deepEqual(e.attributions.shape, [2, 20]);
    assert.deepEqual(flat(e.attributions).slice(0, 5), [0, 0, 0, 0, 0], 'padding gets nothing');
    assert.ok(maxGap(e) < bound, `${dtype} gap ${maxGap(e)}`);
    t.diagnostic(`${dtype} spam LSTM, Gauss-Legendre ${steps} steps: gap ${maxGap(e).toExponential(2)}`);
  }
  // More steps shrink every Riemann rule's gap; at equal steps Gauss-Legendre's is the smallest, and with 12
  // points it beats every Riemann rule with 24.
  const model = spamLstm('float64');
  const riemann: IntegrationRule[] = ['riemannLeft', 'riemannRight', 'riemannMiddle', 'riemannTrapezoid'];
  const [coarse, fine] = [6, 24].map((steps) => riemann.map((rule) => gaps(model, rule, steps)));
  riemann.forEach((rule, i) => {
    assert.ok(fine[i] < coarse[i] / 3, `${rule}: 6 steps ${coarse[i]}, 24 steps ${fine[i]}`);
    t.diagnostic(`${rule}: 6 steps ${coarse[i].toExponential(2)}, 24 steps ${fine[i].toExponential(2)}`);
  });
  const gauss = [6, 12, 24].map((steps) => gaps(model, 'gaussLegendre', steps));
  t.diagnostic(`gaussLegendre: 6, 12, 24 steps ${gauss.map((g) => g.toExponential(2)).join(', ')}`);
  assert.ok(gauss[0] < Math.min(...coarse) && gauss[2] < Math.min(...fine) && gauss[1] < Math.min(...fine));
});

/** x W + b with no activation, 3 features -> 2 outputs: every gradient is a column of W. */
function linearModel(dtype: Dtype = 'float32'): c.Sequential {
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3], dtype })]);
  model.build([null, 3]);
  model.weights[0].assign(c.tensor([0.5, -1, 2, 0.25, -0.75, 1.5], [3, 2], dtype));
  model.weights[1].assign(c.tensor([0.1, -0.2], [2], dtype));
  return model;
}
const W1 = [-1, 0.25, 1.5]; // column 1
const X = [
  [0.3, -1.2, 0.8],
  [1.5, 0.2, -0.7],
];

test('IG of a linear model is w (x - baseline) for every rule, step count and form of baseline', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const model = linearModel(dtype);
    const x = c.tensor(X, undefined, dtype);
    const tol = dtype === 'float32' ? { atol: 1e-6, rtol: 1e-6 } : { atol: 1e-14, rtol: 1e-14 };
    const baselines: [c.explainability.Baseline, number[][]][] = [
      [
        0,
        [
          [0, 0, 0],
          [0, 0, 0],
        ],
      ],
      [
        0.5,
        [
          [0.5, 0.5, 0.5],
          [0.5, 0.5, 0.5],
        ],
      ],
      [
        c.tensor([1, 2, 3], [3], dtype),
        [
          [1, 2, 3],
          [1, 2, 3],
        ],
      ],
      [
        c.tensor([[1, 2, 3]], [1, 3], dtype),
        [
          [1, 2, 3],
          [1, 2, 3],
        ],
      ],
      [
        c.tensor(
          [
            [1, 2, 3],
            [-1, 0, 1],
          ],
          [2, 3],
          dtype,
        ),
        [
          [1, 2, 3],
          [-1, 0, 1],
        ],
      ],
      [
        c.tensor([[2], [-2]], [2, 1], dtype),
        [
          [2, 2, 2],
          [-2, -2, -2],
        ],
      ],
    ];
    for (const [baseline, b] of baselines)
      for (const [rule, steps] of [
        ['riemannLeft', 1],
        ['riemannTrapezoid', 2],
        ['gaussLegendre', 3],
      ] as const) {
        const e = c.explain(model, x, { method: 'integratedGradients', target: 1, baseline, rule, steps });
        assert.equal(e.attributions.dtype, dtype);
        const want = X.flatMap((row, i) => row.map((v, j) => W1[j] * (v - b[i][j])));
        assertClose(e.attributions, want, tol, `${dtype} ${rule} baseline ${String(baseline)}`);
        assert.ok(maxGap(e) < (dtype === 'float32' ? 1e-5 : 1e-13));
      }
  }
});

test('SmoothGrad with stdDev 0 equals its inner method; VarGrad is 0 for a linear model and > 0 otherwise', () => {
  const mlp = new c.Sequential([
    c.layers.dense({ units: 5, activation: 'tanh', inputShape: [3] }),
    c.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  const x = c.tensor(X);
  const baseline = c.tensor([0.1, 0.2, 0.3]);
  for (const [over, overOptions] of [
    ['saliency', { absolute: true }],
    ['saliency', {}],
    ['gradientXInput', {}],
    ['integratedGradients', { baseline, steps: 5 }],
  ] as const) {
    const inner = c.explain(mlp, x, {
      method: over,
      target: 1,
      ...(over === 'saliency' ? { absolute: false } : {}),
      ...overOptions,
    } as never);
    const smooth = c.explain(mlp, x, { method: 'smoothGrad', target: 1, over, overOptions, stdDev: 0, samples: 3 });
    assertClose(smooth.attributions, inner.attributions, { atol: 1e-7, rtol: 1e-6 }, over);
    const { seed: _seed, batchSize: _batchSize, ...own } = inner.parameters;
    assert.deepEqual(smooth.parameters.overOptions, own, 'the inner options as given');
  }
  const linear = linearModel();
  const varGrad = (model: c.Sequential, over: 'saliency' | 'integratedGradients') =>
    flat(c.explain(model, x, { method: 'smoothGrad', over, noiseType: 'varGrad', samples: 8, seed: 3 }).attributions);
  assert.deepEqual(varGrad(linear, 'saliency'), [0, 0, 0, 0, 0, 0]);
  assert.ok(varGrad(mlp, 'saliency').every((v) => v > 0));
  assert.ok(varGrad(mlp, 'integratedGradients').every((v) => v > 0));
  // smoothGradSquared is the mean of squares: for a linear model, the squared gradient.
  const squared = c.explain(linear, x, { method: 'smoothGrad', target: 1, noiseType: 'smoothGradSquared', seed: 1 });
  assertClose(
    squared.attributions,
    [...W1, ...W1].map((w) => w * w),
    { atol: 1e-6 },
  );
});

test('SmoothGrad: the noise is seeded (the same seed repeats bit for bit), default stdDev 0.15 (max - min)', () => {
  const mlp = new c.Sequential([
    c.layers.dense({ units: 4, activation: 'tanh', inputShape: [3] }),
    c.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  const x = c.tensor(X);
  const run = (seed: number) => c.explain(mlp, x, { method: 'smoothGrad', samples: 5, seed });
  const [a, b, other] = [run(11), run(11), run(12)];
  assert.deepEqual(flat(a.attributions), flat(b.attributions));
  assert.notDeepEqual(flat(a.attributions), flat(other.attributions));
  assertClose(a.parameters.stdDev as number[], [0.15 * 2, 0.15 * 2.2], { atol: 1e-12 });
  assert.equal(a.parameters.seed, 11);
  // Token models take their noise in embedding space and still give one value per token.
  const ids = emails();
  const text = (seed: number) =>
    c.explain(spamLstm('float32'), ids, { method: 'smoothGrad', over: 'integratedGradients', samples: 2, seed });
  const [t1, t2] = [text(4), text(4)];
  assert.deepEqual(t1.attributions.shape, [2, 20]);
  assert.deepEqual(flat(t1.attributions), flat(t2.attributions));
});

test('every gradient method keeps float64 models in float64 and leaks no tensor', () => {
  const model = linearModel('float64');
  const x = c.tensor(X, undefined, 'float64');
  const methods = ['saliency', 'gradientXInput', 'integratedGradients', 'smoothGrad'] as const;
  const text = spamLstm('float64');
  const ids = emails();
  for (const method of methods) {
    const before = c.memory().tensors;
    for (const [m, inputs] of [
      [model, x],
      [text, ids],
    ] as const) {
      const own = { integratedGradients: { steps: 4 }, smoothGrad: { samples: 2 } } as Record<string, object>;
      const e = c.explain(m, inputs, { method, ...own[method] } as c.explainability.ExplainOptions);
      assert.equal(e.attributions.dtype, 'float64', method);
      e.attributions.dispose();
    }
    assert.equal(c.memory().tensors, before, `${method} leaked`);
  }
});

test('gradient methods name the option and what was expected on bad input', async () => {
  const model = linearModel();
  const x = c.tensor(X);
  const ig = (options: object) => () => c.explain(model, x, { method: 'integratedGradients', ...options });
  await rejects(ig({ steps: 0 }), ArgumentError, /steps must be a positive integer, got 0/);
  await rejects(ig({ steps: 2.5 }), ArgumentError, /steps must be a positive integer/);
  await rejects(
    ig({ rule: 'simpson' }),
    ArgumentError,
    /rule must be one of riemannLeft.*gaussLegendre or adaptive, got simpson/,
  );
  await rejects(ig({ rule: 'riemannTrapezoid', steps: 1 }), ArgumentError, /riemannTrapezoid needs steps >= 2/);
  await rejects(ig({ baseline: c.zeros([4]) }), ShapeError, /baseline \[4\] does not broadcast to the inputs \[2, 3\]/);
  await rejects(ig({ baseline: c.zeros([3, 3]) }), ShapeError, /expected one value, one sample's shape \[3\]/);
  const sg = (options: object) => () => c.explain(model, x, { method: 'smoothGrad', ...options });
  await rejects(sg({ samples: 0 }), ArgumentError, /samples must be a positive integer/);
  await rejects(sg({ stdDev: -1 }), ArgumentError, /stdDev must be a finite number >= 0/);
  await rejects(sg({ noiseType: 'max' }), ArgumentError, /noiseType must be one of smoothGrad/);
  await rejects(sg({ over: 'gradCam' }), ArgumentError, /over must be one of saliency, gradientXInput/);
  // Int inputs need an Embedding layer to attribute through.
  const counts = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  const ints = c.tensor(Int32Array.from([1, 2, 3, 4, 5, 6]), [2, 3], 'int32');
  await rejects(
    () => c.explain(counts, ints, { method: 'saliency', target: 0 }),
    ArgumentError,
    /int32 token ids \[2, 3\] but the model has no Embedding layer/,
  );
  const [text, ids, floats] = [spamLstm('float32'), emails(), c.zeros([20])];
  await rejects(
    () => c.explain(text, ids, { method: 'integratedGradients', baseline: floats }),
    DTypeError,
    /a text model's baseline is int32 token ids, got float32/,
  );
  await rejects(
    () => c.explain(text, ids, { method: 'integratedGradients', baseline: 0.5 }),
    DTypeError,
    /a text model's baseline is a token id/,
  );
});
