// RunRecording gathers the run record of one run: begin() starts metering kernels and energy and
// fingerprints the data, step() and epochEnd() follow the run, end() builds the record from the run's
// facts as plain data (RunFacts: the ledger knows nothing of Model or fit()). Its fit callback is
// RunRecorder in src/train/run-record-callback.ts.
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import type { EncryptionKey } from '../io/encryption.js';
import type { Tensor } from '../tensor/tensor.js';
import { jsonSafe, sha256Hex, type JsonValue } from './canonical.js';
import { co2eGrams, gridIntensity, type GridOptions } from './carbon.js';
import { EnergyMeter, apportionEnergy, type EnergyOptions, type EnergyReport } from './energy.js';
import type { ClassificationReport } from './evaluation.js';
import type { DatasetFingerprint } from './fingerprint.js';
import { RunFingerprints, type RunFingerprintOptions } from './run-fingerprints.js';
import { Meter, processKernelMs } from './meter.js';
import { RecordError } from './errors.js';
import { appendToLedger, type AppendOptions, type LedgerEntry } from './ledger.js';
import type { DpSgdRecord, MembershipAuditRecord, PrivacyRecord } from './privacy.js';
import { withExplanation, type ExplanationRecord } from './explanation.js';
import { withCompression, type CompressionRecord } from './compression.js';
import { writeRunFiles } from './emissions-csv.js';
import type { FileHashes } from './file-hashes.js';
import { StageClock, type StageMark } from './stages.js';
import { mergeCluster, type ClusterInfo, type RankContribution } from './cluster-merge.js';
import type { MeterSnapshot } from './meter.js';
import {
  RUN_RECORD_FORMAT,
  RUN_RECORD_VERSION,
  describeModel,
  environmentInfo,
  validateRunRecord,
  writeRunRecord,
  type ComputeAttribution,
  type EmissionsRecord,
  type EvaluationRecord,
  type ModelFacts,
  type RunRecord,
} from './record.js';

/** What the trainer knows at the end of a run, as plain data. */
export interface RunFacts {
  model: ModelFacts;
  status: 'completed' | 'stopped';
  /** Hyperparameters of the model and the fit (optimizer, loss, epochs, batchSize, ...). */
  hyperparameters: Record<string, unknown>;
  seeds: Record<string, number>;
  epochs: { requested: number | null; initial?: number };
  /** The DP-SGD mechanism and budget of the run; none when absent. */
  privacy?: DpSgdRecord;
}

/** What a rank measured over its fit, handed to gatherCluster (the cluster's figures are merged from these). */
export interface OwnFigures {
  compute: MeterSnapshot;
  energy: EnergyReport | null;
  steps: number;
  /** Epochs completed. */
  epochs: number;
  cpuSeconds: number;
  wallSeconds: number;
}

/** Every rank's contribution, as gatherCluster returns them on each rank. */
export interface GatheredCluster {
  /** This process's rank (0 writes the run's files). */
  rank: number;
  info: ClusterInfo;
  contributions: RankContribution[];
}

/** A running run's figures so far (RunRecording.progress); energy and CO2e are null when energy is off. */
export interface RunProgress {
  flops: number;
  joules: number | null;
  gCO2e: number | null;
}

export interface DataSpec {
  x: Tensor | Tensor[];
  y?: Tensor | Tensor[];
  /** Where the data comes from, in your words (shown in cards as given by the user). */
  description?: string;
}

