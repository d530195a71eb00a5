// Tests the image preprocessing and augmentation layers and Normalization: the layer harness, Resizing
// against PyTorch's half-pixel interpolation (fixtures by tools/image-resize-fixtures.py), Keras' documented
// Normalization examples, closed forms for the geometric transforms and fill modes, seeded determinism,
// inference identity, gradients, and Normalization's adapted statistics surviving save/load.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ArgumentError,
  Dataset,
  Sequential,
  ShapeError,
  Tensor,
  assertGradients,
  copy,
  image,
  layerFromConfig,
  memory,
  tensor,
  tidy,
} from '../../src/index.js';
import { loadModel } from '../../src/train/saving.js';
import {
  CenterCrop,
  Normalization,
  RandomContrast,
  RandomFlip,
  RandomRotation,
  RandomTranslation,
  RandomZoom,
  Rescaling,
  Resizing,
  layers,
} from '../../src/nn/layers/index.js';
import { runLayerTest } from './harness.js';
import { assertClose, flat, rand, withDir } from '../helpers.js';

interface ResizeCase {
  name: string;
  inputShape: number[];
  size: [number, number];
  interpolation: 'nearest' | 'bilinear';
  cropToAspectRatio: boolean;
  input: number[];
  output: number[];
}
const fixtures = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../../test/fixtures/image/resize.json'), 'utf8'),
) as { cases: ResizeCase[] };

/** [1, h, w, 1] image whose pixel (y, x) is f(y, x). */
function field(h: number, w: number, f: (y: number, x: number) => number, c = 1): Tensor {
  const d = new Float64Array(h * w * c);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let k = 0; k < c; k++) d[(y * w + x) * c + k] = f(y, x);
  return tensor(d, [1, h, w, c], 'float64');
}

describe('image layers through the harness', () => {
  const spec = (make: () => import('../../src/nn/layer.js').Layer, out: number[], inputShape = [2, 5, 6, 2]) => ({
    make,
    inputShape,
    expectedOutputShape: out,
    expectedWeights: { trainable: 0, nonTrainable: 0 },
  });
  test('Rescaling', () => runLayerTest(spec(() => new Rescaling({ scale: [0.5, -2], offset: 1 }), [2, 5, 6, 2])));
  test('Resizing bilinear', () => runLayerTest(spec(() => new Resizing({ height: 7, width: 4 }), [2, 7, 4, 2])));
  test('Resizing nearest, cropped to the aspect ratio', () =>
    runLayerTest(
      spec(
        () => new Resizing({ height: 3, width: 3, interpolation: 'nearest', cropToAspectRatio: true }),
        [2, 3, 3, 2],
      ),
    ));
  test('CenterCrop', () => runLayerTest(spec(() => new CenterCrop({ height: 3, width: 4 }), [2, 3, 4, 2])));
  test('CenterCrop of a smaller image resizes', () =>
    runLayerTest(spec(() => new CenterCrop({ height: 6, width: 3 }), [2, 6, 3, 2], [2, 4, 4, 2])));
  test('Normalization', () =>
    runLayerTest({
      make: () => new Normalization({ axis: -1 }),
      inputShape: [3, 4],
      expectedOutputShape: [3, 4],
      expectedWeights: { trainable: 0, nonTrainable: 2 },
    }));
  test('Normalization with given statistics, inverted', () =>
    runLayerTest({
      make: () => new Normalization({ axis: [1, 2], mean: [1, 2, 3], variance: [4, 1, 0.25], invert: true }),
      inputShape: [2, 2, 3],
      expectedOutputShape: [2, 2, 3],
      expectedWeights: { trainable: 0, nonTrainable: 0 },
    }));
  for (const [name, make] of [
    ['RandomFlip', () => new RandomFlip({ seed: 1 })],
    ['RandomRotation', () => new RandomRotation({ factor: 0.2, seed: 2 })],
    ['RandomZoom', () => new RandomZoom({ heightFactor: [-0.3, 0.2], widthFactor: 0.1, seed: 3 })],
    ['RandomTranslation', () => new RandomTranslation({ heightFactor: 0.2, widthFactor: [-0.1, 0.3], seed: 4 })],
    ['RandomContrast', () => new RandomContrast({ factor: 0.3, valueRange: [-5, 5], seed: 5 })],
  ] as const)
    test(name, () => runLayerTest(spec(make, [2, 5, 6, 2])));
});

