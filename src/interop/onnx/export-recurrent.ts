// ONNX export of SimpleRNN, LSTM and GRU (ONNX's RNN, LSTM and GRU ops, gates reordered) and Bidirectional,
// with Keras masking, returnSequences, returnState, goBackwards and initial states.
import type { Tensor } from '../../tensor/tensor.js';
import type { Recurrent } from '../../nn/layers/recurrent.js';
import type { LSTM } from '../../nn/layers/lstm.js';
import type { GRU } from '../../nn/layers/gru.js';
import type { Bidirectional } from '../../nn/layers/wrappers.js';
import { InteropError } from '../errors.js';
import type { AttributeValue, OnnxGraphBuilder } from './graph-builder.js';
import { registerOnnxExporter, type ExportCall } from './exporters.js';

// ONNX's recurrent ops are time-major ([time, batch, features]; onnxruntime does not implement layout = 1), so
// the input is transposed, and goBackwards reverses it (Keras returns the reversed sequence in processing order,
// which is then what the op returns). Gate blocks: Keras kernels are [features, gates * units] in order
// i, f, c, o (LSTM) or z, r, h (GRU); ONNX wants W [1, gates * units, features] in order i, o, f, c or z, r, h,
// and one bias [1, 2 * gates * units] = [input bias, recurrent bias]. GRU with resetAfter is ONNX's
// linear_before_reset = 1 with the bias' second row as the recurrent bias; reset before is 0 with none.
//
// Masks (Keras): a masked step keeps the states and repeats the previous output (zeros before the first valid
// step) or, with zeroOutputForMask, outputs zeros. Since a masked step changes nothing, running the valid steps
// alone, in order, gives the same states: each sequence's valid steps are moved first (a stable sort by mask,
// TopK on mask-then-position keys), the op runs with sequence_lens = their count, and the output of step t is
// gathered back from the compacted outputs at (valid steps up to t) - 1. This holds for any mask pattern,
// not only right padding.

/** Keras' gate block order -> ONNX's: ONNX block g holds Keras block ORDER[g]. */
const GATE_ORDER: Record<string, readonly number[]> = { LSTM: [0, 3, 1, 2], GRU: [0, 1, 2], SimpleRNN: [0] };
const ONNX_OP: Record<string, string> = { LSTM: 'LSTM', GRU: 'GRU', SimpleRNN: 'RNN' };

/** Candor activations that ONNX's recurrent ops name, with the alpha/beta they consume. */
const RNN_ACTIVATIONS: Record<string, { name: string; alpha?: number; beta?: number }> = {
  tanh: { name: 'Tanh' },
  sigmoid: { name: 'Sigmoid' },
  relu: { name: 'Relu' },
  linear: { name: 'Affine', alpha: 1, beta: 0 },
  softsign: { name: 'Softsign' },
  softplus: { name: 'Softplus' },
  elu: { name: 'Elu', alpha: 1 },
  leakyRelu: { name: 'LeakyRelu', alpha: 0.2 },
};

/** The activations attribute (and alpha/beta lists) of a layer's op: f (gates), then g (and h) = activation. */
function activationAttributes(layer: Recurrent): Record<string, AttributeValue | undefined> {
  const gate = (layer as Partial<LSTM>).recurrentActivation;
  const names = layer.className === 'SimpleRNN' ? [layer.activation] : [gate!, layer.activation];
  if (layer.className === 'LSTM') names.push(layer.activation);
  const acts = names.map((n) => {
    const a = RNN_ACTIVATIONS[n];
    if (!a)
      throw new InteropError(
        `ONNX export: layer '${layer.name}' (${layer.className}): activation '${n}' has no ONNX ` +
          `${ONNX_OP[layer.className]} form (ONNX names ${Object.keys(RNN_ACTIVATIONS).join(', ')})`,
      );
    return a;
  });
  const alphas = acts.filter((a) => a.alpha !== undefined).map((a) => a.alpha!);
  const betas = acts.filter((a) => a.beta !== undefined).map((a) => a.beta!);
  return {
    activations: { strings: acts.map((a) => a.name) },
    activation_alpha: alphas.length ? { floats: alphas } : undefined,
    activation_beta: betas.length ? { floats: betas } : undefined,
  };
}

/** A [rows, gates * units] Keras matrix as ONNX's [1, gates * units, rows] with the gate blocks reordered. */
function gateMatrix(t: Tensor, order: readonly number[], units: number): { data: Float32Array | Float64Array } {
  const [rows, width] = t.shape;
  const src = t.dataSync() as Float32Array | Float64Array;
  const data = new (src.constructor as Float32ArrayConstructor | Float64ArrayConstructor)(width * rows);
  order.forEach((k, g) => {
    for (let u = 0; u < units; u++)
      for (let r = 0; r < rows; r++) data[(g * units + u) * rows + r] = src[r * width + k * units + u];
  });
  return { data };
}

/** A [gates * units] Keras bias (or zeros) with the gate blocks reordered. */
function gateVector(
  src: ArrayLike<number> | null,
  order: readonly number[],
  units: number,
  out: Float32Array | Float64Array,
) {
  if (!src) return;
  order.forEach((k, g) => {
    for (let u = 0; u < units; u++) out[g * units + u] = src[k * units + u];
  });
}

