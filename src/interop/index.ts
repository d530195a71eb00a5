// Interop, exported from the package as `interop`: ONNX, Keras and TF.js model files, TensorBoard event files.
export { InteropError, UnsupportedLayerError, FormatError } from './errors.js';
export { toOnnx, toOnnxModelProto, saveOnnx, type OnnxExportOptions } from './onnx/export.js';
export { registerOnnxExporter, onnxExportableClasses, type LayerExporter, type ExportCall } from './onnx/exporters.js';
export { OnnxGraphBuilder, type AttributeValue } from './onnx/graph-builder.js';
export { decodeModelProto, encodeModelProto, type ModelProto } from './onnx/schema.js';
export { MODEL_FORMATS, formatOf, loadAny, saveAs, type ModelFormat } from './formats.js';
export { fromOnnx, loadOnnx } from './onnx/import.js';
export { OnnxOp, type OnnxOpArgs, type OnnxOperand, type OnnxLiteral } from './onnx/import-layer.js';
export { EventFileWriter, readEvents, parseEvents, type EventFileWriterOptions } from './tensorboard/writer.js';
export { type TensorBoardEvent, type SummaryValue, type HistogramProto } from './tensorboard/schema.js';
export { crc32c } from './tensorboard/crc32c.js';
export { TensorBoard, type TensorBoardArgs } from './tensorboard/callback.js';
export {
  fromKerasConfig,
  toKerasConfig,
  registerKerasLayer,
  type KerasLayerFactory,
  type FromKerasOptions,
  type ToKerasOptions,
} from './keras/config.js';
export {
  kerasWeights,
  kerasModelWeights,
  assignKerasWeights,
  type KerasWeight,
  type KerasLayerWeights,
} from './keras/weights.js';
export { loadTfjsModel, saveTfjsModel, isTfjsPath, type LoadTfjsOptions } from './tfjs/model.js';
export { loadKerasWeights, type KerasWeightsReport, type LoadKerasWeightsOptions } from './keras/load-weights.js';
export { readKerasArchive, DEFAULT_MAX_KERAS_BYTES, type KerasArchive } from './keras/archive.js';
export { loadKerasModel, type LoadKerasModelOptions } from './keras/load-model.js';
