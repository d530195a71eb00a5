// Tests quantizeModel on Sequential and functional models: the int8 model predicts like the float one, the report
// says what was done, the model saves and loads predicting bit-identically, and the MNIST CNN's weights file is
// about a quarter of the float one.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, Model, Sequential, ShapeError, input, loadModel, tidy, type Tensor } from '../../src/index.js';
import { BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D } from '../../src/nn/layers/index.js';
import { QuantizedConv2D, QuantizedDense, quantizeModel } from '../../src/compress/index.js';
import { rand } from '../helpers.js';

/** The Keras MNIST CNN of examples/common.ts (same shapes), with or without an input size that is not 28. */
function mnistCnn(side = 28): Sequential {
  return new Sequential([
    new Conv2D({ filters: 32, kernelSize: 3, activation: 'relu', inputShape: [side, side, 1] }),
    new MaxPooling2D({ poolSize: 2 }),
    new Conv2D({ filters: 64, kernelSize: 3, activation: 'relu' }),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dropout({ rate: 0.5 }),
    new Dense({ units: 10, activation: 'softmax' }),
  ]);
}

const argmax = (t: Tensor): number[] => {
  const d = t.dataSync(),
    k = t.shape[1];
  return Array.from({ length: t.shape[0] }, (_, i) => {
    let best = 0;
    for (let j = 1; j < k; j++) if (d[i * k + j] > d[i * k + best]) best = j;
    return best;
  });
};

