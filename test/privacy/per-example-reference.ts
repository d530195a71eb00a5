// The slow obvious reference for the per-example tests: each example's gradient from its own batch of one
// (built from the host values, not by the engine's slicing), and the clipped sum on the host.
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { mixSeeds } from '../../src/ops/random.js';
import { assertClose, rand } from '../helpers.js';

export type Loss = (preds: c.Tensor[], y: c.Tensor[] | undefined, sw: c.Tensor | undefined) => c.Tensor;

export interface Batch {
  x: c.Tensor[];
  y?: c.Tensor[];
  sampleWeight?: c.Tensor;
}

/** Example i as a batch of one, copied from the host values. */
function row(t: c.Tensor, i: number): c.Tensor {
  const per = t.size / t.shape[0];
  const data = t.dataSync().slice(i * per, (i + 1) * per);
  return c.tensor(data as Float32Array, [1, ...t.shape.slice(1)], t.dtype);
}

/** Per example, per trainable weight: the flat gradient of that example's own loss (valueAndGrads). */
export function loopGradients(
  model: c.Model,
  batch: Batch,
  loss: Loss,
  seedOf: (i: number) => number | undefined = () => undefined,
): Float64Array[][] {
  const n = batch.x[0].shape[0];
  const weights = model.trainableWeights;
  const out: Float64Array[][] = [];
  for (let i = 0; i < n; i++) {
    const x = batch.x.map((t) => row(t, i));
    const y = batch.y?.map((t) => row(t, i));
    const sw = batch.sampleWeight && row(batch.sampleWeight, i);
    const { value, grads } = c.valueAndGrads(() => {
      const p = model.apply(x.length === 1 ? x[0] : x, { training: true, seed: seedOf(i) });
      return loss(Array.isArray(p) ? p : [p], y, sw);
    }, weights);
    out.push(grads.map((g) => Float64Array.from(g.dataSync())));
    c.dispose([value, grads, x, y, sw]);
  }
  return out;
}

export function norm(gs: readonly Float64Array[]): number {
  let s = 0;
  for (const g of gs) for (const v of g) s += v * v;
  return Math.sqrt(s);
}

/** sum_i min(1, C / ||g_i||) g_i, per weight. */
export function clippedSum(per: Float64Array[][], clip: number): Float64Array[] {
  const sums = per[0].map((g) => new Float64Array(g.length));
  for (const gs of per) {
    const f = Math.min(1, clip / norm(gs));
    gs.forEach((g, k) => g.forEach((v, j) => (sums[k][j] += f * v)));
  }
  return sums;
}

/** The per-example tensors [B, ...] of perExampleGradients as per example, per weight, flat. */
export function split(perExample: c.Tensor[], n: number): Float64Array[][] {
  return Array.from({ length: n }, (_, i) =>
    perExample.map((t) => {
      const per = t.size / n;
      return Float64Array.from(t.dataSync().slice(i * per, (i + 1) * per));
    }),
  );
}

const { clippedGradientSum, perExampleGradients } = c.privacy;
export const TOL = { rtol: 2e-4, atol: 2e-5 };

/** The model's compiled loss of the batch it is given. */
export function compiled(model: c.Model, loss: string): Loss {
  model.compile({ optimizer: 'sgd', loss });
  return (preds, y, sw) => model.compiledLoss(y!, preds, sw);
}

export const f32 = (shape: number[], seed: number) => rand(shape, seed, { dtype: 'float32', lo: -1, hi: 1 });

/**
 * Checks perExampleGradients and clippedGradientSum against the loop of batches of one; returns what
 * clippedGradientSum reported (fast / fallback) for the caller's assertions.
 */
export function checkAgainstLoop(
  model: c.Model,
  batch: Batch,
  loss: Loss,
  { seed }: { seed?: number } = {},
): { fast: string[]; fallback: string[] } {
  const n = batch.x[0].shape[0];
  const seedOf = (i: number) => (seed === undefined ? undefined : mixSeeds(seed, i));
  const expected = loopGradients(model, batch, loss, seedOf);
  const before = c.memory().tensors;
  const per = perExampleGradients(model, batch, loss, { seed });
  assert.deepEqual(
    per.map((t) => [...t.shape]),
    model.trainableWeights.map((w) => [n, ...w.shape]),
  );
  const got = split(per, n);
  got.forEach((gs, i) => gs.forEach((g, k) => assertClose(g, expected[i][k], TOL, `example ${i} weight ${k}`)));
  c.dispose(per);
  const norms = expected.map(norm);
  let report = { fast: [] as string[], fallback: [] as string[] };
  // C below every norm, between them, and above them all.
  for (const clip of [Math.min(...norms) / 2, (Math.min(...norms) + Math.max(...norms)) / 2, Math.max(...norms) * 2]) {
    const r = clippedGradientSum(model, batch, loss, { l2NormClip: clip, seed });
    assertClose(r.norms, norms, TOL, 'norms');
    const sums = clippedSum(expected, clip);
    r.grads.forEach((g, k) => assertClose(g, sums[k], TOL, `clipped sum (C = ${clip}) of weight ${k}`));
    assert.equal(r.preds[0].shape[0], n);
    if (seed === undefined) {
      const lossValue = c.tidy(() => loss(r.preds, batch.y, batch.sampleWeight).item());
      assert.ok(Math.abs(r.loss - lossValue) <= 1e-5 * Math.max(1, Math.abs(lossValue)), `loss ${r.loss}`);
    }
    report = { fast: r.fast, fallback: r.fallback };
    c.dispose([r.grads, r.preds]);
  }
  assert.equal(c.memory().tensors, before, 'every tensor a step makes is freed');
  return report;
}
