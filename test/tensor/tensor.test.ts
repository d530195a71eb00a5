// Tensors: creation, dtypes, read-back, formatting, and views that share memory with their source.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { assertClose } from '../helpers.js';

test('creation from nested arrays, typed arrays and scalars', () => {
  const a = c.tensor([
    [1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(a.shape, [2, 3]);
  assert.equal(a.dtype, 'float32');
  assert.deepEqual(a.toArray(), [
    [1, 2, 3],
    [4, 5, 6],
  ]);
  const b = c.tensor(new Int32Array([1, 2, 3, 4]), [2, 2]);
  assert.equal(b.dtype, 'int32');
  assert.deepEqual(b.toArray(), [
    [1, 2],
    [3, 4],
  ]);
  assert.equal(c.tensor([true, false]).dtype, 'bool');
  assert.deepEqual(c.tensor([true, false]).toArray(), [true, false]);
  assert.equal(c.scalar(3.5).item(), 3.5);
  assert.deepEqual(c.scalar(2).shape, []);
  assert.equal(c.tensor([1.5, 2.5], undefined, 'float64').dtype, 'float64');
  // Conversion on creation truncates toward zero for int32.
  assert.deepEqual(c.tensor([1.7, -1.7], undefined, 'int32').toArray(), [1, -1]);
});

test('a tensor made from a typed array does not alias it', () => {
  const data = new Float32Array([1, 2, 3]);
  const t = c.tensor(data);
  data[0] = 99;
  assert.deepEqual(t.toArray(), [1, 2, 3]);
});

test('creation rejects ragged arrays and wrong sizes with a ShapeError', () => {
  assert.throws(() => c.tensor([[1, 2], [3]]), c.ShapeError);
  assert.throws(() => c.tensor(new Float32Array(5), [2, 3]), /5 values do not fill shape \[2, 3\]/);
  assert.throws(() => c.zeros([2, -1]), c.ShapeError);
  assert.throws(() => c.tensor([1], undefined, 'float16' as c.DType), c.DTypeError);
});

test('zeros, ones, full, arange, linspace, eye', () => {
  assert.deepEqual(c.zeros([2, 2]).toArray(), [
    [0, 0],
    [0, 0],
  ]);
  assert.deepEqual(c.ones([3], 'int32').toArray(), [1, 1, 1]);
  assert.deepEqual(c.full([2], 7).toArray(), [7, 7]);
  assert.deepEqual(c.arange(5).toArray(), [0, 1, 2, 3, 4]);
  assert.equal(c.arange(5).dtype, 'int32');
  assert.deepEqual(c.arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
  assert.deepEqual(c.arange(5, 0, -2).toArray(), [5, 3, 1]);
  assert.throws(() => c.arange(0, 1, 0), c.ArgumentError);
  assertClose(c.linspace(0, 1, 5), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(c.linspace(2, 3, 1).toArray(), [2]);
  assert.deepEqual(c.eye(2, 3, 1).toArray(), [
    [0, 1, 0],
    [0, 0, 1],
  ]);
  assert.deepEqual(c.zerosLike(c.ones([2], 'int32')).toArray(), [0, 0]);
});

test('read-back: dataSync copies, data() resolves, item() needs one element', async () => {
  const a = c.tensor([1, 2, 3]);
  const d = a.dataSync();
  d[0] = 99;
  assert.deepEqual(a.toArray(), [1, 2, 3], 'dataSync must return a copy');
  assert.deepEqual(Array.from(await a.data()), [1, 2, 3]);
  assert.throws(() => a.item(), /item: expected a tensor with one element, got shape \[3\]/);
});

test('toString is readable and elides large dimensions', () => {
  assert.equal(
    c
      .tensor(
        [
          [1, 2],
          [3, 4],
        ],
        undefined,
        'int32',
      )
      .toString(),
    'Tensor([[1, 2],\n [3, 4]], shape=[2, 2], dtype=int32)',
  );
  const s = c.arange(100).toString();
  assert.match(s, /^Tensor\(\[0, 1, 2, \.\.\., 97, 98, 99\], shape=\[100\], dtype=int32\)$/);
  assert.match(c.tensor([0.5, 1e-7]).toString(), /0\.5, 1\.0000e-7/);
  assert.match(c.tensor([true]).toString(), /true/);
  assert.match(c.tensor([1.9999999], undefined, 'float64').toString(), /\[2\.0\]/, 'floats keep a decimal point');
});

test('views share memory: reshape, transpose, slice, expand, squeeze, unsqueeze, flip', () => {
  const a = c.arange(12).reshape([3, 4]);
  const views = [
    c.reshape(a, [4, 3]),
    c.reshape(a, [2, -1]),
    c.transpose(a),
    c.slice(a, [1, 1], [2, 2]),
    c.expand(c.reshape(a, [1, 3, 4]), [2, 3, 4]),
    c.unsqueeze(a, 0),
    c.squeeze(c.unsqueeze(a, 1)),
    c.flip(a, 1),
    c.sliceAxis(a, 1, 0, undefined, 2),
  ];
  for (const v of views) assert.equal(v.storage, a.storage, 'a view must share its source buffer');
  const before = c.memory().buffers;
  c.transpose(a);
  assert.equal(c.memory().buffers, before, 'a view allocates no buffer');
  assert.deepEqual(c.transpose(a).toArray(), [
    [0, 4, 8],
    [1, 5, 9],
    [2, 6, 10],
    [3, 7, 11],
  ]);
  assert.deepEqual(c.slice(a, [1, 1], [2, 2]).toArray(), [
    [5, 6],
    [9, 10],
  ]);
  assert.deepEqual(c.slice(a, [0, -1]).toArray(), [[3], [7], [11]]);
  assert.deepEqual(c.sliceAxis(a, 1, 0, undefined, 2).toArray(), [
    [0, 2],
    [4, 6],
    [8, 10],
  ]);
  assert.deepEqual((c.flip(a, 1).toArray() as number[][])[0], [3, 2, 1, 0]);
  assert.deepEqual((c.flip(a).toArray() as number[][])[0], [11, 10, 9, 8]);
  assert.deepEqual(c.expand(c.tensor([1, 2]), [2, 2]).toArray(), [
    [1, 2],
    [1, 2],
  ]);
  assert.deepEqual(c.permute(c.arange(6).reshape([1, 2, 3]), [2, 0, 1]).shape, [3, 1, 2]);
});

test('reshape of a non-contiguous view copies, and the result is right', () => {
  const t = c.transpose(c.arange(6).reshape([2, 3]));
  const r = c.reshape(t, [6]);
  assert.notEqual(r.storage, t.storage);
  assert.deepEqual(r.toArray(), [0, 3, 1, 4, 2, 5]);
});

test('views of views compose strides and offsets', () => {
  const a = c.arange(60).reshape([3, 4, 5]);
  const v = c.flip(c.slice(c.transpose(a, [2, 0, 1]), [1, 0, 1], [2, 2, 2], [2, 2, 1]), [0]);
  // Reference by index arithmetic on the original: transpose (2,0,1) then slice then flip axis 0.
  const expected: number[][][] = [];
  for (let i = 0; i < 2; i++) {
    const k = 1 + 2 * (1 - i);
    const plane: number[][] = [];
    for (let j = 0; j < 2; j++) {
      const p = 0 + 2 * j;
      plane.push([1, 2].map((q) => p * 20 + q * 5 + k));
    }
    expected.push(plane);
  }
  assert.deepEqual(v.toArray(), expected);
});

test('invalid views raise typed errors naming the op and shapes', () => {
  const a = c.zeros([2, 3]);
  assert.throws(() => c.reshape(a, [4, 2]), /reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/);
  assert.throws(() => c.expand(a, [3, 3]), c.ShapeError);
  assert.throws(() => c.permute(a, [0, 0]), c.ArgumentError);
  assert.throws(() => c.squeeze(a, 0), /squeeze: axis 0 of \[2, 3\] has size 2, expected 1/);
  assert.throws(() => c.slice(a, [0, 2], [1, 2]), c.ArgumentError);
  assert.throws(() => c.sum(a, 2), /sum: axis 2 is out of range for a tensor of rank 2/);
  assert.throws(() => c.add(a, c.zeros([4])), /add: shapes \[2, 3\] and \[4\] do not broadcast/);
});

test('broadcasting follows NumPy rules', () => {
  const a = c.tensor([[1], [2], [3]]);
  const b = c.tensor([10, 20]);
  assert.deepEqual(c.add(a, b).toArray(), [
    [11, 21],
    [12, 22],
    [13, 23],
  ]);
  assert.deepEqual(c.mul(c.ones([2, 1, 3]), c.ones([4, 1])).shape, [2, 4, 3]);
  assert.deepEqual(c.add(c.scalar(1), c.zeros([0, 3])).shape, [0, 3]);
});

test('a disposed tensor cannot be used', () => {
  const a = c.ones([2]);
  a.dispose();
  assert.ok(a.isDisposed);
  assert.throws(() => c.add(a, 1), c.DisposedError);
  assert.throws(() => a.dataSync(), /dataSync: tensor #\d+ \[2\] float32 was disposed/);
  a.dispose(); // twice is harmless
});

test('item() reads the one element of a view in place, and refuses a disposed tensor or several elements', () => {
  const t = c.tensor([1.5, 2.5, 3.5, 4.5, 5.5, 6.5], [2, 3]);
  assert.equal(c.sliceAxis(c.sliceAxis(t, 0, 1, 2), 1, 2, 3).item(), 6.5);
  assert.equal(c.sliceAxis(c.sliceAxis(c.transpose(t), 0, 2, 3), 1, 0, 1).item(), 3.5);
  assert.throws(() => t.item(), /one element/);
  const one = c.scalar(7);
  one.dispose();
  assert.throws(() => one.item(), /disposed/);
  t.dispose();
});
