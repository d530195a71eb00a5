// Tests BatchNormalization: the harness (inference and training-mode gradients), batch statistics in
// training, the Keras moving-average update, moving statistics at inference, frozen layers, other axes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ShapeError, Tensor, add, div, mean, mul, reshape, sqrt, sub, tensor, variance } from '../../src/index.js';
import { SymbolicTensor } from '../../src/nn/layer.js';
import { BatchNormalization } from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand } from '../helpers.js';

const TIGHT = { rtol: 1e-10, atol: 1e-12 };

describe('BatchNormalization through the harness', () => {
  const bn = () => new BatchNormalization({ gammaInitializer: 'randomNormal', betaInitializer: 'randomNormal' });
  test('inference mode', () =>
    runLayerTest({
      make: bn,
      inputShape: [4, 3],
      expectedOutputShape: [4, 3],
      expectedWeights: { trainable: 2, nonTrainable: 2 },
    }));
  test('training mode (gradients through the batch statistics)', () =>
    runLayerTest({ make: bn, inputShape: [4, 2, 2], expectedOutputShape: [4, 2, 2], gradTraining: true }));
  test('axis 1, no center', () =>
    runLayerTest({
      make: () => new BatchNormalization({ axis: 1, center: false }),
      inputShape: [2, 3, 2],
      expectedOutputShape: [2, 3, 2],
      expectedWeights: { trainable: 1, nonTrainable: 2 },
      gradTraining: true,
    }));
});

describe('BatchNormalization', () => {
  test('training normalizes with the batch statistics (population variance)', () => {
    const layer = new BatchNormalization({ dtype: 'float64' });
    const x = rand([6, 3], 1, { lo: -3, hi: 5 });
    const y = layer.apply(x, { training: true }) as Tensor;
    const m = mean(x, 0, true),
      v = variance(x, 0, true);
    assertClose(y, div(sub(x, m), sqrt(add(v, 0.001))), TIGHT);
  });

  test('moving statistics follow moving = moving * momentum + batch * (1 - momentum)', () => {
    const layer = new BatchNormalization({ momentum: 0.9, dtype: 'float64' });
    let mm = [0, 0, 0],
      mv = [1, 1, 1];
    for (const seed of [1, 2, 3]) {
      const x = rand([5, 3], seed);
      layer.apply(x, { training: true });
      const bm = flat(mean(x, 0)),
        bv = flat(variance(x, 0));
      mm = mm.map((m, i) => m * 0.9 + bm[i] * 0.1);
      mv = mv.map((m, i) => m * 0.9 + bv[i] * 0.1);
      assertClose(layer.movingMean!.value, mm, TIGHT, 'moving mean');
      assertClose(layer.movingVariance!.value, mv, TIGHT, 'moving variance');
    }
    assert.deepEqual(layer.nonTrainableWeights, [layer.movingMean, layer.movingVariance]);
    assert.deepEqual(layer.trainableWeights, [layer.gamma, layer.beta]);
  });

  test('inference uses the moving statistics, gamma and beta, and updates nothing', () => {
    const layer = new BatchNormalization({ epsilon: 0.01, dtype: 'float64' });
    const x = rand([4, 2], 3);
    layer.apply(x);
    const gamma = tensor([2, 3], [2], 'float64'),
      beta = tensor([0.5, -1], [2], 'float64');
    const mm = tensor([0.1, -0.2], [2], 'float64'),
      mv = tensor([4, 0.25], [2], 'float64');
    layer.setWeights([gamma, beta, mm, mv]);
    const y = layer.apply(x, { training: false }) as Tensor;
    assertClose(y, add(mul(div(sub(x, mm), sqrt(add(mv, 0.01))), gamma), beta), TIGHT);
    assertClose(layer.movingMean!.value, mm, TIGHT);
  });

  test('a frozen layer (trainable = false) runs in inference mode even when training', () => {
    const layer = new BatchNormalization({ dtype: 'float64' });
    const x = rand([4, 2], 4);
    const inference = layer.apply(x) as Tensor;
    layer.trainable = false;
    assertClose(layer.apply(x, { training: true }) as Tensor, inference, TIGHT);
    assert.deepEqual(flat(layer.movingMean!.value), [0, 0]);
  });

  test('axis 1 of [N, C, H, W] keeps per-channel statistics', () => {
    const layer = new BatchNormalization({ axis: 1, dtype: 'float64' });
    const x = rand([2, 3, 2, 2], 5);
    const y = layer.apply(x, { training: true }) as Tensor;
    assert.deepEqual([...layer.gamma!.shape], [3]);
    const m = mean(x, [0, 2, 3], true),
      v = variance(x, [0, 2, 3], true);
    assertClose(y, div(sub(x, m), sqrt(add(v, 0.001))), TIGHT);
    assertClose(layer.movingMean!.value, mul(reshape(m, [3]), 0.01), TIGHT);
  });

  test('errors name the layer: wrong feature count, bad axis, unknown feature size', () => {
    const layer = new BatchNormalization({ name: 'bn' });
    layer.apply(tensor([[1, 2, 3]]));
    assert.throws(
      () => layer.apply(tensor([[1, 2, 3, 4]])),
      (e: Error) =>
        e instanceof ShapeError &&
        e.message === "BatchNormalization 'bn' expects input (None, 3), got (1, 4): axis -1 must have 3 features",
    );
    assert.throws(
      () => new BatchNormalization({ axis: 3 }).apply(tensor([[1, 2]])),
      (e: Error) => e instanceof ShapeError && /axis 3 is out of range/.test(e.message),
    );
    assert.throws(
      () => new BatchNormalization().apply(new SymbolicTensor([null, null], 'float32', 'x')),
      (e: Error) => e instanceof ShapeError && /must be known/.test(e.message),
    );
    assert.throws(() => new BatchNormalization({ momentum: 2 }), /momentum/);
  });
});
