// loadKerasModel on real Keras files (trained on MNIST by other people): each classifies the MNIST test set above
// 0.97, fits and saves as a Candor model; unknown layer classes are refused by name and can be replaced.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { strToU8, zipSync } from 'fflate';
import {
  Layer,
  Sequential,
  datasets,
  getBackend,
  interop,
  loadModel,
  saveModel,
  mul,
  slice,
  tidy,
  type CallContext,
  type LayerArgs,
  type Model,
  type SymShape,
  type Tensor,
  type Variable,
} from '../../src/index.js';
import { withDir } from '../helpers.js';
import { crc32 } from '../../src/interop/tensorboard/crc32c.js';
import { FIXTURES, fixtureValues } from './keras-helpers.js';

type Split = Awaited<ReturnType<typeof datasets.mnist>>['test'];

/** The share of `x` the model classifies as `y`. */
function accuracy(model: Model, x: Tensor, y: Tensor): number {
  const predicted = tidy(() => (model.predict(x, { batchSize: 500 }) as Tensor).argmax(-1).dataSync());
  const labels = y.dataSync();
  let right = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) right++;
  return right / labels.length;
}

describe('loadKerasModel on real Keras files', () => {
  let flat: Split;
  let images: Split;
  before(async () => {
    flat = (await datasets.mnist()).test;
    images = (await datasets.mnist({ flatten: false })).test;
  });

  const cases = [
    { file: 'mnist-mlp-keras-3.11.keras', input: [null, 784], scale: 1 },
    // This CNN was trained on raw pixels (0-255): PyTorch running its weights scores 0.416 on [0, 1] inputs too.
    { file: 'mnist-cnn-keras-3.12.keras', input: [null, 28, 28, 1], scale: 255 },
    { file: 'mnist-mlp-legacy.h5', input: [null, 784], scale: 1 },
  ];
  for (const { file, input, scale } of cases) {
    it(`${file} classifies the MNIST test set above 0.97`, async (t) => {
      const model = await interop.loadKerasModel(join(FIXTURES, file));
      assert.deepEqual((model as Sequential).input?.shape, input);
      const split = input.length === 2 ? flat : images;
      // The JS reference backend convolves slowly: there the CNN classifies the first 2,000 test images.
      const n = input.length > 2 && getBackend().name === 'js' ? 2000 : split.y.size;
      const acc = tidy(() => {
        const x = mul(slice(split.x, [0, ...input.slice(1).map(() => 0)], [n, ...(input.slice(1) as number[])]), scale);
        return accuracy(model, x, slice(split.y, [0], [n]));
      });
      t.diagnostic(`${file}: accuracy ${acc} on ${n} images`);
      assert.ok(acc > 0.97, `accuracy ${acc}`);
      model.dispose();
    });
  }

  it('a loaded model fits a few steps, saves with saveModel and loads back the same', async () => {
    const model = await interop.loadKerasModel(join(FIXTURES, 'mnist-mlp-legacy.h5'));
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const before = model.weights[0].value.dataSync().slice();
    const x = slice(flat.x, [0, 0], [256, 784]);
    const y = slice(flat.y, [0], [256]);
    const history = await model.fit(x, y, { epochs: 1, batchSize: 64, verbose: 0 });
    assert.ok(Number.isFinite(history.history.loss[0]));
    assert.notDeepEqual(model.weights[0].value.dataSync(), before);
    await withDir(async (dir) => {
      await saveModel(model, dir);
      const again = await loadModel(dir);
      const [a, b] = [model.predict(x) as Tensor, again.predict(x) as Tensor];
      assert.deepEqual(a.dataSync(), b.dataSync());
      tidy(() => [a, b, x, y].forEach((t) => t.dispose()));
      again.dispose();
    });
    model.dispose();
  });
});

/** y = x * scale, one weight per feature: a custom Keras class ('my_pkg>MyScale') the tests replace. */
class MyScale extends Layer {
  static override readonly className: string = 'MyScale';
  scale?: Variable;
  constructor(args: LayerArgs = {}) {
    super(args);
  }
  override build(shape: SymShape | SymShape[]): void {
    const s = shape as SymShape;
    this.scale = this.addWeight('scale', [s[s.length - 1]!], 'ones');
  }
  override call(inputs: Tensor | Tensor[], _ctx: CallContext): Tensor {
    return mul(inputs as Tensor, this.scale!.value);
  }
}

