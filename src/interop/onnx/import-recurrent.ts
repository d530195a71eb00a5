// ONNX import of LSTM and GRU (what torch.onnx.export writes for nn.LSTM / nn.GRU: one direction, zero initial
// states, the sequence transposed to [seq, batch, features] around the node and the direction axis squeezed
// after it) as Candor's LSTM / GRU with returnSequences. ONNX's gate blocks are reordered to Keras' (LSTM
// i, o, f, c -> i, f, c, o; GRU z, r, h as is) and transposed; PyTorch's linear_before_reset is resetAfter.
import { concat } from '../../ops/indexing.js';
import { add } from '../../ops/elementwise.js';
import { permute, reshape, slice } from '../../ops/views.js';
import type { Tensor } from '../../tensor/tensor.js';
import { LSTM } from '../../nn/layers/lstm.js';
import { GRU } from '../../nn/layers/gru.js';
import type { NodeProto } from './schema.js';
import { registerOnnxImporter, type ImportGraph, type ImportNode } from './import-graph.js';

/** ONNX gate block b of a [1, gates * units, n] weight (or [1, 2 * gates * units] bias row r), as [n, units]. */
const block = (w: Tensor, b: number, units: number) =>
  permute(reshape(slice(w, [0, b * units, 0], [1, units, w.shape[2]]), [units, w.shape[2]]), [1, 0]);
const biasBlock = (bias: Tensor, half: number, b: number, gates: number, units: number) =>
  reshape(slice(bias, [0, (half * gates + b) * units], [1, units]), [units]);

/** Whether input i is omitted or a zero initial state (the zeros PyTorch builds from the batch size). */
function zeroOrAbsent(g: ImportGraph, node: ImportNode, i: number): boolean {
  if (!node.inputs[i]) return true;
  const c = g.constant(node, i);
  return !!c && c.t.dataSync().every((v) => v === 0);
}

/** The axes a Squeeze node removes (an attribute before opset 13, then an input made by a Constant, maybe later). */
function squeezeAxes(g: ImportGraph, squeeze: NodeProto): number[] | undefined {
  const attr = squeeze.attribute?.find((t) => t.name === 'axes')?.ints;
  if (attr) return attr;
  const axes = squeeze.input?.[1] ? g.peekConstant(squeeze.input[1]) : undefined;
  return axes ? Array.from(axes.dataSync(), Number) : undefined;
}

/** ONNX's default activations (f, g, h for LSTM; f, g for GRU), which Candor's layers compute. */
const DEFAULT_ACTIVATIONS = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'] };

function recurrent(kind: 'LSTM' | 'GRU') {
  const gates = kind === 'LSTM' ? 4 : 3;
  // Keras order of ONNX's blocks: LSTM i, f, c, o from ONNX i, o, f, c; GRU z, r, h as is.
  const order = kind === 'LSTM' ? [0, 2, 3, 1] : [0, 1, 2];
  return (g: ImportGraph, node: ImportNode): boolean => {
    const a = node.attrs;
    const w = g.constant(node, 1),
      r = g.constant(node, 2),
      b = node.inputs[3] ? g.constant(node, 3) : undefined;
    const units = typeof a.hidden_size === 'number' ? a.hidden_size : (w?.t.shape[1] ?? 0) / gates;
    const defaults =
      ((a.direction as string | undefined) ?? 'forward') === 'forward' &&
      (a.activations === undefined || String(a.activations) === String(DEFAULT_ACTIVATIONS[kind])) &&
      a.clip === undefined &&
      !a.input_forget &&
      (kind === 'LSTM' || a.linear_before_reset === 1) &&
      !node.inputs[4] &&
      zeroOrAbsent(g, node, 5) &&
      (kind === 'GRU' || (zeroOrAbsent(g, node, 6) && !node.inputs[7]));
    if (!defaults || !w || !r || (node.inputs[3] && !b) || w.t.rank !== 3 || w.t.shape[0] !== 1) return false;
    if (w.t.shape[1] !== gates * units || r.t.shape[1] !== gates * units || r.t.shape[2] !== units) return false;
    // Either Y: [seq, 1, batch, units] (layout 0) or [batch, seq, 1, units] (layout 1), its only reader squeezing
    // axis 1 / 2 (the sequence); or Y_h: [1, batch, units] / [batch, 1, units], squeezed on axis 0 / 1 (the last
    // step: Candor's returnSequences false). Y_c, and Y with Y_h, are not supported.
    const batchFirst = a.layout === 1;
    const used = (i: number) => !!node.outputs[i] && (g.uses.get(node.outputs[i]) ?? 0) > 0;
    const sequences = !used(1);
    if (used(2) || (used(0) && used(1))) return false;
    const y = node.outputs[sequences ? 0 : 1];
    const reader = g.onlyReader(y);
    const squeeze = reader?.opType === 'Squeeze' && reader.input?.[0] === y ? reader : undefined;
    const axis = squeeze ? squeezeAxes(g, squeeze) : undefined;
    const out = squeeze?.output?.[0];
    const expected = (sequences ? 1 : 0) + (batchFirst ? 1 : 0);
    if (!out || axis?.length !== 1 || axis[0] !== expected) return false;
    const kernel = concat(
      order.map((o) => block(w.t, o, units)),
      1,
    );
    const recurrentKernel = concat(
      order.map((o) => block(r.t, o, units)),
      1,
    );
    const weights: Record<string, Tensor> = { kernel, recurrent_kernel: recurrentKernel };
    if (b) {
      const input = concat(order.map((o) => biasBlock(b.t, 0, o, gates, units)));
      const recur = concat(order.map((o) => biasBlock(b.t, 1, o, gates, units)));
      weights.bias = kind === 'LSTM' ? add(input, recur) : reshape(concat([input, recur]), [2, gates * units]);
    }
    const args = { units, returnSequences: sequences, useBias: !!b, name: g.layerName(node.name) };
    const layer = kind === 'LSTM' ? new LSTM(args) : new GRU({ ...args, resetAfter: true });
    // Candor's recurrent layers take [batch, seq, features]: ONNX's X is that held as transpose [1, 0, 2].
    const x = g.inLayout(node.inputs[0], batchFirst ? null : [1, 0, 2], node.name);
    g.fused.add(out);
    g.setRuntime(out, g.addLayer(layer, x, weights), batchFirst || !sequences ? null : [1, 0, 2]);
    return true;
  };
}
registerOnnxImporter('LSTM', recurrent('LSTM'));
registerOnnxImporter('GRU', recurrent('GRU'));
