// Tests quantisation-aware training: the fakeQuantize op against a scalar reference, the layers through the harness,
// their straight-through gradient and observers, quantizeAware / convertQat (the int8 model computes what the
// fake-quantised one did), save / load / resume, and the errors.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ArgumentError,
  DTypeError,
  concat,
  Model,
  Sequential,
  ShapeError,
  input,
  memory,
  Tensor,
  layers,
  loadModel,
  matmul,
  scalar,
  tensor,
  tidy,
  transpose,
  vjp,
} from '../../src/index.js';
import { fakeQuantize } from '../../src/ops/families/quantized.js';
import {
  QatConv2D,
  QatDense,
  QuantizedConv2D,
  QuantizedDense,
  FakeQuantizer,
  convertQat,
  inputQuantization,
  quantizeAware,
  quantizeKernel,
} from '../../src/compress/index.js';
import { weightScales } from '../../src/compress/qat-layers.js';
import { layerFromConfig } from '../../src/nn/layer.js';
import { runLayerTest } from '../nn/harness.js';
import { assertClose, rand } from '../helpers.js';

const roundHalfEven = (v: number) => {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** The header's arithmetic, one float32 element at a time. */
function fakeQuantizeRef(x: number, s: number, z: number, qmin: number, qmax: number): number {
  const code = roundHalfEven(Math.fround(x * Math.fround(1 / s))) + z;
  return Math.fround((Math.min(Math.max(code, qmin), qmax) - z) * s);
}

describe('fakeQuantize', () => {
  test('per tensor (uint8 with a zero point) equals the scalar reference exactly, ties and clamping included', () => {
    const s = Math.fround(0.1),
      z = 37;
    // Exact ties (k + 0.5 steps), values clamped on both sides, and random values, on an odd shape.
    const ties = [-3.65, -0.25, 0.05, 0.15, 1.25, 2.35, -3.75, -3.85, 21.85, 21.95, 100, -100];
    const x = tensor([...ties, ...rand([3, 7], 1, { lo: -5, hi: 25 }).dataSync()].slice(0, 33), [3, 11], 'float32');
    const y = fakeQuantize(x, scalar(s), scalar(z), { quantMin: 0, quantMax: 255 });
    const expected = Array.from(x.dataSync(), (v) => fakeQuantizeRef(v, s, z, 0, 255));
    assert.deepEqual(Array.from(y.dataSync()), expected);
  });

  test('per channel along the last axis (int8, symmetric) equals the scalar reference exactly', () => {
    const x = rand([2, 3, 5], 2, { dtype: 'float32', lo: -3, hi: 3 });
    const scales = [0.01, 0.02, 0.005, 0.1, 0.03].map(Math.fround);
    const y = fakeQuantize(x, tensor(scales), tensor([0, 0, 0, 0, 0]), { quantMin: -127, quantMax: 127 });
    const expected = Array.from(x.dataSync(), (v, i) => fakeQuantizeRef(v, scales[i % 5], 0, -127, 127));
    assert.deepEqual(Array.from(y.dataSync()), expected);
  });

  test('refuses bad scales, ranges and dtypes with typed errors naming the op', () => {
    const x = rand([2, 3], 3, { dtype: 'float32' });
    const codes = { quantMin: 0, quantMax: 255 };
    assert.throws(() => fakeQuantize(x, tensor([1, 1]), tensor([0, 0]), codes), ShapeError);
    assert.throws(() => fakeQuantize(x, scalar(1, 'float64'), scalar(0), codes), /fakeQuantize: scale/);
    assert.throws(() => fakeQuantize(x, scalar(1), scalar(0), { quantMin: 5, quantMax: 5 }), ArgumentError);
    assert.throws(() => fakeQuantize(tensor([1, 2], [2], 'int32'), scalar(1), scalar(0), codes), DTypeError);
  });
});

describe("the weight grid is the int8 layers' grid", () => {
  test("weightScales and the fake-quantised kernel equal quantizeKernel's scales and codes times scales", () => {
    const kernel = rand([3, 3, 2, 5], 8, { dtype: 'float32', lo: -0.5, hi: 0.5 });
    const channel = tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [3, 3, 2, 1]); // an all-zero one
    const k = concat([kernel, channel], -1);
    const { values, scale } = quantizeKernel(k);
    assert.deepEqual(Array.from(weightScales(k).dataSync()), Array.from(scale));
    const fq = new FakeQuantizer(new QatDense({ units: 1 }), {}).kernel(k).dataSync();
    assert.deepEqual(
      Array.from(fq),
      Array.from(values, (q, i) => Math.fround(q * scale[i % 6])),
    );
    // Weights whose code by division (w / scale) differs from the op's rule (w times the float32 reciprocal):
    // row 0 holds each channel's max |w| (so the scale), row 1 the weight; division gives -69, 117, 55.
    const maxes = [0.20095472037792206, 0.32069116830825806, 0.08996123820543289];
    const near = tensor([...maxes, -0.10838896781206131, 0.29670244455337524, 0.03860541433095932], [2, 3]);
    const exact = quantizeKernel(near);
    assert.deepEqual(Array.from(exact.scale), [0.0015823206631466746, 0.002525127260014415, 0.0007083562086336315]);
    assert.deepEqual(Array.from(exact.values.subarray(3)), [-68, 118, 54]);
    assert.deepEqual(
      Array.from(new FakeQuantizer(new QatDense({ units: 1 }), {}).kernel(near).dataSync()),
      Array.from(exact.values, (q, i) => Math.fround(q * exact.scale[i % 3])),
    );
  });
});