describe('Resizing matches tf.image.resize (PyTorch half-pixel fixtures)', () => {
  for (const c of fixtures.cases) {
    test(c.name, () => {
      const x = tensor(Float64Array.from(c.input), c.inputShape, 'float64');
      const layer = new Resizing({
        height: c.size[0],
        width: c.size[1],
        interpolation: c.interpolation,
        cropToAspectRatio: c.cropToAspectRatio,
        dtype: 'float64',
      });
      const y = layer.apply(x) as Tensor;
      assert.deepEqual(y.shape, [c.inputShape[0], ...c.size, c.inputShape[3]]);
      assertClose(y, c.output, { rtol: 1e-12, atol: 1e-12 });
    });
  }

  test('an unbatched image keeps its rank; the float32 layer casts', () => {
    const y = new Resizing({ height: 4, width: 2 }).apply(rand([2, 3, 3], 1)) as Tensor;
    assert.deepEqual(y.shape, [4, 2, 3]);
    assert.equal(y.dtype, 'float32');
  });

  test('bad shapes and options are typed errors naming the layer', () => {
    assert.throws(() => new Resizing({ height: 4, width: 2 }).apply(rand([2, 3], 1)), /Resizing .* expects input/);
    assert.throws(() => new Resizing({ height: 0, width: 2 }), ArgumentError);
    assert.throws(
      () => new Resizing({ height: 2, width: 2, interpolation: 'bicubic' as 'nearest' }),
      /interpolation must be 'nearest' or 'bilinear'/,
    );
    assert.throws(() => layerFromConfig({ className: 'Resizing', config: { name: 'r', height: '4', width: 2 } }), {
      name: 'ArgumentError',
      message: /config field 'height' must be a positive integer/,
    });
  });
});

describe('Rescaling and CenterCrop', () => {
  test('Rescaling is x * scale + offset, per channel with lists', () => {
    const x = tensor([[[[10, 20]]]], [1, 1, 1, 2], 'float64');
    assertClose(new Rescaling({ scale: 1 / 255, dtype: 'float64' }).apply(x) as Tensor, [10 / 255, 20 / 255]);
    assertClose(new Rescaling({ scale: [2, 3], offset: [-1, 1], dtype: 'float64' }).apply(x) as Tensor, [19, 61]);
    assert.throws(() => new Rescaling({ scale: [1, 2, 3] }).apply(x), ShapeError);
    const config = new Rescaling({ scale: 0.5, offset: -1 }).getConfig();
    assert.equal((layerFromConfig({ className: 'Rescaling', config }) as Rescaling).scale, 0.5);
  });

  test('CenterCrop takes the central window (odd margins round down, as Keras)', () => {
    const x = field(5, 6, (y, x) => 10 * y + x);
    const y = new CenterCrop({ height: 2, width: 3, dtype: 'float64' }).apply(x) as Tensor;
    // margins: height 3 -> start 1, width 3 -> start 1
    assert.deepEqual(flat(y), [11, 12, 13, 21, 22, 23]);
  });
});

