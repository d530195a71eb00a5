// The dispatch point: hooks see every kernel with its op, shapes, dtypes, FLOPs, bytes and time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { onKernel } from '../../src/ops/dispatch.js';
import { RandomStream, philox4x32 } from '../../src/ops/random.js';

function capture<T>(fn: () => T): { events: c.KernelEvent[]; result: T } {
  const events: c.KernelEvent[] = [];
  const off = c.onKernel((e) =>
    events.push({ ...e, inputs: e.inputs.map((i) => ({ shape: [...i.shape], dtype: i.dtype })) }),
  );
  try {
    return { events, result: fn() };
  } finally {
    off();
  }
}

test('a matmul reports its op, shapes, dtypes, FLOPs, bytes and time', () => {
  const a = c.ones([3, 4]),
    b = c.ones([4, 5]);
  const { events } = capture(() => c.matmul(a, b));
  const mm = events.filter((e) => e.op === 'matmul');
  assert.equal(mm.length, 1);
  const e = mm[0];
  assert.deepEqual(
    e.inputs.map((i) => [...i.shape]),
    [
      [1, 3, 4],
      [1, 4, 5],
    ],
  );
  assert.deepEqual([...e.output.shape], [1, 3, 5]);
  assert.equal(e.output.dtype, 'float32');
  assert.equal(e.flops, 2 * 3 * 4 * 5);
  assert.equal(e.bytes, 4 * (12 + 20 + 15));
  assert.equal(e.backend, c.getBackend().name);
  assert.equal(e.fused, false);
  assert.ok(e.ms >= 0);
});

test('elementwise and reduction costs; broadcast copies are reported too', () => {
  const { events } = capture(() => c.sum(c.add(c.ones([4, 3]), c.ones([3]))));
  const ops = events.map((e) => e.op);
  assert.deepEqual(ops, ['copy', 'add', 'sum'], 'the broadcast operand is materialised by a copy kernel');
  assert.equal(events[1].flops, 12);
  assert.equal(events[2].flops, 12);
  assert.equal(events[0].flops, 0);
});

test('hooks can read outputs, which is what a NaN check needs', () => {
  const found: string[] = [];
  const off = c.onKernel((e) => {
    const d = e.readOutput();
    for (let i = 0; i < d.length; i++)
      if (Number.isNaN(d[i])) {
        found.push(e.op);
        break;
      }
  });
  try {
    c.log(c.tensor([1, -1]));
    c.exp(c.tensor([1, 2]));
  } finally {
    off();
  }
  assert.deepEqual(found, ['log']);
});

test('views launch no kernel; unsubscribed hooks hear nothing', () => {
  const a = c.ones([2, 3]);
  const { events } = capture(() => c.slice(c.transpose(c.reshape(a, [3, 2])), [0, 1]));
  assert.equal(events.length, 0);
  let calls = 0;
  const off = c.onKernel(() => calls++);
  off();
  c.add(a, a);
  assert.equal(calls, 0);
});

test('a gradient pass is metered like the forward pass', () => {
  const w = c.ones([4, 2]);
  const x = c.ones([3, 4]);
  const { events } = capture(() => c.grad((p: c.Tensor) => c.sum(c.matmul(x, p)))(w));
  const flops = events.filter((e) => e.op === 'matmul').map((e) => e.flops);
  assert.deepEqual(flops, [2 * 3 * 4 * 2, 2 * 4 * 3 * 2], 'forward and backward matmul');
});

test('a one-element operand is passed as is to a backend that broadcasts scalars (no copy kernel)', () => {
  const x = c.ones([4, 3]);
  const { events, result } = capture(() => c.mul(x, 2));
  assert.deepEqual(
    events.map((e) => e.op),
    ['mul'],
  );
  assert.deepEqual(
    events[0].inputs.map((i) => [...i.shape]),
    [[4, 3], []],
  );
  assert.deepEqual(result.toArray(), [
    [2, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
    [2, 2, 2],
  ]);
  // where with a scalar condition and scalar branch, and a scalar view into a larger buffer.
  const picked = c.where(c.scalar(true), c.slice(c.arange(6).cast('float32'), [4], [1]), x);
  assert.deepEqual(picked.toArray(), [
    [4, 4, 4],
    [4, 4, 4],
    [4, 4, 4],
    [4, 4, 4],
  ]);
});

test('gather is costed by the rows it reads, not the whole table', () => {
  const table = c.ones([1000, 8]);
  const { events } = capture(() => c.gather(table, [3, 7], 0));
  const g = events.find((e) => e.op === 'gather')!;
  // Reads 2 rows of 8 float32 (64 B) and 2 int32 indices (8 B), writes 64 B.
  assert.equal(g.bytes, 64 + 8 + 64);
});

test('random draws pass the dispatch point as philox kernels (metered like any other), same values', () => {
  const events: { op: string; shape: readonly number[]; dtype: string }[] = [];
  const off = onKernel((e) => events.push({ op: e.op, shape: e.output.shape, dtype: e.output.dtype }));
  let drawn: Float32Array;
  try {
    drawn = new RandomStream(5).uniform([20000]).dataSync() as Float32Array;
  } finally {
    off();
  }
  // Two bulk blocks of 16384 and 3616 elements, four uint32 words each.
  assert.deepEqual(
    events.filter((e) => e.op === 'philox'),
    [
      { op: 'philox', shape: [16384, 4], dtype: 'int32' },
      { op: 'philox', shape: [3616, 4], dtype: 'int32' },
    ],
  );
  const w = philox4x32([19999, 0, 0, 0], [5, 0]);
  assert.equal(drawn[19999], (w[0] >>> 8) / 16777216);
});
