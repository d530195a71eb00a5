// Explanations, exported from the package: explain() and its methods' options and results.
export { explain, attributionSums } from './explain.js';
export { ExplainContext, identityRows, repeatedRows } from './context.js';
export { METHOD_NAMES } from './types.js';
export { resolveFeatures, maskedInputs, defaultGrouping, type Features } from './features.js';
export type * from './types.js';
export {
  attentionMaps,
  attentionRollout,
  type AttentionMap,
  type AttentionMapsOptions,
  type AttentionRollout,
  type AttentionRolloutOptions,
  type HeadFusion,
} from './attention.js';
export { slic } from './slic.js';
export * as fairness from './fairness/index.js';
export { deletionCurve, insertionCurve } from './deletion.js';
export { infidelity, maxSensitivity } from './infidelity.js';
// Also installs the measures behind explain()'s `faithfulness` option.
export { faithfulnessOf } from './faithfulness.js';
export { sanityCheck, type SanityCheck, type SanityOptions, type SanityStage } from './sanity.js';
export { spearman } from './rank.js';
export type * from './faithfulness-types.js';
export {
  recordExplanation,
  explanationRecord,
  modelInputSpec,
  modelVocabulary,
  type RecordExplanationOptions,
} from './record.js';
export { gaussLegendre, pathRule, INTEGRATION_RULES, type PathRule } from './quadrature.js';
