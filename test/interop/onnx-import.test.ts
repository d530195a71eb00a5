// ONNX import: models exported by PyTorch 1.13 (tools/torch-fixtures-onnx.py) load and predict PyTorch's outputs
// within 1e-5, fine-tune, and survive saveModel / loadModel; unsupported operators are refused by node name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Dense,
  Model,
  RandomStream,
  Sequential,
  input,
  interop,
  layers,
  loadModel,
  memory,
  sum,
  optimizers,
  saveModel,
  tensor,
  tidy,
  type Tensor,
} from '../../src/index.js';
import { assertClose, withDir } from '../helpers.js';
import { OnnxGraphBuilder } from '../../src/interop/onnx/graph-builder.js';
import { feedOf, runOnnxRuntime } from './onnx-helpers.js';

const DIR = 'test/fixtures/interop/onnx-import';
const FIXTURES = [
  'mlp',
  'cnn',
  'views',
  'norm-gelu',
  'norm-gelu-opset13',
  'mixed',
  'padded',
  'recurrent',
  'views-fixed-batch',
  'recurrent-fixed-batch',
];

interface Fixture {
  bytes: Uint8Array;
  x: Tensor;
  y: { shape: number[]; data: number[] };
}

function fixture(name: string): Fixture {
  const json = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as {
    input: { shape: number[]; data: number[] };
    output: { shape: number[]; data: number[] };
  };
  return {
    bytes: new Uint8Array(readFileSync(join(DIR, `${name}.onnx`))),
    x: tensor(Float32Array.from(json.input.data), json.input.shape),
    y: json.output,
  };
}

const predict = (model: Model, x: Tensor) => tidy(() => model.predict(x) as Tensor);

describe('ONNX import of PyTorch exports', () => {
  for (const name of FIXTURES)
    it(`${name}: predicts PyTorch's outputs within 1e-5`, () => {
      const f = fixture(name);
      const model = interop.fromOnnx(f.bytes);
      const y = predict(model, f.x);
      assert.deepEqual([...y.shape], f.y.shape);
      assertClose(y, f.y.data, { rtol: 1e-5, atol: 1e-5 }, name);
    });
});

describe('ONNX import: memory', () => {
  it('leaves only the weights alive: the decoded file and folded constants are freed', () => {
    for (const name of ['cnn', 'views', 'recurrent']) {
      const bytes = fixture(name).bytes;
      const before = memory().tensors;
      const model = interop.fromOnnx(bytes);
      assert.equal(memory().tensors - before, model.weights.length, name);
      model.dispose();
      assert.equal(memory().tensors, before, `${name} disposed`);
    }
  });
});

describe('ONNX import: training and saving', () => {
  for (const name of ['cnn', 'norm-gelu-opset13', 'padded', 'recurrent'])
    it(`${name}: fine-tunes (loss down, every weight moves), saves and loads with identical predictions`, async () => {
      const f = fixture(name);
      const model = interop.fromOnnx(f.bytes);
      const before = model.trainableWeights.map((v) => Float32Array.from(v.value.dataSync()));
      assert.ok(before.length > 0);
      const target = tensor(
        Float32Array.from(f.y.data, (v, i) => v + (i % 3) - 1),
        f.y.shape,
      );
      model.compile({ optimizer: optimizers.adam({ learningRate: 0.01 }), loss: 'mse' });
      const history = await model.fit(f.x, target, { epochs: 8, batchSize: 3, verbose: 0, record: false, seed: 1 });
      const losses = history.history.loss;
      assert.ok(losses.at(-1)! < losses[0], `loss ${losses[0]} -> ${losses.at(-1)}`);
      model.trainableWeights.forEach((v, i) =>
        assert.ok(
          v.value.dataSync().some((w, j) => w !== before[i][j]),
          `weight ${v.name} changed`,
        ),
      );
      const y = predict(model, f.x);
      await withDir(async (dir) => {
        await saveModel(model, dir);
        const loaded = await loadModel(dir);
        assert.deepEqual(Array.from(predict(loaded, f.x).dataSync()), Array.from(y.dataSync()));
      });
    });

  it('loads through the format table by extension (interop.loadAny)', async () => {
    const f = fixture('mlp');
    await withDir(async (dir) => {
      const path = join(dir, 'mlp.onnx');
      writeFileSync(path, f.bytes);
      const model = await interop.loadAny(path);
      assertClose(predict(model, f.x), f.y.data, { rtol: 1e-5, atol: 1e-5 });
    });
  });
});

