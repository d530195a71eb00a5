// privacy.membershipAudit: how well an attacker who can query the model tells its training examples
// (members) from other examples of the same distribution (non-members). Two attacks: the loss threshold
// (Yeom et al. 2018) and a calibrated attack with shadow models (LiRA, Carlini et al. 2022); each
// reports its ROC AUC and its true-positive rate at low false-positive rates, and goes into the run record.
import { ArgumentError } from '../errors.js';
import { dispose } from '../tensor/storage.js';
import { Model } from '../train/model.js';
import type { MembershipAuditRecord } from '../ledger/privacy.js';
import { concatExamples, logitConfidence, perExampleLoss, sampleCount, type Examples } from './example-loss.js';
import { rocAuc, tprAtFpr } from './roc.js';
import { calibratedScores, shadowSettings, trainShadows, type ShadowOptions } from './shadow.js';

export type MembershipAttack = MembershipAuditRecord['attack'];

export interface MembershipAuditOptions {
  /** Default: the loss threshold, and the calibrated attack too when `shadow` is given. */
  attacks?: MembershipAttack[];
  /** False-positive rates to report the true-positive rate at (default 0.001, 0.01, 0.1). */
  fprs?: number[];
  /** Shadow models of the calibrated attack (required for it). */
  shadow?: ShadowOptions;
  /** Examples per forward pass when scoring (default 256). */
  batchSize?: number;
  /** Add each attack's record to model.runRecorder's run record, when it holds one (default true). */
  record?: boolean;
}

/** One attack's outcome. Scores: higher means "member". */
export interface MembershipAttackResult {
  attack: MembershipAttack;
  auc: number;
  tprAtFpr: { fpr: number; tpr: number }[];
  scores: { members: Float64Array; nonMembers: Float64Array };
  record: MembershipAuditRecord;
}

export interface MembershipAuditResult {
  attacks: MembershipAttackResult[];
  lossThreshold?: MembershipAttackResult;
  calibrated?: MembershipAttackResult;
  /** One per attack, as added to the run record. */
  records: MembershipAuditRecord[];
  /**
   * 1 / nonMembers: the smallest non-zero false-positive rate the non-members can measure. A requested
   * rate below it is met only with no false positive at all, so its TPR says little unless it is 0.
   */
  fprResolution: number;
}

const OPTION_KEYS = ['attacks', 'fprs', 'shadow', 'batchSize', 'record'];
const ATTACKS: MembershipAttack[] = ['loss-threshold', 'calibrated'];

function checkOptions(options: MembershipAuditOptions): { attacks: MembershipAttack[]; fprs: number[] } {
  const op = 'membershipAudit';
  if (typeof options !== 'object' || options === null) throw new ArgumentError(`${op}: options must be an object`);
  for (const k of Object.keys(options))
    if (!OPTION_KEYS.includes(k))
      throw new ArgumentError(`${op}: unknown option '${k}'; expected one of ${OPTION_KEYS.join(', ')}`);
  const attacks = options.attacks ?? (options.shadow ? ATTACKS : ['loss-threshold']);
  if (!Array.isArray(attacks) || attacks.length === 0 || attacks.some((a) => !ATTACKS.includes(a)))
    throw new ArgumentError(`${op}: attacks must be a non-empty list of ${ATTACKS.join(', ')}; got ${attacks}`);
  if (attacks.includes('calibrated') && !options.shadow)
    throw new ArgumentError(
      `${op}: the calibrated attack trains shadow models; pass shadow: { count, epochs, batchSize } ` +
        '(trained as the target was)',
    );
  const fprs = options.fprs ?? [0.001, 0.01, 0.1];
  if (!Array.isArray(fprs) || fprs.some((f) => !(typeof f === 'number' && f > 0 && f < 1)))
    throw new ArgumentError(`${op}: fprs must be false-positive rates in (0, 1), got ${JSON.stringify(fprs)}`);
  const { batchSize = 256 } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ArgumentError(`${op}: batchSize must be a positive integer, got ${batchSize}`);
  return { attacks: [...new Set(attacks)], fprs };
}