describe('quantisation-aware layers through the harness', () => {
  const straightThrough = 'a straight-through estimator: checked against its closed form below';
  test('QatDense', () =>
    runLayerTest({
      make: () => new QatDense({ units: 3, activation: 'relu' }),
      inputShape: [2, 4],
      expectedOutputShape: [2, 3],
      expectedWeights: { trainable: 2, nonTrainable: 3 },
      straightThrough,
    }));
  test('QatConv2D', () =>
    runLayerTest({
      make: () => new QatConv2D({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', freezeRangesAfterStep: 2 }),
      inputShape: [2, 5, 4, 2],
      expectedOutputShape: [2, 3, 2, 3],
      expectedWeights: { trainable: 2, nonTrainable: 3 },
      straightThrough,
    }));
});

/** A built QatDense on [.., 4] whose input range has been observed once on x (min, max of x). */
function observedDense(x: Tensor, options = {}): QatDense {
  const layer = new QatDense({ units: 3, ...options });
  tidy(() => {
    layer.apply(x, { training: true });
  });
  return layer;
}

describe('QatDense: straight-through gradient and observers', () => {
  test('the gradient is the float layer gradient at the fake-quantised operands, masked outside the range', () => {
    const x = rand([5, 4], 4, { dtype: 'float32' });
    const layer = observedDense(x);
    // Inputs outside the observed range [min(x), max(x)] (one below, one above) get no gradient.
    const probe = tensor([...x.dataSync().slice(0, 12), -9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 9], [5, 4]);
    const dy = rand([5, 3], 5, { dtype: 'float32' });
    const kernel = layer.kernel!.value;
    const { grads } = vjp(
      ([p, k]: Tensor[]) => {
        layer.kernel!.assign(k);
        return layer.apply(p) as Tensor;
      },
      [probe, kernel.clone()],
      dy,
    );
    // Closed form: y = fq(x) @ fq(W) + b with STE: dx = (dy @ fq(W)^T) * inside, dW = fq(x)^T @ dy.
    const { inputScale, inputZeroPoint } = inputQuantization(layer.quantizer.inputRange()!);
    const fqx = fakeQuantize(probe, scalar(inputScale), scalar(inputZeroPoint), { quantMin: 0, quantMax: 255 });
    const fqw = layer.quantizer.kernel(layer.kernel!.value);
    const inside = Array.from(probe.dataSync(), (v) => {
      const code = roundHalfEven(Math.fround(v * Math.fround(1 / inputScale))) + inputZeroPoint;
      return code >= 0 && code <= 255 ? 1 : 0;
    });
    assert.deepEqual(inside.slice(12), [0, 1, 1, 1, 1, 1, 1, 0]);
    const dxFull = matmul(dy, transpose(fqw)).dataSync();
    assertClose(
      grads[0],
      Array.from(dxFull, (g, i) => g * inside[i]),
      { rtol: 1e-6, atol: 1e-6 },
      'dx',
    );
    assertClose(grads[1], matmul(transpose(fqx), dy), { rtol: 1e-6, atol: 1e-6 }, 'dkernel');
  });

  test('ranges follow moving averages of the batch min / max, freeze after the given step, get no gradient', () => {
    const layer = new QatDense({ units: 2, momentum: 0.9, freezeRangesAfterStep: 3 });
    assert.equal(layer.quantizer.inputRange(), undefined);
    const batches = [
      [-1, 2],
      [-3, 1],
      [0.5, 4],
      [-10, 10], // after the freeze: ignored
    ];
    let [lo, hi] = [0, 0];
    batches.forEach(([a, b], step) => {
      tidy(() => layer.apply(tensor([a, b, b, a], [2, 2]), { training: true }));
      if (step === 0) [lo, hi] = [a, b];
      else if (step < 3) [lo, hi] = [0.9 * lo + 0.1 * a, 0.9 * hi + 0.1 * b];
    });
    // The observers' weights are outside the differentiated set: the optimizer never sees them.
    assert.deepEqual(
      layer.trainableWeights.map((v) => v.name),
      [`${layer.name}/kernel`, `${layer.name}/bias`],
    );
    const range = layer.quantizer.inputRange()!;
    assert.ok(Math.abs(range.min - lo) < 1e-6 && Math.abs(range.max - hi) < 1e-6, JSON.stringify({ range, lo, hi }));
    assert.equal(layer.quantizer.observedSteps(), 3);
    // Inference does not observe.
    tidy(() => layer.apply(tensor([-50, 50], [1, 2])));
    assert.deepEqual(layer.quantizer.inputRange(), range);
  });
});

/** A small CNN on [N, 6, 6, 1], built. */
function smallCnn(): Sequential {
  return new Sequential([
    layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', inputShape: [6, 6, 1], name: 'c1' }),
    layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
    layers.flatten({ name: 'flat' }),
    layers.dense({ units: 5, activation: 'relu', name: 'd1' }),
    layers.dense({ units: 3, name: 'd2' }),
  ]);
}

describe('quantizeAware and convertQat', () => {
  test('replaces Dense and Conv2D, copies the weights, and the int8 model computes what the QAT model did', () => {
    const float = smallCnn();
    const qat = quantizeAware(float, { momentum: 0.5 });
    assert.deepEqual(
      qat.layers.map((l) => l.className),
      ['QatConv2D', 'MaxPooling2D', 'Flatten', 'QatDense', 'QatDense'],
    );
    for (const name of ['c1', 'd1', 'd2'])
      assert.deepEqual(
        Array.from((qat.getLayer(name) as QatDense).kernel!.value.dataSync()),
        Array.from((float.getLayer(name) as QatDense).kernel!.value.dataSync()),
      );
    const x = rand([8, 6, 6, 1], 6, { dtype: 'float32' });
    for (let i = 0; i < 3; i++) tidy(() => qat.apply(x, { training: true }));
    const { model: int8, layers: report } = convertQat(qat);
    assert.deepEqual(
      int8.layers.map((l) => l.className),
      ['QuantizedConv2D', 'MaxPooling2D', 'Flatten', 'QuantizedDense', 'QuantizedDense'],
    );
    assert.ok(int8.getLayer('c1') instanceof QuantizedConv2D && int8.getLayer('d2') instanceof QuantizedDense);
    assert.deepEqual(
      report.map((r) => [r.name, r.quantizedClassName, r.observedSteps]),
      [
        ['c1', 'QuantizedConv2D', 3],
        ['d1', 'QuantizedDense', 3],
        ['d2', 'QuantizedDense', 3],
      ],
    );
    const yQat = qat.apply(x) as Tensor;
    const yInt8 = int8.apply(x) as Tensor;
    // Same arithmetic up to float rounding: within one step of the last layer's output grid (its input step times
    // the largest weight step summed over its inputs bounds one input code's flip).
    const d2 = qat.getLayer('d2') as QatDense;
    const { inputScale } = inputQuantization(d2.quantizer.inputRange()!);
    const step = inputScale * Math.max(...Array.from(d2.kernel!.value.dataSync(), Math.abs));
    assertClose(yInt8, yQat, { rtol: 0, atol: step }, 'int8 vs QAT');
  });

  test('saves, loads and resumes with its ranges and observer steps', async () => {
    const qat = quantizeAware(smallCnn());
    const x = rand([4, 6, 6, 1], 7, { dtype: 'float32' });
    tidy(() => qat.apply(x, { training: true }));
    const dir = mkdtempSync(join(tmpdir(), 'candor-qat-'));
    try {
      await qat.save(dir);
      const back = await loadModel(dir);
      assert.ok(back.getLayer('d1') instanceof QatDense && back.getLayer('c1') instanceof QatConv2D);
      const [a, b] = [qat, back].map((m) => (m.getLayer('d1') as QatDense).quantizer);
      assert.deepEqual(b.inputRange(), a.inputRange());
      assert.equal(b.observedSteps(), 1);
      assertClose(back.apply(x) as Tensor, qat.apply(x) as Tensor, { rtol: 0, atol: 0 });
      tidy(() => back.apply(x, { training: true }));
      assert.equal(b.observedSteps(), 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('errors: unsupported or unknown layers requested, converting before observation or a float model', () => {
    const float = smallCnn();
    assert.throws(() => quantizeAware(float, { layers: ['pool'] }), /'pool' is a MaxPooling2D.*Dense and Conv2D/);
    assert.throws(() => quantizeAware(float, { layers: ['nope'] }), /no layer named 'nope'/);
    const grouped = new Sequential([layers.conv2d({ filters: 4, kernelSize: 1, groups: 2, inputShape: [3, 3, 2] })]);
    assert.throws(() => quantizeAware(grouped), /no Dense or Conv2D layer to quantise/);
    assert.throws(() => quantizeAware(grouped, { layers: [grouped.layers[0].name] }), /groups 2/);
    const qat = quantizeAware(float, { layers: ['d2'] });
    assert.deepEqual(
      qat.layers.map((l) => l.className),
      ['Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'QatDense'],
    );
    assert.throws(() => convertQat(qat), /layer 'd2' has observed no input range yet; train the model/);
    assert.throws(() => convertQat(float), /no QatDense or QatConv2D layer; make it with quantizeAware/);
    assert.throws(() => quantizeAware(float, { freezeRangesAfterStep: 0 }), /freezeRangesAfterStep/);
    const saved = { name: 'q', units: 2, freezeRangesAfterStep: '3' };
    assert.throws(() => layerFromConfig({ className: 'QatDense', config: saved }), /freezeRangesAfterStep/);
  });
});

describe('observer steps and resources', () => {
  /** A functional model calling one QatDense twice per step (a shared layer), with fixed initial weights. */
  function sharedTwice(freezeRangesAfterStep: number | null): Model {
    const shared = new QatDense({ units: 2, kernelInitializer: 'ones', freezeRangesAfterStep, name: 'shared' });
    const inp = input({ shape: [2] });
    const model = new Model({ inputs: inp, outputs: shared.apply(shared.apply(inp)) as never });
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    return model;
  }

  test('a layer called twice per training step counts each step once, and freezes after the given step', async () => {
    // Three batches of 2 with different ranges, so that a range frozen a step early differs.
    const x = tensor([0, 1, 1, 0, -2, 3, 3, -2, -5, 6, 6, -5], [6, 2]);
    const y = tensor([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [6, 2]);
    const fit = async (m: Model) => m.fit(x, y, { batchSize: 2, epochs: 1, shuffle: false, verbose: 0, seed: 1 });
    const [free, frozen] = [sharedTwice(null), sharedTwice(3)];
    const quantizer = (m: Model) => (m.getLayer('shared') as QatDense).quantizer;
    await fit(free);
    await fit(frozen);
    // Before the fix each call counted: 6 steps, and the freeze came after the second step's first call.
    assert.equal(quantizer(free).observedSteps(), 3);
    assert.equal(quantizer(frozen).observedSteps(), 3);
    assert.deepEqual(quantizer(frozen).inputRange(), quantizer(free).inputRange());
    // A fourth step (a second epoch's first batch) is after the freeze: the frozen range stays.
    const range = quantizer(frozen).inputRange();
    await frozen.fit(x, y, { batchSize: 2, epochs: 1, shuffle: false, verbose: 0, seed: 2 });
    assert.equal(quantizer(frozen).observedSteps(), 3);
    assert.deepEqual(quantizer(frozen).inputRange(), range);
  });

  test('convertQat leaves no tensor alive but the int8 model weights', () => {
    const qat = quantizeAware(smallCnn());
    const x = rand([4, 6, 6, 1], 9, { dtype: 'float32' });
    tidy(() => qat.apply(x, { training: true }));
    x.dispose();
    const before = memory().tensors;
    const { model: int8 } = convertQat(qat);
    assert.equal(memory().tensors - before, int8.weights.length);
    int8.dispose();
    qat.dispose();
  });
});
