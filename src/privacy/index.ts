// Privacy, exported from the package as `privacy`: per-example gradients and DP-SGD, the privacy accountants,
// PII scanning and redaction, k-anonymity of tables, encryption of saved files and membership-inference audits.
export type { PrivacyRecord, DpSgdRecord, MembershipAuditRecord } from '../ledger/privacy.js';
export {
  clippedGradientSum,
  perExampleGradients,
  ExampleMixingError,
  type BatchLoss,
  type ClipOptions,
  type ClippedGradients,
  type PerExampleBatch,
} from './per-example/index.js';
