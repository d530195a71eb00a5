// The training-step fusions: bias + activation, sparse softmax cross-entropy and the one-call optimizer
// updates. Their composites against loops written out here, float64 gradient checks, native kernels
// against the reference on odd sizes and every ISA, and the fused optimizers against their chains.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import type { Tensor } from '../../src/index.js';
import { assertGradients } from '../../src/autograd/check.js';
import { runFusedOp } from '../../src/ops/families/index.js';
import { FUSED_ACTIVATIONS, tryAdamStep, type FusedActivation } from '../../src/ops/families/train-step.js';
import { nativeIsas, setNativeIsa } from '../../src/backends/native/index.js';
import { assertClose, joined, rand } from '../helpers.js';
import {
  F32,
  assertParity,
  assertThreadInvariant,
  bitsOf,
  both,
  checkBoth,
  offsetView,
  onBackend,
  skip,
  values,
} from '../backends/parity.js';

const SCALAR: Record<FusedActivation, (v: number) => number> = {
  linear: (v) => v,
  relu: (v) => Math.max(v, 0),
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  tanh: Math.tanh,
};

/** Labels in [0, classes) from a seeded stream. */
function labels(n: number, classes: number, seed: number): Tensor {
  return c.tensor(Array.from(values(n, seed, 0, classes), Math.floor), [n], 'int32');
}

describe('training-step fusions: definitions (reference backend)', () => {
  test('biasActivation = activation(z + bias) along the last axis, for every fused activation', () => {
    onBackend('js', () => {
      const z = rand([3, 2, 5], 1),
        b = rand([5], 2);
      const zd = z.dataSync(),
        bd = b.dataSync();
      for (const act of FUSED_ACTIVATIONS) {
        const expected = Array.from(zd, (v, i) => SCALAR[act](v + bd[i % 5]));
        assertClose(c.biasActivation(z, b, act), expected, { rtol: 1e-14, atol: 1e-15 }, act);
      }
    });
  });

  test('sparseSoftmaxCrossEntropy = logsumexp(row) - row[label]', () => {
    onBackend('js', () => {
      const logits = rand([4, 7], 3, { lo: -30, hi: 30 }),
        y = labels(4, 7, 4);
      const x = logits.dataSync(),
        t = y.dataSync();
      const expected = [0, 1, 2, 3].map((r) => {
        const row = Array.from(x.slice(r * 7, r * 7 + 7));
        const m = Math.max(...row);
        return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0)) - row[t[r]];
      });
      assertClose(c.sparseSoftmaxCrossEntropy(logits, y), expected, { rtol: 1e-13, atol: 1e-14 });
    });
  });

  test('dropout draws its mask from the generator, which advances as if it had drawn it', () => {
    onBackend('js', () => {
      const x = rand([3, 7], 14);
      const g = new c.RandomStream(77),
        reference = new c.RandomStream(77);
      const y = c.dropout(x, 0.3, g);
      const keep = reference.bernoulli([3, 7], 0.7).dataSync();
      const xd = x.dataSync();
      assertClose(
        y,
        Array.from(xd, (v, i) => (keep[i] ? v / 0.7 : 0)),
        { rtol: 1e-15, atol: 0 },
      );
      assert.equal(g.position, reference.position);
      assertClose(g.uniform([4]), reference.uniform([4]), { rtol: 0, atol: 0 });
      assert.throws(() => c.dropout(x, 1, g), /dropout: rate must be in \[0, 1\), got 1/);
    });
  });

  test('layerNorm = (x - mean) / sqrt(var + eps) * gamma + beta over the last axis', () => {
    onBackend('js', () => {
      const x = rand([2, 3, 5], 16),
        gamma = rand([5], 17),
        beta = rand([5], 18);
      const xd = x.dataSync(),
        g = gamma.dataSync(),
        b = beta.dataSync();
      const expected: number[] = [];
      for (let r = 0; r < 6; r++) {
        const row = Array.from(xd.slice(r * 5, r * 5 + 5));
        const m = row.reduce((s, v) => s + v, 0) / 5,
          v = row.reduce((s, u) => s + (u - m) ** 2, 0) / 5;
        row.forEach((u, i) => expected.push(((u - m) / Math.sqrt(v + 1e-3)) * g[i] + b[i]));
      }
      assertClose(c.layerNorm(x, gamma, beta, 1e-3), expected, { rtol: 1e-12, atol: 1e-14 });
    });
  });

  test('bad shapes and dtypes are named', () => {
    const z = c.zeros([2, 3]);
    assert.throws(
      () => c.biasActivation(z, c.zeros([4])),
      (e: Error) =>
        e instanceof c.ShapeError &&
        /biasActivation: bias must be float32 \[3\] for z \[2, 3\], got float32 \[4\]/.test(e.message),
    );
    assert.throws(
      () => c.sparseSoftmaxCrossEntropy(z, c.zeros([2])),
      (e: Error) =>
        e instanceof c.ShapeError &&
        /expected int32 labels of shape \[2\] for logits \[2, 3\], got float32 \[2\]/.test(e.message),
    );
    assert.throws(
      () => tryAdamStep([z, z, z], { lr: 1, weightDecay: 0, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 1 }),
      c.ShapeError,
    );
  });
});

