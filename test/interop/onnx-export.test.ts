// ONNX export: models run in onnxruntime-node and equal Candor's predictions within 1e-5, with a dynamic batch;
// python3-onnx's checker accepts them; unsupported layers are refused by name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Dense, Lambda, Model, RandomStream, Sequential, input, interop, tidy, type Tensor } from '../../src/index.js';
import { assertClose, withDir } from '../helpers.js';
import { assertOnnxChecks, feedOf, onnxCheckerAvailable, runOnnxRuntime } from './onnx-helpers.js';

/** Candor's predictions and onnxruntime's on the same input, for two batch sizes (the batch is dynamic). */
async function assertSameAsCandor(model: Model, inputShape: number[], batches = [1, 5]): Promise<Uint8Array> {
  const bytes = interop.toOnnx(model);
  const rng = new RandomStream(17);
  for (const b of batches) {
    const x = rng.normal([b, ...inputShape]);
    const expected = tidy(() => model.predict(x, { batchSize: 64 }) as ReturnType<typeof rng.normal>);
    const inputName = (interop.decodeModelProto(bytes).graph!.input ?? [])[0].name;
    const out = Object.values(await runOnnxRuntime(bytes, { [inputName]: feedOf(x) }))[0];
    assert.deepEqual([...out.dims], [...expected.shape]);
    assertClose(out.data, expected, { rtol: 1e-5, atol: 1e-5 }, `batch ${b}`);
  }
  return bytes;
}

describe('ONNX export', () => {
  it('exports an MLP with every activation Dense takes; onnxruntime agrees within 1e-5', async () => {
    const acts = ['relu', 'sigmoid', 'tanh', 'gelu', 'leakyRelu', 'elu', 'selu', 'swish', 'softplus', 'relu6'];
    const more = ['mish', 'hardSwish', 'logSigmoid', 'softsign', 'linear', 'softmax'];
    const model = new Sequential([
      input({ shape: [7] }),
      ...[...acts, ...more].map((activation) => new Dense({ units: 5, activation })),
    ]);
    const bytes = await assertSameAsCandor(model, [7]);
    if (onnxCheckerAvailable()) await withDir(async (dir) => assertOnnxChecks(dir, { mlp: bytes }));
  });

  it('exports a functional model with a shared layer and a nested Sequential', async () => {
    const x = input({ shape: [6] });
    const shared = new Dense({ units: 6, activation: 'tanh' });
    const inner = new Sequential([input({ shape: [6] }), new Dense({ units: 3 })]);
    const model = new Model({ inputs: x, outputs: inner.apply(shared.apply(shared.apply(x))) as never });
    const bytes = await assertSameAsCandor(model, [6]);
    const graph = interop.decodeModelProto(bytes).graph!;
    assert.equal(graph.initializer!.length, 4, 'the shared kernel and bias are stored once');
  });

  it('refuses a layer with no exporter, naming it', () => {
    const model = new Sequential([input({ shape: [4] }), new Lambda({ function: (x) => x as Tensor, name: 'noisy' })]);
    assert.throws(
      () => interop.toOnnx(model),
      (e: Error) => e instanceof interop.UnsupportedLayerError && /'noisy' \(Lambda\)/.test(e.message),
    );
  });
});
