// Compression and knowledge transfer (issue 16): pruning, quantisation, distillation, transfer learning.
export { Distiller } from './distiller.js';
export type { DistillerArgs, DistillerCompileArgs, DistillationReport } from './distiller.js';
export { distillationStudy } from './distillation-study.js';
export type { DistillationStudyArgs, DistillationStudyResult, StudyArm } from './distillation-study.js';
