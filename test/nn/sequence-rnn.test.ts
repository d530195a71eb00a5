// Behaviour of the recurrent layers and their wrappers (Bidirectional, TimeDistributed).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArgumentError,
  Sequential,
  ShapeError,
  Tensor,
  assertGradients,
  concat,
  copy,
  eye,
  flip,
  full,
  loadModel,
  matmul,
  ones,
  saveModel,
  sliceAxis,
  tanh,
  add,
  tensor,
  tidy,
  transpose,
  zeros,
} from '../../src/index.js';
import type { Layer } from '../../src/nn/layer.js';
import {
  Bidirectional,
  Dense,
  GRU,
  LSTM,
  Recurrent,
  SimpleRNN,
  TimeDistributed,
  layers,
} from '../../src/nn/layers/index.js';
import { assertClose, flat, rand } from '../helpers.js';

// Behaviour of the recurrent layers and wrappers: output and state shapes, goBackwards, stateful calls,
// masking (a padded, masked sequence ends in the unpadded one's state), initial states, dropout masks fixed
// across steps, Keras initial weights, Bidirectional and TimeDistributed, errors naming the layer.

const TIGHT = { rtol: 1e-10, atol: 1e-12 };
type Make = (args: Record<string, unknown>) => Recurrent;
const KINDS: [string, Make, number][] = [
  ['SimpleRNN', (a) => new SimpleRNN({ units: 3, ...a }), 1],
  ['LSTM', (a) => new LSTM({ units: 3, ...a }), 2],
  ['GRU', (a) => new GRU({ units: 3, ...a }), 1],
  ['GRU resetAfter false', (a) => new GRU({ units: 3, resetAfter: false, ...a }), 1],
];

/** Two layers of a kind with the same weights (the second rebuilt from the first's config + overrides). */
function twin<T extends Layer>(layer: T, x: Tensor, overrides: Record<string, unknown>): T {
  const cls = layer.constructor as unknown as { fromConfig(c: Record<string, unknown>): T };
  const other = cls.fromConfig({ ...layer.getConfig(), name: `${layer.name}_twin`, ...overrides });
  other.apply(x);
  other.setWeights(layer.getWeights());
  return other;
}

const asList = (y: Tensor | Tensor[]) => (Array.isArray(y) ? y : [y]);

