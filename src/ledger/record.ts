// The run record (run.json) and RunRecorder, the fit() callback that gathers it: architecture and its
// hash, parameters, training FLOPs by phase, time, energy, CO2e, dataset fingerprints, hyperparameters,
// seeds, software, machine, metric history and evaluations. Records are validated against
// RUN_RECORD_SCHEMA whenever they are written or read.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Tensor } from '../tensor/tensor.js';
import { getBackend } from '../backends/backend.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { Callback, Logs } from '../train/callbacks.js';
import type { Model } from '../train/model.js';
import { canonicalJson, hashJson, jsonSafe, sha256Hex, type JsonValue } from './canonical.js';
import { co2eGrams, gridIntensity, type GridIntensity, type GridOptions } from './carbon.js';
import { EnergyMeter, readCpuInfo, type EnergyOptions, type EnergyReport } from './energy.js';
import { evaluateClassifier, type ClassificationReport, type ReportOptions } from './evaluation.js';
import { fingerprintDataset, type DatasetFingerprint } from './fingerprint.js';
import { JsonSchemaValidator } from './json-schema.js';
import { Meter, type MeterSnapshot } from './meter.js';
import { RUN_RECORD_SCHEMA } from './run-record-schema.js';
import { RecordError } from './errors.js';
import { appendToLedger, type AppendOptions, type LedgerEntry } from './ledger.js';

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
  compute: MeterSnapshot & { attribution: { phases: boolean; layers: boolean } };
  energy: EnergyReport | null;
  emissions: EmissionsRecord | null;
  data: DatasetFingerprint[];
  evaluation: EvaluationRecord[];
  software: { candor: string; node: string; v8: string; platform: string; arch: string };
  machine: {
    cpuModel: string;
    logicalCpus: number;
    totalMemoryBytes: number;
    backend: { name: string; description: string; threads: number | null };
  };
  notes: string[];
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

