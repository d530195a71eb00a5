// What a run record says about privacy: the DP-SGD mechanism and its accounted budget (or that there was none),
// the PII found and redacted in the data (counts per type, never values), and membership-inference audits.
// The ledger knows nothing of training: src/privacy fills these in as plain data.
import type { Schema } from './json-schema.js';

/** A differentially private run (DP-SGD), with the budget spent as the accountant computed it. */
export interface DpSgdRecord {
  mechanism: 'dp-sgd';
  /** The (epsilon, delta) spent by the steps taken, from the accountant below. */
  epsilon: number;
  delta: number;
  /** sigma: the noise's standard deviation is noiseMultiplier * l2NormClip. */
  noiseMultiplier: number;
  l2NormClip: number;
  /** The probability that a sample is in a batch (Poisson), or batchSize / samples (fixed-size batches). */
  sampleRate: number;
  sampling: 'poisson' | 'fixed';
  expectedBatchSize: number;
  steps: number;
  accountant: 'rdp' | 'prv';
  conversion: 'classic' | 'improved';
  /** The RDP order at which epsilon was attained (null for accountants without orders). */
  order: number | null;
  /** False when the noise came from a fixed seed (an explicit opt-in): such a run is NOT private. */
  secureNoise: boolean;
  /** The budget asked for with fit({ privacy: { targetEpsilon } }), and whether spending it stopped training. */
  targetEpsilon?: number;
  stoppedByBudget?: boolean;
  /** Layer classes whose per-example gradients came from a fast rule, and those from the generic fallback. */
  perExampleGradients?: { fast: string[]; fallback: string[] };
}

/** A run without a privacy mechanism: the record says so rather than saying nothing. */
export interface NoPrivacyRecord {
  mechanism: 'none';
}

/** A membership-inference audit of the trained model (privacy.membershipAudit). */
export interface MembershipAuditRecord {
  attack: 'loss-threshold' | 'calibrated';
  createdAt: string;
  members: number;
  nonMembers: number;
  /** ROC AUC of the attack: 0.5 is chance. */
  auc: number;
  /** True-positive rate of the attack at fixed low false-positive rates. */
  tprAtFpr: { fpr: number; tpr: number }[];
  /** Shadow models the calibrated attack trained (0 for the loss-threshold attack). */
  shadowModels: number;
}

export type PrivacyRecord = (DpSgdRecord | NoPrivacyRecord) & {
  /** PII found in the training data by type (e.g. { email: 120, ipv4: 40 }), and how it was redacted. */
  pii?: { counts: Record<string, number>; redaction: 'tag' | 'pseudonym' | 'none' };
  audits?: MembershipAuditRecord[];
};

const num = { type: 'number' };
const count = { type: 'integer', minimum: 0 };

/** The run record schema's `privacy` definition (see run-record-schema.ts). */
export const PRIVACY_SCHEMA: Schema = {
  type: 'object',
  required: ['mechanism'],
  properties: {
    mechanism: { enum: ['dp-sgd', 'none'] },
    epsilon: { type: 'number', minimum: 0 },
    delta: { type: 'number', minimum: 0, maximum: 1 },
    noiseMultiplier: { type: 'number', minimum: 0 },
    l2NormClip: { type: 'number', exclusiveMinimum: 0 },
    sampleRate: { type: 'number', minimum: 0, maximum: 1 },
    sampling: { enum: ['poisson', 'fixed'] },
    expectedBatchSize: { type: 'number', minimum: 0 },
    steps: count,
    accountant: { enum: ['rdp', 'prv'] },
    conversion: { enum: ['classic', 'improved'] },
    order: { type: ['number', 'null'] },
    secureNoise: { type: 'boolean' },
    targetEpsilon: { type: 'number', exclusiveMinimum: 0 },
    stoppedByBudget: { type: 'boolean' },
    perExampleGradients: {
      type: 'object',
      required: ['fast', 'fallback'],
      additionalProperties: false,
      properties: {
        fast: { type: 'array', items: { type: 'string' } },
        fallback: { type: 'array', items: { type: 'string' } },
      },
    },
    pii: {
      type: 'object',
      required: ['counts', 'redaction'],
      additionalProperties: false,
      properties: {
        counts: { type: 'object', additionalProperties: count },
        redaction: { enum: ['tag', 'pseudonym', 'none'] },
      },
    },
    audits: {
      type: 'array',
      items: {
        type: 'object',
        required: ['attack', 'createdAt', 'members', 'nonMembers', 'auc', 'tprAtFpr', 'shadowModels'],
        additionalProperties: false,
        properties: {
          attack: { enum: ['loss-threshold', 'calibrated'] },
          createdAt: { type: 'string', format: 'date-time' },
          members: count,
          nonMembers: count,
          auc: { type: 'number', minimum: 0, maximum: 1 },
          tprAtFpr: {
            type: 'array',
            items: {
              type: 'object',
              required: ['fpr', 'tpr'],
              additionalProperties: false,
              properties: { fpr: num, tpr: num },
            },
          },
          shadowModels: count,
        },
      },
    },
  },
  additionalProperties: false,
};