/** An attack's figures and record from its scores of the audited examples (the first m are the members). */
function summarise(
  attack: MembershipAttack,
  m: number,
  scores: Float64Array,
  fprs: number[],
  shadowModels: number,
): MembershipAttackResult {
  const split = { members: scores.slice(0, m), nonMembers: scores.slice(m) };
  const auc = rocAuc(split.members, split.nonMembers);
  const tpr = tprAtFpr(split.members, split.nonMembers, fprs);
  const record: MembershipAuditRecord = {
    attack,
    createdAt: new Date().toISOString(),
    members: m,
    nonMembers: split.nonMembers.length,
    auc,
    tprAtFpr: tpr,
    shadowModels,
  };
  return { attack, auc, tprAtFpr: tpr, scores: split, record };
}

/**
 * Audits `model` against membership inference: `members` are examples it was trained on, `nonMembers`
 * examples of the same distribution it never saw. The loss-threshold attack scores each example by its
 * negative loss under the model's compiled loss; the calibrated attack trains `shadow.count` shadow models
 * (cloneModel, compiled and fit like the target) on random halves of members, non-members and
 * shadow.population, and scores by how the target's confidence compares with the IN and OUT shadows'.
 * The ROC AUC (0.5 = chance) and the TPR at each FPR are reported per attack, and each attack's record is
 * added to model.runRecorder's run record (RunRecording.addPrivacyAudit).
 */
export async function membershipAudit(
  model: Model,
  members: Examples,
  nonMembers: Examples,
  options: MembershipAuditOptions = {},
): Promise<MembershipAuditResult> {
  const op = 'membershipAudit';
  if (!(model instanceof Model)) throw new ArgumentError(`${op}: expected a Model, got ${typeof model}`);
  const { attacks, fprs } = checkOptions(options);
  const settings = options.shadow ? shadowSettings(options.shadow) : undefined;
  if (!model.optimizer)
    throw new ArgumentError(`${op}: model '${model.name}' is not compiled; the attacks score its compiled loss`);
  const trainingConfig = model.trainingConfig();
  if (trainingConfig && trainingConfig.loss === undefined)
    throw new ArgumentError(
      `${op}: model '${model.name}' was compiled without a loss; the attacks score each example by the ` +
        'compiled loss: compile({ loss })',
    );
  const m = sampleCount(op, 'members', members);
  const n = sampleCount(op, 'nonMembers', nonMembers);
  const population = options.shadow?.population;
  if (population) sampleCount(op, 'shadow.population', population);
  const batchSize = options.batchSize ?? 256;
  const audited = concatExamples(members, nonMembers);
  const results: MembershipAttackResult[] = [];
  try {
    const losses = perExampleLoss(model, audited, batchSize);
    for (const attack of attacks) {
      if (attack === 'loss-threshold') {
        const negativeLoss = losses.map((l) => -l);
        results.push(summarise(attack, m, negativeLoss, fprs, 0));
        continue;
      }
      const pool = population ? concatExamples(audited, population) : audited;
      try {
        const shadows = await trainShadows(model, pool, audited, options.shadow!, settings!, batchSize);
        const scores = calibratedScores(logitConfidence(losses), shadows.phi, shadows.inMask, settings!);
        results.push(summarise(attack, m, scores, fprs, settings!.count));
      } finally {
        if (pool !== audited) dispose(pool);
      }
    }
  } finally {
    dispose(audited);
  }
  const records = results.map((r) => r.record);
  const recorder = model.runRecorder;
  if (options.record !== false && recorder?.hasRecord) for (const r of records) await recorder.addPrivacyAudit(r);
  return {
    attacks: results,
    lossThreshold: results.find((r) => r.attack === 'loss-threshold'),
    calibrated: results.find((r) => r.attack === 'calibrated'),
    records,
    fprResolution: 1 / n,
  };
}

/** The loss-threshold attack's ROC AUC alone: a one-line check (e.g. for an example's JSON). */
export async function membershipAuc(model: Model, members: Examples, nonMembers: Examples): Promise<number> {
  const result = await membershipAudit(model, members, nonMembers, { attacks: ['loss-threshold'], record: false });
  return result.attacks[0].auc;
}