/** W, R and B initializers of a recurrent layer for ONNX's op. */
function opWeights(g: OnnxGraphBuilder, layer: Recurrent, prefix: string): string[] {
  const order = GATE_ORDER[layer.className];
  const u = layer.units;
  const kernel = layer.kernel!.value,
    recurrent = layer.recurrentKernel!.value;
  const w = gateMatrix(kernel, order, u).data;
  const r = gateMatrix(recurrent, order, u).data;
  const width = layer.gates * u;
  const b = new (w.constructor as Float32ArrayConstructor)(2 * width);
  const bias = layer.bias ? (layer.bias.value.dataSync() as Float32Array) : null;
  const resetAfter = layer.className === 'GRU' && (layer as GRU).resetAfter;
  // GRU resetAfter: bias [2, 3u] = [input row, recurrent row]; the others: one input bias.
  gateVector(bias ? bias.subarray(0, width) : null, order, u, b.subarray(0, width));
  if (resetAfter && bias) gateVector(bias.subarray(width, 2 * width), order, u, b.subarray(width));
  const features = kernel.shape[0];
  return [
    g.array(`${prefix}/W`, w, [1, width, features], layer.dtype),
    g.array(`${prefix}/R`, r, [1, width, u], layer.dtype),
    g.array(`${prefix}/B`, b, [1, 2 * width], layer.dtype),
  ];
}

/** x reversed along `axis` (any length). */
function reverse(g: OnnxGraphBuilder, x: string, axis: number): string {
  return g.op('Slice', [
    x,
    g.int64('start', [-1]),
    g.int64('end', [-Number.MAX_SAFE_INTEGER]),
    g.int64('axis', [axis]),
    g.int64('step', [-1]),
  ]);
}

const squeeze = (g: OnnxGraphBuilder, x: string, axis: number) => g.op('Squeeze', [x, g.int64('axes', [axis])]);
const unsqueeze = (g: OnnxGraphBuilder, x: string, axis: number) => g.op('Unsqueeze', [x, g.int64('axes', [axis])]);

/** A recurrent layer's run: the output sequence [batch, time, units] (processing order), last output, states. */
interface RecurrentRun {
  sequence?: string;
  last?: string;
  states: string[];
}

/** Gathers [T, B, ...] `x` along time at per-sequence indices [T, B] (int64). */
function gatherSteps(g: OnnxGraphBuilder, x: string, indices: string): string {
  const full = g.op('Expand', [unsqueeze(g, indices, 2), g.op('Shape', [x])]);
  return g.op('GatherElements', [x, full], { axis: 0 });
}

