// Standard exports of a run record: an SPDX 3.0.1 AI/Dataset document and a CycloneDX 1.6 ML-BOM.
export { exportSpdx, SPDX_CONTEXT } from './spdx.js';
export { exportCycloneDx } from './cyclonedx.js';
export type { ExportOptions } from './facts.js';
