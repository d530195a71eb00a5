// Fused ops with several results: one tensor per result from one kernel call, one tape node for all of
// them, a cotangent per output (missing ones read as zeros), and native out arrays that are bounds-checked.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import type { KernelEvent, Tensor } from '../../src/index.js';
import { Tape, popTape, pushTape } from '../../src/autograd/tape.js';
import { runFusedOp } from '../../src/ops/families/index.js';
import { lstmCell, lstmForward } from '../../src/ops/families/recurrent.js';
import { loadAddon } from '../../src/backends/native/addon.js';
import { onBackend, skip } from '../backends/parity.js';
import { assertClose, rand } from '../helpers.js';

const lnInputs = () => [
  rand([3, 5], 1, { dtype: 'float64' }),
  rand([5], 2, { dtype: 'float64' }),
  rand([3, 5], 3, { dtype: 'float64' }),
];

describe('fused ops with several results', () => {
  test('layerNormGrad returns dx and dgamma as separate tensors equal to the closed form', () =>
    c.tidy(() => {
      const [x, gamma, dy] = lnInputs();
      const [dx, dgamma] = runFusedOp('layerNormGrad', [x, gamma, dy], { epsilon: 1e-3 });
      assert.deepEqual(dx.shape, [3, 5]);
      assert.deepEqual(dgamma.shape, [5]);
      // The reference: the vjp of layerNorm's primitive composite.
      const { grads } = c.vjp(
        ([xx, g]: Tensor[]) => {
          const xhat = c.mul(c.sub(xx, c.mean(xx, -1, true)), c.rsqrt(c.add(c.variance(xx, -1, true), 1e-3)));
          return c.mul(xhat, g);
        },
        [x, gamma],
        dy,
      );
      assertClose(dx, grads[0], { rtol: 1e-12, atol: 1e-12 });
      assertClose(dgamma, grads[1], { rtol: 1e-12, atol: 1e-12 });
    }));

  // lstmCell has a hand rule, so every backend records the op itself (with or without a kernel for it).
  test('one call records one tape node with every result as an output', () =>
    c.tidy(() => {
      const xw = rand([2, 12], 7, { dtype: 'float64' }),
        hu = rand([2, 12], 8, { dtype: 'float64' }),
        cc = rand([2, 3], 9, { dtype: 'float64' });
      const tape = new Tape();
      tape.tracked.add(xw.key);
      pushTape(tape);
      let results: Tensor[];
      try {
        results = runFusedOp('lstmCell', [xw, hu, cc], {});
      } finally {
        popTape(tape);
      }
      const nodes = tape.nodes.filter((n) => n.op === 'lstmCell');
      assert.equal(nodes.length, 1);
      assert.equal(nodes[0].outputs.length, 2);
      assert.deepEqual(
        nodes[0].outputs.map((t) => t.shape),
        [
          [2, 3],
          [2, 3],
        ],
      );
      assert.ok(results.every((t) => tape.tracked.has(t.key)));
      tape.dispose();
    }));

  test('a result that receives no gradient contributes none (hand rule and composite rule)', () =>
    c.tidy(() => {
      const xw = rand([2, 12], 4, { dtype: 'float64' }),
        hu = rand([2, 12], 5, { dtype: 'float64' }),
        cc = rand([2, 3], 6, { dtype: 'float64' });
      // lstmCell's hand rule with only h, then only c, used: equal to the primitive composite's gradients.
      for (const pick of ['h', 'c'] as const) {
        const fused = c.grad(([a, b, s]: Tensor[]) => c.sum(c.mul(lstmCell(a, b, s)[pick], 1.5)));
        const reference = c.grad(([a, b, s]: Tensor[]) => {
          const { o, cNext } = lstmForward(a, b, s);
          return c.sum(c.mul(pick === 'h' ? c.mul(o, c.tanh(cNext)) : cNext, 1.5));
        });
        const got = fused([xw, hu, cc]),
          want = reference([xw, hu, cc]);
        got.forEach((g, i) => assertClose(g, want[i], { rtol: 1e-12, atol: 1e-12 }));
      }
      // layerNormGrad differentiates through its composite; only dgamma used.
      c.assertGradients(
        (x: Tensor, g: Tensor, dy: Tensor) => runFusedOp('layerNormGrad', [x, g, dy], { epsilon: 1e-3 })[1],
        lnInputs(),
        { rtol: 1e-5, atol: 1e-7 },
      );
    }));

  test('the fused optimizer steps return one tensor per parameter and slot', () =>
    c.tidy(() => {
      const p = [rand([2, 3], 7), rand([4], 8)];
      const g = [rand([2, 3], 9), rand([4], 10)];
      const v = [rand([2, 3], 11), rand([4], 12)];
      const out = runFusedOp('sgdStep', [...p, ...g, ...v], {
        lr: 0.1,
        momentum: 0.9,
        nesterov: false,
        weightDecay: 0,
      });
      assert.deepEqual(
        out.map((t) => t.shape),
        [[2, 3], [4], [2, 3], [4]],
      );
      // trace' = 0.9 v - 0.1 g; p' = p + trace'.
      out
        .slice(2)
        .forEach((t, i) => assertClose(t, c.sub(c.mul(v[i], 0.9), c.mul(g[i], 0.1)), { rtol: 1e-6, atol: 1e-6 }));
      out.slice(0, 2).forEach((t, i) => assertClose(t, c.add(p[i], out[2 + i]), { rtol: 1e-6, atol: 1e-6 }));
    }));
});

