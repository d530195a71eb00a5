// The parameter-server tests' small problem, shared by the program run under mpirun and the in-process reference:
// a 6-6-8-3 MLP (the first layer frozen) compiled with Adam and SAMPLES seeded rows, whose last global batch splits
// unevenly between workers.
import * as c from '../../src/index.js';

/** 37 rows at 4 per worker and 2 workers: 5 global batches an epoch, the last 5 rows (3 + 2 between the workers). */
export const SAMPLES = 37;
export const EPOCHS = 4;
export const SEED = 5;

/** A deterministic float in [-1, 1) for (i, salt). */
function value(i: number, salt: number): number {
  const s = Math.sin(i * 12.9898 + salt * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

/** The compiled model (weights drawn with `weightSeed`) and the data, the same in every process. */
export function problem(weightSeed: number) {
  c.setSeed(weightSeed);
  const model = new c.Sequential([
    // Frozen: its weights are non-trainable, which stay on the workers (rank 0's copied to the others at begin).
    c.layers.dense({ units: 6, activation: 'tanh', inputShape: [6], trainable: false }),
    c.layers.dense({ units: 8, activation: 'relu' }),
    c.layers.dense({ units: 3 }),
  ]);
  model.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: c.losses.sparseCategoricalCrossentropy({ fromLogits: true }),
  });
  const x = c.tensor(
    Array.from({ length: SAMPLES }, (_, i) => Array.from({ length: 6 }, (_, k) => value(i * 6 + k, 1))),
  );
  const y = c.tensor(
    Array.from({ length: SAMPLES }, (_, i) => (value(i, 2) > 0 ? (i % 2) + 1 : 0)),
    [SAMPLES],
    'int32',
  );
  return { model, x, y, dispose: () => (model.dispose(), c.dispose([x, y])) };
}

/** Every weight's values, trainable and not. */
export const weightsOf = (model: c.Model): number[][] =>
  model.weights.map((w) => [...(w.value.dataSync() as Float32Array)]);

/** One process's fit with the global batch: what fit under the synchronous parameter server must reproduce. */
export async function reference(batchSize: number): Promise<number[][]> {
  const { model, x, y, dispose } = problem(1);
  await model.fit(x, y, { epochs: EPOCHS, batchSize, seed: SEED, verbose: 0, record: false });
  const weights = weightsOf(model);
  dispose();
  return weights;
}