describe('Normalization (Keras documented examples)', () => {
  test('axis null: one mean and variance', () => {
    const layer = new Normalization({ axis: null });
    layer.adapt(tensor([1, 2, 3, 4, 5]));
    assertClose(layer.apply(tensor([1, 2, 3])) as Tensor, [-1.4142135, -0.70710677, 0]);
  });

  const adaptData = () =>
    tensor([
      [0, 7, 4],
      [2, 9, 6],
      [0, 7, 4],
      [2, 9, 6],
    ]);

  test('axis -1: per feature', () => {
    const layer = new Normalization({ axis: -1 });
    layer.adapt(adaptData());
    assertClose(layer.apply(tensor([[0, 7, 4]])) as Tensor, [-1, -1, -1]);
    assertClose(layer.adaptMean!.value, [1, 8, 5]);
    assertClose(layer.adaptVariance!.value, [1, 1, 1]);
  });

  test('given mean and variance', () => {
    const layer = new Normalization({ mean: 3, variance: 2 });
    assertClose(layer.apply(tensor([[1], [2], [3]])) as Tensor, [-1.4142135, -0.70710677, 0]);
  });

  test('invert', () => {
    const layer = new Normalization({ axis: -1, invert: true });
    layer.adapt(adaptData());
    assertClose(layer.apply(tensor([[1, 2, 3]])) as Tensor, [2, 10, 8]);
  });

  test('adapting on batches equals adapting on everything (Chan update), and frees the batches', async () => {
    const x = rand([37, 2, 3], 5, { lo: -4, hi: 9 });
    const whole = new Normalization({ axis: [2], dtype: 'float64' });
    whole.adapt(x);
    const streamed = new Normalization({ axis: [2], dtype: 'float64' });
    const before = memory().tensors;
    await streamed.adapt(Dataset.fromArrays(x).batch(8));
    assert.equal(memory().tensors, before + 2, 'only the two adapted weights remain');
    assertClose(streamed.adaptMean!.value, whole.adaptMean!.value, { rtol: 1e-12, atol: 1e-12 });
    assertClose(streamed.adaptVariance!.value, whole.adaptVariance!.value, { rtol: 1e-12, atol: 1e-12 });
    // Against the obvious formula: population statistics over axes 0 and 1.
    const d = x.dataSync();
    for (let k = 0; k < 3; k++) {
      const v = Array.from({ length: 74 }, (_, i) => d[i * 3 + k]);
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const s2 = v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length;
      assertClose([whole.adaptMean!.value.dataSync()[k], whole.adaptVariance!.value.dataSync()[k]], [m, s2], {
        rtol: 1e-12,
        atol: 1e-12,
      });
    }
  });

  test('a zero variance divides by epsilon, not zero; bad arguments are typed errors', () => {
    const layer = new Normalization({ mean: 1, variance: 0 });
    assertClose(layer.apply(tensor([[1.5]])) as Tensor, [0.5 / 1e-7], { rtol: 1e-6 });
    assert.throws(() => new Normalization({ mean: 1 }), /give both mean and variance/);
    assert.throws(() => new Normalization({ mean: 1, variance: 1 }).adapt(tensor([1, 2])), /adapt cannot be used/);
    const built = new Normalization();
    built.adapt(tensor([[1, 2, 3]]));
    assert.throws(() => built.apply(tensor([[1, 2]])), ShapeError);
  });

  test('adapted statistics are saved and reloaded with the model', async () => {
    await withDir(async (dir) => {
      const norm = new Normalization({ axis: -1, inputShape: [2] });
      norm.adapt(
        tensor([
          [0, 10],
          [2, 30],
          [4, 50],
        ]),
      );
      const model = new Sequential([norm, layers.dense({ units: 1 })]);
      const x = tensor([
        [1, 2],
        [3, 4],
      ]);
      const before = model.predict(x) as Tensor;
      await model.save(join(dir, 'm'));
      const loaded = await loadModel(join(dir, 'm'));
      const reloadedNorm = loaded.layers.find((l) => l instanceof Normalization) as Normalization;
      assertClose(reloadedNorm.adaptMean!.value, [2, 30]);
      assertClose(reloadedNorm.adaptVariance!.value, [8 / 3, 800 / 3], { rtol: 1e-6 });
      assertClose(loaded.predict(x) as Tensor, before, { rtol: 0, atol: 0 });
    });
  });
});

