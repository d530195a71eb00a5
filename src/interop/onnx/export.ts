// ONNX export: walks a functional or Sequential model's graph in call order, hands each layer call to its
// exporter (exporters.ts), and wraps the nodes in a ModelProto at opset 17 with a dynamic batch dimension.
// Nested models are inlined. Weights are read once, as they are when toOnnx is called.
import { Layer, type CallArgs, type SymShape, type SymbolicTensor } from '../../nn/layer.js';
import { InputLayer } from '../../nn/input.js';
import type { Variable } from '../../nn/variable.js';
import type { DType } from '../../tensor/dtype.js';
import { Model } from '../../train/model.js';
import { Sequential } from '../../train/sequential.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { candorVersion } from '../../ledger/record.js';
import { InteropError, UnsupportedLayerError } from '../errors.js';
import { OnnxGraphBuilder } from './graph-builder.js';
import {
  onnxExporter,
  onnxExporterOptions,
  onnxMaskExporter,
  registerOnnxExporter,
  type ExportCall,
  type ExportInput,
} from './exporters.js';
import { encodeModelProto, IR_VERSION, OPSET, type ModelProto } from './schema.js';
import './export-activations.js';
import './export-dense.js';
import './export-masking.js';
import './export-recurrent.js';
import './export-attention.js';
import './export-transformer.js';

export interface OnnxExportOptions {
  /** Whether the batch dimension is dynamic ('batch'); false fixes it to the model's declared batch size. */
  dynamicBatch?: boolean;
  /** doc_string of the model. */
  docString?: string;
}

/** The output value names and masks (null = none) of one exported layer call. */
interface Exported {
  outputs: string[];
  masks: (string | null)[];
}

/** Refuses a recorded call argument the export cannot honour (training: true, an option the exporter lacks). */
function checkCallArgs(layer: Layer, args: CallArgs, honoured: readonly string[]): Record<string, boolean> {
  const options: Record<string, boolean> = {};
  for (const [key, value] of Object.entries(args)) {
    if (value === undefined || (key === 'training' && value === false)) continue;
    if (key === 'training' || !honoured.includes(key))
      throw new UnsupportedLayerError(
        'ONNX export',
        layer.name,
        layer.className,
        `its call has arguments ${JSON.stringify(args)}, which ONNX export does not replay` +
          (key === 'training' ? ' (an exported model runs in inference mode)' : ''),
      );
    options[key] = value;
  }
  return options;
}

/**
 * The output masks of a call whose exporter set none, as Layer.apply attaches them: none from a layer that
 * does not support masking, the input masks from one whose computeMask is Layer's (it passes them on), a
 * registered mask exporter's otherwise. An own computeMask with no mask exporter is refused when a mask
 * reaches it (no mask reaching it: none made, as every such layer but Embedding and Masking).
 */
function defaultMasks(layer: Layer, inputs: readonly string[], masks: readonly (string | null)[], call: ExportCall) {
  if (!layer.supportsMasking) return [];
  const maskExporter = onnxMaskExporter(layer.className);
  if (maskExporter) return maskExporter(layer, inputs, call);
  if (layer.computeMask === Layer.prototype.computeMask) return [...masks];
  if (masks.every((m) => m === null)) return [];
  throw new UnsupportedLayerError('ONNX export', layer.name, layer.className, 'its output mask has no ONNX form');
}

