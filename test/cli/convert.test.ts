// `candor convert`: between Candor's directory format and the interop formats, with --check reading OUT back.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Dense, RandomStream, Sequential, input, interop, saveModel, type Tensor } from '../../src/index.js';
import { withDir, assertClose } from '../helpers.js';
import { candor } from './run.js';
import { runOnnxRuntime, feedOf } from '../interop/onnx-helpers.js';

const mlp = () =>
  new Sequential([input({ shape: [5] }), new Dense({ units: 4, activation: 'tanh' }), new Dense({ units: 3 })]);

describe('candor convert', () => {
  // Also the regression test of the shell command finding backends and layers (explain and convert found none).
  it('writes an .onnx file that onnxruntime runs as the saved model predicts', async () => {
    await withDir(async (dir) => {
      const model = mlp();
      await saveModel(model, join(dir, 'm'));
      const r = candor('convert', join(dir, 'm'), join(dir, 'm.onnx'));
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Candor model directory .* -> ONNX \(\.onnx\) .*: 2 layers, 39 weights/);
      const x = new RandomStream(3).normal([2, 5]);
      const bytes = readFileSync(join(dir, 'm.onnx'));
      const name = interop.decodeModelProto(bytes).graph!.input![0].name;
      const out = await runOnnxRuntime(bytes, { [name]: feedOf(x) });
      assertClose(Object.values(out)[0].data, model.predict(x) as Tensor, { rtol: 1e-5, atol: 1e-5 });
    });
  });

  it('--check reads the output back and compares predictions', async () => {
    await withDir(async (dir) => {
      await saveModel(mlp(), join(dir, 'm'));
      const r = candor('convert', join(dir, 'm'), join(dir, 'copy'), '--check');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /check: .* predicts as .* does \(largest relative difference 0\.00e\+0\)/);
    });
  });

  it('needs IN and OUT', () => {
    const r = candor('convert', 'only-one');
    assert.equal(r.code, 2);
    assert.match(r.err, /expected IN OUT/);
  });
});
