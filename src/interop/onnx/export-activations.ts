// ONNX nodes for Candor's activations by canonical name (nn/activations.ts), and the Activation layer. Opset 17
// has no Gelu, Mish or Swish op, so those are composed from Erf, Tanh, Softplus and Sigmoid exactly as the ops
// compute them.
import type { Activation } from '../../nn/layers/activation.js';
import { InteropError } from '../errors.js';
import type { OnnxGraphBuilder } from './graph-builder.js';
import { registerOnnxExporter } from './exporters.js';

type ActivationExport = (g: OnnxGraphBuilder, x: string) => string;

const mulScalar = (g: OnnxGraphBuilder, x: string, c: number) => g.op('Mul', [x, g.floats('c', [c], [])]);

const ACTIVATION_EXPORTS: Record<string, ActivationExport> = {
  linear: (_g, x) => x,
  relu: (g, x) => g.op('Relu', [x]),
  sigmoid: (g, x) => g.op('Sigmoid', [x]),
  tanh: (g, x) => g.op('Tanh', [x]),
  softmax: (g, x) => g.op('Softmax', [x], { axis: -1 }),
  // gelu (exact): 0.5 x (1 + erf(x / sqrt 2))
  gelu: (g, x) => {
    const erf = g.op('Erf', [mulScalar(g, x, Math.SQRT1_2)]);
    return g.op('Mul', [mulScalar(g, x, 0.5), g.op('Add', [erf, g.floats('one', [1], [])])]);
  },
  leakyRelu: (g, x) => g.op('LeakyRelu', [x], { alpha: { f: 0.2 } }),
  elu: (g, x) => g.op('Elu', [x], { alpha: { f: 1 } }),
  selu: (g, x) => g.op('Selu', [x]),
  swish: (g, x) => g.op('Mul', [x, g.op('Sigmoid', [x])]),
  softplus: (g, x) => g.op('Softplus', [x]),
  relu6: (g, x) => g.op('Clip', [x, g.floats('zero', [0], []), g.floats('six', [6], [])]),
  mish: (g, x) => g.op('Mul', [x, g.op('Tanh', [g.op('Softplus', [x])])]),
  hardSwish: (g, x) => g.op('HardSwish', [x]),
  logSigmoid: (g, x) => g.op('Neg', [g.op('Softplus', [g.op('Neg', [x])])]),
  softsign: (g, x) => g.op('Softsign', [x]),
};

/** The value of activation `name` (canonical, as layers keep it) applied to `x`. */
export function exportActivation(g: OnnxGraphBuilder, name: string, x: string, layerName: string): string {
  const exporter = ACTIVATION_EXPORTS[name === 'silu' ? 'swish' : name === 'hardSilu' ? 'hardSwish' : name];
  if (!exporter) throw new InteropError(`ONNX export: layer '${layerName}': activation '${name}' has no ONNX form`);
  return exporter(g, x);
}

registerOnnxExporter<Activation>('Activation', (layer, [x], call) => [
  exportActivation(call.graph, layer.activation, x, layer.name),
]);
