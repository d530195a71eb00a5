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
}

export type LayerExporter<L extends Layer = Layer> = (
  layer: L,
  inputs: readonly string[],
  call: ExportCall,
) => string[];

const EXPORTERS = new Map<string, LayerExporter>();

/** Registers the exporter of a layer class (by its className; a later registration replaces an earlier one). */
export function registerOnnxExporter<L extends Layer>(className: string, exporter: LayerExporter<L>): void {
  EXPORTERS.set(className, exporter as LayerExporter);
}

export function onnxExporter(className: string): LayerExporter | undefined {
  return EXPORTERS.get(className);
}

export function onnxExportableClasses(): string[] {
  return [...EXPORTERS.keys()].sort();
}
