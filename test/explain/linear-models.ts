// Linear models with fixed weights for the perturbation-method tests: f(x) = w . x + b over any sample shape,
// and a token model whose score is a sum of one number per token id.
import * as c from '../../src/index.js';

/** Flatten then Dense(1): f(x) = w . x + b, with w the sample's elements row-major. */
export function linearModel(shape: number[], w: number[], b: number): c.Sequential {
  const size = shape.reduce((p, q) => p * q, 1);
  const layers = shape.length > 1 ? [c.layers.flatten({ inputShape: shape }), c.layers.dense({ units: 1 })] : [];
  const model = new c.Sequential(layers.length ? layers : [c.layers.dense({ units: 1, inputShape: shape })]);
  model.build([null, ...shape]);
  const [kernel, bias] = model.weights;
  kernel.assign(c.tensor(w, [size, 1]));
  bias.assign(c.tensor([b], [1]));
  return model;
}

/** f(tokens) = b + sum_t v[t] * e[tokens[t]]: Embedding(vocab, 1), Flatten, Dense(1). */
export function tokenModel(e: number[], v: number[], b: number): c.Sequential {
  const model = new c.Sequential([
    c.layers.embedding({ inputDim: e.length, outputDim: 1, inputShape: [v.length] }),
    c.layers.flatten(),
    c.layers.dense({ units: 1 }),
  ]);
  model.build([null, v.length]);
  const [embeddings, kernel, bias] = model.weights;
  embeddings.assign(c.tensor(e, [e.length, 1]));
  kernel.assign(c.tensor(v, [v.length, 1]));
  bias.assign(c.tensor([b], [1]));
  return model;
}

/** The token model's score, by hand. */
export const tokenScore = (tokens: number[], e: number[], v: number[], b: number): number =>
  tokens.reduce((s, t, i) => s + v[i] * e[t], b);