describe('geometric augmentation: closed forms', () => {
  // A linear ramp is reproduced exactly by bilinear sampling, so in-bounds outputs are the ramp at the
  // mapped point.
  const ramp = (h: number, w: number) => field(h, w, (y, x) => 3 * x - 2 * y + 1);

  test('RandomTranslation by whole pixels shifts; the fill modes extend as documented', () => {
    const col = field(4, 1, (y) => [1, 2, 3, 4][y]); // a b c d down the height
    const shifted = (fillMode: 'reflect' | 'wrap' | 'nearest' | 'constant') =>
      flat(
        new RandomTranslation({
          heightFactor: [0.5, 0.5],
          widthFactor: 0,
          fillMode,
          fillValue: -7,
          dtype: 'float64',
          seed: 1,
        }).apply(col, { training: true }) as Tensor,
      );
    // Output row y reads input row y - 2.
    assert.deepEqual(shifted('reflect'), [2, 1, 1, 2]); // (d c b a | a b c d): rows -2, -1 are b, a
    assert.deepEqual(shifted('wrap'), [3, 4, 1, 2]); // (a b c d | a b c d)
    assert.deepEqual(shifted('nearest'), [1, 1, 1, 2]); // (a a a a | a b c d)
    assert.deepEqual(shifted('constant'), [-7, -7, 1, 2]); // (k k k k | a b c d)
    const whole = (fillMode: 'reflect' | 'wrap') =>
      flat(
        new RandomTranslation({ heightFactor: [1, 1], widthFactor: 0, fillMode, dtype: 'float64', seed: 1 }).apply(
          col,
          { training: true },
        ) as Tensor,
      );
    assert.deepEqual(whole('reflect'), [4, 3, 2, 1]); // a whole image down: rows -4..-1 are d c b a
    // TF's wrap arithmetic (ImageProjectiveTransformV3, kept as TF computes it) folds shifts of more
    // than len - 1 pixels with period len - 1: rows -4..-1 read 4 (clamped), 5 (clamped), 2, 3.
    assert.deepEqual(whole('wrap'), [4, 4, 3, 4]);
  });

  test('RandomTranslation by a fraction of a pixel interpolates', () => {
    const x = ramp(4, 5);
    const y = new RandomTranslation({ heightFactor: 0, widthFactor: [0.1, 0.1], dtype: 'float64', seed: 1 }).apply(x, {
      training: true,
    }) as Tensor;
    // dx = 0.5 px right: output (y, x) reads x - 0.5; column 0 reflects to -0.5 -> 0 (clamped), i.e. 3*0 ...
    const d = y.dataSync();
    for (let r = 0; r < 4; r++)
      for (let c = 1; c < 5; c++) assert.ok(Math.abs(d[r * 5 + c] - (3 * (c - 0.5) - 2 * r + 1)) < 1e-12);
  });

  test('RandomRotation by a quarter turn rotates a square image exactly', () => {
    const x = field(3, 3, (y, x) => 3 * y + x);
    const y = new RandomRotation({ factor: [0.25, 0.25], dtype: 'float64', seed: 1 }).apply(x, {
      training: true,
    }) as Tensor;
    // Output (x, y) reads input (cos x - sin y + dx, sin x + cos y + dy) = (2 - y, x): counter-clockwise.
    assertClose(y, [2, 5, 8, 1, 4, 7, 0, 3, 6], { atol: 1e-12 });
  });

  test('RandomRotation by any angle samples the ramp at the rotated point', () => {
    const h = 5,
      w = 7;
    const layer = new RandomRotation({ factor: [0.03, 0.03], fillMode: 'constant', dtype: 'float64', seed: 1 });
    const y = (layer.apply(ramp(h, w), { training: true }) as Tensor).dataSync();
    const a = 0.03 * 2 * Math.PI;
    const [cx, cy] = [(w - 1) / 2, (h - 1) / 2];
    for (let r = 0; r < h; r++)
      for (let c = 0; c < w; c++) {
        const ix = Math.cos(a) * (c - cx) - Math.sin(a) * (r - cy) + cx;
        const iy = Math.sin(a) * (c - cx) + Math.cos(a) * (r - cy) + cy;
        if (ix < 0 || iy < 0 || ix > w - 1 || iy > h - 1) continue;
        assert.ok(Math.abs(y[r * w + c] - (3 * ix - 2 * iy + 1)) < 1e-9, `pixel ${r},${c}`);
      }
  });

  test('RandomZoom scales about the centre (positive factor zooms out)', () => {
    const h = 5,
      w = 9;
    for (const [hf, wf] of [
      [-0.5, -0.25],
      [0.5, 0.5],
    ]) {
      const layer = new RandomZoom({
        heightFactor: [hf, hf],
        widthFactor: [wf, wf],
        fillMode: 'constant',
        dtype: 'float64',
        seed: 1,
      });
      const y = (layer.apply(ramp(h, w), { training: true }) as Tensor).dataSync();
      for (let r = 0; r < h; r++)
        for (let c = 0; c < w; c++) {
          const ix = (c - (w - 1) / 2) * (1 + wf) + (w - 1) / 2;
          const iy = (r - (h - 1) / 2) * (1 + hf) + (h - 1) / 2;
          const inside = ix >= 0 && iy >= 0 && ix <= w - 1 && iy <= h - 1;
          const outside = ix <= -1 || iy <= -1 || ix >= w || iy >= h; // no tap in the image: all fill
          if (inside) assert.ok(Math.abs(y[r * w + c] - (3 * ix - 2 * iy + 1)) < 1e-9, `${hf}: pixel ${r},${c}`);
          else if (outside) assert.equal(y[r * w + c], 0, `${hf}: pixel ${r},${c}`);
        }
    }
  });

  test('nearest interpolation picks whole pixels', () => {
    const x = field(1, 4, (_, x) => x + 1);
    const y = new RandomTranslation({
      heightFactor: 0,
      widthFactor: [0.4, 0.4], // 1.6 px right: output x reads round(x - 1.6), -0.6 rounding to -1 (outside)
      interpolation: 'nearest',
      fillMode: 'constant',
      dtype: 'float64',
      seed: 1,
    }).apply(x, { training: true }) as Tensor;
    assert.deepEqual(flat(y), [0, 0, 1, 2]);
  });

  test('image.affineTransform rejects a wrong number of transform values', () => {
    assert.throws(() => image.affineTransform(ramp(2, 2), [1, 0, 0]), ShapeError);
  });
});