export interface RunRecorderOptions extends RunFingerprintOptions {
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
  /** Encrypts run.json in `dir` (AES-256-GCM; a passphrase or 32 raw bytes; see src/io/encryption.ts). */
  encryptionKey?: EncryptionKey;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** Numbers as JSON can carry them; a note for each value that could not be. */
export function finiteOrNull(v: number, where: string, notes: string[]): number | null {
  if (Number.isFinite(v)) return v;
  notes.push(`${where} was ${v}; recorded as null`);
  return null;
}

/**
 * The recording of one run: begin() starts metering kernels (FLOPs, bytes, time by phase / layer / op),
 * energy and CPU time and fingerprints the data; step() and epochEnd() follow the run; end() builds the
 * record from the run's facts and (unless write is false) writes dir/run.json atomically. Evaluations
 * added later rewrite the record; finish() writes it and appends it to a ledger. Its fit callback is
 * RunRecorder (src/train/run-record-callback.ts); begin() inside a fit binds the meter to that fit's run,
 * so concurrent fits are recorded apart.
 */
export class RunRecording {
  readonly meter: Meter;
  private readonly ownsMeter: boolean;
  private energyMeter?: EnergyMeter;
  private startedAt = 0;
  private cpuStart = { user: 0, system: 0 };
  /** Kernel ms of this meter and of the whole process at begin(), for the energy share. */
  private kernelStart = { own: 0, process: 0 };
  private lastSample = 0;
  private initialEpoch?: number;
  private epochsCompleted = 0;
  private steps = 0;
  private readonly historyEpochs: number[] = [];
  private readonly history: Record<string, (number | null)[]> = {};
  protected readonly notes: string[] = [];
  private data: DatasetFingerprint[] = [];
  private fingerprints?: RunFingerprints;
  private built?: RunRecord;
  private pii?: PrivacyRecord['pii'];
  private state: 'new' | 'running' | 'done' = 'new';
  private readonly id = randomUUID();
  /** The key run.json in options.dir is written with: the option's, or the last one finish() used there. */
  private encryptionKey?: EncryptionKey;
  /** Model files saved to directories other than options.dir, by resolved path: only their run.json holds them. */
  private readonly artifactsElsewhere = new Map<string, FileHashes>();
  /** The run's life by stage (record.stages), on the run's one energy meter (record.energy sums them). */
  private stageClock?: StageClock;
  private fitFrom?: StageMark;
  /**
   * The clocks at the epoch's last training step (kept only at a step that may be the last, so most steps
   * read no clock), and the time fit's validation passes took (they run after each epoch's steps).
   */
  private lastStep?: { wallMs: number; cpu: NodeJS.CpuUsage };
  private validation = { wallMs: 0, cpuUs: 0 };
  /** A run across several processes: every rank's figures (record.distributed), kept to re-sum the energy. */
  private cluster?: GatheredCluster;

  /**
   * Whether this process writes the run's files: true unless the run was distributed and this is not rank 0.
   * Elsewhere run.json, emissions.csv, ledger entries (finish) and the card (publishRun) are not written; the
   * record, the same sums as rank 0's, stays in memory (recorder.record).
   */
  get chief(): boolean {
    return this.cluster === undefined || this.cluster.rank === 0;
  }

  constructor(protected readonly options: RunRecorderOptions = {}) {
    this.meter = options.meter ?? new Meter();
    this.ownsMeter = options.meter === undefined;
    this.encryptionKey = options.encryptionKey;
  }

  /** Whether the run has ended and the record exists. */
  get hasRecord(): boolean {
    return this.built !== undefined;
  }

  /** The record, once the run has ended. */
  get record(): RunRecord {
    if (!this.built)
      throw new RecordError(
        'RunRecorder: no record yet; it is built when fit() ends (pass the recorder in fit callbacks)',
      );
    return this.built;
  }

  /**
   * Starts the recording; `train` is the data trained on (fingerprinted unless options.data has 'train') and
   * `validation` fit's validation data (fingerprinted as 'validation' unless options.data has one).
   */
  protected begin(train?: DataSpec, validation?: DataSpec): void {
    if (this.state !== 'new')
      throw new RecordError('RunRecorder: a recorder records one fit(); make a new RunRecorder for the next run');
    this.state = 'running';
    const energy = this.options.energy;
    // One energy meter for the whole run: the stages are differences of its readings and record.energy is its
    // report at the last stage mark, so the stages sum to record.energy.
    if (energy !== false) this.energyMeter = new EnergyMeter(energy ?? {}).start();
    this.stageClock = new StageClock(this.energyMeter);
    const from = this.stageClock.lastMark;
    // Fingerprints first, so hashing the data counts neither as training time nor as training energy.
    const specs: Record<string, DataSpec> = { ...this.options.data };
    if (!specs.train && train) specs.train = train;
    if (!specs.validation && validation) specs.validation = validation;
    if (!specs.train)
      this.notes.push(
        'The training data was not fingerprinted: fit() did not pass it to callbacks and no data.train ' +
          'was given to RunRecorder',
      );
    this.data = (this.fingerprints = new RunFingerprints(this.options, this.notes)).datasets(specs);
    this.fitFrom = this.stageClock.close(
      'fingerprinting',
      from,
      0,
      'keyed SHA-256 of the data (node:crypto): no kernels run',
    );
    this.startedAt = Date.now();
    this.cpuStart = process.cpuUsage();
    this.lastSample = performance.now();
    this.meter.start();
    this.kernelStart = { own: this.meter.kernelMs, process: processKernelMs() };
  }