describe('training-step fusions: gradients (float64, central differences)', () => {
  for (const act of FUSED_ACTIVATIONS) {
    test(`biasActivation ${act}: with respect to z and the bias`, () => {
      // Values away from relu's kink, so the finite differences are valid.
      const z = c.add(rand([3, 5], 5), c.mul(c.sign(rand([3, 5], 6)), 0.3));
      assertGradients((zz, bb) => c.biasActivation(zz, bb, act), [z, rand([5], 7, { lo: -0.1, hi: 0.1 })]);
    });
  }

  test('second order through activationGrad (tanh, sigmoid)', () => {
    for (const act of ['tanh', 'sigmoid'] as const) {
      const b = rand([4], 9);
      assertGradients(
        (zz) => c.grad((w: Tensor) => c.sum(c.mul(c.biasActivation(w, b, act), w)))(zz) as Tensor,
        [rand([2, 4], 8)],
      );
    }
  });

  test('dropout: the same mask scales the gradient', () => {
    assertGradients((x) => runFusedOp('dropout', [x], { seed: 3, counter: 5, rate: 0.4 }), [rand([4, 9], 15)]);
  });

  test('layerNorm with respect to x, gamma and beta (and its gradient to second order)', () => {
    assertGradients((x, g, b) => c.layerNorm(x, g, b, 1e-3), [rand([3, 7], 19), rand([7], 20), rand([7], 21)]);
    assertGradients(
      (x) =>
        c.grad((w: Tensor) => c.sum(c.mul(c.layerNorm(w, c.ones([4], 'float64'), c.zeros([4], 'float64'), 1e-3), w)))(
          x,
        ) as Tensor,
      [rand([2, 4], 22)],
    );
  });

  test('sparseSoftmaxCrossEntropy with respect to the logits', () => {
    assertGradients((x) => c.sparseSoftmaxCrossEntropy(x, labels(5, 7, 10)), [rand([5, 7], 11, { lo: -3, hi: 3 })]);
    assertGradients((x) => c.sparseSoftmaxCrossEntropy(x, c.reshape(labels(6, 3, 12), [2, 3])), [rand([2, 3, 3], 13)]);
  });
});