/** Reads and validates run.json from a run directory (or a path to the file itself). */
export async function readRunRecord(dirOrFile: string): Promise<RunRecord> {
  const file = dirOrFile.endsWith('.json') ? dirOrFile : join(dirOrFile, RUN_RECORD_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new RecordError(`readRunRecord: cannot read ${file}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new RecordError(`readRunRecord: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if ((value as { format?: unknown })?.format !== RUN_RECORD_FORMAT)
    throw new RecordError(
      `readRunRecord: ${file} is not a Candor run record (format ${JSON.stringify((value as { format?: unknown })?.format)})`,
    );
  return validateRunRecord(value, file);
}

/** Validates and writes the record as dir/run.json (atomically; the directory is created if needed). */
export async function writeRunRecord(record: RunRecord, dir: string): Promise<string> {
  validateRunRecord(record);
  await mkdir(dir, { recursive: true });
  const file = join(dir, RUN_RECORD_FILE);
  await writeFileAtomic(file, JSON.stringify(record, null, 2) + '\n');
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

/** Architecture, its hash, parameter counts and layers of a model. */
export function describeModel(model: Model, notes: string[]): RunRecord['model'] {
  let architecture: JsonValue = null;
  let architectureSha256: string | null = null;
  try {
    architecture = jsonSafe(model.getConfig());
    architectureSha256 = sha256Hex(canonicalJson({ className: model.className, config: architecture }));
  } catch (e) {
    notes.push(`The architecture could not be recorded: ${(e as Error).message}`);
  }
  const trainable = model.trainableWeights.reduce((s, v) => s + v.value.size, 0);
  const total = model.countParams();
  return {
    name: model.name,
    className: model.className,
    architecture,
    architectureSha256,
    parameters: { total, trainable, nonTrainable: total - trainable },
    layers: model.layers.map((l) => ({ name: l.name, className: l.className, parameters: l.countParams() })),
  };
}

/** What fit() tells callbacks about itself (Callback.setParams), as Keras' set_params. */
export interface FitParams {
  epochs: number;
  batchSize: number;
  /** Steps per epoch, when known. */
  steps?: number;
  samples?: number;
  validationSplit?: number;
  shuffle?: boolean;
  initialEpoch?: number;
  seed?: number;
  /** The training inputs and labels actually used (after any validation split), for fingerprints. */
  x?: Tensor | Tensor[];
  y?: Tensor | Tensor[];
}

export interface DataSpec {
  x: Tensor | Tensor[];
  y?: Tensor | Tensor[];
  /** Where the data comes from, in your words (shown in cards as given by the user). */
  description?: string;
}

export interface RunRecorderOptions {
  /** Directory for run.json; without one the record stays in memory (recorder.record). */
  dir?: string;
  /** Set false to not write run.json at the end of fit (opt-out); default true when dir is given. */
  write?: boolean;
  name?: string;
  /** Datasets to fingerprint, by name. 'train' defaults to the data fit() trains on (when fit passes it). */
  data?: Record<string, DataSpec>;
  /** Extra hyperparameters to record beside those read from the model and fit(). */
  hyperparameters?: Record<string, unknown>;
  seeds?: Record<string, number>;
  /** Energy method and figures (see EnergyOptions); false to leave energy and emissions out. */
  energy?: EnergyOptions | false;
  /** Grid intensity for CO2e (region or your own figure). */
  grid?: GridOptions;
  /** A meter of your own (e.g. to also profile code outside fit); default: the recorder's own. */
  meter?: Meter;
  /** Minimum milliseconds between energy samples during fit (default 1000). */
  sampleEveryMs?: number;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Numbers as JSON can carry them; a note for each value that could not be. */
function finiteOrNull(v: number, where: string, notes: string[]): number | null {
  if (Number.isFinite(v)) return v;
  notes.push(`${where} was ${v}; recorded as null`);
  return null;
}

/**
 * A Callback that records one fit(): meters kernels (FLOPs, bytes, time by phase / layer / op), energy
 * and CPU time, fingerprints the data, keeps the metric history, and at the end of training builds the
 * run record and (unless write is false) writes dir/run.json atomically. Evaluations added later
 * rewrite the record; finish() writes it and appends it to a ledger.
 *
 *   const recorder = new RunRecorder({ dir: 'runs/mnist', data: { test } });
 *   await model.fit(x, y, { epochs: 5, callbacks: [recorder] });
 *   await recorder.evaluate('test', model, test.x, test.y);
 *   await recorder.finish({ ledger: 'runs/ledger.jsonl' });
 */
export class RunRecorder implements Callback {
  readonly meter: Meter;
  private readonly ownsMeter: boolean;
  private model?: Model;
  private params?: FitParams;
  private energyMeter?: EnergyMeter;
  private startedAt = 0;
  private cpuStart = { user: 0, system: 0 };
  private lastSample = 0;
  private initialEpoch?: number;
  private epochsCompleted = 0;
  private steps = 0;
  private readonly historyEpochs: number[] = [];
  private readonly history: Record<string, (number | null)[]> = {};
  private readonly notes: string[] = [];
  private data: DatasetFingerprint[] = [];
  private built?: RunRecord;
  private state: 'new' | 'running' | 'done' = 'new';
  private readonly id = randomUUID();

  constructor(private readonly options: RunRecorderOptions = {}) {
    this.meter = options.meter ?? new Meter();
    this.ownsMeter = options.meter === undefined;
  }

  /** Whether fit has ended and the record exists. */
  get hasRecord(): boolean {
    return this.built !== undefined;
  }

  /** The record, once fit has ended. */
  get record(): RunRecord {
    if (!this.built)
      throw new RecordError(
        'RunRecorder: no record yet; it is built when fit() ends (pass the recorder in fit callbacks)',
      );
    return this.built;
  }

  setModel(model: Model): void {
    this.model = model;
  }

  /** fit() passes its arguments and data here (see FitParams); without it, pass `data` and `hyperparameters` yourself. */
  setParams(params: FitParams): void {
    this.params = params;
  }

  onTrainBegin(): void {
    if (this.state !== 'new')
      throw new RecordError('RunRecorder: a recorder records one fit(); make a new RunRecorder for the next run');
    this.state = 'running';
    // Fingerprints first, so hashing the data counts neither as training time nor as training energy.
    const specs: Record<string, DataSpec> = { ...this.options.data };
    if (!specs.train && this.params?.x) specs.train = { x: this.params.x, y: this.params.y };
    if (!specs.train)
      this.notes.push(
        'The training data was not fingerprinted: fit() did not pass it to callbacks and no data.train was given to RunRecorder',
      );
    this.data = Object.entries(specs).map(([name, s]) => fingerprintDataset(name, s.x, s.y, s.description));
    this.startedAt = Date.now();
    this.cpuStart = process.cpuUsage();
    if (this.options.energy !== false) this.energyMeter = new EnergyMeter(this.options.energy ?? {}).start();
    this.lastSample = performance.now();
    this.meter.start();
  }

  onEpochBegin(epoch: number): void {
    this.initialEpoch ??= epoch;
  }

  onBatchEnd(): void {
    this.steps++;
    const now = performance.now();
    if (this.energyMeter && now - this.lastSample >= (this.options.sampleEveryMs ?? 1000)) {
      this.energyMeter.sample();
      this.lastSample = now;
    }
  }

  onEpochEnd(epoch: number, logs: Logs): void {
    this.epochsCompleted++;
    this.historyEpochs.push(epoch);
    const seen = this.historyEpochs.length;
    for (const [k, v] of Object.entries(logs)) {
      const series = (this.history[k] ??= new Array<number | null>(seen - 1).fill(null));
      series.push(finiteOrNull(v, `metric '${k}' at epoch ${epoch}`, this.notes));
    }
    for (const series of Object.values(this.history)) if (series.length < seen) series.push(null);
  }

  async onTrainEnd(): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'done';
    if (this.ownsMeter) this.meter.stop();
    const endedAt = Date.now();
    const cpu = process.cpuUsage(this.cpuStart);
    const energy = this.energyMeter?.stop() ?? null;
    this.built = this.build(endedAt, (cpu.user + cpu.system) / 1e6, energy);
    if (this.options.dir && this.options.write !== false) await writeRunRecord(this.built, this.options.dir);
  }

  private build(endedAt: number, cpuSeconds: number, energy: EnergyReport | null): RunRecord {
    const model = this.model;
    if (!model)
      throw new RecordError(
        'RunRecorder: fit() never called setModel; is the recorder in the callbacks of a Model.fit?',
      );
    const notes = this.notes;
    const compute = this.meter.snapshot();
    const attribution = {
      phases: compute.rows.some((r) => r.phase !== 'other'),
      layers: compute.rows.some((r) => r.scope !== ''),
    };
    if (!attribution.phases)
      notes.push(
        'No kernel was marked forward, backward or optimizer, so training FLOPs could not be split by phase (all are under "other"); the training loop does not mark phases yet',
      );
    let emissions: EmissionsRecord | null = null;
    if (energy) {
      const grid = gridIntensity(this.options.grid);
      emissions = {
        gCO2e: co2eGrams(energy.joules, grid),
        low: co2eGrams(energy.uncertainty.low, grid),
        high: co2eGrams(energy.uncertainty.high, grid),
        grid,
        method: `energy (${energy.measured ? 'measured' : 'estimated'}) x grid carbon intensity; the range carries the energy's uncertainty only, not the grid figure's`,
      };
    }
    const p = this.params;
    const hyper: Record<string, unknown> = {};
    const opt = model.optimizer;
    if (opt) hyper.optimizer = opt.getConfig();
    const training = model.trainingConfig();
    if (training) {
      hyper.loss = training.loss;
      if (training.metrics !== undefined) hyper.metrics = training.metrics;
      if (training.lossWeights !== undefined) hyper.lossWeights = training.lossWeights;
    } else if (opt) {
      notes.push('The loss or metrics are functions, not names; they are not in the hyperparameters');
    }
    if (p)
      Object.assign(hyper, {
        epochs: p.epochs,
        batchSize: p.batchSize,
        validationSplit: p.validationSplit,
        shuffle: p.shuffle,
        initialEpoch: p.initialEpoch,
      });
    Object.assign(hyper, this.options.hyperparameters);
    const seeds: Record<string, number> = { ...(p?.seed !== undefined ? { fit: p.seed } : {}), ...this.options.seeds };
    return {
      format: RUN_RECORD_FORMAT,
      version: RUN_RECORD_VERSION,
      id: this.id,
      ...(this.options.name ? { name: this.options.name } : {}),
      createdAt: iso(Date.now()),
      status: model.stopTraining ? 'stopped' : 'completed',
      model: describeModel(model, notes),
      training: {
        startedAt: iso(this.startedAt),
        endedAt: iso(endedAt),
        wallSeconds: (endedAt - this.startedAt) / 1000,
        cpuSeconds,
        epochs: {
          requested: p?.epochs ?? null,
          completed: this.epochsCompleted,
          initial: p?.initialEpoch ?? this.initialEpoch ?? 0,
        },
        steps: this.steps,
        hyperparameters: jsonSafe(hyper) as Record<string, JsonValue>,
        seeds,
        history: { epochs: [...this.historyEpochs], metrics: this.history },
      },
      compute: { ...compute, attribution },
      energy,
      emissions,
      data: this.data,
      evaluation: [],
      ...environmentInfo(),
      notes: [...new Set(notes)],
    };
  }

  /**
   * Stops metering and energy sampling without building a record: for a fit() that threw (fit does not
   * call onTrainEnd then, and the meter would stay subscribed to every kernel).
   */
  abort(): void {
    if (this.state !== 'running') return;
    this.state = 'done';
    if (this.ownsMeter) this.meter.stop();
    this.energyMeter = undefined;
  }

  /** Adds an evaluation (e.g. model.evaluate's result and/or a classification report) and rewrites run.json. */
  async addEvaluation(
    name: string,
    metrics: Logs,
    extra: { report?: ClassificationReport; data?: DataSpec } = {},
  ): Promise<EvaluationRecord> {
    const record = this.record;
    const notes = record.notes;
    const entry: EvaluationRecord = {
      name,
      createdAt: iso(Date.now()),
      metrics: Object.fromEntries(
        Object.entries(metrics).map(([k, v]) => [k, finiteOrNull(v, `evaluation '${name}' metric '${k}'`, notes)]),
      ),
      ...(extra.data ? { data: fingerprintDataset(name, extra.data.x, extra.data.y, extra.data.description) } : {}),
      ...(extra.report ? { report: extra.report } : {}),
    };
    record.evaluation = [...record.evaluation.filter((e) => e.name !== name), entry];
    record.notes = [...new Set(notes)];
    await this.rewrite();
    return entry;
  }

  /**
   * Evaluates a classifier on (x, y): loss and metrics through model.evaluate, plus accuracy per class,
   * the confusion matrix and, with `groups`, per-group results and parity differences. Recorded under `name`.
   */
  async evaluate(
    name: string,
    model: Model,
    x: Tensor,
    y: Tensor,
    options: ReportOptions & { batchSize?: number } = {},
  ): Promise<EvaluationRecord> {
    const metrics = await model.evaluate(x, y, { batchSize: options.batchSize ?? 256 });
    const report = evaluateClassifier(model, x, y, options);
    return this.addEvaluation(name, metrics, { report, data: { x, y } });
  }

  /** Records hashes of saved model files found in `dir` (model.json lists them), then rewrites run.json. */
  async addArtifacts(dir: string): Promise<void> {
    const record = this.record;
    const manifest = join(dir, 'model.json');
    if (!existsSync(manifest))
      throw new RecordError(`RunRecorder.addArtifacts: ${manifest} does not exist; save the model there first`);
    const bytes = readFileSync(manifest);
    const listed =
      (JSON.parse(bytes.toString('utf8')) as { files?: Record<string, { sha256: string; bytes: number }> }).files ?? {};
    record.model.artifacts = { 'model.json': { sha256: sha256Hex(bytes), bytes: bytes.length }, ...listed };
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const record = this.record;
    record.createdAt = iso(Date.now());
    validateRunRecord(record);
    if (this.options.dir && this.options.write !== false) await writeRunRecord(record, this.options.dir);
  }

  /** Writes run.json (to `dir` or the recorder's dir) and, with `ledger`, appends the record to that ledger. */
  async finish(
    options: { dir?: string; ledger?: string } & AppendOptions = {},
  ): Promise<{ record: RunRecord; file?: string; entry?: LedgerEntry }> {
    const record = this.record;
    record.createdAt = iso(Date.now());
    const dir = options.dir ?? this.options.dir;
    const file = dir ? await writeRunRecord(record, dir) : undefined;
    const entry = options.ledger ? await appendToLedger(options.ledger, record, options) : undefined;
    return { record, ...(file ? { file } : {}), ...(entry ? { entry } : {}) };
  }
}