  /**
   * One training step ended: counts it and samples the energy meter at most every sampleEveryMs (so RAPL
   * counters cannot wrap twice unseen). `mayBeLast`: the step may be its epoch's last (false when the steps per
   * epoch are known and it is not); the clocks are read then, to time the validation pass that follows.
   */
  protected step(mayBeLast = true): void {
    this.steps++;
    const now = performance.now();
    if (mayBeLast) this.lastStep = { wallMs: now, cpu: process.cpuUsage() };
    if (this.energyMeter && now - this.lastSample >= (this.options.sampleEveryMs ?? 1000)) {
      this.energyMeter.sample();
      this.lastSample = now;
    }
  }

  protected epochBegin(epoch: number): void {
    this.initialEpoch ??= epoch;
  }

  /** One epoch ended with these logs (loss and metrics); non-finite values are kept as null with a note. */
  protected epochEnd(epoch: number, logs: Record<string, number>): void {
    // fit runs its validation pass between the epoch's last step and onEpochEnd.
    if (this.lastStep && Object.keys(logs).some((k) => k.startsWith('val_'))) {
      const cpu = process.cpuUsage(this.lastStep.cpu);
      this.validation.wallMs += performance.now() - this.lastStep.wallMs;
      this.validation.cpuUs += cpu.user + cpu.system;
    }
    this.lastStep = undefined;
    this.epochsCompleted++;
    this.historyEpochs.push(epoch);
    const seen = this.historyEpochs.length;
    for (const [k, v] of Object.entries(logs)) {
      const series = (this.history[k] ??= new Array<number | null>(seen - 1).fill(null));
      series.push(finiteOrNull(v, `metric '${k}' at epoch ${epoch}`, this.notes));
    }
    for (const series of Object.values(this.history)) if (series.length < seen) series.push(null);
  }

  /**
   * The run's figures from begin() to now, while it runs: FLOPs of every kernel metered, and (unless energy is
   * off) its energy and CO2e, apportioned as the record's are. Per-epoch reports (the TensorBoard callback)
   * take differences of these.
   */
  progress(): RunProgress {
    if (this.state !== 'running')
      throw new RecordError('RunRecorder.progress: the run is not running (it has not begun, or it has ended)');
    const flops = this.meter.snapshot().total.flops;
    if (!this.energyMeter) return { flops, joules: null, gCO2e: null };
    const own = this.meter.kernelMs - this.kernelStart.own;
    const { joules } = apportionEnergy(this.energyMeter.current(), own, processKernelMs() - this.kernelStart.process);
    return { flops, joules, gCO2e: co2eGrams(joules, gridIntensity(this.options.grid)) };
  }

  /** Ends the recording: builds the record from `facts` and writes run.json when a dir was given. */
  protected async end(facts: () => RunFacts): Promise<void> {
    if (this.state !== 'running') return;
    this.state = 'done';
    const own = this.meter.kernelMs - this.kernelStart.own;
    const all = processKernelMs() - this.kernelStart.process;
    const context = this.meter.run ? 'run' : 'process';
    if (this.ownsMeter) this.meter.stop();
    const endedAt = Date.now();
    const cpu = process.cpuUsage(this.cpuStart);
    this.fitKernelMs = { own, all };
    this.closeFitStages();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const built = this.build(facts(), endedAt, cpuSeconds, this.runEnergy(), context);
    if (this.stageClock) built.stages = this.stageClock.stages;
    const wallSeconds = (endedAt - this.startedAt) / 1000;
    this.cluster = await this.gatherCluster({
      compute: this.meter.snapshot(),
      energy: built.energy,
      steps: this.steps,
      epochs: this.epochsCompleted,
      cpuSeconds,
      wallSeconds,
    });
    this.built = built;
    this.applyCluster(built);
    if (this.chief && this.options.dir && this.options.write !== false)
      await writeRunRecord(this.built, this.options.dir, { encryptionKey: this.encryptionKey });
  }

  /**
   * A distributed run's gathering of every rank's figures (one collective every rank joins at the end of fit);
   * undefined for a run in one process. RunRecorder implements it for fit's distributed strategies.
   */
  protected async gatherCluster(own: OwnFigures): Promise<GatheredCluster | undefined> {
    void own;
    return undefined;
  }

