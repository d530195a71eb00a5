// Per-example losses of a compiled model, and the logit-scaled confidence that the calibrated
// membership attack models: what an attacker who can query the model sees of each example.
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { dispose, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import { grad } from '../autograd/grad.js';
import * as o from '../ops/index.js';
import type { Model } from '../train/model.js';
import { asList } from '../train/epoch-iterator.js';

/** Inputs and labels of some examples: one tensor or a list (one per model input / output), samples first. */
export interface Examples {
  x: Tensor | Tensor[];
  y: Tensor | Tensor[];
}

/** The number of samples in `data`, checked to agree across every tensor; `what` names it in errors. */
export function sampleCount(op: string, what: string, data: Examples): number {
  if (typeof data !== 'object' || data === null || data.x === undefined || data.y === undefined)
    throw new ArgumentError(`${op}: ${what} must be { x, y } tensors`);
  const tensors = [...asList(data.x).map((t) => ['x', t] as const), ...asList(data.y).map((t) => ['y', t] as const)];
  let n: number | undefined;
  for (const [role, t] of tensors) {
    if (typeof t !== 'object' || t === null || !('shape' in t))
      throw new ArgumentError(`${op}: ${what}.${role} must be a Tensor (or a list of them)`);
    if (t.shape.length === 0) throw new ShapeError(`${op}: ${what}.${role} is a scalar; expected samples first`);
    if (n !== undefined && t.shape[0] !== n)
      throw new ShapeError(
        `${op}: ${what}.${role} has ${t.shape[0]} samples (shape ${fmtShape(t.shape)}) but ${what}.x has ${n}`,
      );
    n ??= t.shape[0];
  }
  if (!n) throw new ArgumentError(`${op}: ${what} holds no samples`);
  return n;
}

/** The rows `index` of every tensor in `data`. */
export function takeExamples(data: Examples, index: readonly number[]): Examples {
  const idx = o.tensor(Int32Array.from(index), [index.length], 'int32');
  const take = (ts: Tensor | Tensor[]) =>
    Array.isArray(ts) ? ts.map((t) => o.gather(t, idx, 0)) : o.gather(ts, idx, 0);
  const out = { x: take(data.x), y: take(data.y) };
  idx.dispose();
  return out;
}

/** `a` followed by `b`, tensor by tensor. */
export function concatExamples(a: Examples, b: Examples): Examples {
  const cat = (p: Tensor | Tensor[], q: Tensor | Tensor[]) => {
    const [ps, qs] = [asList(p), asList(q)];
    if (ps.length !== qs.length)
      throw new ArgumentError(`membershipAudit: the example sets hold ${ps.length} and ${qs.length} tensors`);
    const out = ps.map((t, i) => o.concat([t, qs[i]], 0));
    return Array.isArray(p) ? out : out[0];
  };
  return { x: cat(a.x, b.x), y: cat(a.y, b.y) };
}

/**
 * The loss of each example under the model's compiled loss (all outputs, with their loss weights), in
 * inference mode, `batchSize` examples per forward pass. The compiled loss is linear in the sample
 * weights, L(w) = sum_i w_i l_i / N, so the per-example losses are N times its gradient with respect to
 * w at w = 1: one backward pass through the loss alone, whatever the loss (built-in or custom, logits
 * path included).
 */
export function perExampleLoss(model: Model, data: Examples, batchSize = 256): Float64Array {
  const n = sampleCount('perExampleLoss', 'data', data);
  const out = new Float64Array(n);
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const rows = Array.from({ length: b }, (_, i) => start + i);
    const [losses, mean] = tidy(() => {
      const batch = takeExamples(data, rows);
      const pred = noGrad(() => model.apply(batch.x, { training: false })) as Tensor | Tensor[];
      // Unweighted first, so that errors in the labels surface as they are.
      const plain = model.compiledLoss(batch.y, pred);
      const weighted = (w: Tensor) => {
        try {
          return model.compiledLoss(batch.y, pred, w);
        } catch (e) {
          if (!(e instanceof ShapeError)) throw e;
          throw new ShapeError(
            `perExampleLoss: the compiled loss of model '${model.name}' must give one loss per example ` +
              `(a custom loss must not reduce over the batch): ${e.message}`,
          );
        }
      };
      return [o.mul(grad(weighted)(o.ones([b], 'float32')), b), plain];
    });
    out.set(losses.dataSync(), start);
    // The losses must average to the batch loss; a loss that is not linear in the sample weights would not.
    const want = mean.item();
    let avg = 0;
    for (let i = start; i < start + b; i++) avg += out[i] / b;
    dispose([losses, mean]);
    if (!(Math.abs(avg - want) <= 1e-4 * Math.max(1, Math.abs(want))) && Number.isFinite(want))
      throw new ArgumentError(
        `perExampleLoss: the per-example losses of model '${model.name}' average ${avg} but its compiled loss ` +
          `is ${want}; the loss does not weigh examples linearly by sampleWeight, so it cannot be split per example`,
      );
  }
  for (let i = 0; i < n; i++)
    if (Number.isNaN(out[i])) throw new ArgumentError(`perExampleLoss: the loss of example ${i} is NaN`);
  return out;
}

/** 1 - p below this is beyond float32 resolution, so losses are floored here: phi is at most about 16.6. */
const LOSS_FLOOR = 2 ** -24;

/**
 * The logit-scaled confidence phi = log(p / (1 - p)) of the true label, from the per-example loss l:
 * for the cross-entropy losses p = exp(-l), so phi = -l - log(1 - exp(-l)), computed in float64. For
 * other losses it is a decreasing function of the loss, which the attack's Gaussians model as well.
 */
export function logitConfidence(losses: ArrayLike<number>): Float64Array {
  return Float64Array.from(losses, (l) => {
    const x = Math.max(l, LOSS_FLOOR);
    return -x - Math.log(-Math.expm1(-x));
  });
}
