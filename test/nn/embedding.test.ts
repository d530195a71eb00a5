// Embedding ids: whole numbers in [0, inputDim) of any dtype select rows of the table; NaN, fractional and
// out-of-range ids are typed errors naming the layer (never truncated to a valid-looking row).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat, rejects } from '../helpers.js';

/** An Embedding with a table whose row r is [r, 10 r], so a row read back names itself. */
function named(inputDim = 4): c.Embedding {
  const layer = new c.Embedding({ inputDim, outputDim: 2, name: 'tokens' });
  c.tidy(() => void layer.apply(c.zeros([1, 2], 'int32'))); // builds the table
  const rows = Array.from({ length: inputDim }, (_, r) => [r, 10 * r]);
  const table = c.tensor(rows);
  layer.setWeights([table]);
  table.dispose();
  return layer;
}

test('whole-number ids of every dtype select their rows (a slow reference: row r is [r, 10 r])', () => {
  const layer = named();
  for (const dtype of ['int32', 'float32', 'float64'] as const) {
    const ids = c.tensor(
      [
        [3, 0],
        [1, 2],
      ],
      undefined,
      dtype,
    );
    const out = layer.apply(ids) as c.Tensor;
    assert.deepEqual(flat(out), [3, 30, 0, 0, 1, 10, 2, 20], dtype);
    c.dispose([ids, out]);
  }
  layer.dispose();
});

test('NaN, fractional and out-of-range ids are ArgumentErrors naming the layer, the id and the range', async () => {
  const layer = named();
  const cases: [number[], c.DType, RegExp][] = [
    [
      [1, NaN],
      'float32',
      /^Embedding 'tokens': id NaN at flat index 1 of the float32 input is not an integer in \[0, 4\)/,
    ],
    [
      [2.5, 1],
      'float64',
      /^Embedding 'tokens': id 2\.5 at flat index 0 of the float64 input is not an integer in \[0, 4\)/,
    ],
    [[0.9, 1], 'float32', /id 0\.8999\d* at flat index 0 .* is not an integer in \[0, 4\)/],
    [[1, Infinity], 'float32', /id Infinity at flat index 1 .* is not an integer in \[0, 4\)/],
    [[1, 4], 'float32', /^Embedding 'tokens': id 4 at flat index 1 of the float32 input is outside \[0, 4\)/],
    [[-1, 0], 'int32', /^Embedding 'tokens': id -1 at flat index 0 of the int32 input is outside \[0, 4\)/],
    [[-0.5, 0], 'float32', /id -0\.5 .* is not an integer in \[0, 4\)/],
  ];
  for (const [values, dtype, message] of cases) {
    const ids = c.tensor([values], undefined, dtype);
    await rejects(() => layer.apply(ids), c.ArgumentError, message);
    ids.dispose();
  }
  layer.dispose();
});