/** A .keras archive around custom.weights.h5 (tools/keras-weights-fixtures.py), with `middle` as its second layer. */
function kerasFile(middle: Record<string, unknown>): Uint8Array {
  const dense = (name: string, units: number) => ({
    module: 'keras.layers',
    class_name: 'Dense',
    config: { name, units, activation: 'linear', use_bias: true },
    registered_name: null,
  });
  const config = {
    module: 'keras',
    class_name: 'Sequential',
    config: {
      name: 'sequential',
      layers: [
        { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 4], name: 'input_layer' } },
        dense('dense', 3),
        middle,
        dense('dense_1', 2),
      ],
    },
    registered_name: null,
  };
  return zipSync({
    'metadata.json': strToU8(JSON.stringify({ keras_version: '3.12.0' })),
    'config.json': strToU8(JSON.stringify(config)),
    'model.weights.h5': new Uint8Array(readFileSync(join(FIXTURES, 'custom.weights.h5'))),
  });
}

describe('loadKerasModel: unknown layer classes', () => {
  const custom = {
    module: 'my_pkg',
    class_name: 'MyScale',
    config: { name: 'my_scale' },
    registered_name: 'my_pkg>MyScale',
  };
  const lambda = {
    module: 'keras.layers',
    class_name: 'Lambda',
    config: { name: 'double', function: { class_name: '__lambda__', config: { code: '4wEAAAAA' } } },
    registered_name: null,
  };

  it('refuses a custom class and a Lambda with an UnsupportedLayerError naming the layer', async () => {
    for (const [middle, name, cls] of [
      [custom, 'my_scale', 'MyScale'],
      [lambda, 'double', 'Lambda'],
    ] as const) {
      await assert.rejects(
        interop.loadKerasModel(kerasFile(middle)),
        (e: Error) => e instanceof interop.UnsupportedLayerError && e.layerName === name && e.className === cls,
      );
    }
  });

  it('customLayers supplies the class, which gets its weights from the file', async () => {
    const model = await interop.loadKerasModel(kerasFile(custom), {
      customLayers: { 'my_pkg>MyScale': (config) => new MyScale({ name: String(config.name) }) },
    });
    assert.deepEqual(
      model.layers.map((l) => l.className),
      ['Dense', 'MyScale', 'Dense'],
    );
    // custom.weights.h5 holds dense (k = 0, 1), my_scale (k = 2), dense_1 (k = 3, 4).
    model.weights.forEach((v, k) => assert.deepEqual([...v.value.dataSync()], fixtureValues(k, v.value.size)));
    model.dispose();
  });

  it('registerKerasLayer supplies a replacement for every later load', async () => {
    interop.registerKerasLayer('MyScale', (config) => new MyScale({ name: String(config.name) }));
    const model = await interop.loadKerasModel(kerasFile(custom));
    assert.equal(model.layers[1].className, 'MyScale');
    model.dispose();
  });
});

describe('loadKerasModel: hostile files', () => {
  it('refuses a .keras whose weights changed after zipping (CRC-32), which would otherwise load', async () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926); // the standard check value
    const file = readFileSync(join(FIXTURES, 'mnist-mlp-keras-3.11.keras'));
    // model.weights.h5 is stored uncompressed: find the first kernel's first values and flip a bit of one.
    const model = await interop.loadKerasModel(new Uint8Array(file));
    const kernel = new Float32Array(model.weights[0].value.dataSync().slice(0, 4));
    model.dispose();
    const at = file.indexOf(Buffer.from(kernel.buffer));
    assert.ok(at > 0);
    const bytes = new Uint8Array(file);
    bytes[at] ^= 0x01;
    await assert.rejects(
      interop.loadKerasModel(bytes),
      (e: Error) => e instanceof interop.FormatError && /does not match the CRC-32/.test(e.message),
    );
  });

  it('refuses a layer declaring more weight values than the file holds, before allocating them', async () => {
    const huge = {
      module: 'keras.layers',
      class_name: 'Dense',
      config: { name: 'huge', units: 1e9 },
      registered_name: null,
    };
    await assert.rejects(
      interop.loadKerasModel(kerasFile(huge)),
      (e: Error) =>
        e instanceof interop.FormatError &&
        /layer 'huge' declares weight 'huge\/kernel' of shape \[3, 1000000000\]/.test(e.message),
    );
  });
});
