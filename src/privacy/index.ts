// Privacy, exported from the package as `privacy`: per-example gradients and DP-SGD, the privacy accountants,
// PII scanning and redaction, k-anonymity of tables, encryption of saved files and membership-inference audits.
export type { PrivacyRecord, DpSgdRecord, MembershipAuditRecord } from '../ledger/privacy.js';
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
export {
  clippedGradientSum,
  perExampleGradients,
  ExampleMixingError,
  type BatchLoss,
  type ClipOptions,
  type ClippedGradients,
  type PerExampleBatch,
} from './per-example/index.js';
export { PrivacyBudget } from './budget.js';
export type { PrivacyBudgetArgs } from './budget.js';
export { gaussianNoise } from './dp-sgd.js';
import { setPrivacyHooks } from '../train/private-training.js';
import { DpSgd, checkPrivacyOptions } from './dp-sgd.js';
import { PrivacyBudget } from './budget.js';
// fit() runs DP-SGD through these hooks (train/ does not import privacy/).
setPrivacyHooks({
  check: checkPrivacyOptions,
  create: (options) => new DpSgd(options),
  budget: (targetEpsilon, delta) => new PrivacyBudget({ targetEpsilon, delta }),
});
export type { DpSgdOptions, GaussianNoiseOptions } from './dp-sgd.js';
