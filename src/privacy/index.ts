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
// Encryption of saved files (the one implementation lives in src/io/encryption.ts, below the ledger that uses it).
export {
  DecryptionError,
  FileCipher,
  isEncrypted,
  writeEncrypted,
  readEncrypted,
  DEFAULT_SCRYPT,
  SCRYPT_LIMITS,
} from '../io/encryption.js';
export type { EncryptionKey, EncryptOptions, ScryptParams } from '../io/encryption.js';
export { scanPII, redactPII, PIIRedactor, PII_TYPES, MIN_PSEUDONYM_KEY_BYTES } from './pii.js';
export type { PIIType, PIIMatch, PIICounts, ScanOptions, RedactOptions } from './pii.js';
export { luhnValid, ibanValid, prcIdValid, ssnValid } from './pii-checksums.js';
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
export { HierarchyError, SUPPRESS_ONLY, compileHierarchy } from './hierarchies.js';
export type { Hierarchy, IntervalHierarchy, GroupHierarchy, CompiledHierarchy } from './hierarchies.js';
export { parseTable, loadTable, formatTable } from './table.js';
export type { Table, TableRow, TableOptions } from './table.js';
export { kAnonymityReport, equivalenceClasses } from './anonymity.js';
export type {
  AnonymityOptions,
  AnonymityReport,
  DiversityMeasure,
  DiversityOptions,
  EquivalenceClass,
} from './anonymity.js';
export { anonymizeTable } from './anonymize.js';
export type { AnonymizeOptions, AnonymizeResult, InformationLoss, LossMetric } from './anonymize.js';
export { ADULT_HIERARCHIES } from './adult-hierarchies.js';
export {
  DEFAULT_ORDERS,
  RdpAccountant,
  computeRdp,
  computeEpsilon,
  epsilonFromRdp,
  noiseMultiplierFor,
} from './accountant.js';
export type {
  Conversion,
  MechanismSteps,
  EpsilonOptions,
  EpsilonAtOrder,
  NoiseMultiplierOptions,
  AccountedSteps,
} from './accountant.js';
export { PrvAccountant, computeEpsilonPrv } from './prv.js';
export type { PrvEpsilon } from './prv.js';
export { PrivacyBudget } from './budget.js';
export type { PrivacyBudgetArgs } from './budget.js';
export { gaussianNoise } from './dp-sgd.js';
export type { DpSgdOptions, GaussianNoiseOptions } from './dp-sgd.js';
import { setPrivacyHooks } from '../train/private-training.js';
import { DpSgd, checkPrivacyOptions } from './dp-sgd.js';
import { PrivacyBudget } from './budget.js';
// fit() runs DP-SGD through these hooks (train/ does not import privacy/).
setPrivacyHooks({
  check: checkPrivacyOptions,
  create: (options) => new DpSgd(options),
  budget: (targetEpsilon, delta) => new PrivacyBudget({ targetEpsilon, delta }),
});