/** One layer call into ONNX nodes, through the exporter table; returns the outputs and their masks. */
function exportCall(
  g: OnnxGraphBuilder,
  weights: Map<Variable, string>,
  layer: Layer,
  inputs: readonly string[],
  inputShapes: readonly SymShape[],
  inputMasks: readonly (string | null)[] = [],
  callArgs: CallArgs = {},
): Exported {
  const exporter = onnxExporter(layer.className);
  if (!exporter)
    throw new UnsupportedLayerError(
      'ONNX export',
      layer.name,
      layer.className,
      layer instanceof Model && !hasGraph(layer)
        ? 'a subclassed model has no graph to export and no ONNX exporter of its own'
        : 'no ONNX exporter for this class',
    );
  const options = onnxExporterOptions(layer.className);
  const callOptions = checkCallArgs(layer, callArgs, options.callOptions ?? []);
  const masks = inputs.map((_, i) => inputMasks[i] ?? null);
  // A call() that takes a mask may read it: a masked input needs an exporter that applies masks.
  if (masks.some((m) => m !== null) && layer.call.length >= 3 && !options.readsMasks && !hasGraph(layer))
    throw new UnsupportedLayerError(
      'ONNX export',
      layer.name,
      layer.className,
      'its input carries a mask (a maskZero Embedding or a Masking layer upstream), which its ONNX exporter ' +
        'does not apply; remove the mask or the masking',
    );
  const out = layer.computeOutputShape(inputShapes.length === 1 ? inputShapes[0] : [...inputShapes]);
  const outputShapes = (Array.isArray(out[0]) || out.length === 0 ? out : [out]) as SymShape[];
  let outputMasks: (string | null)[] | undefined;
  const call: ExportCall = {
    graph: g,
    inputShapes,
    outputShapes,
    prefix: layer.name,
    inputMasks: masks,
    callOptions,
    weight: (v) => {
      let name = weights.get(v);
      if (!name) weights.set(v, (name = g.tensor(v.name, v.value)));
      return name;
    },
    call: (inner, innerInputs, innerShapes) => exportCall(g, weights, inner, innerInputs, innerShapes).outputs,
    setOutputMasks: (m) => {
      outputMasks = [...m];
    },
  };
  const outputs = hasGraph(layer)
    ? inlineModel(layer as Model, inputs, masks, (l, ins, shapes, ms, args) =>
        exportCall(g, weights, l, ins, shapes, ms, args),
      )
    : { outputs: exporter(layer, inputs, call), masks: undefined };
  const made = outputMasks ?? outputs.masks ?? defaultMasks(layer, inputs, masks, call);
  return { outputs: outputs.outputs, masks: outputs.outputs.map((_, i) => made[i] ?? null) };
}

type ExportOne = (
  layer: Layer,
  inputs: readonly string[],
  shapes: readonly SymShape[],
  masks: readonly (string | null)[],
  callArgs: CallArgs,
) => Exported;

/** A Sequential's layers in order, each on the previous one's output. */
function inlineSequential(model: Sequential, input: string, mask: string | null, export1: ExportOne): Exported {
  let shape: SymShape = modelInputs(model)[0].shape;
  let value: Exported = { outputs: [input], masks: [mask] };
  for (const layer of model.layers) {
    value = export1(layer, value.outputs.slice(0, 1), [shape], value.masks.slice(0, 1), {});
    shape = layer.computeOutputShape(shape) as SymShape;
  }
  return value;
}
/** The symbolic inputs of a functional model or a Sequential whose input shape is known. */
function modelInputs(model: Model): readonly SymbolicTensor[] {
  const inputs = model instanceof Sequential ? (model.input ? [model.input] : []) : model.inputs;
  if (inputs.length === 0)
    throw new UnsupportedLayerError(
      'ONNX export',
      model.name,
      model.className,
      'the model has no known input shape (a subclassed model, or a Sequential never built); give it one',
    );
  return inputs;
}

/** A model whose graph export.ts inlines (functional or Sequential), as opposed to a subclassed one. */
const hasGraph = (layer: Layer): boolean =>
  layer instanceof Sequential || (layer instanceof Model && layer.isFunctional);

