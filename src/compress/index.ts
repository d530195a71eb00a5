// Compression and knowledge transfer (issue 16): pruning, quantisation, distillation and transfer learning.
export { transferStudy, transferCnn } from './transfer.js';
export type { TransferStudyOptions, TransferStudyResult, TransferRun } from './transfer.js';
