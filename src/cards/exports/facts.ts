// What the SPDX and CycloneDX exports say about a run, derived from its record (and card.json) in one place, so
// that the two documents cannot disagree. Every fact here is read or computed from the record; what the record
// does not know is undefined, and the exports leave it out.
import type { RunRecord } from '../../ledger/record.js';
import type { DatasetFingerprint, DatasetSource } from '../../ledger/fingerprint.js';
import { trainingDataOf, type AnyTensorFingerprint } from '../record-extras.js';
import type { CardUserInfo } from '../user-info.js';

/** What the exports take beside the record: card.json's text, written by the people responsible. */
export interface ExportOptions {
  user?: CardUserInfo;
}

/** One dataset of the run, deduplicated by fingerprint, with what the model did with it. */
export interface DatasetFacts {
  /** A stable id within the document: 'dataset-1', 'dataset-2', ... in order of first appearance. */
  ref: string;
  /** The names the run gave it (e.g. ['train', 'train-eval']). */
  names: string[];
  samples: number;
  tensors: { role: string; fingerprint: AnyTensorFingerprint }[];
  /** Bytes of the tensors as the model saw them. */
  bytes: number;
  description?: string;
  source?: DatasetSource;
  trainedOn: boolean;
  testedOn: boolean;
  /** PII counts by type found in it (the training data's scan), when the record has them. */
  pii?: { counts: Record<string, number>; redaction: string };
}

/** Energy of one stage of the run's life, in kWh, and its CO2e in tonnes where the grid intensity is known. */
export interface StageEnergy {
  stage: string;
  kWh: number;
  tCO2e?: number;
}

/** A timestamp as SPDX's DateTime wants it: UTC, whole seconds ('2024-05-01T10:00:00Z'). */
export function wholeSecondsUtc(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z');
}

const CLASSIFICATION_LOSSES = ['categoricalCrossentropy', 'sparseCategoricalCrossentropy', 'binaryCrossentropy'];
const REGRESSION_LOSSES = ['meanSquaredError', 'meanAbsoluteError', 'huber', 'meanSquaredLogarithmicError'];

/** 'classification' or 'regression' from the training loss's name; undefined for other or custom losses. */
export function taskOf(record: RunRecord): string | undefined {
  const loss = record.training.hyperparameters.loss;
  if (typeof loss !== 'string') return undefined;
  if (CLASSIFICATION_LOSSES.includes(loss)) return 'classification';
  if (REGRESSION_LOSSES.includes(loss)) return 'regression';
  return undefined;
}

/**
 * The architecture family from the layers' classes: attention layers make a transformer, recurrent ones a
 * recurrent network, convolutions a convolutional one, and only dense layers (with shape and regularising layers)
 * a multilayer perceptron. Undefined when the layers say nothing clear.
 */
export function architectureFamilyOf(record: RunRecord): string | undefined {
  const classes = record.model.layers.map((l) => l.className);
  if (!classes.length) return undefined;
  if (classes.some((c) => /Attention|Transformer/.test(c))) return 'transformer';
  if (classes.some((c) => /^(LSTM|GRU|SimpleRNN|RNN|Bidirectional)/.test(c))) return 'recurrent neural network';
  if (classes.some((c) => /^(Conv|SeparableConv|DepthwiseConv)/.test(c))) return 'convolutional neural network';
  const plain = /^(Dense|Dropout|Activation|Flatten|Reshape|InputLayer|BatchNormalization|LayerNormalization)$/;
  if (classes.includes('Dense') && classes.every((c) => plain.test(c))) return 'multilayer perceptron';
  return undefined;
}

/** The model's class and its layers' classes in order, e.g. 'Sequential: Dense > Dropout > Dense'. */
export function modelArchitectureOf(record: RunRecord): string {
  const layers = record.model.layers.map((l) => l.className);
  return layers.length ? `${record.model.className}: ${layers.join(' > ')}` : record.model.className;
}

/** 'supervised' when the training data had targets that are not its inputs; undefined otherwise. */
export function approachOf(record: RunRecord): 'supervised' | undefined {
  const train = trainingDataOf(record);
  if (!train?.y?.length) return undefined;
  const key = (fs: AnyTensorFingerprint[]) => fs.map((f) => f.sha256 ?? f.hmacSha256).join(',');
  return key(train.y) === key(train.x) ? undefined : 'supervised';
}

/** The inputs' format from the training data's x tensors: dtype and per-sample shape. */
export function inputFormatsOf(record: RunRecord): string[] {
  const train = trainingDataOf(record);
  return (train?.x ?? []).map((f) => `${f.dtype} tensor, shape [${f.shape.slice(1).join(', ')}] per sample`);
}

/** Hyperparameters and seeds flattened to 'key' -> string ('optimizer.learningRate' -> '0.001'), nulls left out. */
export function hyperparametersOf(record: RunRecord): [string, string][] {
  const out: [string, string][] = [];
  const walk = (prefix: string, v: unknown): void => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, w] of Object.entries(v as Record<string, unknown>)) walk(prefix ? `${prefix}.${k}` : k, w);
      return;
    }
    out.push([prefix, typeof v === 'string' ? v : JSON.stringify(v)]);
  };
  // An optimizer is { className, config }: its class is the value of 'optimizer', its config 'optimizer.*'.
  for (const [k, v] of Object.entries(record.training.hyperparameters)) {
    const cfg = v as { className?: unknown; config?: unknown } | null;
    if (cfg && typeof cfg === 'object' && !Array.isArray(cfg) && typeof cfg.className === 'string') {
      out.push([k, cfg.className]);
      walk(k, cfg.config);
    } else walk(k, v);
  }
  for (const [k, v] of Object.entries(record.training.seeds)) out.push([`seed.${k}`, String(v)]);
  return out;
}

