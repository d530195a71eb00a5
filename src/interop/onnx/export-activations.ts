// ONNX nodes for Candor's activations by canonical name (nn/activations.ts), and the Activation layer. Opset 17
// has no Gelu, Mish or Swish op, so those are composed from Erf, Tanh, Softplus and Sigmoid exactly as the ops
// compute them.
import type { Layer } from '../../nn/layer.js';
import type { Activation } from '../../nn/layers/activation.js';
import type { DType } from '../../tensor/dtype.js';
import { floatsOf } from './export-constants.js';
import { InteropError } from '../errors.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { registerOnnxExporter } from './exporters.js';

/** `c(base, value)`: a scalar constant in the layer's dtype (float64 layers need float64 operands). */
type ActivationExport = (g: OnnxGraphBuilder, x: string, c: (base: string, value: number) => string) => string;

const ACTIVATION_EXPORTS: Record<string, ActivationExport> = {
  linear: (_g, x) => x,
  relu: (g, x) => g.op('Relu', [x]),
  sigmoid: (g, x) => g.op('Sigmoid', [x]),
  tanh: (g, x) => g.op('Tanh', [x]),
  softmax: (g, x) => g.op('Softmax', [x], { axis: -1 }),
  // gelu (exact): 0.5 x (1 + erf(x / sqrt 2))
  gelu: (g, x, c) => {
    const erf = g.op('Erf', [g.op('Mul', [x, c('sqrt1_2', Math.SQRT1_2)])]);
    return g.op('Mul', [g.op('Mul', [x, c('half', 0.5)]), g.op('Add', [erf, c('one', 1)])]);
  },
  leakyRelu: (g, x) => g.op('LeakyRelu', [x], { alpha: { f: 0.2 } }),
  elu: (g, x) => g.op('Elu', [x], { alpha: { f: 1 } }),
  selu: (g, x) => g.op('Selu', [x]),
  swish: (g, x) => g.op('Mul', [x, g.op('Sigmoid', [x])]),
  softplus: (g, x) => g.op('Softplus', [x]),
  relu6: (g, x, c) => g.op('Clip', [x, c('zero', 0), c('six', 6)]),
  mish: (g, x) => g.op('Mul', [x, g.op('Tanh', [g.op('Softplus', [x])])]),
  hardSwish: (g, x) => g.op('HardSwish', [x]),
  logSigmoid: (g, x) => g.op('Neg', [g.op('Softplus', [g.op('Neg', [x])])]),
  softsign: (g, x) => g.op('Softsign', [x]),
};

/** The value of activation `name` (canonical, as layers keep it) applied to `x`, the output of `layer`. */
export function exportActivation(g: OnnxGraphBuilder, name: string, x: string, layer: Pick<Layer, 'name' | 'dtype'>) {
  const exporter = ACTIVATION_EXPORTS[name === 'silu' ? 'swish' : name === 'hardSilu' ? 'hardSwish' : name];
  if (!exporter) throw new InteropError(`ONNX export: layer '${layer.name}': activation '${name}' has no ONNX form`);
  const dtype: DType = layer.dtype;
  return exporter(g, x, (base, value) => floatsOf(g, dtype, base, [value], []));
}

registerOnnxExporter<Activation>('Activation', (layer, [x], call) => [
  exportActivation(call.graph, layer.activation, x, layer),
]);