describe('augmentation: training only, seeded, per image', () => {
  const makers = [
    () => new RandomFlip({ seed: 11 }),
    () => new RandomRotation({ factor: 0.3, seed: 12 }),
    () => new RandomZoom({ heightFactor: 0.3, seed: 13 }),
    () => new RandomTranslation({ heightFactor: 0.3, widthFactor: 0.3, seed: 14 }),
    () => new RandomContrast({ factor: 0.5, valueRange: [-10, 10], seed: 15 }),
  ];

  test('inference is the identity (the same tensor)', () => {
    const x = rand([3, 4, 5, 2], 1, { dtype: 'float32' });
    for (const make of makers) {
      const layer = make();
      assert.equal(layer.apply(x), x, layer.className);
      assert.equal(layer.apply(x, { training: false }), x, layer.className);
    }
  });

  test('the same call seed draws the same transform; another seed another; per image', () => {
    const x = rand([6, 5, 5, 3], 2, { dtype: 'float32' });
    for (const make of makers) {
      const layer = make();
      const a = flat(layer.apply(x, { training: true, seed: 100 }) as Tensor);
      const b = flat(make().apply(x, { training: true, seed: 100 }) as Tensor);
      const c = flat(layer.apply(x, { training: true, seed: 101 }) as Tensor);
      assert.deepEqual(a, b, `${layer.className}: same seed`);
      assert.notDeepEqual(a, c, `${layer.className}: other seed`);
      assert.notDeepEqual(a, flat(x), `${layer.className}: changed something`);
      // A rebuilt layer (from its config, which saves the seed) draws the same.
      const rebuilt = layerFromConfig({ className: layer.className, config: layer.getConfig() });
      assert.deepEqual(
        flat(rebuilt.apply(x, { training: true, seed: 100 }) as Tensor),
        a,
        `${layer.className}: config`,
      );
    }
  });

  test('RandomFlip: each image flipped or not, the same way across its channels', () => {
    const x = rand([16, 3, 4, 2], 3);
    const y = new RandomFlip({ mode: 'horizontal', seed: 5, dtype: 'float64' }).apply(x, { training: true }) as Tensor;
    const xs = x.dataSync(),
      ys = y.dataSync();
    let flipped = 0;
    for (let b = 0; b < 16; b++) {
      const same = (fx: (xx: number) => number) =>
        Array.from({ length: 3 * 4 * 2 }, (_, i) => i).every((i) => {
          const [r, cc, k] = [Math.floor(i / 8), Math.floor(i / 2) % 4, i % 2];
          return ys[b * 24 + i] === xs[b * 24 + r * 8 + fx(cc) * 2 + k];
        });
      if (same((c) => 3 - c)) flipped++;
      else
        assert.ok(
          same((c) => c),
          `image ${b} is neither flipped nor kept`,
        );
    }
    assert.ok(flipped > 0 && flipped < 16, `flipped ${flipped} of 16`);
  });

  test('RandomContrast: (x - mean) * f + mean per image and channel, clipped', () => {
    const x = rand([4, 3, 3, 2], 4, { lo: 0, hi: 1 });
    const layer = new RandomContrast({ factor: [0.5, 0.5], valueRange: [0, 1], dtype: 'float64', seed: 3 });
    const y = (layer.apply(x, { training: true }) as Tensor).dataSync();
    const xs = x.dataSync();
    // Recover f from one pixel and check every pixel with it; f must lie in [0.5, 1.5].
    for (let b = 0; b < 4; b++) {
      for (let k = 0; k < 2; k++) {
        const px = Array.from({ length: 9 }, (_, i) => b * 18 + i * 2 + k);
        const m = px.reduce((s, i) => s + xs[i], 0) / 9;
        const i0 = px.find((i) => y[i] > 0 && y[i] < 1 && Math.abs(xs[i] - m) > 0.05)!;
        const f = (y[i0] - m) / (xs[i0] - m);
        assert.ok(f >= 0.5 - 1e-9 && f <= 1.5 + 1e-9, `factor ${f}`);
        for (const i of px) assert.ok(Math.abs(y[i] - Math.min(1, Math.max(0, (xs[i] - m) * f + m))) < 1e-9);
      }
    }
  });

  test('bad factors and modes are typed errors naming the layer', () => {
    assert.throws(() => new RandomRotation({ factor: 1.5 }), /RandomRotation .*factor must be/);
    assert.throws(() => new RandomZoom({ heightFactor: [0.1, 2] }), ArgumentError);
    assert.throws(
      () => new RandomTranslation({ heightFactor: 0.1, widthFactor: 'x' as unknown as number }),
      ArgumentError,
    );
    assert.throws(() => new RandomFlip({ mode: 'diagonal' as 'vertical' }), /mode must be/);
    assert.throws(() => new RandomTranslation({ heightFactor: 0.1 } as never), /widthFactor is required/);
    assert.throws(() => new RandomRotation({ factor: 0.1, fillMode: 'mirror' as 'wrap' }), /fillMode must be/);
    assert.throws(() => new RandomContrast({ factor: -0.1 }), ArgumentError);
    assert.throws(() => new RandomFlip().apply(rand([2, 3], 1), { training: true }), ShapeError);
  });

  test('no tensor leak in a training call', () => {
    const x = rand([2, 4, 4, 1], 5, { dtype: 'float32' });
    for (const make of makers) {
      const layer = make();
      const before = memory().tensors;
      tidy(() => {
        layer.apply(x, { training: true, seed: 1 });
      });
      assert.equal(memory().tensors, before, layer.className);
    }
  });
});

describe('gradients through the random layers in training (fixed call seed)', () => {
  const check = (layer: import('../../src/nn/layer.js').Layer, shape: number[]) => {
    const x = rand(shape, 9);
    assertGradients(
      (t) => {
        const y = layer.apply(t, { training: true, seed: 77 }) as Tensor;
        return y === t ? copy(y) : y;
      },
      [x],
    );
  };
  test('RandomFlip', () => check(new RandomFlip({ seed: 1, dtype: 'float64' }), [3, 3, 4, 2]));
  test('RandomTranslation (bilinear, reflect)', () =>
    check(new RandomTranslation({ heightFactor: 0.3, widthFactor: 0.3, seed: 2, dtype: 'float64' }), [2, 4, 5, 2]));
  test('RandomRotation (bilinear, constant fill)', () =>
    check(
      new RandomRotation({ factor: 0.2, fillMode: 'constant', fillValue: 2, seed: 3, dtype: 'float64' }),
      [2, 4, 4, 1],
    ));
  test('RandomZoom (bilinear, wrap)', () =>
    check(new RandomZoom({ heightFactor: 0.3, fillMode: 'wrap', seed: 4, dtype: 'float64' }), [2, 4, 5, 1]));
});
