// The OnnxOp layer (what ONNX import makes of nodes no Candor layer computes exactly) through the one layer
// harness: config round trip, shapes, float64 gradients of inputs and weights, save round trip, no leaks.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ArgumentError, interop } from '../../src/index.js';
import { layerFromConfig } from '../../src/nn/layer.js';
import { runLayerTest } from '../nn/harness.js';

const { OnnxOp } = interop;

describe('OnnxOp layer', () => {
  it('grouped 1-D Conv with weight and bias operands', () =>
    runLayerTest({
      make: () =>
        new OnnxOp({
          opType: 'Conv',
          attributes: { group: 2, pads: [1, 1], kernel_shape: [3], strides: [1] },
          operands: [{ input: 0 }, { weight: 0 }, { weight: 1 }],
          weightShapes: [[4, 1, 3], [4]],
        }),
      inputShape: [2, 2, 5],
      expectedOutputShape: [2, 4, 5],
      expectedWeights: { trainable: 2, nonTrainable: 0 },
    }));

  it('MaxPool and AveragePool with explicit pads', () => {
    for (const opType of ['MaxPool', 'AveragePool'])
      runLayerTest({
        make: () =>
          new OnnxOp({
            opType,
            attributes: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] },
            operands: [{ input: 0 }],
          }),
        inputShape: [2, 3, 4, 4],
        expectedOutputShape: [2, 3, 2, 2],
      });
  });

  it('Slice with literal starts, ends and axes', () =>
    runLayerTest({
      make: () =>
        new OnnxOp({
          opType: 'Slice',
          operands: [
            { input: 0 },
            { literal: { dims: [1], values: [1], dtype: 'int32' } },
            { literal: { dims: [1], values: [-1], dtype: 'int32' } },
            { literal: { dims: [1], values: [1], dtype: 'int32' } },
          ],
        }),
      inputShape: [2, 5, 3],
      expectedOutputShape: [2, 3, 3],
    }));

  it('Mul by a broadcast weight, and a literal scalar Pow', () => {
    runLayerTest({
      make: () => new OnnxOp({ opType: 'Mul', operands: [{ input: 0 }, { weight: 0 }], weightShapes: [[3]] }),
      inputShape: [2, 4, 3],
      expectedOutputShape: [2, 4, 3],
    });
    runLayerTest({
      make: () =>
        new OnnxOp({
          opType: 'Pow',
          operands: [{ input: 0 }, { literal: { dims: [], values: [2], dtype: 'float32' } }],
        }),
      inputShape: [2, 3],
      expectedOutputShape: [2, 3],
    });
  });
});

describe('OnnxOp config checks', () => {
  it('refuses malformed configs (as read from a model.json) with an ArgumentError naming the layer', () => {
    const bad: unknown[] = [
      { opType: 'NoSuchOp', operands: [{ input: 0 }] },
      { opType: 'Add', operands: 'x' },
      { opType: 'Add', operands: [{ input: 0 }, { weight: 1 }], weightShapes: [[3]] },
      { opType: 'Add', operands: [{ input: 0 }, { weight: 0 }], weightShapes: [[-3]] },
      { opType: 'Add', operands: [{ input: 0 }, { literal: { dims: [2], values: [1], dtype: 'float32' } }] },
      { opType: 'Add', operands: [{ input: 0 }, { literal: { dims: [1], values: [1], dtype: 'int8' } }] },
      { opType: 'Add', operands: [{ input: -1 }] },
      { opType: 'Add', operands: [{ input: 0 }], attributes: { axis: { nested: 1 } } },
    ];
    for (const config of bad)
      assert.throws(
        () => layerFromConfig({ className: 'OnnxOp', config: { name: 'op', ...(config as object) } }),
        (e: unknown) => e instanceof ArgumentError && /OnnxOp 'op'/.test(String(e)),
        JSON.stringify(config),
      );
  });
});