  /**
   * A distributed run's record: compute, CPU time and energy summed over the ranks (cluster-merge.ts), this
   * rank's energy as it is now (stages after fit add to it), and record.distributed.
   */
  private applyCluster(record: RunRecord): void {
    const cluster = this.cluster;
    if (!cluster) return;
    const own = this.runEnergy();
    const merged = mergeCluster(
      cluster.info,
      cluster.contributions.map((c) => (c.figures.rank === cluster.rank ? { ...c, energy: own } : c)),
    );
    record.compute = { ...merged.compute, attribution: record.compute.attribution };
    record.training.cpuSeconds = merged.cpuSeconds;
    record.energy = merged.energy;
    record.emissions = merged.energy ? this.emissionsOf(merged.energy) : null;
    record.distributed = merged.distributed;
    record.notes = [...new Set([...record.notes.filter((n) => !n.startsWith('Distributed run (')), merged.note])];
  }

  /** Kernel ms of this run's meter and of the whole process during fit: the run's share of the energy. */
  private fitKernelMs = { own: 0, all: 0 };

  /**
   * The run's energy: the one meter's report from begin() to the last stage mark (the sum of record.stages),
   * apportioned by the run's share of the kernel time during fit when other fits ran kernels meanwhile.
   */
  private runEnergy(): EnergyReport | null {
    const report = this.stageClock?.energyReport;
    return report ? apportionEnergy(report, this.fitKernelMs.own, this.fitKernelMs.all) : null;
  }

  /** Sets record.energy and record.emissions to the run's energy so far (up to the last stage mark). */
  private syncEnergy(record: RunRecord): void {
    if (this.cluster) return this.applyCluster(record);
    const energy = this.runEnergy();
    if (!energy || !record.energy) return;
    record.energy = energy;
    record.emissions = this.emissionsOf(energy);
  }

  /** fit's stages: training, and validation carved out of it (its passes' own times and FLOPs). */
  private closeFitStages(): void {
    if (!this.stageClock || !this.fitFrom) return;
    const compute = this.meter.snapshot();
    const validationFlops = compute.byPhase.evaluate.flops;
    const parts =
      this.validation.wallMs > 0 || validationFlops > 0
        ? [
            {
              stage: 'validation',
              wallSeconds: this.validation.wallMs / 1000,
              cpuSeconds: this.validation.cpuUs / 1e6,
              flops: validationFlops,
              note: "fit's validation passes (phase 'evaluate'); joules: the fit's, in proportion to CPU time",
            },
          ]
        : [];
    this.stageClock.close(
      'training',
      this.fitFrom,
      compute.total.flops,
      "fit's training steps and epoch bookkeeping (record.training's span, less validation)",
      parts,
    );
  }

  /** A mark on the run's stage clocks (wall, CPU, energy); endStage(name, mark) adds the stage since. */
  stageMark(): StageMark | undefined {
    return this.stageClock?.mark();
  }

  /** Adds stage `name` from `from` (stageMark()) to now, with the FLOPs it ran; no-op before begin(). */
  endStage(name: string, from: StageMark | undefined, flops = 0, note?: string): void {
    if (this.stageClock && from) this.stageClock.close(name, from, flops, note);
  }

  /**
   * Runs fn as stage `name` of the run (testing, saving, explaining, ...): its wall and CPU time, the FLOPs of
   * the kernels run meanwhile (every kernel of the process) and its joules go into record.stages.
   */
  async stage<T>(name: string, fn: () => T | Promise<T>, note?: string): Promise<T> {
    if (!this.stageClock) return fn();
    const meter = new Meter().start();
    const from = this.stageClock.mark();
    try {
      return await fn();
    } finally {
      meter.stop();
      this.stageClock.close(name, from, meter.snapshot().total.flops, note);
    }
  }

