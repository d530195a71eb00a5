// Numerics against PyTorch from committed fixtures (tools/torch-conv-fixtures.py, which documents the torch ->
// Keras weight mapping): DepthwiseConv2D, SeparableConv2D, grouped Conv2D with asymmetric padding,
// Conv2DTranspose with outputPadding and bilinear UpSampling2D; outputs and input and weight gradients to 1e-5.
import { describe, test } from 'node:test';
import { Tensor, mul, sum, tidy } from '../../src/index.js';
import type { Layer } from '../../src/nn/layer.js';
import {
  Conv2D,
  Conv2DTranspose,
  DepthwiseConv2D,
  SeparableConv2D,
  UpSampling2D,
  type Conv2DTransposeArgs,
  type ConvArgs,
  type DepthwiseConv2DArgs,
  type SeparableConv2DArgs,
  type UpSampling2DArgs,
} from '../../src/nn/layers/index.js';
import { checkAll, gradients, load, maxAbsError, setFixtureWeights, t64 } from './torch-fixtures.js';

const CASES: Record<string, (config: Record<string, unknown>) => Layer> = {
  depthwise_conv2d: (c) => new DepthwiseConv2D({ ...(c as unknown as DepthwiseConv2DArgs), dtype: 'float64' }),
  separable_conv2d: (c) => new SeparableConv2D({ ...(c as unknown as SeparableConv2DArgs), dtype: 'float64' }),
  grouped_conv2d: (c) => new Conv2D({ ...(c as unknown as ConvArgs), dtype: 'float64' }),
  conv2d_transpose_output_padding: (c) =>
    new Conv2DTranspose({ ...(c as unknown as Conv2DTransposeArgs), dtype: 'float64' }),
  upsampling2d_bilinear: (c) => new UpSampling2D({ ...(c as unknown as UpSampling2DArgs), dtype: 'float64' }),
};

describe('convolution and upsampling layers match PyTorch (float64, 1e-5)', () => {
  for (const [name, make] of Object.entries(CASES)) {
    test(`${name}: output, input and weight gradients`, (t) =>
      tidy(() => {
        const f = load(name);
        const layer = make(f.config);
        const inputs = { x: t64(f.inputs.x) };
        layer.apply(inputs.x);
        if (layer.weights.length > 0) setFixtureWeights(layer, f);
        const errors: Record<string, number> = {
          output: maxAbsError(layer.apply(inputs.x) as Tensor, f.outputs.y, 'y'),
        };
        const projection = t64(f.projections.y);
        const gs = gradients(layer, inputs, (xs) => sum(mul(layer.apply(xs.x) as Tensor, projection)));
        for (const [k, g] of Object.entries(gs)) errors[`grad ${k}`] = maxAbsError(g, f.grads[k], `grad ${k}`);
        checkAll(t, errors);
        layer.dispose();
      }));
  }
});