describe('ONNX round trip', () => {
  const L = layers;
  const models: Record<string, () => Sequential> = {
    cnn: () =>
      new Sequential([
        input({ shape: [8, 8, 2] }),
        L.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
        L.batchNormalization({}),
        L.maxPooling2d({ poolSize: 2 }),
        L.conv2d({ filters: 3, kernelSize: 2, strides: 2 }),
        L.flatten({}),
        L.dense({ units: 5, activation: 'softmax' }),
      ]),
    recurrent: () =>
      new Sequential([
        input({ shape: [6, 3] }),
        L.lstm({ units: 4, returnSequences: true }),
        L.gru({ units: 3 }),
        L.dense({ units: 2 }),
      ]),
    conv1d: () =>
      new Sequential([
        input({ shape: [10, 3] }),
        L.conv1d({ filters: 4, kernelSize: 3, padding: 'causal', dilationRate: 2 }),
        L.globalAveragePooling1d({}),
        L.dense({ units: 2 }),
      ]),
    norm: () =>
      new Sequential([
        input({ shape: [5, 6] }),
        L.layerNormalization({}),
        L.dense({ units: 3, activation: 'gelu' }),
        L.reshape({ targetShape: [15] }),
      ]),
  };
  for (const [name, make] of Object.entries(models))
    it(`${name}: Candor -> toOnnx -> fromOnnx predicts the same, with no Permute left`, () => {
      const model = make();
      const x = new RandomStream(1).normal([3, ...(model.input!.shape.slice(1) as number[])]);
      const imported = interop.fromOnnx(interop.toOnnx(model));
      assertClose(predict(imported, x), predict(model, x), { rtol: 1e-5, atol: 1e-6 });
      assert.ok(!imported.layers.some((l) => l.className === 'Permute'), name);
    });

  it('a Candor model exported with toOnnx imports back and predicts the same within 1e-5', () => {
    const acts = ['relu', 'sigmoid', 'tanh', 'gelu', 'leakyRelu', 'elu', 'selu', 'swish', 'softplus', 'relu6'];
    const more = ['mish', 'hardSwish', 'logSigmoid', 'softsign', 'linear', 'softmax'];
    const model = new Sequential([
      input({ shape: [7] }),
      ...[...acts, ...more].map((activation) => new Dense({ units: 5, activation })),
    ]);
    const x = new RandomStream(3).normal([4, 7]);
    const imported = interop.fromOnnx(interop.toOnnx(model));
    assertClose(predict(imported, x), predict(model, x), { rtol: 1e-5, atol: 1e-6 });
    assert.equal(imported.layers.filter((l) => l instanceof Dense).length, acts.length + more.length);
  });
});

describe('ONNX import: layouts', () => {
  it('holds a CNN channels last: one Permute (the input), none before the Flatten', () => {
    const names = interop.fromOnnx(fixture('cnn').bytes).layers.map((l) => l.className);
    assert.equal(names.filter((n) => n === 'Permute').length, 1, names.join(' '));
    assert.equal(names.indexOf('Dense') - names.indexOf('Flatten'), 1, names.join(' '));
  });

  it('a reordered Flatten read by another node than a Dense is put back in order (onnxruntime agrees)', async () => {
    const g = new OnnxGraphBuilder('order');
    const x = g.addInput('x', 'float32', [null, 2, 4, 3]);
    const rng = new RandomStream(5);
    const w = g.array('w', rng.normal([3, 2, 2, 2]).dataSync() as Float32Array, [3, 2, 2, 2]);
    const conv = g.op('Conv', [x, w], { kernel_shape: [2, 2], pads: [0, 0, 0, 0] });
    const flat = g.op('Flatten', [g.op('Relu', [conv])], { axis: 1 });
    const b = g.array('b', rng.normal([18, 5]).dataSync() as Float32Array, [18, 5]);
    // alpha = 2: not a plain Dense, so the generic Gemm reads the flattened features in ONNX's order.
    const y = g.op('Gemm', [flat, b], { alpha: { f: 2 } });
    g.addOutput(y, 'float32', [null, 5]);
    const bytes = interop.encodeModelProto({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: g.toGraphProto(),
    });
    const input = rng.normal([3, 2, 4, 3]);
    const expected = (await runOnnxRuntime(bytes, { x: feedOf(input) }))[y];
    const model = interop.fromOnnx(bytes);
    assertClose(predict(model, input), expected.data, { rtol: 1e-5, atol: 1e-5 });
  });
});