describe('training-step fusions: native kernels match the reference', { skip }, () => {
  const shapes = [
    [1, 1],
    [7, 33],
    [3, 5, 257],
    [1031, 7],
  ];
  const dtypes = ['float32', 'float64'] as const;
  const tol = (d: string) => (d === 'float32' ? F32 : 1e-12);
  const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

  // activationGrad and the optimizer steps compare norm-wise: 1 - y^2 and p + u cancel, and the
  // kernels' fused multiply-adds round once where the composite rounds twice.
  test('biasActivation and activationGrad: every activation, odd shapes, offset views, every ISA', () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const shape of shapes)
          for (const dtype of dtypes)
            for (const act of FUSED_ACTIVATIONS) {
              const n = size(shape),
                cols = shape[shape.length - 1];
              const what = `${isa} ${act} ${dtype} ${JSON.stringify(shape)}`;
              checkBoth(
                () =>
                  c.biasActivation(
                    offsetView(values(n, 1, -9, 9), shape, dtype),
                    offsetView(values(cols, 2), [cols], dtype),
                    act,
                  ),
                tol(dtype),
                `biasActivation ${what}`,
              );
              checkBoth(
                () =>
                  c.activationGrad(
                    offsetView(values(n, 3), shape, dtype),
                    offsetView(values(n, 4, -1, 1), shape, dtype),
                    act,
                  ),
                tol(dtype),
                `activationGrad ${what}`,
                true,
              );
            }
      }
    } finally {
      setNativeIsa('');
    }
  });

  test('sparseSoftmaxCrossEntropy and its gradient: odd shapes, large logits, every ISA; bad labels are named', () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const shape of [
          [1, 1],
          [7, 33],
          [5, 3, 257],
          [1031, 10],
        ])
          for (const dtype of dtypes) {
            const n = size(shape),
              cols = shape[shape.length - 1],
              rows = n / cols;
            const logits = () => offsetView(values(n, 5, -40, 40), shape, dtype);
            const y = () => c.reshape(labels(rows, cols, 6), shape.slice(0, -1));
            const what = `${isa} ${dtype} ${JSON.stringify(shape)}`;
            checkBoth(() => c.sparseSoftmaxCrossEntropy(logits(), y()), tol(dtype), `forward ${what}`);
            checkBoth(
              () =>
                c.sparseSoftmaxCrossEntropyGrad(logits(), y(), offsetView(values(rows, 7), shape.slice(0, -1), dtype)),
              tol(dtype),
              `gradient ${what}`,
              true,
            );
          }
      }
    } finally {
      setNativeIsa('');
    }
    onBackend('native', () => {
      assert.throws(
        () => c.sparseSoftmaxCrossEntropy(c.zeros([2, 3]), c.tensor([1, 3], [2], 'int32')),
        /label 3 at index 1 is not a class index in \[0, 3\)/,
      );
    });
  });

  /** Parameters of odd sizes (one spanning several kernel chunks) with gradients and slots. */
  const stepInputs = (dtype: 'float32' | 'float64', groups: number) => {
    const shapes = [[7, 33], [1], [257], [3, 40000]];
    return Array.from({ length: groups }, (_, g) =>
      shapes.map((s, i) => {
        const n = size(s);
        // v (Adam's second moment, group 3) must be non-negative.
        return offsetView(g === 3 ? values(n, 10 * g + i, 0, 2) : values(n, 10 * g + i), s, dtype);
      }),
    ).flat();
  };

  test('adamStep and sgdStep: one call over every parameter, every ISA, with and without decay and momentum', () => {
    const adam = {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
      alpha: Math.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3),
    };
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const dtype of dtypes) {
          for (const weightDecay of [0, 0.004]) {
            const h = { ...adam, weightDecay };
            // runFusedOp: the native kernel, or the composite on js.
            const { js, native } = both(() => joined(runFusedOp('adamStep', stepInputs(dtype, 4), h)));
            assertParity(native, js, tol(dtype), `${isa} adamStep ${dtype} wd ${weightDecay}`, true);
          }
          for (const [momentum, nesterov, weightDecay] of [
            [0, false, 0],
            [0.9, false, 0],
            [0.9, true, 0.01],
            [0, false, 0.01],
          ] as const) {
            const h = { lr: 0.1, momentum, nesterov, weightDecay };
            const groups = momentum ? 3 : 2;
            const { js, native } = both(() => joined(runFusedOp('sgdStep', stepInputs(dtype, groups), h)));
            assertParity(
              native,
              js,
              tol(dtype),
              `${isa} sgdStep ${dtype} momentum ${momentum} nesterov ${nesterov} wd ${weightDecay}`,
              true,
            );
          }
        }
      }
    } finally {
      setNativeIsa('');
    }
  });

  const title =
    'dropout: the native Philox stream drops exactly the reference elements ' +
    '(every ISA, counters across 2^32, seeds above 2^32)';
  test(title, () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const [seed, counter] of [
          [0, 0],
          [42, 2 ** 32 - 5],
          [2 ** 40 + 3, 2 ** 33 + 1],
        ])
          for (const n of [1, 7, 33, 40001])
            for (const dtype of dtypes) {
              const { js, native } = both(() =>
                runFusedOp('dropout', [offsetView(values(n, n, -3, 3), [n], dtype)], { seed, counter, rate: 0.35 }),
              );
              assert.ok(
                bitsOf(native).equals(bitsOf(js)),
                `${isa} dropout ${dtype} n ${n} seed ${seed} counter ${counter}`,
              );
            }
      }
    } finally {
      setNativeIsa('');
    }
  });

  test('layerNorm and its gradient: odd shapes, offset views, every ISA', () => {
    try {
      for (const isa of nativeIsas()) {
        setNativeIsa(isa);
        for (const shape of [
          [1, 1],
          [7, 33],
          [3, 5, 257],
          [1031, 7],
          [2, 300],
        ])
          for (const dtype of dtypes) {
            const n = size(shape),
              cols = shape[shape.length - 1];
            const args = () =>
              [
                offsetView(values(n, 23, -3, 5), shape, dtype),
                offsetView(values(cols, 24), [cols], dtype),
                offsetView(values(cols, 25), [cols], dtype),
              ] as const;
            const what = `${isa} ${dtype} ${JSON.stringify(shape)}`;
            checkBoth(
              () => {
                const [x, g, b] = args();
                return c.layerNorm(x, g, b, 1e-3);
              },
              tol(dtype),
              `layerNorm ${what}`,
              true,
            );
            checkBoth(
              () =>
                joined(
                  runFusedOp('layerNormGrad', [args()[0], args()[1], offsetView(values(n, 26), shape, dtype)], {
                    epsilon: 1e-3,
                  }),
                ),
              tol(dtype),
              `layerNormGrad ${what}`,
              true,
            );
          }
      }
    } finally {
      setNativeIsa('');
    }
  });

  test('adamStep and layerNormGrad are bit-identical with 1, 2 and 3 threads', () => {
    const h = { lr: 0.01, weightDecay: 0.004, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, alpha: 1.2 };
    assertThreadInvariant(() =>
      onBackend('native', () =>
        c.tidy(() => [
          joined(tryAdamStep(stepInputs('float32', 4), h)!).dataSync(),
          joined(
            runFusedOp(
              'layerNormGrad',
              [
                c.tensor(values(513 * 300, 27), [513, 300]),
                c.tensor(values(300, 28), [300]),
                c.tensor(values(513 * 300, 29), [513, 300]),
              ],
              { epsilon: 1e-3 },
            ),
          ).dataSync(),
        ]),
      ),
    );
  });
});

