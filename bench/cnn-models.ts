// The bench's MNIST CNN, and its compressed variants (int8, 80% magnitude-pruned, half the filters), built the
// same way for Candor and for onnxruntime-node (which runs Candor's ONNX export of them).
import * as c from '../src/index.js';
import type { CnnVariant, PeerArgs } from './spec.js';

/** conv32 3x3 relu -> maxpool2 -> conv64 3x3 relu -> maxpool2 -> flatten -> dropout -> dense softmax. */
export function cnnModel(a: PeerArgs): c.Model {
  return new c.Sequential([
    c.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [a.cnn.height, a.cnn.width, 1] }),
    c.layers.maxPooling2d({ poolSize: 2 }),
    c.layers.conv2d({ filters: 64, kernelSize: 3, activation: 'relu' }),
    c.layers.maxPooling2d({ poolSize: 2 }),
    c.layers.flatten(),
    c.layers.dropout({ rate: a.cnn.dropout }),
    c.layers.dense({ units: a.cnn.classes, activation: 'softmax' }),
  ]);
}

/** Post-training int8 of `model`, calibrated on random [0, 1) images (timing does not depend on accuracy). */
export function int8Cnn(a: PeerArgs, model: c.Model): c.Model {
  const sample = c.randomUniform([a.compress.calibrationSamples, a.cnn.height, a.cnn.width, 1], { seed: 7 });
  try {
    return c.compress.quantizeModel(model, sample, { method: a.compress.calibration }).model;
  } finally {
    sample.dispose();
  }
}

/**
 * `model` with `a.compress.sparsity` of each kernel's entries (smallest magnitudes) set to zero, stripped to the
 * plain layers: the dense kernels still multiply every zero, which is what this figure shows.
 */
export function prunedCnn(a: PeerArgs, model: c.Model): c.Model {
  const sparsity = a.compress.sparsity;
  const wrapped = c.compress.pruneLowMagnitude(model, {
    pruningSchedule: new c.compress.ConstantSparsity({ targetSparsity: sparsity, beginStep: 0 }),
  });
  for (const w of c.compress.pruningWrappers(wrapped)) w.updateMasks(sparsity);
  return c.compress.stripPruning(wrapped);
}

/** `model` with `a.compress.filterRatio` of every hidden layer's filters removed (the layers shrink). */
export function structuredCnn(a: PeerArgs, model: c.Model): c.Model {
  return c.compress.pruneStructured(model, { ratio: a.compress.filterRatio }).model;
}

/** Each compress-section variant of the float model, by its name in the metric keys (cnnPredict256Int8). */
export const CNN_VARIANTS: Record<CnnVariant, (a: PeerArgs, float: c.Model) => c.Model> = {
  Float: (_a, float) => float,
  Int8: int8Cnn,
  Pruned80: prunedCnn,
  Structured: structuredCnn,
};
