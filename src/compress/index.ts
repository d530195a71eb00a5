// Compression and knowledge transfer: pruning, quantisation, distillation, transfer learning (issue 16).
export {
  pruneStructured,
  unitNorms,
  largestUnits,
  type PruneStructuredOptions,
  type StructuredCriterion,
  type StructuredLayerReport,
  type StructuredPruning,
  type StructuredPruningReport,
} from './structured.js';