  private build(
    facts: RunFacts,
    endedAt: number,
    cpuSeconds: number,
    energy: EnergyReport | null,
    context: 'run' | 'process',
  ): RunRecord {
    const notes = this.notes;
    const compute = this.meter.snapshot();
    const attribution: ComputeAttribution = {
      phases: compute.rows.some((r) => r.phase !== 'other'),
      layers: compute.rows.some((r) => r.scope !== ''),
      context,
    };
    if (!attribution.phases)
      notes.push(
        'No kernel was marked forward, backward or optimizer, so training FLOPs could not be split by phase ' +
          '(all are under "other"); the training loop does not mark phases yet',
      );
    if (context === 'process')
      notes.push(
        "The meter counted every kernel of the process, not only this run's (it was not started inside " +
          "a fit's run context): work running at the same time is included in compute",
      );
    const emissions = energy ? this.emissionsOf(energy) : null;
    const hyper: Record<string, unknown> = { ...facts.hyperparameters, ...this.options.hyperparameters };
    return {
      format: RUN_RECORD_FORMAT,
      version: RUN_RECORD_VERSION,
      id: this.id,
      ...(this.options.name ? { name: this.options.name } : {}),
      createdAt: iso(Date.now()),
      status: facts.status,
      model: describeModel(facts.model, notes),
      training: {
        startedAt: iso(this.startedAt),
        endedAt: iso(endedAt),
        wallSeconds: (endedAt - this.startedAt) / 1000,
        cpuSeconds,
        epochs: {
          requested: facts.epochs.requested,
          completed: this.epochsCompleted,
          initial: facts.epochs.initial ?? this.initialEpoch ?? 0,
        },
        steps: this.steps,
        hyperparameters: jsonSafe(hyper) as Record<string, JsonValue>,
        seeds: { ...facts.seeds, ...this.options.seeds },
        history: { epochs: [...this.historyEpochs], metrics: this.history },
      },
      compute: { ...compute, attribution },
      energy,
      emissions,
      data: this.data,
      evaluation: [],
      privacy: { ...(facts.privacy ?? { mechanism: 'none' }), ...(this.pii ? { pii: this.pii } : {}) },
      ...environmentInfo(),
      notes: [...new Set(notes)],
    };
  }

  /** The CO2e of `energy` on the run's grid. */
  private emissionsOf(energy: EnergyReport): EmissionsRecord {
    const grid = gridIntensity(this.options.grid);
    return {
      gCO2e: co2eGrams(energy.joules, grid),
      low: co2eGrams(energy.uncertainty.low, grid),
      high: co2eGrams(energy.uncertainty.high, grid),
      grid,
      method:
        `energy (${energy.measured ? 'measured' : 'estimated'}) of the run's whole life (record.stages) x grid ` +
        "carbon intensity; the range carries the energy's uncertainty only, not the grid figure's",
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
    this.stageClock = undefined;
  }

  /** Adds an evaluation (e.g. evaluate's loss and metrics and/or a classification report); rewrites run.json. */
  async addEvaluation(
    name: string,
    metrics: Record<string, number>,
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
      ...(extra.data ? { data: this.fingerprinter(notes).dataset(name, extra.data) } : {}),
      ...(extra.report ? { report: extra.report } : {}),
    };
    record.evaluation = [...record.evaluation.filter((e) => e.name !== name), entry];
    this.fingerprinter(notes).markSame(record.data, entry.data ? [entry.data] : []); // e.g. validation on 'test'
    record.notes = [...new Set(notes)];
    await this.rewrite();
    return entry;
  }

  /** The run's fingerprinter, its notes going to `notes` (the record's, once it is built). */
  private fingerprinter(notes: string[]): RunFingerprints {
    return new RunFingerprints(
      { ...this.options, fingerprintKey: this.fingerprints?.usedKey ?? this.options.fingerprintKey },
      notes,
    );
  }

  /** Adds a membership-inference audit of the trained model (privacy.membershipAudit); rewrites run.json. */
  async addPrivacyAudit(audit: MembershipAuditRecord): Promise<void> {
    const privacy = (this.record.privacy ??= { mechanism: 'none' });
    privacy.audits = [...(privacy.audits ?? []), audit];
    await this.rewrite();
  }

  /**
   * Adds an explanation of the trained model (explainability.recordExplanation builds it); one of the same name
   * and method (when named) replaces the earlier one. Rewrites run.json.
   */
  async addExplanation(explanation: ExplanationRecord): Promise<void> {
    this.record.explanations = withExplanation(this.record.explanations, explanation);
    await this.rewrite();
  }

  /** Adds a compression of the trained model (compress.recordCompression builds it); rewrites run.json. */
  async addCompression(compression: CompressionRecord): Promise<void> {
    this.record.compression = withCompression(this.record.compression, compression);
    await this.rewrite();
  }

