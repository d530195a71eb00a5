// The table of ONNX exporters, one per layer class: each turns one call of a layer (its input value names and
// symbolic shapes) into ONNX nodes and returns its output value names. Layer families register theirs in
// export-*.ts; export.ts looks them up by className and refuses a class with none (UnsupportedLayerError).
import type { Layer, SymShape } from '../../nn/layer.js';
import type { Variable } from '../../nn/variable.js';
import type { OnnxGraphBuilder } from './graph-builder.js';

export interface ExportCall {
  readonly graph: OnnxGraphBuilder;
  /** The symbolic shapes of the call's inputs and outputs (null = dynamic, the batch). */
  readonly inputShapes: readonly SymShape[];
  readonly outputShapes: readonly SymShape[];
  /** The layer's name, as a prefix for the nodes and initializers it makes. */
  readonly prefix: string;
  /** The initializer holding a weight's current value (one per variable, shared layers included). */
  weight(v: Variable): string;
  /** Exports a nested layer call (a model used as a layer, a block's sublayer) inline. */
  call(layer: Layer, inputs: readonly string[], inputShapes: readonly SymShape[]): string[];
  /**
   * The Keras masks of the inputs (bool [batch, time] values, e.g. a maskZero Embedding's), null where an
   * input has none. Only an exporter registered with `readsMasks` is handed a masked input (see export.ts).
   */
  readonly inputMasks: readonly (string | null)[];
  /** The call options the graph recorded (the layer's callOptionNames, e.g. useCausalMask); {} when none. */
  readonly callOptions: Readonly<Record<string, boolean>>;
  /** Sets the output masks (one per output, null = none), for a layer whose computeMask is its own. */
  setOutputMasks(masks: readonly (string | null)[]): void;
}

/** A graph input of a subclassed model, which has no symbolic inputs of its own. */
export interface ExportInput {
  readonly name: string;
  readonly dtype: 'float32' | 'int32';
  readonly shape: SymShape;
}

export interface ExporterOptions {
  /**
   * The exporter applies call.inputMasks: the layer's call reads its masks (export.ts refuses a masked input
   * to a layer whose call takes a mask unless its exporter says so).
   */
  readsMasks?: boolean;
  /** The call options (callOptionNames) the exporter honours; a graph call that recorded another is refused. */
  callOptions?: readonly string[];
  /** A subclassed model's inputs, so that toOnnx can export it on its own (GPT: token ids [batch, T]). */
  modelInputs?: (model: Layer) => ExportInput[];
}

export type LayerExporter<L extends Layer = Layer> = (
  layer: L,
  inputs: readonly string[],
  call: ExportCall,
) => string[];

const EXPORTERS = new Map<string, LayerExporter>();
const OPTIONS = new Map<string, ExporterOptions>();
/** Registers the exporter of a layer class (by its className; a later registration replaces an earlier one). */
export function registerOnnxExporter<L extends Layer>(
  className: string,
  exporter: LayerExporter<L>,
  options: ExporterOptions = {},
): void {
  EXPORTERS.set(className, exporter as LayerExporter);
  OPTIONS.set(className, options);
}

export function onnxExporter(className: string): LayerExporter | undefined {
  return EXPORTERS.get(className);
}

export function onnxExporterOptions(className: string): ExporterOptions {
  return OPTIONS.get(className) ?? {};
}

export function onnxExportableClasses(): string[] {
  return [...EXPORTERS.keys()].sort();
}
