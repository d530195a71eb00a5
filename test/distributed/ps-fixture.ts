// The parameter-server tests' small problem, shared by the program run under mpirun and the in-process reference:
// a 6-8-3 MLP with Adam and a fixed stream of 8-row batches, and one training step through valueAndGrads.
import * as c from '../../src/index.js';

export const STEPS = 20;
/** Rows of each global batch, and the first worker's part of it (the second takes the rest). */
export const BATCH = 8;
export const FIRST = 5;

/** A deterministic float in [-1, 1) for (i, salt). */
function value(i: number, salt: number): number {
  const s = Math.sin(i * 12.9898 + salt * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

/** One step: the mean cross-entropy's gradients over (x, y), handed to `apply`; returns the loss. */
export function step(model: c.Sequential, x: c.Tensor, y: c.Tensor, apply: (grads: c.Tensor[]) => void): number {
  return c.tidy(() => {
    const { value: loss, grads } = c.valueAndGrads(
      () => c.losses.sparseCategoricalCrossentropy({ fromLogits: true })(y, model.apply(x) as c.Tensor),
      model.trainableWeights,
    );
    apply(grads);
    return loss.item();
  });
}

/** The model (weights drawn with `seed`), its optimizer, and rows [from, to) of global batch t. */
export function problem(seed: number) {
  c.setSeed(seed);
  const model = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'relu', inputShape: [6] }),
    c.layers.dense({ units: 3 }),
  ]);
  model.build([null, 6]);
  const optimizer = c.optimizers.adam({ learningRate: 0.01 });
  const n = STEPS * BATCH;
  const X = c.tensor(Array.from({ length: n }, (_, i) => Array.from({ length: 6 }, (_, k) => value(i * 6 + k, 1))));
  const Y = c.tensor(
    Array.from({ length: n }, (_, i) => (value(i, 2) > 0 ? (i % 2) + 1 : 0)),
    [n],
    'int32',
  );
  const rows = (t: number, from: number, to: number) => ({
    x: c.sliceAxis(X, 0, BATCH * t + from, BATCH * t + to),
    y: c.sliceAxis(Y, 0, BATCH * t + from, BATCH * t + to),
  });
  return { model, optimizer, rows, dispose: () => (model.dispose(), c.dispose([X, Y])) };
}

export const weightsOf = (model: c.Sequential): number[][] =>
  model.trainableWeights.map((w) => [...(w.value.dataSync() as Float32Array)]);

/** One process, the whole global batch each step: what the synchronous parameter server must reproduce. */
export function reference(): number[][] {
  const { model, optimizer, rows, dispose } = problem(1);
  for (let t = 0; t < STEPS; t++) {
    const { x, y } = rows(t, 0, BATCH);
    step(model, x, y, (grads) => optimizer.applyGradients(grads, model.trainableWeights));
    c.dispose([x, y]);
  }
  const weights = weightsOf(model);
  optimizer.dispose();
  dispose();
  return weights;
}