describe('native kernels with several results', { skip }, () => {
  test('one kernel event lists every result', () =>
    onBackend('native', () =>
      c.tidy(() => {
        const events: KernelEvent[] = [];
        const off = c.onKernel((e) => events.push(e));
        try {
          runFusedOp(
            'attentionGrad',
            [rand([1, 2, 2, 3], 1), rand([1, 4, 2, 3], 2), rand([1, 4, 2, 5], 3), rand([1, 2, 2, 5], 4)],
            {
              scale: 0.5,
              causal: false,
              offset: 0,
            },
          );
        } finally {
          off();
        }
        const mine = events.filter((e) => e.op === 'attentionGrad');
        assert.equal(mine.length, 1);
        assert.deepEqual(
          mine[0].outputs.map((o) => o.shape),
          [
            [1, 2, 2, 3],
            [1, 4, 2, 3],
            [1, 4, 2, 5],
          ],
        );
        // Bytes: the four inputs and the three results, float64 (rand's default), 8 bytes each.
        assert.equal(mine[0].bytes, 8 * (12 + 24 + 40 + 20 + 12 + 24 + 40));
      }),
    ));

  test('each out array is checked: too short, of another dtype or missing gives an error, not a write', () => {
    const addon = loadAddon().addon!;
    const x = new Float32Array(6),
      gamma = new Float32Array(3),
      dy = new Float32Array(6);
    const call = (outs: (Float32Array | Float64Array)[]) => () =>
      addon.layerNorm(true, x, 0, gamma, 0, dy, 0, outs, 2, 3, 1e-3);
    assert.throws(call([new Float32Array(5), new Float32Array(3)]), /layerNorm: dx needs elements \[0, 6\) but has 5/);
    assert.throws(call([new Float32Array(6), new Float32Array(2)]), /layerNorm: dgamma needs elements \[0, 3\)/);
    assert.throws(call([new Float32Array(6), new Float64Array(3)]), /dgamma must have the operands' dtype/);
    assert.throws(call([new Float32Array(6)]), /outs must be an array with dgamma at index 1/);
    // An LSTM step (b 1, u 2) has two results: one out array is not enough, and each must hold b * u.
    const cell = (outs: Float32Array[]) => () =>
      addon.cell(
        true,
        false,
        new Float32Array(8),
        0,
        new Float32Array(8),
        0,
        new Float32Array(2),
        0,
        null,
        0,
        null,
        0,
        outs,
        1,
        2,
      );
    assert.throws(cell([new Float32Array(2)]), /cell: outs must be an array with a result at index 1/);
    assert.throws(cell([new Float32Array(2), new Float32Array(1)]), /cell: a result needs elements \[0, 2\) but has 1/);
    assert.doesNotThrow(cell([new Float32Array(2), new Float32Array(2)]));
    assert.doesNotThrow(call([new Float32Array(6), new Float32Array(3)]));
  });
});
