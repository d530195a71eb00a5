// Explanations into the run record: explain()'s result as an ExplanationRecord (bounded, quantised maps and a
// fingerprint of the inputs), stored through a RunRecording or into a run directory's run.json.
import type { Tensor } from '../tensor/tensor.js';
import type { Model } from '../train/model.js';
import type { LayerConfig } from '../nn/layer.js';
import { ArgumentError, ShapeError } from '../errors.js';
import type { FingerprintKeyLike } from '../ledger/fingerprint.js';
import { RunFingerprints } from '../ledger/run-fingerprints.js';
import { readRunRecord, writeRunRecord, type RunRecord } from '../ledger/record.js';
import { RunRecording } from '../ledger/recording.js';
import {
  summarizeAttributions,
  withExplanation,
  type ExplanationRecord,
  type SummaryLimits,
} from '../ledger/explanation.js';
import type { EncryptionKey } from '../io/encryption.js';
import { TextVectorization } from '../nn/preprocessing/text-vectorization.js';
import type { Explanation } from './types.js';

/** What the model declares of its (single) input: per-sample shape (null: free) and dtype ('string': raw text). */
export function modelInputSpec(model: Model): { shape: (number | null)[]; dtype: string } | undefined {
  if (model.inputs.length === 1) return { shape: [...model.inputs[0].shape.slice(1)], dtype: model.inputs[0].dtype };
  if (model.inputs.length > 1) return undefined;
  const config = model.getConfig();
  const first = (config.layers as { config: LayerConfig }[] | undefined)?.[0]?.config;
  const shape = (config.buildInputShape ?? first?.batchInputShape) as (number | null)[] | undefined;
  if (!shape) return undefined;
  return { shape: shape.slice(1), dtype: String(config.buildInputDType ?? first?.dtype ?? 'float32') };
}

/** The vocabulary of the model's first TextVectorization layer ('int' mode: index -> word), if it has one. */
export function modelVocabulary(model: Model): string[] | undefined {
  const tv = model.layers.find((l) => l instanceof TextVectorization) as TextVectorization | undefined;
  return tv ? tv.getVocabulary() : undefined;
}

export interface RecordExplanationOptions extends SummaryLimits {
  /** The explained inputs (fingerprinted; for int token inputs, the ids shown with the attributions). */
  inputs: Tensor;
  /** True labels of the samples (class ids), shown beside the maps. */
  labels?: Tensor | readonly number[];
  /** A name for this explanation; a later one of the same name and method replaces it. */
  name?: string;
  /** The model explained: its declared input shape is recorded and its TextVectorization gives the words. */
  model?: Model;
  /** Words of the token ids (index -> word), when the model has no TextVectorization layer. */
  vocabulary?: readonly string[];
  /**
   * The HMAC key the inputs are fingerprinted with: give the run's when it was not the user's (default the
   * user's key; a one-off key, with a note, where none can be stored).
   */
  fingerprintKey?: FingerprintKeyLike;
  /** The key of an encrypted run.json (when recording into a run directory). */
  encryptionKey?: EncryptionKey;
}

const finite = (v: number) => (Number.isFinite(v) ? v : null);

/**
 * explain()'s result as the run record keeps it (see ExplanationRecord and summarizeAttributions); what a reader
 * must know of the inputs' fingerprint (a one-off key) goes to `notes`.
 */
export function explanationRecord(
  explanation: Explanation,
  options: RecordExplanationOptions,
  notes: string[] = [],
): ExplanationRecord {
  const { inputs, model } = options;
  const a = explanation.attributions;
  if (inputs.shape[0] !== a.shape[0])
    throw new ShapeError(
      `recordExplanation: inputs have ${inputs.shape[0]} samples ([${inputs.shape.join(', ')}]) but the ` +
        `attributions ${a.shape[0]} ([${a.shape.join(', ')}])`,
    );
  const isTokens = inputs.dtype === 'int32' && inputs.rank === 2 && a.rank === 2 && a.shape[1] === inputs.shape[1];
  const labels = options.labels === undefined ? undefined : Array.from(labelsOf(options.labels));
  if (labels && labels.length !== inputs.shape[0])
    throw new ShapeError(`recordExplanation: ${labels.length} labels for ${inputs.shape[0]} samples`);
  const vocabulary = options.vocabulary ?? (model ? modelVocabulary(model) : undefined);
  const attributions = summarizeAttributions(a.dataSync(), a.shape, {
    maxSamples: options.maxSamples,
    maxValues: options.maxValues,
    ...(isTokens ? { tokens: inputs.dataSync(), vocabulary } : {}),
  });
  return {
    method: explanation.method,
    createdAt: new Date().toISOString(),
    ...(options.name ? { name: options.name } : {}),
    parameters: explanation.parameters,
    target: explanation.target,
    logit: explanation.logit,
    scores: explanation.scores.map(finite),
    ...(explanation.completenessGap ? { completenessGap: explanation.completenessGap.map(finite) } : {}),
    seconds: explanation.seconds,
    inputShape: (model && modelInputSpec(model)?.shape) ?? inputs.shape.slice(1),
    inputs: new RunFingerprints({ fingerprintKey: options.fingerprintKey }, notes).tensor(inputs),
    ...(labels ? { labels } : {}),
    attributions,
    ...(explanation.details ? { details: explanation.details } : {}),
  };
}

function labelsOf(labels: Tensor | readonly number[]): ArrayLike<number> {
  const values = Array.isArray(labels) ? labels : (labels as Tensor).dataSync();
  for (let i = 0; i < values.length; i++)
    if (!Number.isInteger(values[i]))
      throw new ArgumentError(`recordExplanation: labels must be class ids (integers), got ${values[i]}`);
  return values;
}

/**
 * Records an explanation in a run record: through the RunRecording of the run (RunRecorder; after fit), or into
 * the run.json of a run directory (read, validated, rewritten). Returns what was recorded.
 */
export async function recordExplanation(
  where: RunRecording | string,
  explanation: Explanation,
  options: RecordExplanationOptions,
): Promise<ExplanationRecord> {
  if (where instanceof RunRecording) {
    const entry = withKeyNote(where.record, explanationRecord(explanation, options, where.record.notes));
    await where.addExplanation(entry);
    return entry;
  }
  if (typeof where !== 'string')
    throw new ArgumentError('recordExplanation: give a RunRecorder or the path of a run directory');
  const record = await readRunRecord(where, { encryptionKey: options.encryptionKey });
  const entry = withKeyNote(record, explanationRecord(explanation, options, record.notes));
  record.explanations = withExplanation(record.explanations, entry);
  record.createdAt = new Date().toISOString();
  await writeRunRecord(record, where, { encryptionKey: options.encryptionKey });
  return entry;
}

/** Notes in the record when the explained inputs' key is not the one the run's data was fingerprinted with. */
function withKeyNote(record: RunRecord, entry: ExplanationRecord): ExplanationRecord {
  const runKey = record.data.flatMap((d) => d.x).find((t) => t.keyId)?.keyId;
  const key = entry.inputs.keyId;
  const note =
    `The inputs of explanation '${entry.name ?? entry.method}' were fingerprinted under key ${key}, the run's ` +
    `data under key ${runKey}: the two do not compare (recordExplanation option fingerprintKey takes the run's key)`;
  if (runKey && key !== runKey && !record.notes.includes(note)) record.notes.push(note);
  return entry;
}