/** Every finite evaluation metric: { evaluation, metric, value }. */
export function metricsOf(record: RunRecord): { evaluation: string; metric: string; value: number }[] {
  return record.evaluation.flatMap((e) =>
    Object.entries(e.metrics)
      .filter((m): m is [string, number] => typeof m[1] === 'number' && Number.isFinite(m[1]))
      .map(([metric, value]) => ({ evaluation: e.name, metric, value })),
  );
}

function fingerprintKey(d: DatasetFingerprint): string {
  const fs: AnyTensorFingerprint[] = [...d.x, ...(d.y ?? [])];
  return `${d.samples}|${fs.map((f) => `${f.dtype}[${f.shape}]${f.sha256 ?? ''}/${f.hmacSha256 ?? ''}`).join(',')}`;
}

/**
 * The run's datasets: fit's training data (trained on), the others ('validation' among them, tested on) and each
 * evaluation's, merged where the fingerprints are identical (an evaluation on the training data: trained and
 * tested on).
 */
export function datasetsOf(record: RunRecord): DatasetFacts[] {
  const byKey = new Map<string, DatasetFacts>();
  const add = (d: DatasetFingerprint, trained: boolean) => {
    const key = fingerprintKey(d);
    let facts = byKey.get(key);
    if (!facts) {
      const tensors = [
        ...d.x.map((f, i) => ({ role: `x[${i}]`, fingerprint: f })),
        ...(d.y ?? []).map((f, i) => ({ role: `y[${i}]`, fingerprint: f })),
      ];
      facts = {
        ref: `dataset-${byKey.size + 1}`,
        names: [],
        samples: d.samples,
        tensors,
        bytes: tensors.reduce((s, t) => s + t.fingerprint.bytes, 0),
        trainedOn: false,
        testedOn: false,
      };
      byKey.set(key, facts);
    }
    if (!facts.names.includes(d.name)) facts.names.push(d.name);
    facts.description ??= d.description;
    facts.source ??= d.source;
    if (trained) facts.trainedOn = true;
    else facts.testedOn = true;
  };
  // Trained on: fit's training data only (a 'test' set given to RunRecorder up front is in record.data too).
  const train = trainingDataOf(record);
  for (const d of record.data) add(d, d === train);
  for (const e of record.evaluation) if (e.data) add(e.data, false);
  const all = [...byKey.values()];
  // The privacy record's PII scan is of the training data.
  const pii = record.privacy?.pii;
  if (pii) for (const d of all.filter((f) => f.trainedOn)) d.pii = pii;
  return all;
}

/**
 * Energy by stage: the record's stages with a known energy when it has them (issue 12's StageCost), else the
 * training energy of record.energy. CO2e uses the record's grid intensity (gCO2e/kWh).
 */
export function stageEnergiesOf(record: RunRecord): StageEnergy[] {
  const gPerKWh = record.emissions?.grid.gPerKWh;
  const withCo2 = (stage: string, kWh: number): StageEnergy => ({
    stage,
    kWh,
    ...(gPerKWh !== undefined ? { tCO2e: (kWh * gPerKWh) / 1e6 } : {}),
  });
  const stages = record.stages;
  if (stages?.some((s) => s.joules !== null)) {
    const known = stages.filter((s) => s.joules !== null);
    // A distributed run's stages are rank 0's; the other ranks' energy (all of it fit's) joins 'training'.
    const others =
      record.distributed && record.energy ? record.energy.joules - known.reduce((t, s) => t + s.joules!, 0) : 0;
    return known.map((s) => withCo2(s.stage, (s.joules! + (s.stage === 'training' ? Math.max(others, 0) : 0)) / 3.6e6));
  }
  if (!record.energy) return [];
  // Without stages, record.energy is fit's (training) energy and record.emissions its CO2e.
  return [
    {
      stage: 'training',
      kWh: record.energy.kWh,
      ...(record.emissions ? { tCO2e: record.emissions.gCO2e / 1e6 } : {}),
    },
  ];
}

/** A sentence of training facts: epochs, steps, batch size, samples, FLOPs, time. */
export function trainingSummaryOf(record: RunRecord): string {
  const t = record.training;
  const hp = t.hyperparameters;
  const train = trainingDataOf(record);
  const parts = [
    `Trained with Candor ${record.software.candor} for ${t.epochs.completed} epoch(s), ${t.steps} step(s)`,
    record.distributed
      ? `${record.distributed.strategy} on ${record.distributed.worldSize} processes (world size)`
      : undefined,
    typeof hp.batchSize === 'number' ? `batch size ${hp.batchSize}` : undefined,
    train ? `on ${train.samples} samples ('${train.name}')` : undefined,
    `${record.compute.trainingFlops.toExponential(3)} training FLOPs`,
    `${t.wallSeconds.toFixed(3)} s wall time`,
    `status ${record.status}`,
  ];
  return parts.filter((p) => p !== undefined).join(', ') + '.';
}
