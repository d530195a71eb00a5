// The GPT builder: causal logits, cached decoding equal to the full forward pass, cached and uncached
// generation choosing identical tokens, save/load, and a short training run that learns a pattern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { GPT, generate } from '../../src/models/gpt.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { assertClose } from '../helpers.js';

/** A small float64 GPT (float64 so the cached and full paths agree to ~1e-12, far from any argmax tie). */
function small(args: Partial<ConstructorParameters<typeof GPT>[0]> = {}): GPT {
  c.setSeed(11);
  return new GPT({
    vocabSize: 23,
    contextLength: 12,
    hiddenDim: 16,
    numHeads: 2,
    numLayers: 2,
    dtype: 'float64',
    seed: 5,
    ...args,
  });
}

const ids = (rows: number[][]) => c.tensor(Int32Array.from(rows.flat()), [rows.length, rows[0].length]);

test('logits are [batch, T, vocab] and causal: a later token never changes earlier logits', () => {
  const m = small();
  const a = m.predict(
    ids([
      [1, 2, 3, 4, 5],
      [6, 7, 8, 9, 10],
    ]),
  ) as c.Tensor;
  assert.deepEqual([...a.shape], [2, 5, 23]);
  const b = m.predict(
    ids([
      [1, 2, 3, 4, 22],
      [6, 7, 8, 9, 0],
    ]),
  ) as c.Tensor;
  assertClose(c.sliceAxis(b, 1, 0, 4), c.sliceAxis(a, 1, 0, 4), { rtol: 1e-12, atol: 1e-12 });
  assert.throws(() => m.predict(ids([Array.from({ length: 13 }, () => 1)])), ShapeError);
  // Tied: no separate output projection; untied adds a [hidden, vocab] kernel and a bias.
  assert.equal(small({ tieEmbeddings: false }).countParams() - m.countParams(), 16 * 23 + 23);
});

test('decodeStep with a cache gives the same logits as the full forward pass, one position at a time', () => {
  const m = small();
  const seq = [3, 1, 4, 1, 5, 9, 2, 6];
  const full = c.noGrad(() => m.apply(ids([seq]))) as c.Tensor;
  let caches = m.blocks.map(() => null) as Parameters<GPT['decodeStep']>[2];
  for (let t = 0; t < seq.length; t++) {
    const r = c.noGrad(() => m.decodeStep(ids([[seq[t]]]), t, caches));
    assertClose(r.logits, c.sliceAxis(full, 1, t, t + 1), { rtol: 1e-10, atol: 1e-12 }, `position ${t}`);
    assert.deepEqual([...r.caches[0].key.shape], [1, t + 1, 2, 8]);
    caches = r.caches;
  }
  assert.throws(() => m.decodeStep(ids([[1]]), 12, caches), ShapeError);
});

test('cached and uncached generation choose identical tokens: greedy, and sampled with one seed', () => {
  const m = small();
  const prompt = [1, 2, 3];
  // 15 new tokens overrun contextLength 12, so the sliding-window fallback is covered too.
  for (const opts of [
    { temperature: 0 },
    { temperature: 1.3, seed: 7 },
    { temperature: 0.8, topK: 5, seed: 3 },
    { topP: 0.9, seed: 99 },
  ]) {
    const cached = generate(m, prompt, { maxNewTokens: 15, ...opts });
    const uncached = generate(m, prompt, { maxNewTokens: 15, useCache: false, ...opts });
    assert.equal(cached.length, 15);
    assert.deepEqual(cached, uncached, JSON.stringify(opts));
    assert.ok(cached.every((t) => Number.isInteger(t) && t >= 0 && t < 23));
  }
  // Same seed, same text; another seed, (almost surely) another text.
  const a = generate(m, prompt, { maxNewTokens: 10, temperature: 2, seed: 1 });
  assert.deepEqual(generate(m, prompt, { maxNewTokens: 10, temperature: 2, seed: 1 }), a);
  assert.notDeepEqual(generate(m, prompt, { maxNewTokens: 10, temperature: 2, seed: 2 }), a);
  assert.deepEqual(
    generate(m, prompt, {
      maxNewTokens: 10,
      temperature: 0,
      stopToken: generate(m, prompt, { maxNewTokens: 1, temperature: 0 })[0],
    }).length,
    1,
  );
  assert.throws(() => generate(m, [], { maxNewTokens: 1 }), ArgumentError);
  assert.throws(() => generate(m, [1], { maxNewTokens: 1, topP: 2 }), ArgumentError);
});

test('generation frees its caches: no tensors leak', () => {
  const m = small();
  const before = c.memory().tensors;
  generate(m, [1, 2], { maxNewTokens: 12, temperature: 0 });
  assert.equal(c.memory().tensors, before);
});

test('save and load rebuild the GPT with the same weights and logits', async () => {
  const m = small({ tieEmbeddings: false, name: 'tiny_gpt' });
  const dir = await mkdtemp(join(tmpdir(), 'candor-gpt-'));
  try {
    await m.save(dir);
    const loaded = await c.loadModel(dir);
    assert.ok(loaded instanceof GPT);
    const x = ids([[4, 8, 15, 16, 23 % 23, 42 % 23]]);
    assertClose(loaded.predict(x) as c.Tensor, m.predict(x) as c.Tensor, { rtol: 0, atol: 0 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('fit learns a repeating sequence: next-token loss falls far below ln(vocab)', async () => {
  c.setSeed(3);
  const m = new GPT({ vocabSize: 8, contextLength: 8, hiddenDim: 16, numHeads: 2, numLayers: 1, seed: 1 });
  // Windows of the cycle 0..7: the next token is always the current one + 1 (mod 8).
  const rows = Array.from({ length: 32 }, (_, i) => Array.from({ length: 9 }, (_, j) => (i + j) % 8));
  const x = ids(rows.map((r) => r.slice(0, 8))),
    y = ids(rows.map((r) => r.slice(1)));
  m.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
  });
  const h = await m.fit(x, y, { epochs: 30, batchSize: 16, verbose: 0, seed: 1 });
  const losses = h.history.loss as number[];
  assert.ok(losses[0] > 1.5 && losses.at(-1)! < 0.2, `loss ${losses[0]} -> ${losses.at(-1)}`);
  assert.deepEqual(generate(m, [2], { maxNewTokens: 6, temperature: 0 }), [3, 4, 5, 6, 7, 0]);
});