describe('recurrent layers: outputs and states', () => {
  for (const [kind, make, states] of KINDS) {
    test(`${kind}: returnSequences / returnState shapes, eager and symbolic`, () =>
      tidy(() => {
        const x = rand([2, 4, 5], 1, { dtype: 'float32' });
        assert.deepEqual([...(make({}).apply(x) as Tensor).shape], [2, 3]);
        assert.deepEqual([...(make({ returnSequences: true }).apply(x) as Tensor).shape], [2, 4, 3]);
        const both = make({ returnSequences: true, returnState: true });
        const ys = both.apply(x) as Tensor[];
        assert.deepEqual(
          ys.map((y) => [...y.shape]),
          [[2, 4, 3], ...new Array(states).fill([2, 3])],
        );
        // The final h is the last output.
        assertClose(ys[1], sliceAxis(ys[0], 1, 3).reshape([2, 3]), { rtol: 0, atol: 0 });
        assert.deepEqual(both.computeOutputShape([null, 4, 5]), [[null, 4, 3], ...new Array(states).fill([null, 3])]);
        assert.deepEqual(make({ returnState: true }).computeOutputShape([null, null, 5]), [
          [null, 3],
          ...new Array(states).fill([null, 3]),
        ]);
      }));

    test(`${kind}: goBackwards equals the forward layer on the reversed sequence (outputs in processing order)`, () =>
      tidy(() => {
        const x = rand([2, 4, 2], 2);
        const fwd = make({ returnSequences: true, dtype: 'float64' });
        fwd.apply(x);
        const bwd = twin(fwd, x, { goBackwards: true });
        assertClose(bwd.apply(x) as Tensor, fwd.apply(flip(x, 1)) as Tensor, TIGHT);
      }));

    test(`${kind}: a padded, masked sequence ends in the unpadded sequence's state`, () =>
      tidy(() => {
        const real = rand([1, 3, 2], 3);
        const noise = rand([1, 2, 2], 4);
        const layer = make({ returnState: true, returnSequences: true, dtype: 'float64' });
        const ref = layer.apply(real) as Tensor[];
        for (const [padded, mask] of [
          [concat([real, noise], 1), tensor([[1, 1, 1, 0, 0]], [1, 5], 'bool')],
          [concat([noise, real], 1), tensor([[0, 0, 1, 1, 1]], [1, 5], 'bool')],
          [
            concat([sliceAxis(real, 1, 0, 1), noise, sliceAxis(real, 1, 1)], 1),
            tensor([[1, 0, 0, 1, 1]], [1, 5], 'bool'),
          ],
        ] as const) {
          const out = layer.apply(padded, { mask }) as Tensor[];
          for (let s = 1; s <= states; s++) assertClose(out[s], ref[s], TIGHT, `state ${s}`);
          // Masked steps repeat the previous output (zeros before the first real step).
          const seq = out[0].dataSync(),
            m = flat(mask);
          let prev = [0, 0, 0];
          for (let t = 0; t < 5; t++) {
            const row = Array.from(seq.slice(t * 3, t * 3 + 3));
            if (!m[t]) assert.deepEqual(row, prev, `masked step ${t} repeats the previous output`);
            prev = row;
          }
        }
        // zeroOutputForMask outputs zeros at masked steps instead.
        const zero = twin(layer, real, { zeroOutputForMask: true });
        const seq = (
          zero.apply(concat([real, noise], 1), { mask: tensor([[1, 1, 1, 0, 0]], [1, 5], 'bool') }) as Tensor[]
        )[0];
        assert.deepEqual(flat(sliceAxis(seq, 1, 3)), new Array(6).fill(0));
        assertClose(sliceAxis(seq, 1, 0, 3), ref[0], TIGHT);
      }));

    test(`${kind}: stateful layers carry the state across calls; resetStates() forgets it`, () =>
      tidy(() => {
        const x = rand([2, 6, 2], 5);
        const whole = make({ dtype: 'float64', returnState: true });
        const ref = whole.apply(x) as Tensor[];
        const stateful = twin(whole, x, { stateful: true });
        stateful.resetStates();
        stateful.apply(sliceAxis(x, 1, 0, 3));
        const second = stateful.apply(sliceAxis(x, 1, 3)) as Tensor[];
        for (let i = 0; i < ref.length; i++) assertClose(second[i], ref[i], TIGHT);
        assert.equal(stateful.states!.length, states);
        stateful.resetStates();
        assertClose(
          (stateful.apply(sliceAxis(x, 1, 0, 3)) as Tensor[])[0],
          (whole.apply(sliceAxis(x, 1, 0, 3)) as Tensor[])[0],
          TIGHT,
        );
        assert.throws(
          () => stateful.apply(rand([3, 2, 2], 6)),
          (e: Error) =>
            e instanceof ShapeError && /is stateful with states for batch size 2, got a batch of 3/.test(e.message),
        );
        // resetStates(values) starts the next call from those states, like initial states do.
        const init = Array.from({ length: states }, (_, i) => rand([2, 3], 10 + i));
        stateful.resetStates(init);
        const viaReset = stateful.apply(x) as Tensor[];
        const viaInputs = whole.apply([x, ...init]) as Tensor[];
        for (let i = 0; i < ref.length; i++) assertClose(viaReset[i], viaInputs[i], TIGHT);
        stateful.dispose();
      }));
  }

  test('SimpleRNN with an initial state follows h_t = tanh(x_t K + h_{t-1} U + b)', () =>
    tidy(() => {
      const layer = new SimpleRNN({
        units: 2,
        biasInitializer: 'randomNormal',
        dtype: 'float64',
        returnSequences: true,
      });
      const x = rand([1, 2, 3], 7),
        h0 = rand([1, 2], 8);
      const y = layer.apply([x, h0]) as Tensor;
      const [k, u, b] = [layer.kernel!.value, layer.recurrentKernel!.value, layer.bias!.value];
      const step = (xt: Tensor, h: Tensor) => tanh(add(add(matmul(xt, k), matmul(h, u)), b));
      const h1 = step(sliceAxis(x, 1, 0, 1).reshape([1, 3]), h0);
      const h2 = step(sliceAxis(x, 1, 1, 2).reshape([1, 3]), h1);
      assertClose(y, concat([h1, h2]).reshape([1, 2, 2]), TIGHT);
    }));

  test('Keras initial weights: glorotUniform kernel, orthogonal recurrent kernel, unitForgetBias', () =>
    tidy(() => {
      const lstm = new LSTM({ units: 3, dtype: 'float64' });
      lstm.apply(zeros([1, 2, 4], 'float64'));
      assert.deepEqual(
        lstm.weights.map((w) => [w.name, [...w.shape]]),
        [
          [`${lstm.name}/kernel`, [4, 12]],
          [`${lstm.name}/recurrent_kernel`, [3, 12]],
          [`${lstm.name}/bias`, [12]],
        ],
      );
      assert.deepEqual(flat(lstm.bias!.value), [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
      // Rows of the [3, 12] orthogonal matrix are orthonormal.
      const u = lstm.recurrentKernel!.value;
      assertClose(matmul(u, transpose(u)), eye(3, 3, 0, 'float64'), { rtol: 0, atol: 1e-12 });
      const limit = Math.sqrt(6 / (4 + 12));
      assert.ok(flat(lstm.kernel!.value).every((v) => Math.abs(v) <= limit));
      const gru = new GRU({ units: 2 });
      gru.apply(zeros([1, 2, 4]));
      assert.deepEqual(
        gru.weights.map((w) => [...w.shape]),
        [
          [4, 6],
          [2, 6],
          [2, 6],
        ],
      );
      assert.equal(gru.getConfig().recurrentActivation, 'sigmoid');
      assert.equal(gru.getConfig().activation, 'tanh');
    }));
});

/**
 * Float64 finite-difference check of the gradients w.r.t. every input (sequence and initial states) and
 * every weight, through the hand-written backpropagation through time, with a mask and other options.
 */
function checkGradients(
  layer: Recurrent,
  inputs: Tensor[],
  options: { mask?: Tensor; training?: boolean; seed?: number },
): void {
  layer.apply(inputs);
  const vars = layer.trainableWeights;
  const n = inputs.length;
  const f = (...args: Tensor[]) => {
    vars.forEach((v, i) => v.assign(copy(args[n + i])));
    return concat(asList(layer.apply(args.slice(0, n), options)).map((t) => t.reshape([-1])));
  };
  assertGradients(f, [...inputs, ...vars.map((v) => v.value.clone())]);
}

describe('gradients through the time loop', () => {
  const mask = tensor(
    [
      [1, 0, 1, 1],
      [0, 1, 1, 0],
    ],
    [2, 4],
    'bool',
  );
  for (const [kind, make, states] of KINDS) {
    for (const zeroOutputForMask of [false, true]) {
      test(`${kind}: masked, backwards, initial states${zeroOutputForMask ? ', zeroOutputForMask' : ''}`, () =>
        tidy(() => {
          const layer = make({
            units: 2,
            returnSequences: true,
            returnState: true,
            goBackwards: zeroOutputForMask,
            zeroOutputForMask,
            dtype: 'float64',
            biasInitializer: 'randomNormal',
          });
          checkGradients(
            layer,
            [rand([2, 4, 2], 30), ...Array.from({ length: states }, (_, i) => rand([2, 2], 31 + i))],
            { mask },
          );
        }));
    }
    test(`${kind}: training with dropout and recurrent dropout (fixed call seed)`, () =>
      tidy(() => {
        const layer = make({ units: 2, returnSequences: true, dropout: 0.3, recurrentDropout: 0.3, dtype: 'float64' });
        checkGradients(layer, [rand([2, 3, 2], 32)], { training: true, seed: 5 });
      }));
  }
});

describe('recurrent dropout', () => {
  test('the input dropout mask is the same at every step and follows the call seed', () =>
    tidy(() => {
      // Linear cell with identity kernel and no recurrence: h_t = dropout(x_t), x_t = 1 everywhere.
      const layer = new SimpleRNN({
        units: 6,
        activation: 'linear',
        useBias: false,
        dropout: 0.5,
        returnSequences: true,
        dtype: 'float64',
        kernelInitializer: 'zeros',
        recurrentInitializer: 'zeros',
      });
      const x = ones([2, 4, 6], 'float64');
      layer.apply(x);
      layer.setWeights([eye(6, 6, 0, 'float64'), zeros([6, 6], 'float64')]);
      const y = layer.apply(x, { training: true, seed: 3 }) as Tensor;
      const steps = [0, 1, 2, 3].map((t) => flat(sliceAxis(y, 1, t, t + 1)));
      for (const s of steps) assert.deepEqual(s, steps[0]);
      assert.ok(steps[0].every((v) => v === 0 || v === 2) && steps[0].includes(0) && steps[0].includes(2));
      assert.deepEqual(
        flat(layer.apply(x, { training: true, seed: 3 }) as Tensor),
        flat(y),
        'same call seed, same masks',
      );
      assert.notDeepEqual(flat(layer.apply(x, { training: true, seed: 4 }) as Tensor), flat(y));
      assert.deepEqual(flat(layer.apply(x) as Tensor), new Array(48).fill(1), 'inference does not drop');
    }));

  test('the recurrent dropout mask is the same at every step', () =>
    tidy(() => {
      // h_t = dropout_r(h_{t-1}) @ I with h_0 = 1: a fixed mask keeps the same zeros, scaled by 2 each step.
      const layer = new SimpleRNN({
        units: 8,
        activation: 'linear',
        useBias: false,
        recurrentDropout: 0.5,
        returnSequences: true,
        dtype: 'float64',
      });
      const x = zeros([1, 3, 2], 'float64');
      layer.apply(x);
      layer.setWeights([zeros([2, 8], 'float64'), eye(8, 8, 0, 'float64')]);
      const y = layer.apply([x, ones([1, 8], 'float64')], { training: true, seed: 9 }) as Tensor;
      const [s1, s2, s3] = [0, 1, 2].map((t) => flat(sliceAxis(y, 1, t, t + 1)));
      assert.ok(s1.includes(0) && s1.includes(2));
      s1.forEach((v, i) => {
        assert.equal(s2[i], v * 2);
        assert.equal(s3[i], v * 4);
      });
    }));
});

describe('Bidirectional', () => {
  test('concat = [forward, backward reversed back to time order]; weights forward then backward', () =>
    tidy(() => {
      const x = rand([2, 3, 2], 11);
      const bi = new Bidirectional({ layer: new LSTM({ units: 2, returnSequences: true }), dtype: 'float64' });
      const y = bi.apply(x) as Tensor;
      assert.deepEqual([...y.shape], [2, 3, 4]);
      assert.deepEqual(
        bi.weights.map((w) => w.name.slice(bi.name.length + 1).replace(/lstm_\d+/, 'lstm')),
        [
          'forward_lstm/kernel',
          'forward_lstm/recurrent_kernel',
          'forward_lstm/bias',
          'backward_lstm/kernel',
          'backward_lstm/recurrent_kernel',
          'backward_lstm/bias',
        ],
      );
      const f = twin(bi.forwardLayer, x, {}),
        b = twin(bi.backwardLayer, x, {});
      assert.equal(b.goBackwards, true);
      const yf = f.apply(x) as Tensor,
        yb = flip(b.apply(x) as Tensor, 1);
      assertClose(y, concat([yf, yb], -1), TIGHT);
      const none = twin(bi, x, { mergeMode: null });
      const [nf, nb] = none.apply(x) as Tensor[];
      assertClose(nf, yf, TIGHT);
      assertClose(nb, yb, TIGHT);
    }));

  test('returnState gives [output, ...forward states, ...backward states]; initial states split in halves', () =>
    tidy(() => {
      const x = rand([2, 3, 2], 12);
      const bi = new Bidirectional({
        layer: new LSTM({ units: 2, returnState: true }),
        mergeMode: 'sum',
        dtype: 'float64',
      });
      const out = bi.apply(x) as Tensor[];
      assert.deepEqual(
        out.map((t) => [...t.shape]),
        [
          [2, 2],
          [2, 2],
          [2, 2],
          [2, 2],
          [2, 2],
        ],
      );
      assertClose(out[0], add(out[1], out[3]), TIGHT);
      assert.deepEqual(bi.computeOutputShape([null, 3, 2]), [
        [null, 2],
        [null, 2],
        [null, 2],
        [null, 2],
        [null, 2],
      ]);
      const init = [1, 2, 3, 4].map((s) => rand([2, 2], 20 + s));
      const withInit = bi.apply([x, ...init]) as Tensor[];
      const f = twin(bi.forwardLayer, x, {});
      assertClose(withInit[1], (f.apply([x, init[0], init[1]]) as Tensor[])[1], TIGHT);
    }));

  test('masked sequences: padded steps are zero in both directions and the mask passes on', () =>
    tidy(() => {
      const x = rand([1, 4, 2], 13);
      const mask = tensor([[1, 1, 1, 0]], [1, 4], 'bool');
      const bi = new Bidirectional({ layer: new GRU({ units: 2, returnSequences: true }), dtype: 'float64' });
      const y = bi.apply(x, { mask }) as Tensor;
      assert.deepEqual(flat(sliceAxis(y, 1, 3)), [0, 0, 0, 0]);
      const unpadded = bi.apply(sliceAxis(x, 1, 0, 3), { mask: null }) as Tensor;
      assertClose(sliceAxis(y, 1, 0, 3), unpadded, TIGHT);
      assert.deepEqual(bi.computeMask(x, mask), mask);
    }));

  test('errors: a non-recurrent layer, a bad mergeMode', () => {
    assert.throws(
      () => new Bidirectional({ layer: new Dense({ units: 2 }) as unknown as Recurrent }),
      (e: Error) => e instanceof ArgumentError && /can only wrap a recurrent layer.*got Dense/.test(e.message),
    );
    assert.throws(
      () => new Bidirectional({ layer: new LSTM({ units: 2 }), mergeMode: 'max' as 'sum' }),
      (e: Error) => e instanceof ArgumentError && /mergeMode must be/.test(e.message),
    );
  });
});

describe('TimeDistributed', () => {
  test('applies the layer to every step', () =>
    tidy(() => {
      const inner = new Dense({ units: 3, activation: 'relu', dtype: 'float64' });
      const td = new TimeDistributed({ layer: inner, dtype: 'float64' });
      const x = rand([2, 4, 2, 2], 14);
      const y = td.apply(x) as Tensor;
      assert.deepEqual([...y.shape], [2, 4, 2, 3]);
      for (let t = 0; t < 4; t++)
        assertClose(
          sliceAxis(y, 1, t, t + 1).reshape([2, 2, 3]),
          inner.apply(sliceAxis(x, 1, t, t + 1).reshape([2, 2, 2])) as Tensor,
          TIGHT,
        );
      assert.deepEqual(td.computeOutputShape([null, null, 2, 2]), [null, null, 2, 3]);
      assert.throws(
        () => td.apply(rand([2, 3], 1)),
        (e: Error) =>
          e instanceof ShapeError &&
          /TimeDistributed 'time_distributed(_\d+)?' expects input \(None, time, \.\.\.\), got \(2, 3\)/.test(
            e.message,
          ),
      );
    }));
});

describe('errors name the layer and the shapes', () => {
  test('rank, features, initial states, masks', () =>
    tidy(() => {
      const lstm = new LSTM({ units: 2, name: 'enc' });
      assert.throws(
        () => lstm.apply(full([4, 3], 0)),
        (e: Error) =>
          e instanceof ShapeError &&
          e.message ===
            "LSTM 'enc' expects input (None, time, features), got (4, 3): expected rank 3 (batch, time, features)",
      );
      lstm.apply(full([1, 2, 3], 0));
      assert.throws(
        () => lstm.apply(full([1, 2, 4], 0)),
        (e: Error) =>
          e instanceof ShapeError &&
          e.message === "LSTM 'enc' expects input (None, time, 3), got (1, 2, 4): the last dimension must be 3",
      );
      assert.throws(
        () => lstm.apply([full([1, 2, 3], 0), full([1, 2], 0)]),
        (e: Error) =>
          e instanceof ArgumentError &&
          /takes a sequence or \[sequence, \.\.\.2 initial states\], got a list of 2/.test(e.message),
      );
      assert.throws(
        () => lstm.apply([full([1, 2, 3], 0), full([1, 3], 0), full([1, 2], 0)]),
        (e: Error) =>
          e instanceof ShapeError &&
          /LSTM 'enc' expects initial states as 2 tensors of shape \[1, 2\], got \[1, 3\], \[1, 2\]/.test(e.message),
      );
      assert.throws(
        () => lstm.apply(full([1, 2, 3], 0), { mask: ones([1, 3], 'bool') }),
        (e: Error) =>
          e instanceof ShapeError &&
          /LSTM 'enc' expects a mask of shape \[1, 2\] \(batch, time\), got \[1, 3\]/.test(e.message),
      );
      assert.throws(
        () => new GRU({ units: 0 }),
        (e: Error) =>
          e instanceof ArgumentError && /GRU 'gru(_\d+)?': units must be a positive integer, got 0/.test(e.message),
      );
      assert.throws(
        () => new LSTM({ units: 2, dropout: 1 }),
        (e: Error) => e instanceof ArgumentError && /dropout must be a number in \[0, 1\)/.test(e.message),
      );
    }));
});

describe('saving and loading', () => {
  test('Embedding -> Bidirectional(LSTM) -> Dense predicts identically after saveModel/loadModel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'candor-seq-'));
    try {
      const model = new Sequential([
        layers.embedding({ inputDim: 7, outputDim: 3, maskZero: true, inputShape: [5] }),
        layers.bidirectional({ layer: layers.gru({ units: 2, returnSequences: true }) }),
        layers.timeDistributed({ layer: layers.dense({ units: 2 }) }),
        layers.lstm({ units: 2 }),
        layers.dense({ units: 1, activation: 'sigmoid' }),
      ]);
      const x = tensor(
        [
          [1, 2, 3, 0, 0],
          [4, 5, 6, 1, 0],
        ],
        [2, 5],
        'int32',
      );
      const before = flat(model.apply(x) as Tensor);
      await saveModel(model, dir);
      const loaded = await loadModel(dir);
      assert.deepEqual(flat(loaded.apply(x) as Tensor), before);
      assert.deepEqual(
        loaded.weights.map((w) => w.name),
        model.weights.map((w) => w.name),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
