// Quantisation-aware training on real data: an MLP trained float on 3,000 MNIST digits, fine-tuned with QAT for an
// epoch at a low learning rate and converted to int8, keeps the float model's test accuracy (within a point).
import '../config-dir.js';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sequential, Tensor, argmax, datasets, layers, optimizers, sliceAxis } from '../../src/index.js';
import type { Model } from '../../src/train/model.js';
import { convertQat, quantizeAware } from '../../src/compress/index.js';

/** Test accuracy of a model's predictions, in percent. */
function accuracy(model: Model, x: Tensor, y: Tensor): number {
  const predicted = argmax(model.predict(x, { batchSize: 250 }) as Tensor, -1).dataSync();
  const labels = y.dataSync();
  return (100 * predicted.filter((p, i) => p === labels[i]).length) / labels.length;
}

describe('QAT on MNIST', () => {
  test('float, QAT fine-tuning and int8 conversion: the int8 model is within a point of float', async () => {
    const { train, test: held } = await datasets.mnist();
    const [x, y] = [sliceAxis(train.x, 0, 0, 3000), sliceAxis(train.y, 0, 0, 3000)];
    const [xt, yt] = [sliceAxis(held.x, 0, 0, 1000), sliceAxis(held.y, 0, 0, 1000)];
    const float = new Sequential([
      layers.dense({ units: 32, activation: 'relu', inputShape: [784] }),
      layers.dense({ units: 10, activation: 'softmax' }),
    ]);
    float.compile({ optimizer: optimizers.adam({ learningRate: 0.003 }), loss: 'sparseCategoricalCrossentropy' });
    await float.fit(x, y, { epochs: 2, batchSize: 32, seed: 1, verbose: 0 });
    const floatAccuracy = accuracy(float, xt, yt);

    const qat = quantizeAware(float);
    qat.compile({ optimizer: optimizers.adam({ learningRate: 0.0003 }), loss: 'sparseCategoricalCrossentropy' });
    await qat.fit(x, y, { epochs: 1, batchSize: 32, seed: 2, verbose: 0 });
    const { model: int8 } = convertQat(qat);
    const int8Accuracy = accuracy(int8, xt, yt);
    assert.ok(floatAccuracy > 85, `float accuracy ${floatAccuracy}`);
    assert.ok(Math.abs(int8Accuracy - floatAccuracy) <= 1, `float ${floatAccuracy}%, int8 after QAT ${int8Accuracy}%`);
    // The int8 model predicts what the fake-quantised one does (up to float rounding).
    assert.ok(Math.abs(accuracy(qat, xt, yt) - int8Accuracy) <= 0.2);
  });
});
