// TF.js layers models: the real fixture (tfjs-layers 4.22) loads and classifies MNIST as TF.js does; models
// trained in @tensorflow/tfjs load in Candor, and Candor models saved with saveTfjsModel load in TF.js, with the
// same predictions within 1e-5; quantized weights; unknown classes; seeded corruptions give typed errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Layer,
  Model,
  RandomStream,
  Sequential,
  argmax,
  datasets,
  dispose,
  input,
  interop,
  layers,
  slice,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { assertClose, withDir } from '../helpers.js';
import { Rng } from '../io/rng.js';
import { loadInTfjs, saveFromTfjs, tf } from './tfjs-helpers.js';

const FIXTURE = 'test/fixtures/interop/tfjs';
const { loadTfjsModel, saveTfjsModel, registerKerasLayer, FormatError, InteropError, UnsupportedLayerError } = interop;

/** Candor's and TF.js' predictions on the same inputs agree within 1e-5. */
function assertSamePredictions(candor: Model, tfjs: tf.LayersModel, xs: Tensor[], what: string, rtol = 1e-5): void {
  tidy(() => {
    // predict() returns a list for a list of inputs.
    const out = candor.predict(xs.length === 1 ? xs[0] : xs);
    const got = Array.isArray(out) ? out[0] : out;
    const feed = xs.map((x) => tf.tensor(x.dataSync() as Float32Array, [...x.shape], x.dtype as 'float32'));
    const want = tfjs.predict(feed.length === 1 ? feed[0] : feed) as tf.Tensor;
    assert.deepEqual([...got.shape], want.shape, what);
    assertClose(got, want.dataSync() as Float32Array, { rtol, atol: 1e-5 }, what);
    tf.dispose([...feed, want]);
  });
}

