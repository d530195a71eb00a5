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
  registerOnnxExporter,
  type ExportCall,
  type ExportInput,
} from './exporters.js';
import { maskOf, setOnnxMask } from './masks.js';
import { optimizeGraph } from './optimize.js';
import { encodeModelProto, IR_VERSION, OPSET, type ModelProto } from './schema.js';
import './export-activations.js';
import './export-dense.js';
import './export-conv.js';
import './export-pooling.js';
import './export-normalization.js';
import './export-shape.js';
import './export-merge.js';
import './export-embedding.js';
import './export-activation-layers.js';
import './export-inference.js';
import './export-time-distributed.js';
import './export-recurrent.js';
import './export-attention.js';
import './export-transformer.js';
import './export-gpt.js';
import './export-quantized.js';

export interface OnnxExportOptions {
  /** Whether the batch dimension is dynamic ('batch'); false fixes it to the model's declared batch size. */
  dynamicBatch?: boolean;
  /** doc_string of the model. */
  docString?: string;
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
 * Records the output masks of a call as Layer.apply attaches them (masks.ts keeps them by value name, as Candor
 * keeps them by tensor): an output that already has one keeps it (a value passed on unchanged, or one whose
 * exporter recorded it, as Embedding's); then the exporter's setOutputMasks; else none from a layer that does
 * not support masking, and the input masks from one whose computeMask is Layer's (it passes them on). A layer
 * with its own computeMask that a mask reaches must set its masks: refused otherwise.
 */
function recordMasks(
  g: OnnxGraphBuilder,
  layer: Layer,
  outputs: readonly string[],
  inputMasks: readonly (string | null)[],
  set: readonly (string | null)[] | undefined,
): void {
  let masks: readonly (string | null)[] = set ?? [];
  if (!set && layer.supportsMasking && inputMasks.some((m) => m !== null)) {
    if (layer.computeMask !== Layer.prototype.computeMask && outputs.some((o) => maskOf(g, o) === undefined))
      throw new UnsupportedLayerError('ONNX export', layer.name, layer.className, 'its output mask has no ONNX form');
    masks = inputMasks;
  }
  outputs.forEach((o, i) => {
    const m = masks[i];
    if (m && maskOf(g, o) === undefined) setOnnxMask(g, o, m);
  });
}

/** One layer call into ONNX nodes, through the exporter table; returns its output value names. */
function exportCall(
  g: OnnxGraphBuilder,
  weights: Map<Variable, string>,
  layer: Layer,
  inputs: readonly string[],
  inputShapes: readonly SymShape[],
  callArgs: CallArgs = {},
): string[] {
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
  const masks = inputs.map((x) => maskOf(g, x) ?? null);
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
    call: (inner, innerInputs, innerShapes) => exportCall(g, weights, inner, innerInputs, innerShapes),
    setOutputMasks: (m) => {
      outputMasks = [...m];
    },
  };
  const outputs = hasGraph(layer)
    ? inlineModel(layer as Model, inputs, (l, ins, shapes, args) => exportCall(g, weights, l, ins, shapes, args))
    : exporter(layer, inputs, call);
  if (!hasGraph(layer)) recordMasks(g, layer, outputs, masks, outputMasks);
  return outputs;
}

type ExportOne = (layer: Layer, inputs: readonly string[], shapes: readonly SymShape[], callArgs: CallArgs) => string[];

/** A Sequential's layers in order, each on the previous one's output. */
function inlineSequential(model: Sequential, input: string, export1: ExportOne): string[] {
  let shape: SymShape = modelInputs(model)[0].shape;
  let value = input;
  for (const layer of model.layers) {
    [value] = export1(layer, [value], [shape], {});
    shape = layer.computeOutputShape(shape) as SymShape;
  }
  return [value];
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

/** Exports the calls of a model's graph with its inputs bound to `inputs`; returns its outputs. */
function inlineModel(model: Model, inputs: readonly string[], export1: ExportOne): string[] {
  if (model instanceof Sequential) return inlineSequential(model, inputs[0], export1);
  if (!model.isFunctional)
    throw new UnsupportedLayerError(
      'ONNX export',
      model.name,
      model.className,
      'a subclassed model has no graph to export; build it as a functional or Sequential model',
    );
  const names = new Map<number, string>();
  model.inputs.forEach((t, i) => names.set(t.id, inputs[i]));
  const nameOf = (t: SymbolicTensor) => {
    const n = names.get(t.id);
    if (n === undefined) throw new InteropError(`ONNX export: value '${t.name}' is used before it is made`);
    return n;
  };
  for (const node of model.graphNodes) {
    if (node.layer instanceof InputLayer) continue;
    const outs = export1(
      node.layer,
      node.inputs.map(nameOf),
      node.inputs.map((t) => t.shape),
      node.callArgs,
    );
    node.outputs.forEach((t, i) => names.set(t.id, outs[i]));
  }
  return model.outputs.map(nameOf);
}

// Never reached through exportCall (which inlines graph models itself); registered for the table's listing.
const exportNested = (model: Model, inputs: readonly string[], call: ExportCall) =>
  inlineModel(model, inputs, (layer, ins, shapes) => call.call(layer, ins, shapes));
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
  const outputs = exportCall(g, weights, model, inputs, inputShapes);
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
    graph: optimizeGraph(g.toGraphProto()),
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
