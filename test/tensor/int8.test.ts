// The int8 storage dtype: saturating casts both ways, views and gathers, safetensors I8, and arithmetic refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { parseSafetensors, serializeSafetensors } from '../../src/io/safetensors.js';

test('int8: cast truncates toward zero and saturates (NaN -> 0), as kernels/scalar_math.h to_int8', () => {
  const values = [1.7, -1.7, -200, 300, NaN, Infinity, -Infinity, 127.9, -128.9, 0.4];
  for (const from of ['float32', 'float64', 'int32'] as const) {
    const x = c.tensor(
      from === 'int32' ? values.map((v) => (Number.isFinite(v) ? Math.trunc(v) : 0)) : values,
      [10],
      from,
    );
    const q = c.cast(x, 'int8');
    assert.equal(q.dtype, 'int8');
    assert.ok(q.dataSync() instanceof Int8Array);
    const want = Array.from(x.dataSync(), (v) => (Number.isNaN(v) ? 0 : Math.max(-128, Math.min(127, Math.trunc(v)))));
    assert.deepEqual(Array.from(q.dataSync()), want, from);
    assert.deepEqual(Array.from(c.cast(q, 'float32').dataSync()), want);
    assert.deepEqual(Array.from(c.cast(q, 'int32').dataSync()), want);
  }
  assert.deepEqual(Array.from(c.cast(c.tensor([-3, 0, 5], [3], 'int8'), 'bool').dataSync()), [1, 0, 1]);
});

test('int8: views, transposes, gathers, concat and where keep the dtype and the values', () => {
  const x = c.tensor([1, -2, 3, -4, 5, -6, 7], [7], 'int8');
  const m = c.reshape(c.slice(x, [1], [6]), [2, 3]);
  assert.deepEqual(Array.from(c.transpose(m).dataSync()), [-2, 5, 3, -6, -4, 7]);
  assert.deepEqual(Array.from(c.gather(m, c.tensor([1, 0], [2], 'int32'), 0).dataSync()), [5, -6, 7, -2, 3, -4]);
  assert.deepEqual(Array.from(c.concat([x, x], 0).dataSync()).slice(5, 9), [-6, 7, 1, -2]);
  const pick = c.where(c.tensor([1, 0, 1, 0, 1, 0, 1], [7], 'bool'), x, c.zerosLike(x));
  assert.equal(pick.dtype, 'int8');
  assert.deepEqual(Array.from(pick.dataSync()), [1, 0, 3, 0, 5, 0, 7]);
});

test('int8: arithmetic, comparisons, reductions and matmul are refused with a message naming the dtype', () => {
  const q = c.tensor([1, 2, 3], [3], 'int8');
  for (const run of [() => c.add(q, q), () => c.less(q, q), () => c.sum(q), () => c.add(q, 1)]) {
    assert.throws(run, (e: Error) => e instanceof c.DTypeError && /int8/.test(e.message));
  }
  assert.throws(() => c.matmul(c.reshape(q, [1, 3]), c.reshape(q, [3, 1])), c.DTypeError);
  // Float math promotes integers exactly, as for int32.
  assert.deepEqual(Array.from(c.neg(q).dataSync()), [-1, -2, -3]);
});

test('int8: safetensors stores I8 at one byte per value and reads it back exactly', () => {
  const values = Array.from({ length: 37 }, (_, i) => ((i * 53) % 256) - 128);
  const q = c.tensor(values, [37], 'int8');
  const bytes = serializeSafetensors({ q, f: c.tensor([1.5], [1]) });
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true)))),
  );
  assert.equal(header.q.dtype, 'I8');
  assert.equal(header.q.data_offsets[1] - header.q.data_offsets[0], 37);
  const back = parseSafetensors(bytes);
  assert.equal(back.tensors.get('q')!.dtype, 'int8');
  assert.deepEqual(Array.from(back.tensors.get('q')!.dataSync()), values);
});