describe('TF.js layers models', () => {
  it('loads the real tfjs-layers 4.22 fixture: MNIST accuracy and predictions equal TF.js own', async () => {
    const model = await loadTfjsModel(FIXTURE);
    const { train, test } = await datasets.mnist({ flatten: false });
    dispose([train.x, train.y]);
    const labels = test.y.dataSync();
    const pred = tidy(() => argmax(model.predict(test.x, { batchSize: 2000 }) as Tensor, -1).dataSync());
    const accuracy = Array.from(pred).filter((p, i) => p === labels[i]).length / labels.length;
    // Its author trained this file to 0.696 on the test set: tf.loadLayersModel (tfjs 4.22, CPU backend) scores
    // it 0.6960 on these inputs (measured once; too slow to repeat here). A wrong import lands near 0.1.
    assert.ok(Math.abs(accuracy - 0.696) <= 3e-4, `accuracy ${accuracy}`);
    const reference = await loadInTfjs(join(FIXTURE, 'model.json'));
    const first = slice(test.x, [0, 0, 0, 0], [500, 28, 28, 1]);
    // Sums of 784 float32 products in another order than TF.js' kernel: 1e-4, not 1e-5, relative.
    assertSamePredictions(model, reference, [first], 'fixture', 1e-4);
    dispose([first, test.x, test.y]);
    model.dispose();
  });

  it('loads models trained in @tensorflow/tfjs, with the same predictions', async () => {
    tf.setBackend('cpu');
    const image = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 2], filters: 4, kernelSize: 3, activation: 'relu', padding: 'same' }),
        tf.layers.batchNormalization({}),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.averagePooling2d({ poolSize: 2, strides: 1 }),
        tf.layers.dropout({ rate: 0.3 }),
        tf.layers.flatten({}),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    const text = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: 12, outputDim: 5, inputLength: 6 }),
        tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid', returnSequences: true }),
        tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid' }) as tf.RNN }),
        tf.layers.dense({ units: 2, activation: 'sigmoid' }),
      ],
    });
    const rng = new RandomStream(3);
    const images = rng.normal([16, 8, 8, 2]);
    const ids = tensor(
      Array.from({ length: 96 }, (_, i) => (i * 5) % 12),
      [16, 6],
      'float32',
    );
    for (const [model, x, y] of [
      [
        image,
        images,
        tf.oneHot(
          tf.tensor1d(
            [...Array(16).keys()].map((i) => i % 3),
            'int32',
          ),
          3,
        ),
      ],
      [
        text,
        ids,
        tf.tensor2d(
          [...Array(32).keys()].map((i) => i % 2),
          [16, 2],
        ),
      ],
    ] as const) {
      model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
      const xt = tf.tensor(x.dataSync() as Float32Array, [...x.shape]);
      await model.fit(xt, y, { epochs: 1, batchSize: 8, verbose: 0 });
      await withDir(async (dir) => {
        await saveFromTfjs(model, dir);
        const candor = await loadTfjsModel(join(dir, 'model.json'));
        assertSamePredictions(candor, model, [x], model.name);
        candor.dispose();
      });
      tf.dispose([xt, y]);
    }
    dispose([images, ids]);
  });

  it('loads a functional model as TF.js writes it (Model; inbound nodes [[name, node, index, kwargs]])', async () => {
    const a = tf.input({ shape: [5] });
    const b = tf.input({ shape: [5] });
    const shared = tf.layers.dense({ units: 5, activation: 'tanh' });
    const [da, db] = [shared.apply(a), shared.apply(b)] as tf.SymbolicTensor[];
    const sum = tf.layers.add().apply([da, db]) as tf.SymbolicTensor;
    const cat = tf.layers.concatenate().apply([sum, b]) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 2 }).apply(cat) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [a, b], outputs: out });
    const rng = new RandomStream(9);
    const xs = [rng.normal([8, 5]), rng.normal([8, 5])];
    const feed = xs.map((x) => tf.tensor(x.dataSync() as Float32Array, [...x.shape]));
    model.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
    await model.fit(feed, tf.ones([8, 2]), { epochs: 1, verbose: 0 });
    await withDir(async (dir) => {
      await saveFromTfjs(model, dir);
      assert.equal(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).modelTopology.class_name, 'Model');
      const candor = await loadTfjsModel(dir);
      assertSamePredictions(candor, model, xs, 'functional');
      candor.dispose();
    });
    tf.dispose(feed);
    dispose(xs);
  });

  it('saves Candor models that TF.js loads and predicts alike', async () => {
    const image = new Sequential([
      input({ shape: [8, 8, 2] }),
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      layers.batchNormalization({}),
      layers.maxPooling2d({ poolSize: 2 }),
      layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'tanh' }),
      layers.averagePooling2d({ poolSize: 1 }),
      layers.zeroPadding2d({ padding: 1 }),
      layers.depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2 }),
      layers.separableConv2d({ filters: 4, kernelSize: 2, activation: 'elu' }),
      layers.upSampling2d({ size: 2 }),
      layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2 }),
      layers.cropping2d({ cropping: 1 }),
      layers.dropout({ rate: 0.4 }),
      layers.flatten({}),
      layers.dense({ units: 5, activation: 'softmax' }),
    ]);
    const image2 = new Sequential([
      input({ shape: [6, 6, 3] }),
      layers.rescaling({ scale: 0.5, offset: 0.25 }),
      layers.conv2d({ filters: 4, kernelSize: 3 }),
      layers.prelu({}),
      layers.globalAveragePooling2d({}),
      layers.layerNormalization({}),
      layers.reLU({ maxValue: 2 }),
      layers.repeatVector({ n: 3 }),
      layers.permute({ dims: [2, 1] }),
      layers.reshape({ targetShape: [12] }),
      layers.leakyReLU({ negativeSlope: 0.2 }),
      layers.softmax({}),
    ]);
    const text = new Sequential([
      input({ shape: [6] }),
      layers.embedding({ inputDim: 12, outputDim: 5 }),
      layers.conv1d({ filters: 5, kernelSize: 2, padding: 'same' }),
      layers.lstm({ units: 4, returnSequences: true }),
      layers.bidirectional({ layer: layers.gru({ units: 3, resetAfter: false, returnSequences: true }) }),
      layers.timeDistributed({ layer: layers.dense({ units: 3 }) }),
      layers.simpleRnn({ units: 3, returnSequences: true }),
      layers.gru({ units: 3, resetAfter: false }), // TF.js has no reset_after: true (Keras 3's default)
      layers.dense({ units: 2 }),
    ]);
    const a = input({ shape: [4] });
    const b = input({ shape: [4] });
    const d = layers.dense({ units: 4, activation: 'relu' });
    const sum = layers.add({}).apply([d.apply(a), d.apply(b)]);
    const both = layers.concatenate({}).apply([sum, b]);
    const functional = new Model({ inputs: [a, b], outputs: layers.dense({ units: 2 }).apply(both) });
    const rng = new RandomStream(4);
    // Nonzero BN statistics and biases, so that a weight assigned to the wrong slot shows.
    for (const m of [image, image2, text, functional])
      for (const w of m.weights) w.assign(tidy(() => w.value.add(rng.uniform([...w.shape], 0.1, 0.5))));
    const ids = tensor(
      Array.from({ length: 30 }, (_, i) => (i * 7) % 12),
      [5, 6],
    );
    const cases: [Model, Tensor[]][] = [
      [image, [rng.normal([3, 8, 8, 2])]],
      [image2, [rng.normal([3, 6, 6, 3])]],
      [text, [ids]],
      [functional, [rng.normal([3, 4]), rng.normal([3, 4])]],
    ];
    await withDir(async (dir) => {
      // What TF.js cannot load is refused when saving, by name.
      const gru = new Sequential([input({ shape: [3, 2] }), layers.gru({ units: 2, name: 'gru_after' })]);
      await assert.rejects(saveTfjsModel(gru, join(dir, 'gru.tfjs')), /'gru_after' \(GRU\).*reset_after/);
      const att = new Sequential([input({ shape: [3, 2] }), layers.groupNormalization({ groups: 1, name: 'gn' })]);
      await assert.rejects(saveTfjsModel(att, join(dir, 'gn.tfjs')), UnsupportedLayerError);
      for (const [i, [model, xs]] of cases.entries()) {
        const path = join(dir, `m${i}.tfjs`);
        await saveTfjsModel(model, path);
        const json = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as Record<string, unknown>;
        assert.equal(json.format, 'layers-model');
        assert.match(String(json.generatedBy), /^Candor v/);
        const theirs = await loadInTfjs(join(path, 'model.json'));
        assertSamePredictions(model, theirs, xs, `model ${i}`);
        const back = await interop.loadAny(path); // and back: the format table dispatches on '.tfjs'
        assertSamePredictions(back, theirs, xs, `model ${i} reloaded`);
        back.dispose();
        theirs.dispose();
      }
    });
    for (const [, xs] of cases) dispose(xs);
  });

  it('refuses at save, by layer and option, what TF.js computes differently or cannot load', async () => {
    // [input shape, layer, the option named in the error]; each was saved and loaded in tf.loadLayersModel.
    const refused: [number[], Layer, string][] = [
      [[4], layers.reLU({ negativeSlope: 0.1, name: 'r1' }), 'negativeSlope'],
      [[4], layers.reLU({ threshold: 0.5, name: 'r2' }), 'threshold'],
      [[3, 3, 2], layers.upSampling2d({ size: 2, interpolation: 'bilinear', name: 'up' }), 'interpolation'],
      [
        [3, 3, 2],
        layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, outputPadding: 1, name: 'ct' }),
        'outputPadding',
      ],
      [[3, 3, 2], layers.globalAveragePooling2d({ keepdims: true, name: 'gap' }), 'keepdims'],
      [[3, 3, 4], layers.conv2d({ filters: 4, kernelSize: 1, groups: 2, name: 'grouped' }), 'groups'],
      [[4], layers.elu({ alpha: 0.5, name: 'e' }), 'alpha'],
      [[4], layers.dense({ units: 2, activation: 'hardSwish', name: 'd1' }), 'activation'],
      [[4], layers.dense({ units: 2, activation: 'leakyRelu', name: 'd2' }), 'activation'],
      [[4], layers.dense({ units: 2, activation: 'logSigmoid', name: 'd3' }), 'activation'],
      [[3, 4], layers.softmax({ axis: 1, name: 'sm' }), 'axis'],
      [[5, 2], layers.conv1d({ filters: 2, kernelSize: 2, padding: 'causal', name: 'causal' }), 'padding'],
    ];
    await withDir(async (dir) => {
      // Every case is tried, and those saved without the expected error are listed together.
      const saved: string[] = [];
      const expect = async (model: Model, name: string, want: (e: unknown) => boolean) => {
        try {
          await saveTfjsModel(model, join(dir, `${name}.tfjs`));
          saved.push(name);
        } catch (e) {
          if (!want(e)) saved.push(`${name}: ${String(e)}`);
        }
        model.dispose();
      };
      for (const [shape, layer, option] of refused)
        await expect(
          new Sequential([input({ shape }), layer]),
          `${layer.name} ${option}`,
          (e) => e instanceof InteropError && e.message.includes(`'${layer.name}' (${layer.className}) has ${option}:`),
        );
      // TF.js 4.22's Resizing and CenterCrop fail on batched inputs: refused as classes TF.js lacks.
      for (const layer of [
        layers.resizing({ height: 2, width: 2, name: 'rs' }),
        layers.centerCrop({ height: 2, width: 2, name: 'cc' }),
      ])
        await expect(
          new Sequential([input({ shape: [4, 4, 1] }), layer]),
          layer.name,
          (e) => e instanceof UnsupportedLayerError && e.message.includes(`'${layer.name}' (${layer.className})`),
        );
      assert.deepEqual(saved, []);
      // The same layers with the default options save, and TF.js predicts as Candor does.
      const rng = new RandomStream(12);
      const fine = new Sequential([
        input({ shape: [3, 3, 2] }),
        layers.upSampling2d({ size: 2 }),
        layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2 }),
        layers.reLU({}),
        layers.globalAveragePooling2d({}),
        layers.elu({}),
        layers.softmax({}),
      ]);
      const x = rng.normal([2, 3, 3, 2]);
      await saveTfjsModel(fine, join(dir, 'fine.tfjs'));
      const theirs = await loadInTfjs(join(dir, 'fine.tfjs', 'model.json'));
      assertSamePredictions(fine, theirs, [x], 'default options');
      theirs.dispose();
      fine.dispose();
      dispose([x]);
    });
  });

  it('refuses to load a bilinear UpSampling2D, which TF.js samples differently', async () => {
    const model = tf.sequential({
      layers: [tf.layers.upSampling2d({ inputShape: [3, 3, 1], size: [2, 2], interpolation: 'bilinear' })],
    });
    await withDir(async (dir) => {
      await saveFromTfjs(model, dir);
      await assert.rejects(
        loadTfjsModel(dir),
        (e: Error) => e instanceof InteropError && /'up_sampling2d\w*' \(UpSampling2D\).*bilinear/.test(e.message),
      );
    });
    model.dispose();
  });

  it('a save over a previous save leaves only the new shard, named by its content, and loads', async () => {
    const rng = new RandomStream(13);
    const model = new Sequential([input({ shape: [3] }), layers.dense({ units: 2 })]);
    const x = rng.normal([4, 3]);
    await withDir(async (dir) => {
      const path = join(dir, 'm.tfjs');
      await saveTfjsModel(model, path);
      const first = readdirSync(path).sort();
      assert.equal(first.length, 2, first.join(', '));
      for (const w of model.weights) w.assign(tidy(() => w.value.add(1)));
      await saveTfjsModel(model, path);
      const second = readdirSync(path).sort();
      assert.equal(second.length, 2, second.join(', '));
      const shard = second.find((n) => n !== 'model.json')!;
      assert.match(shard, /^group1-shard1of1-[0-9a-f]{16}\.bin$/);
      assert.ok(!first.includes(shard), 'the new shard has a new name');
      const json = JSON.parse(readFileSync(join(path, 'model.json'), 'utf8')) as {
        weightsManifest: { paths: string[] }[];
      };
      assert.deepEqual(json.weightsManifest[0].paths, [shard]);
      const theirs = await loadInTfjs(join(path, 'model.json'));
      assertSamePredictions(model, theirs, [x], 'resaved');
      const back = await loadTfjsModel(path);
      assertSamePredictions(back, theirs, [x], 'resaved, in Candor');
      back.dispose();
      theirs.dispose();
    });
    model.dispose();
    dispose([x]);
  });

  it('reads uint8, uint16 and float16 quantized weights as TF.js does', async () => {
    const json = JSON.parse(readFileSync(join(FIXTURE, 'model.json'), 'utf8')) as {
      weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; quantization?: object }[] }[];
    };
    const raw = readFileSync(join(FIXTURE, 'model.json.weights.bin'));
    const floats = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    await withDir(async (dir) => {
      for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
        const parts: Buffer[] = [];
        let at = 0;
        const weights = json.weightsManifest[0].weights.map((w) => {
          const n = w.shape.reduce((p, q) => p * q, 1);
          const v = floats.subarray(at, (at += n));
          if (dtype === 'float16') {
            const h = tf.tensor(v).cast('float32');
            parts.push(Buffer.from(new Uint16Array(Array.from(v, toHalf)).buffer));
            h.dispose();
            return { ...w, quantization: { dtype } };
          }
          const min = Math.min(...v);
          const levels = dtype === 'uint8' ? 255 : 65535;
          const scale = (Math.max(...v) - min) / levels;
          const q = Array.from(v, (x) => Math.round((x - min) / scale));
          parts.push(Buffer.from((dtype === 'uint8' ? Uint8Array.from(q) : Uint16Array.from(q)).buffer));
          return { ...w, quantization: { dtype, min, scale } };
        });
        const sub = join(dir, dtype);
        mkdirSync(sub);
        writeFileSync(join(sub, 'q.bin'), Buffer.concat(parts));
        const quantized = { ...json, weightsManifest: [{ paths: ['q.bin'], weights }] };
        writeFileSync(join(sub, 'model.json'), JSON.stringify(quantized));
        const ours = await loadTfjsModel(sub);
        const theirs = await loadInTfjs(join(sub, 'model.json'));
        const x = new RandomStream(5).uniform([4, 28, 28, 1]);
        assertSamePredictions(ours, theirs, [x], dtype);
        dispose([x]);
        ours.dispose();
      }
    });
  });

  it('refuses an unknown class by name, and registerKerasLayer replaces it', async () => {
    const json = JSON.parse(readFileSync(join(FIXTURE, 'model.json'), 'utf8')) as {
      modelTopology: { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
    };
    const layerList = json.modelTopology.config.layers;
    layerList.splice(2, 0, { class_name: 'ThresholdedReLU', config: { name: 'thresholded', theta: 0.5 } });
    await withDir(async (dir) => {
      writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
      writeFileSync(join(dir, 'model.json.weights.bin'), readFileSync(join(FIXTURE, 'model.json.weights.bin')));
      await assert.rejects(
        loadTfjsModel(dir),
        (e: Error) => e instanceof UnsupportedLayerError && /'thresholded' \(ThresholdedReLU\)/.test(e.message),
      );
      registerKerasLayer('ThresholdedReLU', (c) => layers.reLU({ threshold: Number(c.theta), name: String(c.name) }));
      const model = await loadTfjsModel(dir);
      assert.deepEqual(
        model.layers.map((l) => l.className),
        ['Flatten', 'Dense', 'ReLU', 'Dense'],
      );
      model.dispose();
    });
  });

  it('refuses a graph model, shards that do not match the manifest and paths outside the folder', async () => {
    const json = readFileSync(join(FIXTURE, 'model.json'), 'utf8');
    const bin = readFileSync(join(FIXTURE, 'model.json.weights.bin'));
    await withDir(async (dir) => {
      const write = (text: string, bytes: Uint8Array = bin) => {
        writeFileSync(join(dir, 'model.json'), text);
        writeFileSync(join(dir, 'model.json.weights.bin'), bytes);
      };
      write(json.replace('"layers-model"', '"graph-model"'));
      await assert.rejects(
        loadTfjsModel(dir),
        (e: Error) => e instanceof InteropError && /graph-model/.test(e.message),
      );
      write(json, bin.subarray(0, bin.length - 4));
      await assert.rejects(loadTfjsModel(dir), /declares 407080 bytes of weights; its shards .* hold 407076/);
      write(json.replace('[784,128]', '[784,129]'));
      await assert.rejects(loadTfjsModel(dir), FormatError);
      write(json.replace('./model.json.weights.bin', '../../etc/passwd'));
      await assert.rejects(loadTfjsModel(dir), /leaves the model's folder/);
      write(json.replace('"dense_Dense2/bias"', '"dense_Dense3/bias"'));
      await assert.rejects(loadTfjsModel(dir), /layer 'dense_Dense2'.*dense_Dense2\/kernel/);
    });
  });

  it('fuzz: seeded corruptions of model.json and the shard give FormatError or InteropError only', async () => {
    const text = readFileSync(join(FIXTURE, 'model.json'), 'utf8');
    const bin = new Uint8Array(readFileSync(join(FIXTURE, 'model.json.weights.bin')));
    const parsed = JSON.parse(text) as unknown;
    const junk: unknown[] = [null, '128', -1, 0, 2.5, 1e308, 2 ** 40, true, [], {}, [1, [2]], { class_name: 'Dense' }];
    const rng = new Rng(new RandomStream(11));
    const outcomes = new Map<string, number>();
    await withDir(async (dir) => {
      for (let i = 0; i < 100; i++) {
        const kind = rng.int(3);
        let json = text;
        let bytes = bin;
        if (kind === 0) {
          const b = new TextEncoder().encode(text);
          const cut = rng.int(2) === 0 ? b.slice(0, rng.int(b.length)) : b.slice();
          if (cut.length === b.length) cut[rng.int(cut.length)] = rng.int(256);
          json = new TextDecoder().decode(cut);
        } else if (kind === 1) {
          const copy = JSON.parse(JSON.stringify(parsed)) as unknown;
          const slots: [Record<string, unknown>, string][] = [];
          const visit = (v: unknown) => {
            if (typeof v !== 'object' || v === null) return;
            for (const k of Object.keys(v)) {
              slots.push([v as Record<string, unknown>, k]);
              visit((v as Record<string, unknown>)[k]);
            }
          };
          visit(copy);
          const [parent, key] = rng.pick(slots);
          if (rng.int(5) === 0 && !Array.isArray(parent)) delete parent[key];
          else parent[key] = rng.pick(junk);
          json = JSON.stringify(copy);
        } else bytes = bin.slice(0, rng.int(bin.length));
        writeFileSync(join(dir, 'model.json'), json);
        writeFileSync(join(dir, 'model.json.weights.bin'), bytes);
        try {
          (await loadTfjsModel(dir)).dispose();
          outcomes.set('loaded', (outcomes.get('loaded') ?? 0) + 1);
        } catch (e) {
          const typed = e instanceof FormatError || e instanceof InteropError;
          assert.ok(typed, `case ${i} (kind ${kind}): ${(e as Error).stack?.slice(0, 800)}`);
          outcomes.set((e as Error).name, (outcomes.get((e as Error).name) ?? 0) + 1);
        }
      }
    });
    assert.ok((outcomes.get('loaded') ?? 0) > 0 && outcomes.size > 1, JSON.stringify([...outcomes]));
  });
});

/** float32 -> float16 bits (round to nearest even), for writing test files. */
function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = u & 0x7fffff;
  if (exp <= 0) return sign | (exp < -10 ? 0 : ((mant | 0x800000) >> (1 - exp + 13)) & 0x3ff);
  if (exp >= 31) return sign | 0x7c00;
  let h = sign | (exp << 10) | (mant >> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}
