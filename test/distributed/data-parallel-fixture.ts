// The model and data of the data-parallel equivalence (test/distributed/data-parallel.test.ts and its mpirun
// program): a small float32 MLP with seeded weights, and seeded samples every rank makes alike.
import * as c from '../../src/index.js';
import { rand } from '../helpers.js';

export const EPOCHS = 4;
export const SEED = 5;

/** The MLP, its initial weights from `weightSeed`, compiled with Adam (see the test for why Adam is fine). */
export function fixtureModel(weightSeed: number): c.Model {
  c.setSeed(weightSeed);
  const model = new c.Sequential([
    new c.Dense({ units: 8, activation: 'tanh', inputShape: [4] }),
    new c.Dense({ units: 6, activation: 'relu' }),
    new c.Dense({ units: 3 }),
  ]);
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.01 }), loss: 'mse', metrics: ['mae'] });
  return model;
}

/** `samples` rows of inputs and targets, the same in every process. */
export function fixtureData(samples: number): { x: c.Tensor; y: c.Tensor } {
  return { x: rand([samples, 4], 21), y: rand([samples, 3], 22) };
}

/** What a run reports: every weight's values and the per-epoch logs. */
export function summary(
  model: c.Model,
  history: c.History,
): { weights: number[][]; history: Record<string, number[]> } {
  return {
    weights: model.getWeights().map((w) => Array.from(w.dataSync())),
    history: Object.fromEntries(['loss', 'mae'].map((k) => [k, history.history[k]])),
  };
}
