// Shared by the PyTorch parity tests: reading the committed JSON fixtures (tools/torch-fixtures.py,
// tools/torch-conv-fixtures.py), installing their weights, taking gradients and comparing within 1e-5.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor, copy, grad, tensor } from '../../src/index.js';
import type { Layer } from '../../src/nn/layer.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'torch');
export const TOLERANCE = 1e-5;

export interface Arr {
  shape: number[];
  data: number[];
}
export interface Fixture {
  layer: string;
  config: Record<string, unknown>;
  inputs: Record<string, Arr>;
  attentionMask?: { shape: number[]; data: boolean[] } | null;
  weights: Record<string, Arr>;
  outputs: Record<string, Arr>;
  projections: Record<string, Arr>;
  grads: Record<string, Arr>;
}

export const load = (name: string) => JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Fixture;
export const t64 = (a: Arr) => tensor(Float64Array.from(a.data), a.shape, 'float64');

/** Largest |actual - expected|, after checking the shapes agree. */
export function maxAbsError(actual: Tensor, expected: Arr, what: string): number {
  assert.deepEqual([...actual.shape], expected.shape, `${what}: shape`);
  const a = actual.dataSync();
  return expected.data.reduce((m, e, i) => Math.max(m, Math.abs(a[i] - e)), 0);
}

/** Asserts each quantity's worst error is within TOLERANCE; reports the worst of all as a test diagnostic. */
export function checkAll(t: TestContext, errors: Record<string, number>): void {
  for (const [what, err] of Object.entries(errors))
    assert.ok(err <= TOLERANCE, `${what}: max abs error ${err} > ${TOLERANCE}`);
  const [what, worst] = Object.entries(errors).reduce((a, b) => (b[1] > a[1] ? b : a));
  t.diagnostic(`max abs error vs torch ${worst.toExponential(2)} (${what})`);
}

/**
 * Gradients of `loss` w.r.t. the named inputs and every weight. The layer reads its variables, so the
 * traced function installs the differentiated weight arguments as (recorded) copies, as the harness does.
 */
export function gradients(
  layer: Layer,
  inputs: Record<string, Tensor>,
  loss: (inputs: Record<string, Tensor>) => Tensor,
): Record<string, Tensor> {
  const names = Object.keys(inputs);
  const vars = layer.weights;
  const args = [...names.map((n) => inputs[n]), ...vars.map((v) => v.value.clone())];
  const f = (xs: Tensor[]) => {
    vars.forEach((v, i) => v.assign(copy(xs[names.length + i])));
    return loss(Object.fromEntries(names.map((n, i) => [n, xs[i]])));
  };
  const gs = grad(f)(args);
  const short = (v: { name: string }) => v.name.slice(layer.name.length + 1);
  return Object.fromEntries([
    ...names.map((n, i) => [n, gs[i]]),
    ...vars.map((v, i) => [short(v), gs[names.length + i]]),
  ]);
}

/** The fixture's weights in the layer's weight order (by Keras name). */
export function setFixtureWeights(layer: Layer, f: Fixture): void {
  const names = layer.weights.map((v) => v.name.slice(layer.name.length + 1));
  assert.deepEqual(names.sort(), Object.keys(f.weights).sort(), 'weight names');
  layer.setWeights(layer.weights.map((v) => t64(f.weights[v.name.slice(layer.name.length + 1)])));
}
