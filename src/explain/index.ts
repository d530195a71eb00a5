// Explanations, exported from the package: explain() and its methods' options and results.
export { explain, attributionSums } from './explain.js';
export { ExplainContext, identityRows, repeatedRows } from './context.js';
export { METHOD_NAMES } from './types.js';
export { resolveFeatures, maskedInputs, defaultGrouping, type Features } from './features.js';
export type * from './types.js';
export { gaussLegendre, pathRule, INTEGRATION_RULES, type PathRule } from './quadrature.js';