describe('ONNX import: patterns', () => {
  it("PyTorch's exact GELU becomes one gelu activation, unless an intermediate value is also read", async () => {
    const build = (alsoReturnErf: boolean) => {
      const g = new OnnxGraphBuilder('gelu');
      const x = g.addInput('x', 'float32', [null, 6]);
      const erf = g.op('Erf', [g.op('Div', [x, g.floats('sqrt2', [Math.SQRT2], [])])]);
      const y = g.op('Mul', [
        g.op('Mul', [x, g.op('Add', [erf, g.floats('one', [1], [])])]),
        g.floats('half', [0.5], []),
      ]);
      g.addOutput(y, 'float32', [null, 6]);
      if (alsoReturnErf) g.addOutput(erf, 'float32', [null, 6]);
      return interop.encodeModelProto({
        irVersion: 8,
        opsetImport: [{ domain: '', version: 17 }],
        graph: g.toGraphProto(),
      });
    };
    const x = new RandomStream(9).normal([4, 6]);
    for (const alsoReturnErf of [false, true]) {
      const bytes = build(alsoReturnErf);
      const model = interop.fromOnnx(bytes);
      const expected = Object.values(await runOnnxRuntime(bytes, { x: feedOf(x) }))[0];
      const out = tidy(() => model.predict(x) as Tensor | Tensor[]);
      assertClose(Array.isArray(out) ? out[0] : out, expected.data, { rtol: 1e-5, atol: 1e-6 });
      const classes = model.layers.map((l) => l.className);
      assert.equal(classes.includes('Activation'), !alsoReturnErf, classes.join(' '));
    }
  });
});

describe('ONNX import: older opsets', () => {
  const build = (opset: number, op: (g: OnnxGraphBuilder, x: string) => string, out: number[]) => {
    const g = new OnnxGraphBuilder('old');
    const x = g.addInput('x', 'float32', [null, 4, 3]);
    g.addOutput(op(g, x), 'float32', [null, ...out]);
    return interop.encodeModelProto({
      irVersion: 7,
      opsetImport: [{ domain: '', version: opset }],
      graph: g.toGraphProto(),
    });
  };

  it('Slice with starts / ends / axes attributes (opset 9) slices as onnxruntime does', async () => {
    const bytes = build(9, (g, x) => g.op('Slice', [x], { starts: [1], ends: [3], axes: [1] }), [2, 3]);
    const x = new RandomStream(4).normal([2, 4, 3]);
    const expected = Object.values(await runOnnxRuntime(bytes, { x: feedOf(x) }))[0];
    assertClose(predict(interop.fromOnnx(bytes), x), expected.data, { rtol: 0, atol: 0 });
  });

  it('a Softmax that opset 11 would flatten from a middle axis is refused; over the last axis it imports', () => {
    const middle = build(11, (g, x) => g.op('Softmax', [x], { axis: 1 }), [4, 3]);
    assert.throws(
      () => interop.fromOnnx(middle),
      (e: unknown) => e instanceof interop.UnsupportedLayerError,
    );
    const last = build(11, (g, x) => g.op('Softmax', [x], { axis: 2 }), [4, 3]);
    const y = predict(interop.fromOnnx(last), new RandomStream(4).normal([2, 4, 3]));
    assertClose(sum(y, -1), new Float32Array(8).fill(1), { rtol: 1e-6, atol: 1e-6 });
  });
});
