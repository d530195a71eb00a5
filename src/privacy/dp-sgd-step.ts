// One DP-SGD training step: per-example clipped gradient sum, Gaussian noise, division by the expected batch
// size, then the optimizer's ordinary applyGradients (the noise is a gradient transformation before any update).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import * as o from '../ops/index.js';
import { valueAndGrads } from '../autograd/grad.js';
import { withPhase } from '../autograd/annotations.js';
import type { StepBatch } from '../train/epoch-iterator.js';
import { clippedGradientSum } from './per-example/index.js';
import type { PrivateStepArgs } from '../train/private-training.js';
import type { DpSgd } from './dp-sgd.js';

/**
 * Takes one private step on `batch` (which may be empty under Poisson sampling: the step still adds noise,
 * updates and counts). Returns the batch's mean loss (NaN when empty) and its predictions, which the caller
 * scores and frees. Gradients of data-independent losses (weight regularizers, addLoss(() => ...)) are added
 * after the noise; loss tensors added in call() depend on the data and cannot be clipped per example, so a
 * model that adds them is refused before any update.
 */
export function dpSgdStep(dp: DpSgd, batch: StepBatch, args: PrivateStepArgs): { loss: number; preds: Tensor[] } {
  const { model, weights, optimizer } = args;
  const { x, y, sampleWeight } = batch;
  const n = x[0].shape[0];
  let sums: Tensor[];
  let loss = NaN;
  let preds: Tensor[] = [];
  if (n === 0) sums = weights.map((w) => o.zerosLike(w.value));
  else {
    const r = withPhase('backward', () =>
      clippedGradientSum(model, { x: x as Tensor[], y, sampleWeight }, args.loss, {
        l2NormClip: dp.plan.l2NormClip,
        seed: args.stepSeed,
      }),
    );
    ({ grads: sums, loss, preds } = r);
    dp.perExampleGradients ??= { fast: r.fast, fallback: r.fallback };
    if (model.hasCallLosses) {
      dispose([...sums, ...preds]);
      throw new ArgumentError(
        `fit: model '${model.name}' adds losses in call() (addLoss with a tensor, e.g. an activity ` +
          'regularizer); they depend on the batch and cannot be clipped per example, so DP-SGD cannot train ' +
          'on them: put the term in the compiled loss, or regularize the weights instead',
      );
    }
  }
  try {
    const grads = tidy(() => {
      const noisy = dp.privatize(sums);
      // (Checked without computing the penalties, which the gradient below computes once.)
      if (!model.hasWeightLosses) return noisy;
      // Data-independent: differentiated once and added after the noise, as Opacus does for weight decay.
      const { value, grads: reg } = valueAndGrads(() => {
        const terms = model.weightLosses.map((t) => (t.rank === 0 ? t : o.sum(t)));
        return terms.reduce((a, b) => o.add(a, b));
      }, weights);
      if (!Number.isNaN(loss)) loss += value.item();
      return noisy.map((g, i) => o.add(g, reg[i]));
    });
    try {
      withPhase('optimizer', () => optimizer.applyGradients(grads, weights));
    } finally {
      dispose(grads);
    }
    dp.account();
    return { loss, preds };
  } catch (e) {
    dispose(preds);
    throw e;
  } finally {
    dispose(sums);
  }
}
