// The native backend's adapters for the training-step fusions (src/ops/train-fused.ts): argument
// unpacking only; the addon checks every extent.
import type { Kernel, KernelArg } from '../backend.js';
import type { TypedArray } from '../../tensor/dtype.js';
import { sizeOf } from '../../tensor/shape.js';
import { ArgumentError } from '../../errors.js';
import type { FusedParams } from '../../ops/fused-params.js';
import type { NativeAddon } from './addon.js';

const buf = (a: KernelArg) => a.buffer as TypedArray;

export function trainStepKernels(addon: NativeAddon) {
  const act = new Map(addon.activations.map((name, i) => [name, i]));
  const hyper = new Float64Array(8);

  /** Runs sparseSoftmaxCrossEntropy forward (dy undefined) or backward. */
  const crossEntropy = (logits: KernelArg, labels: KernelArg, dy: KernelArg | undefined, o: KernelArg) => {
    const cols = logits.shape[logits.shape.length - 1],
      rows = sizeOf(labels.shape);
    const bad = addon.sparseSoftmaxCrossEntropy(
      buf(logits),
      logits.offset,
      buf(labels),
      labels.offset,
      dy ? buf(dy) : null,
      dy?.offset ?? 0,
      buf(o),
      rows,
      cols,
    );
    if (bad >= 0)
      throw new ArgumentError(
        `sparseSoftmaxCrossEntropy: label ${buf(labels)[labels.offset + bad]} at index ${bad} is not a class index in [0, ${cols})`,
      );
  };

  /** Every parameter, gradient and slot in one call; out is [params'..., slots'...]. */
  const step = (kind: number, inputs: readonly KernelArg[], o: KernelArg, groups: number) => {
    const count = inputs.length / groups;
    const sizes = Float64Array.from(inputs.slice(0, count), (a) => sizeOf(a.shape));
    addon.optimizerStep(
      kind,
      inputs.map(buf),
      Float64Array.from(inputs, (a) => a.offset),
      sizes,
      buf(o),
      hyper,
    );
  };

  const layerNorm = (grad: boolean, x: KernelArg, g: KernelArg, third: KernelArg, o: KernelArg, epsilon: number) => {
    const cols = g.shape[0];
    addon.layerNorm(
      grad,
      buf(x),
      x.offset,
      buf(g),
      g.offset,
      buf(third),
      third.offset,
      buf(o),
      cols ? sizeOf(x.shape) / cols : 0,
      cols,
      epsilon,
    );
  };

  return {
    biasActivation: (([z, b], o, { activation }) => {
      const cols = b.shape[0];
      addon.biasActivation(
        act.get(activation)!,
        buf(z),
        z.offset,
        buf(b),
        b.offset,
        buf(o),
        cols ? sizeOf(z.shape) / cols : 0,
        cols,
      );
    }) satisfies Kernel<FusedParams['biasActivation']>,
    activationGrad: (([dy, y], o, { activation }) =>
      addon.activationGrad(act.get(activation)!, buf(dy), dy.offset, buf(y), y.offset, buf(o))) satisfies Kernel<
      FusedParams['activationGrad']
    >,
    sparseSoftmaxCrossEntropy: (([logits, labels], o) => crossEntropy(logits, labels, undefined, o)) satisfies Kernel<
      FusedParams['sparseSoftmaxCrossEntropy']
    >,
    sparseSoftmaxCrossEntropyGrad: (([logits, labels, dy], o) => crossEntropy(logits, labels, dy, o)) satisfies Kernel<
      FusedParams['sparseSoftmaxCrossEntropyGrad']
    >,
    adamStep: ((inputs, o, h) => {
      hyper.set([h.lr, h.weightDecay, h.beta1, h.beta2, h.epsilon, h.alpha, 0, 0]);
      step(0, inputs, o, 4);
    }) satisfies Kernel<FusedParams['adamStep']>,
    layerNorm: (([x, g, b], o, { epsilon }) => layerNorm(false, x, g, b, o, epsilon)) satisfies Kernel<
      FusedParams['layerNorm']
    >,
    layerNormGrad: (([x, g, dy], o, { epsilon }) => layerNorm(true, x, g, dy, o, epsilon)) satisfies Kernel<
      FusedParams['layerNormGrad']
    >,
    dropout: (([x], o, { seed, counter, rate }) =>
      addon.dropout(buf(x), x.offset, buf(o), seed, counter, 1 - rate, 1 / (1 - rate))) satisfies Kernel<
      FusedParams['dropout']
    >,
    sgdStep: ((inputs, o, h) => {
      hyper.set([h.lr, h.weightDecay, 0, 0, 0, 0, h.momentum, h.nesterov ? 1 : 0]);
      step(1, inputs, o, h.momentum !== 0 ? 3 : 2);
    }) satisfies Kernel<FusedParams['sgdStep']>,
  };
}