  /**
   * Records the PII found in the training data (counts per type, never the values) and how it was redacted;
   * before fit ends it goes into the record it builds, after that run.json is rewritten.
   */
  async notePII(counts: Record<string, number>, redaction: 'tag' | 'pseudonym' | 'none'): Promise<void> {
    this.pii = { counts: { ...counts }, redaction };
    if (!this.built) return;
    this.record.privacy = { ...(this.record.privacy ?? { mechanism: 'none' }), pii: this.pii };
    await this.rewrite();
  }

  /**
   * Records hashes of saved model files found in `dir` (model.json lists them, or `listed` does: an encrypted
   * model.json cannot be read here), then rewrites run.json. A `dir` other than the recorder's own leaves the
   * record and its run.json (perhaps published) as they are: the hashes go only into DIR/run.json (finish).
   */
  async addArtifacts(dir: string, listed?: FileHashes): Promise<void> {
    const record = this.record;
    const manifest = join(dir, 'model.json');
    if (!existsSync(manifest))
      throw new RecordError(`RunRecorder.addArtifacts: ${manifest} does not exist; save the model there first`);
    const bytes = readFileSync(manifest);
    listed ??= (JSON.parse(bytes.toString('utf8')) as { files?: FileHashes }).files ?? {};
    const artifacts = { 'model.json': { sha256: sha256Hex(bytes), bytes: bytes.length }, ...listed };
    if (this.options.dir !== undefined && resolve(dir) !== resolve(this.options.dir)) {
      this.artifactsElsewhere.set(resolve(dir), artifacts);
      return;
    }
    record.model.artifacts = artifacts;
    await this.rewrite();
  }

  private async rewrite(): Promise<void> {
    const record = this.record;
    record.createdAt = iso(Date.now());
    this.syncEnergy(record); // stages added since (testing, saving, ...) count in the run's energy
    // writeRunRecord validates what it writes; an unwritten record is validated here.
    if (this.chief && this.options.dir && this.options.write !== false) {
      // Once finish() wrote a row there, it follows the record (its energy and timestamp change with it).
      const write = this.emissionsInOwnDir ? writeRunFiles : writeRunRecord;
      await write(record, this.options.dir, { encryptionKey: this.encryptionKey });
    } else validateRunRecord(record);
  }

  /** Whether finish() wrote emissions.csv in the recorder's own dir (rewrites there then update its row). */
  private emissionsInOwnDir = false;

  /**
   * Writes run.json (to `dir` or the recorder's dir; encrypted with `encryptionKey`) and beside a plain one the run's
   * row of CodeCarbon's emissions.csv (when energy was recorded; see emissions-csv.ts), and, with `ledger`, appends
   * the record to that ledger (in plain: a ledger is for others to verify). A key given for the recorder's own
   * dir is kept, so that later rewrites there (addEvaluation, ...) stay encrypted. On a distributed run's ranks
   * other than 0 (see chief) it writes nothing and returns the record.
   */
  async finish(
    options: { dir?: string; ledger?: string; encryptionKey?: EncryptionKey } & AppendOptions = {},
  ): Promise<{ record: RunRecord; file?: string; entry?: LedgerEntry }> {
    let record = this.record;
    // The stages up to now ('other' takes the time since the last one); this write itself is not counted.
    this.stageClock?.settle();
    this.syncEnergy(record);
    record.createdAt = iso(Date.now());
    if (!this.chief) return { record }; // a distributed run's files are rank 0's to write
    const dir = options.dir ?? this.options.dir;
    const own = dir !== undefined && this.options.dir !== undefined && resolve(dir) === resolve(this.options.dir);
    if (own && options.encryptionKey !== undefined) this.encryptionKey = options.encryptionKey;
    const encryptionKey = options.encryptionKey ?? (own ? this.encryptionKey : undefined);
    const elsewhere = dir !== undefined && !own ? this.artifactsElsewhere.get(resolve(dir)) : undefined;
    if (elsewhere) record = { ...record, model: { ...record.model, artifacts: elsewhere } };
    // run.json and, beside a plain one, the run's row of CodeCarbon's emissions.csv.
    const written = dir ? await writeRunFiles(record, dir, { encryptionKey }) : undefined;
    if (own && written?.emissions) this.emissionsInOwnDir = true;
    const file = written?.file;
    const entry = options.ledger ? await appendToLedger(options.ledger, record, options) : undefined;
    return { record, ...(file ? { file } : {}), ...(entry ? { entry } : {}) };
  }
}
