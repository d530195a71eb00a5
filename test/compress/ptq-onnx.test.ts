// Tests the ONNX export of the int8 layers (QDQ): onnxruntime-node's outputs match Candor's int8 model within one
// input quantisation step, and python3-onnx's checker accepts the file.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Sequential, interop, tidy, type Tensor } from '../../src/index.js';
import { Conv2D, Dense, Flatten, MaxPooling2D } from '../../src/nn/layers/index.js';
import { QuantizedDense, quantizeModel } from '../../src/compress/index.js';
import { checkedAfterAll, feedOf, runOnnxRuntime } from '../interop/onnx-helpers.js';
import { rand } from '../helpers.js';

const checked = checkedAfterAll();

describe('ONNX export of int8 layers', () => {
  test('a quantised CNN runs in onnxruntime as QDQ, matching Candor within one quantisation step', async () => {
    const model = new Sequential([
      new Conv2D({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', inputShape: [9, 8, 2] }),
      new MaxPooling2D({ poolSize: 2 }),
      new Conv2D({ filters: 4, kernelSize: 2, strides: 2 }),
      new Flatten(),
      new Dense({ units: 5 }),
    ]);
    const x = rand([7, 9, 8, 2], 4, { dtype: 'float32', lo: -1, hi: 2 });
    const { model: q, report } = quantizeModel(model, x, { method: 'percentile', percentile: 99 });
    const bytes = interop.toOnnx(q);
    checked['ptq-cnn'] = bytes;
    const graph = interop.decodeModelProto(bytes).graph!;
    const ops = graph.node!.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === 'QuantizeLinear').length, 3);
    assert.ok(
      graph.initializer!.some((t) => t.dataType === 3),
      'int8 kernels are stored as INT8',
    );
    const outs = await runOnnxRuntime(bytes, { [graph.input![0].name!]: feedOf(x) });
    const got = outs[graph.output![0].name!];
    tidy(() => {
      const want = q.predict(x) as Tensor;
      assert.deepEqual([...got.dims], [...want.shape]);
      // Rounding of x / s at a tie (onnxruntime divides, Candor multiplies by fround(1 / s)) may move an input by
      // one step, which moves an output by at most the step times the largest |weight| it meets.
      const head = q.layers[4] as QuantizedDense;
      const kernel = head.kernel!.value.dataSync();
      const scales = head.kernelScale!.value.dataSync();
      let largest = 0;
      for (let i = 0; i < kernel.length; i++) largest = Math.max(largest, Math.abs(kernel[i] * scales[i % 5]));
      const step = report.quantized[2].inputScale * largest;
      const g = got.data,
        w = want.dataSync();
      let worst = 0;
      for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]));
      assert.ok(worst <= step + 1e-5, `outputs differ by ${worst}, more than one step's effect ${step}`);
    });
    x.dispose();
  });
});