/** Exports the calls of a model's graph with its inputs bound to `inputs` (masked by `masks`). */
function inlineModel(
  model: Model,
  inputs: readonly string[],
  masks: readonly (string | null)[],
  export1: ExportOne,
): Exported {
  if (model instanceof Sequential) return inlineSequential(model, inputs[0], masks[0] ?? null, export1);
  if (!model.isFunctional)
    throw new UnsupportedLayerError(
      'ONNX export',
      model.name,
      model.className,
      'a subclassed model has no graph to export; build it as a functional or Sequential model',
    );
  const names = new Map<number, { value: string; mask: string | null }>();
  model.inputs.forEach((t, i) => names.set(t.id, { value: inputs[i], mask: masks[i] ?? null }));
  const entryOf = (t: SymbolicTensor) => {
    const n = names.get(t.id);
    if (n === undefined) throw new InteropError(`ONNX export: value '${t.name}' is used before it is made`);
    return n;
  };
  for (const node of model.graphNodes) {
    if (node.layer instanceof InputLayer) continue;
    const ins = node.inputs.map(entryOf);
    const out = export1(
      node.layer,
      ins.map((e) => e.value),
      node.inputs.map((t) => t.shape),
      ins.map((e) => e.mask),
      node.callArgs,
    );
    node.outputs.forEach((t, i) => names.set(t.id, { value: out.outputs[i], mask: out.masks[i] ?? null }));
  }
  const outs = model.outputs.map(entryOf);
  return { outputs: outs.map((e) => e.value), masks: outs.map((e) => e.mask) };
}

// Never reached through exportCall (which inlines graph models with their masks); for the table's listing.
const exportNested = (model: Model, inputs: readonly string[], call: ExportCall) =>
  inlineModel(model, inputs, call.inputMasks, (layer, ins, shapes) => ({
    outputs: call.call(layer, ins, shapes),
    masks: [],
  })).outputs;
registerOnnxExporter<Model>('Functional', exportNested);
registerOnnxExporter<Model>('Sequential', exportNested);

/** The ModelProto of a model (functional or Sequential, built). */
export function toOnnxModelProto(model: Model, options: OnnxExportOptions = {}): ModelProto {
  // A subclassed model (GPT) is one call of its own exporter, on the inputs that exporter declares.
  const declared = hasGraph(model) ? undefined : onnxExporterOptions(model.className).modelInputs?.(model);
  const signature: readonly (ExportInput | SymbolicTensor)[] = declared ?? modelInputs(model);
  const g = new OnnxGraphBuilder(model.name);
  const weights = new Map<Variable, string>();
  const dynamic = options.dynamicBatch ?? true;
  /** A value's shape with the batch dimension dynamic (null) or fixed (the declared size, else 1). */
  const batchDim = (shape: SymShape) => shape.map((d, i) => (i > 0 ? d : dynamic ? null : (d ?? 1)));
  const inputs = signature.map((t) => {
    if (t.dtype === 'string')
      throw new InteropError(
        `ONNX export: input '${t.name}' takes raw text, which ONNX export cannot tokenize; export a model that ` +
          'starts from the token ids (the layers after the text layers)',
      );
    return g.addInput(t.name, t.dtype, batchDim(t.shape));
  });
  const inputShapes = signature.map((t) => t.shape);
  const { outputs } = exportCall(g, weights, model, inputs, inputShapes);
  const outputShapes = model.computeOutputShape(inputShapes.length === 1 ? inputShapes[0] : inputShapes);
  const shapes = (Array.isArray(outputShapes[0]) ? outputShapes : [outputShapes]) as SymShape[];
  outputs.forEach((name, i) => {
    // Two outputs that are the same value (or an input) need distinct graph outputs.
    const value = outputs.indexOf(name) < i || inputs.includes(name) ? g.op('Identity', [name]) : name;
    if (value !== name) outputs[i] = value;
    const dtype =
      model instanceof Sequential ? model.layers.at(-1)!.dtype : declared ? model.dtype : model.outputs[i].dtype;
    g.addOutput(value, dtype as DType, batchDim(shapes[i]));
  });
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: 'candor',
    producerVersion: candorVersion(),
    docString: options.docString,
    graph: g.toGraphProto(),
  };
}

/** The ONNX bytes of a model. */
export function toOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  return encodeModelProto(toOnnxModelProto(model, options));
}

/** Writes the model as an .onnx file (atomically: a crash leaves the previous file or none). */
export async function saveOnnx(model: Model, path: string, options: OnnxExportOptions = {}): Promise<void> {
  await writeFileAtomic(path, toOnnx(model, options));
}
