// Next-token sampling: greedy, temperature, top-k and top-p cut-offs, and seeded uniform streams.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../../src/index.js'; // registers the backends the RandomStream draws on
import { sampleToken, argmaxOf, checkSampling, UniformStream } from '../../src/models/sampling.js';
import { ArgumentError } from '../../src/errors.js';

const LOGITS = [Math.log(0.1), Math.log(0.2), Math.log(0.4), Math.log(0.3)]; // probabilities 0.1 0.2 0.4 0.3

test('temperature 0 is argmax (first on ties) and ignores u', () => {
  assert.equal(sampleToken(LOGITS, 0.99, { temperature: 0 }), 2);
  assert.equal(argmaxOf([1, 3, 3, 0]), 1);
});

test('u walks the candidates by descending probability (inverse CDF)', () => {
  // Order 2 (0.4), 3 (0.3), 1 (0.2), 0 (0.1): cumulative 0.4, 0.7, 0.9, 1.0.
  assert.deepEqual(
    [0, 0.39, 0.41, 0.69, 0.71, 0.89, 0.91, 0.999999].map((u) => sampleToken(LOGITS, u)),
    [2, 2, 3, 3, 1, 1, 0, 0],
  );
});

test('topK and topP keep the most likely tokens and renormalise', () => {
  // topK 2: 2 (0.4/0.7), 3 (0.3/0.7).
  assert.deepEqual(
    [0.5, 0.58, 0.99].map((u) => sampleToken(LOGITS, u, { topK: 2 })),
    [2, 3, 3],
  );
  // topP 0.65: the nucleus is {2, 3} (0.4 + 0.3 >= 0.65); topP 0.4 is {2} alone.
  assert.deepEqual(
    [0.5, 0.99].map((u) => sampleToken(LOGITS, u, { topP: 0.65 })),
    [2, 3],
  );
  assert.equal(sampleToken(LOGITS, 0.99, { topP: 0.4 }), 2);
  // A low temperature sharpens: 0.4^10 dominates 0.3^10 by about 18 to 1.
  assert.equal(sampleToken(LOGITS, 0.9, { temperature: 0.1 }), 2);
});

test('options are checked, and a seeded stream repeats', () => {
  assert.throws(() => checkSampling('generate', { temperature: -1 }), ArgumentError);
  assert.throws(() => checkSampling('generate', { topK: 1.5 }), ArgumentError);
  assert.throws(() => checkSampling('generate', { topP: 0 }), ArgumentError);
  const a = new UniformStream(3),
    b = new UniformStream(3);
  const xs = Array.from({ length: 300 }, () => a.next());
  assert.deepEqual(
    xs,
    Array.from({ length: 300 }, () => b.next()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
});
