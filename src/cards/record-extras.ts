// Typed, tolerant access to run-record fields that newer recorders add (issue 12's contract: stages, the
// energy platform and assumptions, dataset sources, keyed fingerprints, the validation dataset): each is
// optional, so a card renders old records and new ones alike, and says only what the record holds.
import type { RunRecord } from '../ledger/record.js';
import type { StageCost } from '../ledger/stages.js';
import type { Platform } from '../ledger/platform.js';
import type { DatasetFingerprint, DatasetSource, TensorFingerprint } from '../ledger/fingerprint.js';

/**
 * A tensor fingerprint as any record version holds it: keyed (hmacSha256 + keyId, issue 12) and/or the plain
 * sha256 (records from before keyed fingerprints, or plainHashes).
 */
export type AnyTensorFingerprint = Omit<TensorFingerprint, 'hmacSha256' | 'keyId'> &
  Partial<Pick<TensorFingerprint, 'hmacSha256' | 'keyId'>>;

type Dataset = DatasetFingerprint;

/** The costs of the run's stages (training, validation, testing, ...), when the record has them. */
export function stagesOf(r: RunRecord): StageCost[] | undefined {
  return r.stages?.length ? r.stages : undefined;
}

/** Where the run ran; absent in records written before it was recorded. */
export function platformOf(r: RunRecord): Platform | undefined {
  return r.energy?.platform;
}

export function assumptionsOf(r: RunRecord): string[] {
  return r.energy?.assumptions ?? [];
}

export function sourceOf(d: Dataset): DatasetSource | undefined {
  return d.source;
}

/** The other dataset of the record this one equals (fit's validationData that is the test set: 'test'). */
export function sameAsOf(d: Dataset): string | undefined {
  return d.sameAs;
}

export function fingerprintsOf(d: Dataset): { x: AnyTensorFingerprint[]; y: AnyTensorFingerprint[] } {
  return { x: d.x, y: d.y ?? [] };
}

/** The dataset fit trained on: the one named 'train', else the first that is not fit's validation data. */
export function trainingDataOf(r: RunRecord): Dataset | undefined {
  return r.data.find((d) => d.name === 'train') ?? r.data.find((d) => d.name !== 'validation');
}

/** One digest of a tensor fingerprint: what it is (label), its hex value and its field in the record (key). */
export interface Digest {
  label: string;
  value: string;
  key: 'hmacSha256' | 'sha256';
  /** The fingerprint key's id, for the keyed HMAC. */
  keyId?: string;
}

/** Every digest a fingerprint holds: the keyed HMAC first, then the plain SHA-256 (either may be absent). */
export function digestsOf(t: AnyTensorFingerprint): Digest[] {
  const keyId = t.keyId ?? 'unknown';
  return [
    ...(t.hmacSha256
      ? [{ label: `HMAC-SHA-256 (key ${keyId})`, value: t.hmacSha256, key: 'hmacSha256' as const, keyId }]
      : []),
    ...(t.sha256 ? [{ label: 'SHA-256', value: t.sha256, key: 'sha256' as const }] : []),
  ];
}

/** The fingerprint's digest as the card shows it: keyed HMAC when present, else the plain SHA-256. */
export function digestOf(t: AnyTensorFingerprint): Digest {
  return digestsOf(t)[0] ?? { label: 'SHA-256', value: '', key: 'sha256' };
}

/** How validation happened in fit, read from the record only. */
export interface ValidationFacts {
  kind: 'validationData' | 'validationSplit' | 'none';
  /** The text the card shows. */
  text: string;
  /** The record's dataset for validation, when it fingerprinted one. */
  dataset?: Dataset;
}

export function validationOf(r: RunRecord): ValidationFacts {
  const h = r.training.hyperparameters as Record<string, unknown>;
  const split = typeof h.validationSplit === 'number' ? h.validationSplit : 0;
  const hasVal = Object.keys(r.training.history.metrics).some((k) => k.startsWith('val_'));
  const dataset = r.data.find((d) => d.name === 'validation');
  const percent = `${(100 * split).toFixed(1).replace(/\.0$/, '')}%`;
  if (split > 0 && dataset && isSplitPart(r, dataset, split))
    return {
      kind: 'validationSplit',
      dataset,
      text:
        `validated on the last ${percent} of the training data (validationSplit; ` +
        `${dataset.samples.toLocaleString('en-US')} samples, fingerprinted as dataset 'validation')`,
    };
  if (dataset) {
    const same = sameAsOf(dataset);
    return {
      kind: 'validationData',
      dataset,
      text:
        (same
          ? `validated on the ${same} set (fit's validationData; its fingerprint equals dataset '${same}')`
          : `validated on a separate validation set of ${dataset.samples.toLocaleString('en-US')} samples ` +
            "(fit's validationData)") +
        (split > 0
          ? `; validationData replaced validationSplit's part, though the last ${percent} was still held out of ` +
            'training'
          : '; validationSplit not used'),
    };
  }
  if (split > 0)
    return {
      kind: 'validationSplit',
      text: `validated on the last ${percent} of the training data (validationSplit)`,
    };
  if (hasVal)
    return {
      kind: 'validationData',
      text:
        "validated on fit's validationData (the history has val_ metrics; this record does not fingerprint " +
        'that data, so which data it was is not recorded); validationSplit not used',
    };
  return { kind: 'none', text: 'no validation during training' };
}

/**
 * Whether the 'validation' dataset is validationSplit's part: fit holds out floor(n * split) of the n samples it
 * was given, so train + validation = n. Validation data that equals another dataset (sameAs) was given by the user.
 */
function isSplitPart(r: RunRecord, validation: Dataset, split: number): boolean {
  const train = trainingDataOf(r);
  if (!train || validation.sameAs) return false;
  return Math.floor((train.samples + validation.samples) * split) === validation.samples;
}