describe('fused optimizers keep their chains’ results and state', { skip }, () => {
  const cases: [string, () => c.Optimizer][] = [
    ['Adam', () => c.optimizers.adam({ learningRate: 0.01 })],
    ['AdamW', () => c.optimizers.adamw({ learningRate: 0.01, weightDecay: 0.05 })],
    ['SGD', () => c.optimizers.sgd({ learningRate: 0.1 })],
    [
      'SGD momentum nesterov, decay',
      () => c.optimizers.sgd({ learningRate: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
    ],
    [
      'Adam with a schedule',
      () =>
        c.optimizers.adam({
          learningRate: c.schedules.exponentialDecay({ initialLearningRate: 0.01, decaySteps: 1, decayRate: 0.5 }),
        }),
    ],
  ];
  /** Three updates of two parameters on one backend: the final parameters, state and kernel calls. */
  const train = (backend: string, make: () => c.Optimizer) =>
    onBackend(backend, () => {
      const opt = make();
      let params = [c.tensor(values(35, 1), [5, 7]), c.tensor(values(7, 2), [7])];
      const ops: string[] = [];
      const off = c.onKernel((e) => ops.push(e.op));
      for (let step = 0; step < 3; step++) {
        const grads = [c.tensor(values(35, 3 + step), [5, 7]), c.tensor(values(7, 6 + step), [7])];
        const next = opt.apply(params, grads);
        c.dispose([...params, ...grads]);
        params = next;
      }
      off();
      const state = opt.getState();
      const result = {
        params: params.map((p) => p.dataSync()),
        slots: state.slots.map((s) => s.dataSync()),
        names: state.slotNames,
        iterations: state.iterations,
        ops,
      };
      c.dispose([...params, ...state.slots]);
      opt.dispose();
      return result;
    });

  for (const [name, make] of cases) {
    test(name, () => {
      const js = train('js', make),
        native = train('native', make);
      assert.ok(
        native.ops.every((op) => op === 'adamStep' || op === 'sgdStep') && native.ops.length === 3,
        `native ran ${native.ops.join(', ')}`,
      );
      assert.ok(!js.ops.includes('adamStep') && !js.ops.includes('sgdStep'));
      assert.deepEqual(native.names, js.names);
      assert.equal(native.iterations, 3);
      native.params.forEach((p, i) => assertParity(p, js.params[i], F32, `${name} parameter ${i}`));
      native.slots.forEach((s, i) => assertParity(s, js.slots[i], F32, `${name} slot ${js.names![i]}`));
    });
  }

  test('with clipping the chain runs (no fused step)', () => {
    const native = train('native', () => c.optimizers.adam({ learningRate: 0.01, clipnorm: 1 }));
    assert.ok(!native.ops.includes('adamStep'));
  });
});
