// Privacy, exported from the package as `privacy`: per-example gradients and DP-SGD, the privacy accountants,
// PII scanning and redaction, k-anonymity of tables, encryption of saved files and membership-inference audits.
export type { PrivacyRecord, DpSgdRecord, MembershipAuditRecord } from '../ledger/privacy.js';
export {
  membershipAudit,
  membershipAuc,
  type MembershipAuditOptions,
  type MembershipAuditResult,
  type MembershipAttackResult,
  type MembershipAttack,
} from './membership.js';
export type { ShadowOptions } from './shadow.js';
export { perExampleLoss, logitConfidence, type Examples } from './example-loss.js';
export { rocAuc, tprAtFpr } from './roc.js';