describe('quantizeModel', () => {
  test('Sequential MNIST CNN: int8 layers, a report, predictions close to float, a quarter of the bytes', () =>
    tidy(() => {
      const model = mnistCnn();
      const x = rand([64, 28, 28, 1], 3, { dtype: 'float32', lo: 0, hi: 1 });
      const want = model.predict(x) as Tensor;
      const { model: q, report } = quantizeModel(model, x, { method: 'minmax' });
      assert.deepEqual(
        q.layers.map((l) => l.className),
        ['QuantizedConv2D', 'MaxPooling2D', 'QuantizedConv2D', 'MaxPooling2D', 'Flatten', 'Dropout', 'QuantizedDense'],
      );
      assert.deepEqual(
        q.layers.map((l) => l.name),
        model.layers.map((l) => l.name),
      );
      assert.equal(report.method, 'minmax');
      assert.equal(report.calibrationSamples, 64);
      assert.deepEqual(
        report.quantized.map((r) => [r.layer, r.className, r.quantizedClassName, r.weightBits, r.activationBits]),
        model.layers
          .filter((l) => l.weights.length > 0)
          .map((l) => [l.name, l.className, `Quantized${l.className}`, 8, 8]),
      );
      assert.deepEqual(report.float, []);
      const first = report.quantized[0];
      assert.deepEqual(first.inputRange, first.observedRange); // minmax
      assert.ok(first.inputRange.min >= 0 && first.inputRange.max < 1);
      assert.equal(first.inputZeroPoint, 0);
      assert.equal(first.inputScale, Math.fround(first.inputRange.max / 255));
      assert.equal(first.paramBytesBefore, (288 + 32) * 4);
      assert.equal(first.paramBytesAfter, 288 + 32 * 4 * 2);
      // Parameters: 34,826 floats before; after, int8 kernels plus float32 scales and biases.
      assert.equal(report.bytes.parametersBefore, 34_826 * 4);
      assert.equal(report.bytes.parametersAfter, 288 + 18_432 + 16_000 + (32 + 64 + 10) * 8);
      const ratio = report.bytes.weightsFileAfter / report.bytes.weightsFileBefore;
      assert.ok(ratio <= 0.27, `weights file ratio ${ratio}`);
      const got = q.predict(x) as Tensor;
      const g = got.dataSync(),
        w = want.dataSync();
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      assert.ok(worst < 0.02, `softmax outputs differ by up to ${worst}`);
      assert.ok(worst > 0, 'the int8 model computes exactly the float outputs: is it quantised?');
      const agree = argmax(got).filter((c, i) => c === argmax(want)[i]).length;
      assert.ok(agree >= 62, `${agree} of 64 top classes agree`);
      // The float model is untouched and still works.
      assert.equal(model.layers[0].weights[0].dtype, 'float32');
      assert.equal(q.trainableWeights.length, 0);
    }));

  test('functional model: BatchNormalization and a grouped convolution stay float, named in the report', () =>
    tidy(() => {
      const inp = input({ shape: [6, 6, 4] });
      let h = new Conv2D({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_a' }).apply(inp);
      h = new BatchNormalization({ name: 'bn' }).apply(h);
      h = new Conv2D({ filters: 4, kernelSize: 1, groups: 2, name: 'grouped' }).apply(h);
      h = new Flatten().apply(h);
      const out = new Dense({ units: 3, activation: 'relu', name: 'head' }).apply(h);
      const model = new Model({ inputs: inp, outputs: out });
      model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
      const x = rand([16, 6, 6, 4], 5, { dtype: 'float32' });
      const want = model.predict(x) as Tensor;
      const { model: q, report } = quantizeModel(model, x, { method: 'percentile' });
      assert.ok(q.getLayer('conv_a') instanceof QuantizedConv2D);
      assert.ok(q.getLayer('head') instanceof QuantizedDense);
      assert.equal(q.getLayer('grouped').className, 'Conv2D');
      assert.deepEqual(
        report.float.map((f) => f.layer),
        ['bn', 'grouped'],
      );
      assert.match(report.float[1].reason, /groups 2/);
      const got = q.predict(x) as Tensor;
      const g = got.dataSync(),
        w = want.dataSync();
      const scale = Math.max(...Array.from(w, Math.abs));
      for (let i = 0; i < g.length; i++) assert.ok(Math.abs(g[i] - w[i]) < 0.05 * scale, `${g[i]} vs ${w[i]}`);
      // Compiled like the float model, so evaluate works.
      assert.equal(q.trainingConfig()?.loss, 'meanSquaredError');
    }));

  test('saves and loads, predicting bit-identically; the weights stay int8', async () => {
    const model = mnistCnn(12);
    const x = rand([20, 12, 12, 1], 7, { dtype: 'float32', lo: 0, hi: 1 });
    const { model: q } = quantizeModel(model, x, { method: 'mse', batchSize: 8 });
    const dir = await mkdtemp(join(tmpdir(), 'candor-ptq-'));
    try {
      await q.save(dir);
      const loaded = await loadModel(dir);
      assert.deepEqual(
        loaded.layers.map((l) => l.className),
        q.layers.map((l) => l.className),
      );
      assert.equal(loaded.weights.find((v) => v.name.endsWith('/kernel'))!.dtype, 'int8');
      const a = q.predict(x) as Tensor,
        b = loaded.predict(x) as Tensor;
      assert.deepEqual(Array.from(b.dataSync()), Array.from(a.dataSync()));
      for (const t of [a, b]) t.dispose();
      loaded.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
      x.dispose();
      q.dispose();
      model.dispose();
    }
  });

  test('errors: sample data of the wrong shape; subclass models', () =>
    tidy(() => {
      const model = mnistCnn();
      assert.throws(
        () => quantizeModel(model, rand([4, 27, 28, 1], 1, { dtype: 'float32' })),
        (e: Error) => e instanceof ShapeError && /calibrate: sample data/.test(e.message),
      );
      class Custom extends Model {
        dense = new Dense({ units: 2 });
        override call(x: Tensor | Tensor[]): Tensor {
          return this.dense.apply(x as Tensor);
        }
      }
      assert.throws(() => quantizeModel(new Custom(), rand([2, 3], 1, { dtype: 'float32' })), ArgumentError);
    }));
});
