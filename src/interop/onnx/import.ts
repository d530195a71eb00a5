// ONNX import: fromOnnx(bytes) / loadOnnx(path) turn an ONNX model (PyTorch's torch.onnx.export, opset <= 17)
// into a functional Candor Model that predicts, trains and saves. Nodes that a Candor layer computes exactly
// become that layer (import-patterns.ts); the rest become OnnxOp layers. Constants and the shape arithmetic
// PyTorch emits (Shape / Gather / Unsqueeze / Concat feeding Reshape) are folded here, with the batch left free.
// Layout: values keep ONNX's layout (NCHW) at the model's edges; inside, a value may be held transposed
// (channels last, for Candor's convolutions), and a Permute is inserted only where a consumer needs another.
import { readFile } from 'node:fs/promises';
import { CandorError, errorMessage } from '../../errors.js';
import { tidy } from '../../tensor/storage.js';
import { input as modelInput } from '../../nn/input.js';
import { Model } from '../../train/model.js';
import { FormatError, InteropError, UnsupportedLayerError } from '../errors.js';
import { decodeModelProto, ONNX_DTYPE, type ModelProto, type NodeProto } from './schema.js';
import { decodeAttributes, tensorFromProto } from './import-tensor.js';
import { ImportGraph } from './import-graph.js';
import './import-patterns.js';
import './import-recurrent.js';

/** The newest default-domain opset whose operators the importer implements as ONNX defines them. */
const MAX_OPSET = 17;

/** The most nodes an imported graph may have (a hostile file cannot make the import run for long). */
const MAX_NODES = 100_000;

function decode(bytes: Uint8Array): ModelProto {
  if (!(bytes instanceof Uint8Array)) throw new FormatError('ONNX import: expected the bytes of an .onnx file');
  try {
    return decodeModelProto(bytes);
  } catch (e) {
    if (e instanceof FormatError) throw e;
    // protobufjs on deeply nested or inconsistent messages (a RangeError, a TypeError in toObject).
    throw new FormatError(`ONNX import: not a valid ModelProto (${errorMessage(e)})`);
  }
}

const INPUT_DTYPE: Record<number, 'float32' | 'int32'> = {
  [ONNX_DTYPE.FLOAT]: 'float32',
  [ONNX_DTYPE.INT32]: 'int32',
  [ONNX_DTYPE.INT64]: 'int32',
};

/** Builds the Candor model of a decoded ModelProto. */
function convert(proto: ModelProto): Model {
  const graph = proto.graph;
  if (!graph) throw new FormatError('ONNX import: the model has no graph');
  for (const o of proto.opsetImport ?? [])
    if (o.domain && o.domain !== 'ai.onnx')
      throw new InteropError(`ONNX import: operator set '${o.domain}' is not supported (only the default domain)`);
  const nodes = graph.node ?? [];
  if (nodes.length > MAX_NODES) throw new FormatError(`ONNX import: ${nodes.length} nodes (> ${MAX_NODES})`);
  const g = new ImportGraph(
    nodes,
    (graph.output ?? []).map((o) => o.name ?? ''),
  );
  for (const init of graph.initializer ?? []) {
    const name = init.name ?? '';
    if (!name) throw new FormatError('ONNX import: an initializer has no name');
    g.setConstant(name, tensorFromProto(init, `initializer '${name}'`), true);
  }
  const inputs = (graph.input ?? []).filter((i) => !g.has(i.name ?? ''));
  if (inputs.length === 0) throw new InteropError('ONNX import: the graph has no inputs');
  const symbolic = inputs.map((info) => {
    const name = info.name ?? '';
    const tt = info.type?.tensorType;
    const dtype = INPUT_DTYPE[tt?.elemType ?? 0];
    if (!dtype)
      throw new InteropError(
        `ONNX import: input '${name}' has element type ${tt?.elemType}; Candor takes float or int`,
      );
    const dims = tt?.shape?.dim;
    if (!dims || dims.length === 0)
      throw new InteropError(`ONNX import: input '${name}' has no declared shape (Candor needs its rank and sizes)`);
    // The first dimension is the batch, whatever the file says; the others are as declared (dim_param: free).
    const shape = dims.slice(1).map((d) => (d.dimValue !== undefined && d.dimValue > 0 ? d.dimValue : null));
    const sym = modelInput({ shape, name: g.layerName(name), dtype });
    g.setRuntime(name, sym, null);
    return sym;
  });
  g.opset = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version ?? MAX_OPSET;
  // Later opsets change what nodes mean (opset 18: Pad takes an axes input, the Reduce ops take axes as an input).
  if (g.opset > MAX_OPSET)
    throw new InteropError(
      `ONNX import: the model uses opset ${g.opset}; Candor imports up to opset ${MAX_OPSET} (re-export at 17)`,
    );
  // An export without dynamic axes declares a fixed batch (often 1), and PyTorch then folds it into Reshape targets.
  const batches = inputs.map((i) => i.type?.tensorType?.shape?.dim?.[0]?.dimValue);
  if (batches.every((b) => b !== undefined && b > 0 && b === batches[0])) g.declaredBatch = batches[0]!;
  for (const node of nodes) convertNode(g, node);
  const outputs = (graph.output ?? []).map((o) => g.logical(o.name ?? '', 'graph output'));
  if (outputs.length === 0) throw new InteropError('ONNX import: the graph has no outputs');
  return new Model({
    inputs: symbolic.length === 1 ? symbolic[0] : symbolic,
    outputs: outputs.length === 1 ? outputs[0] : outputs,
    name: g.layerName(graph.name || 'onnx_model'),
  });
}

function convertNode(g: ImportGraph, node: NodeProto): void {
  const opType = node.opType ?? '';
  const name = node.name || `${opType}_${(node.output ?? [])[0] ?? ''}`;
  if (node.domain && node.domain !== 'ai.onnx')
    throw new UnsupportedLayerError('ONNX import', name, `${node.domain}.${opType}`, 'custom operator domain');
  try {
    g.convert({
      name,
      opType,
      inputs: node.input ?? [],
      outputs: node.output ?? [],
      attrs: decodeAttributes(node.attribute, name, opType),
    });
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError)
      // A node shaped in a way no check foresaw (an input missing where an op reads it): the file is malformed.
      throw new FormatError(`ONNX import: node '${name}' (${opType}) is malformed: ${e.message}`);
    if (e instanceof InteropError || e instanceof FormatError || !(e instanceof CandorError)) throw e;
    // A shape or argument error from a Candor op or layer: the file is inconsistent at this node.
    throw new InteropError(`ONNX import: node '${name}' (${opType}): ${e.message}`);
  }
}

/** The Candor model of ONNX bytes (a FormatError for a malformed file, UnsupportedLayerError naming a node). */
export function fromOnnx(bytes: Uint8Array): Model {
  const proto = decode(bytes);
  // The decoded initializers and folded constants are freed at the end; the layers' Variables keep their copies.
  let model: Model | undefined;
  tidy(() => {
    model = convert(proto);
  });
  return model!;
}

/** Reads an .onnx file into a Candor model (see fromOnnx). */
export async function loadOnnx(path: string): Promise<Model> {
  return fromOnnx(new Uint8Array(await readFile(path)));
}
