// Typed, tolerant access to run-record fields that newer recorders add (issue 12's contract: stages, the
// energy platform and assumptions, dataset sources, keyed fingerprints, the validation dataset): each is
// optional, so a card renders old records and new ones alike, and says only what the record holds.
import type { RunRecord } from '../ledger/record.js';

export interface StageCostView {
  stage: string;
  wallSeconds: number;
  cpuSeconds: number;
  flops: number;
  joules: number | null;
  note?: string;
}

export interface PlatformView {
  kind: string;
  hypervisor?: string;
  container?: string;
  cpuQuota?: number;
  evidence: string[];
}

export interface DatasetSourceView {
  name: string;
  licence: string;
  url: string;
  citation?: string;
  files: { name: string; sha256: string; bytes: number }[];
}

/** A tensor fingerprint as old (sha256) and keyed (hmacSha256 + keyId) recorders write it. */
export interface FingerprintView {
  shape: number[];
  dtype: string;
  bytes: number;
  sha256?: string;
  hmacSha256?: string;
  keyId?: string;
}

type Dataset = RunRecord['data'][number];

const loose = (v: unknown) => v as Record<string, unknown> | undefined;

/** The costs of the run's stages (training, validation, testing, ...), when the record has them. */
export function stagesOf(r: RunRecord): StageCostView[] | undefined {
  const s = loose(r)?.stages;
  return Array.isArray(s) && s.length ? (s as StageCostView[]) : undefined;
}

export function platformOf(r: RunRecord): PlatformView | undefined {
  return loose(r.energy)?.platform as PlatformView | undefined;
}

export function assumptionsOf(r: RunRecord): string[] {
  const a = loose(r.energy)?.assumptions;
  return Array.isArray(a) ? (a as string[]) : [];
}

export function sourceOf(d: Dataset): DatasetSourceView | undefined {
  return loose(d)?.source as DatasetSourceView | undefined;
}

/** The other dataset of the record this one equals (fit's validationData that is the test set: 'test'). */
export function sameAsOf(d: Dataset): string | undefined {
  const s = loose(d)?.sameAs;
  return typeof s === 'string' ? s : undefined;
}

export function fingerprintsOf(d: Dataset): { x: FingerprintView[]; y: FingerprintView[] } {
  return { x: d.x as FingerprintView[], y: (d.y ?? []) as FingerprintView[] };
}

/** The fingerprint's digest as the card shows it: keyed HMAC when present, else the plain SHA-256. */
export function digestOf(t: FingerprintView): { label: string; value: string; key: string } {
  if (t.hmacSha256)
    return { label: `HMAC-SHA-256 (key ${t.keyId ?? 'unknown'})`, value: t.hmacSha256, key: 'hmacSha256' };
  return { label: 'SHA-256', value: t.sha256 ?? '', key: 'sha256' };
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
  if (dataset) {
    const same = sameAsOf(dataset);
    return {
      kind: 'validationData',
      dataset,
      text:
        (same
          ? `validated on the ${same} set (fit's validationData; its fingerprint equals dataset '${same}')`
          : `validated on a separate validation set of ${dataset.samples.toLocaleString('en-US')} samples ` +
            "(fit's validationData)") + '; validationSplit not used',
    };
  }
  if (split > 0)
    return {
      kind: 'validationSplit',
      text:
        `validated on the last ${(100 * split).toFixed(1).replace(/\.0$/, '')}% of the training data ` +
        '(validationSplit)',
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
