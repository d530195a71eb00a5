// Seeded random streams: Philox4x32-10 known answers, reproducibility, and distribution moments.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

const hex = (a: Uint32Array) => Array.from(a, (v) => v.toString(16).padStart(8, '0')).join(' ');

test('Philox4x32-10 matches the Random123 known-answer vectors', () => {
  assert.equal(hex(c.philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  const ff = 0xffffffff;
  assert.equal(hex(c.philox4x32([ff, ff, ff, ff], [ff, ff])), '408f276d 41c83b0e a20bc7c6 6d5451fd');
  assert.equal(
    hex(c.philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    'd16cfe09 94fdcceb 5001e420 24126ea1',
  );
});

test('same seed, same stream; successive draws differ; seeds differ', () => {
  const g1 = new c.RandomStream(42),
    g2 = new c.RandomStream(42);
  const a = g1.normal([100]).dataSync(),
    b = g2.normal([100]).dataSync();
  assert.deepEqual(a, b);
  const next = g1.normal([100]).dataSync();
  assert.notDeepEqual(a, next);
  assert.notDeepEqual(a, new c.RandomStream(43).normal([100]).dataSync());
  // Element i depends only on (seed, counter + i): a draw of 10 then 5 equals the first 15 of one draw.
  const g3 = new c.RandomStream(7),
    g4 = new c.RandomStream(7);
  const joined = [...g3.uniform([10]).dataSync(), ...g3.uniform([5]).dataSync()];
  assert.deepEqual(joined, Array.from(g4.uniform([15]).dataSync()));
});

test('the stream is the same on every backend', () => {
  const base = c.getBackend().name;
  c.registerBackend('js-copy-for-random', () => ({ ...c.getBackend(), name: 'js-copy-for-random' }));
  const onJs = c.randomNormal([50], { seed: 5 }).dataSync();
  c.setBackend('js-copy-for-random');
  try {
    const t = c.randomNormal([50], { seed: 5 });
    assert.equal(t.storage.backend.name, 'js-copy-for-random');
    assert.deepEqual(t.dataSync(), onJs);
  } finally {
    c.setBackend(base);
  }
});

function moments(d: ArrayLike<number>) {
  let s = 0,
    s2 = 0;
  for (let i = 0; i < d.length; i++) {
    s += d[i];
    s2 += d[i] * d[i];
  }
  const mean = s / d.length;
  return { mean, variance: s2 / d.length - mean * mean };
}

test('distributions have the right range and moments (n = 200000, 5-sigma bounds)', () => {
  const n = 200000,
    g = new c.RandomStream(2024);
  const u = g.uniform([n], -1, 3).dataSync();
  assert.ok(u.every((v) => v >= -1 && v < 3));
  const mu = moments(u);
  assert.ok(Math.abs(mu.mean - 1) < 5 * Math.sqrt(16 / 12 / n));
  assert.ok(Math.abs(mu.variance - 16 / 12) < 0.02);

  const z = g.normal([n], 2, 3, 'float64').dataSync();
  const mz = moments(z);
  assert.ok(Math.abs(mz.mean - 2) < (5 * 3) / Math.sqrt(n));
  assert.ok(Math.abs(mz.variance - 9) < 0.15);

  const t = g.truncatedNormal([n]).dataSync();
  assert.ok(t.every((v) => Math.abs(v) <= 2));
  // Variance of a standard normal truncated to [-2, 2] is 0.7737.
  assert.ok(Math.abs(moments(t).variance - 0.7737) < 0.01);

  const b = g.bernoulli([n], 0.3).dataSync();
  assert.ok(Math.abs(moments(b).mean - 0.3) < 5 * Math.sqrt(0.21 / n));
});

test('float32 uniform never reaches 1', () => {
  const u = new c.RandomStream(9).uniform([100000]).dataSync();
  assert.ok(u.every((v) => v >= 0 && v < 1));
});

test('permutation holds each index once and is seeded', () => {
  const p = Array.from(c.permutation(1000, { seed: 3 }).dataSync());
  assert.deepEqual(
    [...p].sort((a, b) => a - b),
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.notDeepEqual(
    p,
    Array.from({ length: 1000 }, (_, i) => i),
  );
  assert.deepEqual(p, Array.from(c.permutation(1000, { seed: 3 }).dataSync()));
});

test('setSeed makes the global stream reproducible', () => {
  c.setSeed(11);
  const a = c.randomUniform([20]).dataSync();
  c.setSeed(11);
  assert.deepEqual(c.randomUniform([20]).dataSync(), a);
});

test('bad arguments raise typed errors', () => {
  assert.throws(() => new c.RandomStream(-1), c.ArgumentError);
  assert.throws(() => c.bernoulli([2], 1.5), /bernoulli: p must be in \[0, 1\], got 1.5/);
  assert.throws(() => c.randomNormal([2], { dtype: 'int32' }), c.DTypeError);
});
