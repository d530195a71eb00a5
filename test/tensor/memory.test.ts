// Memory: dispose, tidy, `using` scopes, the FinalizationRegistry safety net, and a flat tensor count
// over 10,000 training steps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as c from '../../src/index.js';

test('dispose frees a buffer only when its last view is gone', () => {
  const before = c.memory();
  const a = c.ones([100]);
  const v = c.reshape(a, [10, 10]);
  assert.equal(c.memory().tensors, before.tensors + 2);
  assert.equal(c.memory().buffers, before.buffers + 1);
  assert.equal(c.memory().bytes, before.bytes + 400);
  a.dispose();
  assert.equal(c.memory().buffers, before.buffers + 1, 'the view keeps the buffer alive');
  const total = v.sum();
  assert.equal(total.item(), 100);
  total.dispose();
  v.dispose();
  assert.deepEqual(c.memory(), before);
});

test('tidy disposes intermediates and keeps its result (nested structures too)', () => {
  const x = c.ones([3]);
  const before = c.memory().tensors;
  const out = c.tidy(() => {
    const y = c.add(x, 1);
    const z = c.mul(y, 2);
    return { z, list: [c.sub(z, 1)] };
  });
  assert.equal(c.memory().tensors, before + 2);
  assert.deepEqual(out.z.toArray(), [4, 4, 4]);
  c.dispose(out);
  assert.equal(c.memory().tensors, before);
  const kept = c.tidy(() => {
    const k = c.keep(c.ones([2]));
    c.ones([2]);
    return undefined;
  });
  assert.equal(kept, undefined);
  assert.equal(c.memory().tensors, before + 1, 'keep() survives the tidy');
});

test('matmul outside any scope leaves only its result alive (its reshaped operands and output are freed now)', () => {
  const a = c.randomUniform([3, 5], { seed: 1 }),
    b = c.randomUniform([5, 4], { seed: 2 }),
    v = c.randomUniform([5], { seed: 3 });
  for (const [x, y] of [
    [a, b],
    [a, v],
    [v, b],
    [c.transpose(b), c.transpose(a)],
  ]) {
    const before = c.memory();
    const out = c.matmul(x, y);
    assert.equal(c.memory().tensors, before.tensors + 1);
    assert.equal(c.memory().buffers, before.buffers + 1);
    out.dispose();
    assert.deepEqual(c.memory(), before);
  }
});

test('a `using` scope disposes what was made in its block, except what it keeps', () => {
  const before = c.memory().tensors;
  let result: c.Tensor;
  {
    using scope = new c.TensorScope();
    const y = c.exp(c.ones([4]));
    result = scope.keep(c.sum(y));
  }
  assert.equal(c.memory().tensors, before + 1);
  assert.ok(Math.abs(result.item() - 4 * Math.E) < 1e-5);
  {
    using t = c.ones([2]);
    assert.equal(c.memory().tensors, before + 2);
    assert.equal(t.size, 2);
  }
  assert.equal(c.memory().tensors, before + 1, 'a tensor is itself disposable with `using`');
  result.dispose();
});

test('the FinalizationRegistry frees tensors that were dropped without dispose', async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const before = c.memory().tensors;
  (() => {
    for (let i = 0; i < 200; i++) c.ones([10]);
    // Made inside scopes, then leaving them (returned from the outermost tidy, or kept): guarded then.
    for (let i = 0; i < 100; i++) c.tidy(() => c.tidy(() => c.add(c.ones([10]), 1)));
    for (let i = 0; i < 100; i++)
      c.tidy(() => {
        c.keep(c.ones([10]));
      });
  })();
  assert.equal(c.memory().tensors, before + 400);
  // Earlier tests' dropped tensors may be collected too, so the count can fall below `before`.
  for (let attempt = 0; attempt < 50 && c.memory().tensors > before; attempt++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(c.memory().tensors <= before, 'collected tensors are released');
});

test('10,000 steps of forward + grad + update keep the live tensor count flat', () => {
  const g = new c.RandomStream(1);
  const x = g.normal([16, 5]);
  const trueW = g.normal([5, 1]);
  const y = c.matmul(x, trueW);
  let params = { w: c.zeros([5, 1]), b: c.zeros([1]) };
  const loss = (p: typeof params) => c.mean(c.square(c.sub(c.add(c.matmul(x, p.w), p.b), y)));
  const lossAndGrad = c.valueAndGrad(loss);
  let baseline = 0;
  let first = 0,
    last = 0;
  for (let step = 0; step < 10000; step++) {
    const { value, grads } = lossAndGrad(params);
    const next = c.tidy(() => ({ w: c.sub(params.w, c.mul(grads.w, 0.05)), b: c.sub(params.b, c.mul(grads.b, 0.05)) }));
    if (step === 0) first = value.item();
    if (step === 9999) last = value.item();
    c.dispose([params, grads, value]);
    params = next;
    if (step === 10) baseline = c.memory().tensors;
    if (step > 10 && step % 1000 === 0) assert.equal(c.memory().tensors, baseline, `live tensors at step ${step}`);
  }
  assert.equal(c.memory().tensors, baseline);
  assert.ok(last < first * 1e-6, `loss fell from ${first} to ${last}`);
  c.dispose([params, x, y, trueW]);
});