/** The ONNX nodes of one recurrent layer on x [batch, time, features], masked by `mask` [batch, time] if given. */
function exportRecurrentRun(
  g: OnnxGraphBuilder,
  layer: Recurrent,
  x: string,
  initial: readonly string[],
  mask: string | null,
  prefix: string,
): RecurrentRun {
  if (layer.stateful)
    throw new InteropError(
      `ONNX export: layer '${layer.name}' (${layer.className}) is stateful; an ONNX graph keeps no states ` +
        'between runs (export a copy with stateful: false and pass the states as inputs)',
    );
  if (layer.dtype !== 'float32')
    throw new InteropError(
      `ONNX export: layer '${layer.name}' (${layer.className}) is ${layer.dtype}; its export is float32 only ` +
        "(onnxruntime's RNN, LSTM and GRU run float32 only): export a float32 copy of the model",
    );
  const opType = ONNX_OP[layer.className];
  const attrs = activationAttributes(layer);
  let xt = g.op('Transpose', [x], { perm: [1, 0, 2] });
  if (layer.goBackwards) xt = reverse(g, xt, 0);
  const [w, r, b] = opWeights(g, layer, prefix);
  const initialStates = initial.map((s) => unsqueeze(g, s, 0));
  const zero = g.floats('zero', [0], []);

  let m: string | null = null,
    maskT: string | null = null,
    lens: string | null = null,
    xs = xt;
  if (mask) {
    maskT = g.op('Transpose', [g.op('Cast', [mask], { to: 9 })], { perm: [1, 0] });
    if (layer.goBackwards) maskT = reverse(g, maskT, 0);
    m = g.op('Cast', [maskT], { to: 1 });
    // key = (1 - m) * 2^20 + position: valid steps first, each group in time order (keys are distinct).
    const position = g.op('CumSum', [
      g.op('Add', [g.op('Mul', [m, g.floats('zero', [0], [])]), g.floats('one', [1], [])]),
      g.int64('axis', [0], []),
    ]);
    const key = g.op('Add', [
      g.op('Mul', [g.op('Sub', [g.floats('one', [1], []), m]), g.floats('big', [2 ** 20], [])]),
      position,
    ]);
    const time = g.op('Slice', [g.op('Shape', [xt]), g.int64('start', [0]), g.int64('end', [1])]);
    const [, order] = g.node('TopK', [key, time], { axis: 0, largest: 0, sorted: 1 }, 2, `${prefix}/TopK`);
    xs = gatherSteps(g, xt, order);
    lens = g.op('Cast', [g.op('ReduceSum', [m, g.int64('axes', [0])], { keepdims: 0 })], { to: 6 });
  }
  const isLSTM = layer.className === 'LSTM';
  const inputs = [xs, w, r, b, lens ?? '', ...initialStates];
  const extra = layer.className === 'GRU' ? { linear_before_reset: (layer as GRU).resetAfter ? 1 : 0 } : {};
  const outs = g.node(
    opType,
    inputs,
    { hidden_size: layer.units, direction: 'forward', ...attrs, ...extra },
    isLSTM ? 3 : 2,
    `${prefix}/${opType}`,
  );
  const ys = squeeze(g, outs[0], 1); // [T, B, units], zeros past a sequence's length
  let finalStates = outs.slice(1).map((s) => squeeze(g, s, 0));
  if (!mask) {
    return {
      sequence: layer.returnSequences ? g.op('Transpose', [ys], { perm: [1, 0, 2] }) : undefined,
      last: finalStates[0],
      states: finalStates,
    };
  }
  // A sequence with no valid step keeps its initial states (and outputs zeros).
  const any = unsqueeze(g, g.op('Greater', [lens!, g.array('zero', Int32Array.of(0), [], 'int32')]), 1);
  finalStates = finalStates.map((s, i) => g.op('Where', [any, s, initial[i] ?? zero]));
  let sequence: string | undefined, last: string | undefined;
  if (layer.returnSequences) {
    const seen = g.op('CumSum', [m!, g.int64('axis', [0], [])]);
    const index = g.op(
      'Cast',
      [g.op('Max', [g.op('Sub', [seen, g.floats('one', [1], [])]), g.floats('zero', [0], [])])],
      { to: 7 },
    );
    const keep = layer.zeroOutputForMask ? maskT! : g.op('Greater', [seen, g.floats('zero', [0], [])]);
    const out = g.op('Where', [unsqueeze(g, keep, 2), gatherSteps(g, ys, index), zero]);
    sequence = g.op('Transpose', [out], { perm: [1, 0, 2] });
  } else {
    const lastMask = g.op('Gather', [maskT!, g.int64('last', [-1], [])], { axis: 0 });
    const keep = layer.zeroOutputForMask ? unsqueeze(g, lastMask, 1) : any;
    last = g.op('Where', [keep, squeeze(g, outs[1], 0), zero]);
  }
  return { sequence, last, states: finalStates };
}

/** The layer's outputs from a run: [y] or [y, ...states] with returnState. */
function outputsOf(layer: Recurrent, run: RecurrentRun): string[] {
  const y = layer.returnSequences ? run.sequence! : run.last!;
  return layer.returnState ? [y, ...run.states] : [y];
}

function exportRecurrent(layer: Recurrent, [x, ...initial]: readonly string[], call: ExportCall): string[] {
  const mask = call.inputMasks[0] ?? null;
  const run = exportRecurrentRun(call.graph, layer, x, initial, mask, call.prefix);
  const outputs = outputsOf(layer, run);
  call.setOutputMasks(outputs.map((_, i) => (i === 0 && layer.returnSequences ? mask : null)));
  return outputs;
}

for (const className of ['SimpleRNN', 'LSTM', 'GRU'])
  registerOnnxExporter<Recurrent>(className, exportRecurrent, { readsMasks: true });

registerOnnxExporter<Bidirectional>(
  'Bidirectional',
  (layer, [x, ...initial], call) => {
    const g = call.graph;
    const mask = call.inputMasks[0] ?? null;
    const n = layer.forwardLayer.stateCount;
    const given = initial.length > 0;
    const f = exportRecurrentRun(
      g,
      layer.forwardLayer,
      x,
      given ? initial.slice(0, n) : [],
      mask,
      `${call.prefix}/forward`,
    );
    const b = exportRecurrentRun(
      g,
      layer.backwardLayer,
      x,
      given ? initial.slice(n) : [],
      mask,
      `${call.prefix}/backward`,
    );
    const yf = layer.returnSequences ? f.sequence! : f.last!;
    // The backward layer's sequence is in processing order; reversed, it lines up with time.
    const yb = layer.returnSequences ? reverse(g, b.sequence!, 1) : b.last!;
    let outputs: string[];
    switch (layer.mergeMode) {
      case null:
        outputs = [yf, yb];
        break;
      case 'concat':
        outputs = [g.op('Concat', [yf, yb], { axis: -1 })];
        break;
      case 'sum':
        outputs = [g.op('Add', [yf, yb])];
        break;
      case 'mul':
        outputs = [g.op('Mul', [yf, yb])];
        break;
      default:
        outputs = [g.op('Mul', [g.op('Add', [yf, yb]), g.floats('half', [0.5], [])])];
    }
    const sequenceMask = layer.returnSequences ? mask : null;
    call.setOutputMasks(outputs.map(() => sequenceMask));
    return layer.returnState ? [...outputs, ...f.states, ...b.states] : outputs;
  },
  { readsMasks: true },
);
