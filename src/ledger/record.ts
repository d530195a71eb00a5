// The run record (run.json): architecture and its hash, parameters, training FLOPs by phase, time,
// energy, CO2e, dataset fingerprints, hyperparameters, seeds, software, machine, metric history and
// evaluations. Records are validated against RUN_RECORD_SCHEMA whenever they are written or read.
// RunRecording (recording.ts) gathers one; the model comes in as plain data (ModelFacts): the ledger
// knows nothing of Model.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getBackend } from '../backends/backend.js';
import { readFileBytes, writeFileAtomic } from '../io/atomic.js';
import { FileCipher, openMaybeEncrypted, type EncryptionKey } from '../io/encryption.js';
import { canonicalJson, hashJson, jsonSafe, sha256Hex, type JsonValue } from './canonical.js';
import type { GridIntensity } from './carbon.js';
import { readCpuInfo, type EnergyReport } from './energy.js';
import type { StageCost } from './stages.js';
import type { DistributedRecord } from './distributed.js';
import type { ClassificationReport } from './evaluation.js';
import type { DatasetFingerprint } from './fingerprint.js';
import { JsonSchemaValidator } from './json-schema.js';
import type { MeterSnapshot } from './meter.js';
import type { PrivacyRecord } from './privacy.js';
import type { ExplanationRecord } from './explanation.js';
import type { CompressionRecord } from './compression.js';
import type { CardHashes } from './file-hashes.js';
import { RUN_RECORD_SCHEMA } from './run-record-schema.js';
import type { TensorSpec } from './model-io.js';
import { RecordError } from './errors.js';

export const RUN_RECORD_FORMAT = 'candor-run-record';
export const RUN_RECORD_VERSION = 1;
export const RUN_RECORD_FILE = 'run.json';

export interface EvaluationRecord {
  name: string;
  createdAt: string;
  /** Loss and metrics as evaluate() returns them (null where not finite). */
  metrics: Record<string, number | null>;
  data?: DatasetFingerprint;
  report?: ClassificationReport;
}

export interface EmissionsRecord {
  gCO2e: number;
  low: number;
  high: number;
  grid: GridIntensity;
  method: string;
}

export interface RunRecord {
  format: typeof RUN_RECORD_FORMAT;
  version: typeof RUN_RECORD_VERSION;
  id: string;
  name?: string;
  createdAt: string;
  status: 'completed' | 'stopped';
  model: {
    name: string;
    className: string;
    architecture: JsonValue;
    architectureSha256: string | null;
    parameters: { total: number; trainable: number; nonTrainable: number };
    layers: { name: string; className: string; parameters: number }[];
    artifacts?: Record<string, { sha256: string; bytes: number }>;
    /** The model's inputs and outputs (not the training targets); absent in older records. */
    inputs?: TensorSpec[];
    outputs?: TensorSpec[];
  };
  training: {
    startedAt: string;
    endedAt: string;
    wallSeconds: number;
    cpuSeconds: number;
    epochs: { requested: number | null; completed: number; initial: number };
    steps: number;
    hyperparameters: Record<string, JsonValue>;
    seeds: Record<string, number>;
    history: { epochs: number[]; metrics: Record<string, (number | null)[]> };
  };
  compute: MeterSnapshot & { attribution: ComputeAttribution };
  energy: EnergyReport | null;
  emissions: EmissionsRecord | null;
  data: DatasetFingerprint[];
  evaluation: EvaluationRecord[];
  /** Always written by this version; absent in older records. */
  privacy?: PrivacyRecord;
  /** Explanations of the trained model (explainability.recordExplanation); absent when there are none. */
  explanations?: ExplanationRecord[];
  /** Compressions of the model (compress.recordCompression); absent when there are none. */
  compression?: CompressionRecord[];
  /** The card files as publishRun wrote them, with their hashes (`candor verify` checks them). */
  card?: CardHashes;
  /** The run's life by stage (fingerprinting, training, validation, testing, saving, other); see stages.ts. */
  stages?: StageCost[];
  /** A run across several processes: world, strategy, hosts, bytes and each rank's figures (distributed.ts). */
  distributed?: DistributedRecord;
  software: { candor: string; node: string; v8: string; platform: string; arch: string };
  machine: {
    cpuModel: string;
    logicalCpus: number;
    totalMemoryBytes: number;
    backend: { name: string; description: string; threads: number | null };
  };
  notes: string[];
}

/**
 * How the record's kernels were attributed: to phases and layers (marked by the trainer and the layers),
 * and to this run ('run': the kernels of this fit's async context only, so concurrent fits do not count
 * each other's; 'process': every kernel of the process while the meter ran).
 */
export interface ComputeAttribution {
  phases: boolean;
  layers: boolean;
  context?: 'run' | 'process';
}

const validator = new JsonSchemaValidator(RUN_RECORD_SCHEMA);

