// model.summary(): the exact Keras-style table for a Sequential MLP, functional chains and branching graphs ("Connected
// to"), parameter counts and sizes, frozen layers, long names, and deferred builds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

const silent = () => {};

/** A Keras summary table's border row for the column widths 32, 26 and 15. */
const border = (left: string, join: string, right: string): string =>
  left + ['─'.repeat(32), '─'.repeat(26), '─'.repeat(15)].join(join) + right;

test('Sequential 784-128-10 MLP: the exact Keras table, (None, 128) shapes, 100,480 + 1,290 = 101,770 params', () => {
  const model = new c.Sequential({
    name: 'mlp',
    layers: [
      new c.Dense({ units: 128, activation: 'relu', inputShape: [784], name: 'dense' }),
      new c.Dense({ units: 10, activation: 'softmax', name: 'dense_1' }),
    ],
  });
  const printed: string[] = [];
  const text = model.summary((s) => printed.push(s));
  assert.deepEqual(printed, [text], 'printed once, and returned');
  assert.equal(
    text,
    [
      'Model: "mlp"',
      border('┌', '┬', '┐'),
      '│ Layer (type)                   │ Output Shape             │       Param # │',
      border('├', '┼', '┤'),
      '│ dense (Dense)                  │ (None, 128)              │       100,480 │',
      border('├', '┼', '┤'),
      '│ dense_1 (Dense)                │ (None, 10)               │         1,290 │',
      border('└', '┴', '┘'),
      ' Total params: 101,770 (397.54 KB)',
      ' Trainable params: 101,770 (397.54 KB)',
      ' Non-trainable params: 0 (0.00 B)',
    ].join('\n'),
  );
  assert.equal(model.countParams(), 784 * 128 + 128 + 128 * 10 + 10);
});

test('functional chain: InputLayer row, no "Connected to" column (Keras: sequential-like)', () => {
  const pixels = c.input({ shape: [784], name: 'pixels' });
  const hidden = new c.Dense({ units: 64, name: 'hidden' }).apply(pixels) as c.SymbolicTensor;
  const model = new c.Model({
    name: 'chain',
    inputs: pixels,
    outputs: new c.Dense({ units: 10, name: 'logits' }).apply(hidden) as c.SymbolicTensor,
  });
  const lines = model.summary(silent).split('\n');
  assert.equal(lines[2], '│ Layer (type)                   │ Output Shape             │       Param # │');
  assert.equal(lines[4], '│ pixels (InputLayer)            │ (None, 784)              │             0 │');
  assert.equal(lines[6], '│ hidden (Dense)                 │ (None, 64)               │        50,240 │');
  assert.equal(lines[8], '│ logits (Dense)                 │ (None, 10)               │           650 │');
  assert.equal(lines.at(-3), ' Total params: 50,890 (198.79 KB)');
});

test('branching functional model: "Connected to" column, N-d shapes, non-trainable BatchNormalization stats', () => {
  const image = c.input({ shape: [8, 8, 1], name: 'image' }),
    meta = c.input({ shape: [3], name: 'meta' });
  const conv = new c.Conv2D({ filters: 4, kernelSize: 3, name: 'conv' }).apply(image) as c.SymbolicTensor;
  const flat = new c.Flatten({ name: 'flat' }).apply(conv) as c.SymbolicTensor;
  const joined = new c.Concatenate({ name: 'joined' }).apply([flat, meta]) as c.SymbolicTensor;
  const norm = new c.BatchNormalization({ name: 'norm' }).apply(joined) as c.SymbolicTensor;
  const model = new c.Model({
    name: 'two_heads',
    inputs: [image, meta],
    outputs: [
      new c.Dense({ units: 10, name: 'digit' }).apply(norm) as c.SymbolicTensor,
      new c.Dense({ units: 1, name: 'score' }).apply(norm) as c.SymbolicTensor,
    ],
  });
  const text = model.summary(silent);
  const rows = text
    .split('\n')
    .filter((l) => l.startsWith('│'))
    .map((l) =>
      l
        .split('│')
        .slice(1, -1)
        .map((cell) => cell.trim()),
    );
  assert.deepEqual(rows, [
    ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'],
    ['image (InputLayer)', '(None, 8, 8, 1)', '0', '-'],
    ['meta (InputLayer)', '(None, 3)', '0', '-'],
    ['conv (Conv2D)', '(None, 6, 6, 4)', '40', 'image[0][0]'],
    ['flat (Flatten)', '(None, 144)', '0', 'conv[0][0]'],
    ['joined (Concatenate)', '(None, 147)', '0', 'flat[0][0], meta[0][0]'],
    ['norm (BatchNormalization)', '(None, 147)', '588', 'joined[0][0]'],
    ['digit (Dense)', '(None, 10)', '1,480', 'norm[0][0]'],
    ['score (Dense)', '(None, 1)', '148', 'norm[0][0]'],
  ]);
  // BatchNormalization: gamma and beta train, the moving mean and variance (2 x 147) do not.
  assert.match(
    text,
    new RegExp(
      /\n Total params: 2,256 \(8\.81 KB\)\n Trainable params: 1,962 \(7\.66 KB\)/.source +
        /\n Non-trainable params: 294 \(1\.15 KB\)$/.source,
    ),
  );
  // Every line of the table has the same width.
  const widths = new Set(
    text
      .split('\n')
      .slice(1, -3)
      .map((l) => l.length),
  );
  assert.equal(widths.size, 1);
});

test('frozen layers count as non-trainable; long names widen the column instead of breaking the table', () => {
  const model = new c.Sequential({
    name: 'frozen',
    layers: [
      new c.Dense({ units: 4, inputShape: [3], name: 'a_very_long_layer_name_for_the_feature_extractor' }),
      new c.Dense({ units: 2, name: 'head' }),
    ],
  });
  model.layers[0].trainable = false;
  const text = model.summary(silent);
  assert.match(text, / Trainable params: 10 \(40\.00 B\)\n Non-trainable params: 16 \(64\.00 B\)$/);
  const table = text.split('\n').slice(1, -3);
  assert.equal(new Set(table.map((l) => l.length)).size, 1, text);
  assert.ok(table.some((l) => l.startsWith('│ a_very_long_layer_name_for_the_feature_extractor (Dense) │')));
});

test('a Sequential without an input shape shows "?" and "(unbuilt)" until its first call, then its shapes', () => {
  const model = new c.Sequential({
    name: 'deferred',
    layers: [new c.Dense({ units: 5, name: 'd1' }), new c.Dense({ units: 2, name: 'd2' })],
  });
  const before = model.summary(silent);
  assert.match(before, /│ d1 \(Dense\) +│ \? +│ +0 \(unbuilt\) │/);
  assert.match(before, / Total params: 0 /);
  const x = c.zeros([3, 7]);
  c.dispose(model.predict(x));
  const after = model.summary(silent);
  assert.match(after, /│ d1 \(Dense\) +│ \(None, 5\) +│ +40 │/);
  assert.match(after, /│ d2 \(Dense\) +│ \(None, 2\) +│ +12 │/);
  assert.match(after, / Total params: 52 \(208\.00 B\)/);
  x.dispose();
});
