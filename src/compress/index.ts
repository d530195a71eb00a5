// Compression and knowledge transfer: pruning, int8 quantisation, distillation, transfer learning, and the
// measurements and records that say what each cost and saved. Exported from the package as `compress`.
export { measureModel, accuracyOf, weightBytes, type MeasureOptions } from './measure.js';
export { recordCompression } from './record.js';
export type { CompressionRecord, CompressionLayerRecord, ModelMeasurement } from '../ledger/compression.js';