/** Throws SchemaError listing every way `value` is not a valid run record; returns it typed otherwise. */
export function validateRunRecord(value: unknown, what = 'run record'): RunRecord {
  validator.assert(value, what);
  return value as RunRecord;
}

/** SHA-256 of the record's canonical JSON: what the ledger chains. */
export function recordHash(record: RunRecord): string {
  return hashJson(record);
}

/**
 * Reads and validates run.json from a run directory (or a path to the file itself); an encrypted one needs
 * its `encryptionKey` (and a key given for a plain one is refused).
 */
export async function readRunRecord(
  dirOrFile: string,
  options: { encryptionKey?: EncryptionKey } = {},
): Promise<RunRecord> {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : join(dirOrFile, RUN_RECORD_FILE);
  const cipher = FileCipher.optional(options.encryptionKey);
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(file);
  } catch (e) {
    throw new RecordError(`readRunRecord: cannot read ${file}: ${(e as Error).message}`);
  }
  const text = new TextDecoder().decode(
    await openMaybeEncrypted(bytes, cipher, RUN_RECORD_FILE, `readRunRecord: ${file}`),
  );
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RecordError(`readRunRecord: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  const format = (value as { format?: unknown })?.format;
  if (format !== RUN_RECORD_FORMAT)
    throw new RecordError(`readRunRecord: ${file} is not a Candor run record (format ${JSON.stringify(format)})`);
  return validateRunRecord(value, file);
}

/**
 * Validates and writes the record as dir/run.json (atomically; the directory is created if needed), encrypted
 * in the role 'run.json' when an encryptionKey is given.
 */
export async function writeRunRecord(
  record: RunRecord,
  dir: string,
  options: { encryptionKey?: EncryptionKey } = {},
): Promise<string> {
  validateRunRecord(record);
  const cipher = FileCipher.optional(options.encryptionKey);
  await mkdir(dir, { recursive: true });
  const file = join(dir, RUN_RECORD_FILE);
  const text = JSON.stringify(record, null, 2) + '\n';
  await writeFileAtomic(file, cipher ? await cipher.encrypt(text, RUN_RECORD_FILE) : text);
  return file;
}

let cachedVersion: string | undefined;
/** Candor's version from its package.json (found by walking up from this file, in src/ or dist/src/). */
export function candorVersion(): string {
  if (cachedVersion) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'candor' && pkg.version) return (cachedVersion = pkg.version);
      } catch {
        // a broken package.json on the way up: keep looking
      }
    }
    dir = dirname(dir);
  }
  return (cachedVersion = 'unknown');
}

/** Software and machine facts for a record. */
export function environmentInfo(): Pick<RunRecord, 'software' | 'machine'> {
  const backend = getBackend() as ReturnType<typeof getBackend> & { threads?: number };
  return {
    software: {
      candor: candorVersion(),
      node: process.versions.node,
      v8: process.versions.v8,
      platform: process.platform,
      arch: process.arch,
    },
    machine: {
      cpuModel: readCpuInfo().model,
      logicalCpus: cpus().length,
      totalMemoryBytes: totalmem(),
      backend: {
        name: backend.name,
        description: backend.description,
        threads: Number.isInteger(backend.threads) ? backend.threads! : null,
      },
    },
  };
}

/**
 * What a record needs of the trained model, as plain data: the ledger knows nothing of Model. The
 * architecture is a function so that a model that cannot describe itself costs a note, not the record.
 */
export interface ModelFacts {
  name: string;
  className: string;
  /** The architecture as JSON-able data (e.g. the model's getConfig()). */
  architecture: () => unknown;
  parameters: { total: number; trainable: number };
  layers: { name: string; className: string; parameters: number }[];
  /** The model's inputs and outputs; a function, so that a model that cannot say costs a note, not the record. */
  io?: () => { inputs: TensorSpec[]; outputs: TensorSpec[] } | undefined;
}

/** Architecture, its hash, parameter counts and layers of a model. */
export function describeModel(model: ModelFacts, notes: string[]): RunRecord['model'] {
  let architecture: JsonValue = null;
  let architectureSha256: string | null = null;
  try {
    architecture = jsonSafe(model.architecture());
    architectureSha256 = sha256Hex(canonicalJson({ className: model.className, config: architecture }));
  } catch (e) {
    notes.push(`The architecture could not be recorded: ${(e as Error).message}`);
  }
  let io: { inputs: TensorSpec[]; outputs: TensorSpec[] } | undefined;
  try {
    io = model.io?.();
  } catch (e) {
    notes.push(`The model's inputs and outputs could not be recorded: ${(e as Error).message}`);
  }
  const { total, trainable } = model.parameters;
  return {
    name: model.name,
    className: model.className,
    architecture,
    architectureSha256,
    parameters: { total, trainable, nonTrainable: total - trainable },
    layers: model.layers.map((l) => ({ ...l })),
    ...(io ? { inputs: io.inputs, outputs: io.outputs } : {}),
  };
}
