// BackupAndRestore (Keras 3's callback): backs up the whole training state (every weight, the optimizer's
// state and step count, the epoch and batch reached, fit's seed) in one file written atomically, so that a fit
// restarted with the same arguments after a crash resumes where the last backup stopped and ends with exactly
// the weights of an uninterrupted run. fit asks it where to resume through resumePoint() before it starts.
import { mkdir, rmdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Tensor } from '../tensor/tensor.js';
import { dispose, tidy } from '../tensor/storage.js';
import { noGrad } from '../autograd/tape.js';
import * as o from '../ops/index.js';
import { ArgumentError, CandorError, DTypeError, ShapeError, errorMessage, fmtShape, fmtValue } from '../errors.js';
import { isChief, world } from '../distributed/world.js';
import { FormatError, parseSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { readFileBytes, removeStaleTemps, writeFileAtomic } from '../io/atomic.js';
import { checkOptions } from '../registry.js';
import type { Callback, FitParams, Logs } from './callbacks.js';
import type { Model } from './model.js';

export interface BackupAndRestoreArgs {
  /** The folder of the backup (created when needed); use it for nothing else, as Keras asks. */
  backupDir: string;
  /** 'epoch': back up at the end of every epoch; a number n: after every n batches (counted across epochs). */
  saveFreq?: 'epoch' | number;
  /** Remove the backup when fit ends without error (default true). */
  deleteCheckpoint?: boolean;
}
const OPTIONS = ['backupDir', 'saveFreq', 'deleteCheckpoint'];

/** Where a restored backup left off: fit goes on at `epoch`, after its first `step` batches, with `seed`. */
export interface ResumePoint {
  epoch: number;
  step: number;
  seed: number;
}

/** The one file of a backup, in backupDir; written whole or not at all (temp file + rename). */
export const BACKUP_FILE = 'backup.safetensors';
const FORMAT = 'candor-backup';
const VERSION = '1';
/** Tensor keys: weights by position (names need not be unique), optimizer slots by position. */
const weightKey = (i: number) => `weight_${String(i).padStart(5, '0')}`;
const slotKey = (i: number) => `slot_${String(i).padStart(5, '0')}`;

/** What the backup's metadata says, checked. */
interface BackupState extends ResumePoint {
  iterations: number;
  weightNames: string[];
  slotNames: string[];
  /** The seeds of the stochastic layers (dropout, noise, augmentation), in layer order. */
  layerSeeds: number[];
  learningRate?: number;
}

/**
 * The seeds of the model's stochastic layers, in layer order: they key every mask with the step's seed, so a
 * resumed fit matches only with the same ones (drawn from the global stream at construction unless given).
 */
function layerSeeds(model: Model): { layer: string; seed: number }[] {
  return model
    .flattenLayers()
    .map((l) => ({ layer: l.name, seed: (l as { seed?: unknown }).seed }))
    .filter((s): s is { layer: string; seed: number } => typeof s.seed === 'number');
}

/**
 * Backs up the training state to backupDir and restores it when fit starts again: fit resumes at the epoch (and,
 * with a numeric saveFreq, the batch) after the last backup, with its weights, optimizer state and seed, so its
 * final weights are those of a run that was never interrupted. Only the chief (rank 0) writes the backup.
 */
export class BackupAndRestore implements Callback {
  readonly backupDir: string;
  readonly saveFreq: 'epoch' | number;
  readonly deleteCheckpoint: boolean;
  private model?: Model;
  private params?: FitParams;
  /** The backup's bytes, read by resumePoint() and restored by onTrainBegin (undefined: none). */
  private backup?: { bytes: Uint8Array; state: BackupState };
  /** Whether fit asked for the resume point in this fit (it must, or the restored state would be misused). */
  private asked = false;
  private epoch = 0;
  private batchesSinceBackup = 0;

  constructor(args: BackupAndRestoreArgs) {
    checkOptions('BackupAndRestore', args, OPTIONS);
    const { backupDir, saveFreq = 'epoch', deleteCheckpoint = true } = args ?? {};
    if (typeof backupDir !== 'string' || backupDir === '')
      throw new ArgumentError(`BackupAndRestore: backupDir must be a non-empty string, got ${fmtValue(backupDir)}`);
    if (saveFreq !== 'epoch' && !(Number.isInteger(saveFreq) && saveFreq > 0))
      throw new ArgumentError(
        `BackupAndRestore: saveFreq must be 'epoch' or a positive integer (batches), got ${fmtValue(saveFreq)}`,
      );
    if (typeof deleteCheckpoint !== 'boolean')
      throw new ArgumentError(
        `BackupAndRestore: deleteCheckpoint must be true or false, got ${fmtValue(deleteCheckpoint)}`,
      );
    this.backupDir = backupDir;
    this.saveFreq = saveFreq;
    this.deleteCheckpoint = deleteCheckpoint;
  }

  /** The backup file's path. */
  get path(): string {
    return join(this.backupDir, BACKUP_FILE);
  }

  setModel(model: Model): void {
    this.model = model;
  }
  setParams(params: FitParams): void {
    this.params = params;
  }

  /**
   * Called by fit before it starts: reads the last backup, if any, and says where fit resumes (undefined: from
   * the start). The leftovers of writers killed mid-write are removed; they are never read.
   */
  async resumePoint(): Promise<ResumePoint | undefined> {
    this.asked = true;
    this.backup = undefined;
    const bytes = await fromChief(() => this.read(), this.path);
    if (!bytes) return undefined;
    const { tensors, metadata } = this.parse(bytes);
    dispose([...tensors.values()]);
    const state = this.checkMetadata(metadata);
    this.backup = { bytes, state };
    return { epoch: state.epoch, step: state.step, seed: state.seed };
  }

  /** The backup on this machine, or undefined when there is none. */
  private async read(): Promise<Uint8Array | undefined> {
    await removeStaleTemps(this.backupDir);
    return readFileBytes(this.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    });
  }

  /** Restores the backup that resumePoint() read: every weight, the optimizer's state and learning rate. */
  async onTrainBegin(): Promise<void> {
    const model = this.model!;
    this.batchesSinceBackup = 0;
    if (!this.asked) {
      // A training loop that does not ask where to resume would restore the weights and then redo the epochs.
      if ((await this.resumePoint()) !== undefined)
        throw new ArgumentError(
          `BackupAndRestore: a backup is in ${this.backupDir}, but this training loop cannot resume from it ` +
            '(only model.fit asks BackupAndRestore where to resume)',
        );
    }
    this.asked = false;
    const backup = this.backup;
    this.backup = undefined;
    this.epoch = backup?.state.epoch ?? this.params?.initialEpoch ?? 0;
    if (!backup) return;
    this.ensureBuilt(model);
    const { tensors } = this.parse(backup.bytes);
    try {
      this.restore(model, backup.state, tensors);
    } finally {
      dispose([...tensors.values()]);
    }
  }

  onEpochBegin(epoch: number): void {
    this.epoch = epoch;
  }

  async onBatchEnd(batch: number): Promise<void> {
    if (this.saveFreq === 'epoch' || ++this.batchesSinceBackup < this.saveFreq) return;
    this.batchesSinceBackup = 0;
    await this.save(this.epoch, batch + 1);
  }

  async onEpochEnd(epoch: number, _logs?: Logs): Promise<void> {
    if (this.saveFreq === 'epoch') await this.save(epoch + 1, 0);
  }

  /** A fit that ended without error needs no backup: removed (with backupDir when it is left empty). */
  async onTrainEnd(): Promise<void> {
    if (!this.deleteCheckpoint || !isChief()) return;
    await unlink(this.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    await rmdir(this.backupDir).catch(() => {}); // only when empty: what else is there stays
  }

  /** Writes the training state as it is after `step` batches of `epoch` (step 0: at the epoch's start). */
  private async save(epoch: number, step: number): Promise<void> {
    const model = this.model!;
    if (!isChief()) return;
    const optimizer = model.optimizer;
    if (!optimizer) throw new ArgumentError(`BackupAndRestore: model '${model.name}' is not compiled`);
    if (model.privateSteps !== undefined)
      throw new ArgumentError(
        'BackupAndRestore cannot back up DP-SGD training (privacy): the accountant and the planned noise ' +
          'would not resume with it, so the privacy spent would be misreported',
      );
    const seed = this.params?.seed;
    if (seed === undefined) throw new ArgumentError('BackupAndRestore: fit did not give its seed (setParams)');
    const weights = model.weights;
    const state = optimizer.getState();
    try {
      const tensors = new Map<string, Tensor>();
      weights.forEach((v, i) => tensors.set(weightKey(i), v.value));
      state.slots.forEach((t, i) => tensors.set(slotKey(i), t));
      const lr = optimizer.getConfig().config?.learningRate;
      const metadata: Record<string, string> = {
        format: FORMAT,
        version: VERSION,
        epoch: String(epoch),
        step: String(step),
        seed: String(seed),
        iterations: String(state.iterations),
        weightNames: JSON.stringify(weights.map((v) => v.name)),
        slotNames: JSON.stringify(state.slotNames ?? state.slots.map(() => '')),
        layerSeeds: JSON.stringify(layerSeeds(model).map((s) => s.seed)),
        ...(typeof lr === 'number' ? { learningRate: String(lr) } : {}),
      };
      const bytes = serializeSafetensors(tensors, metadata);
      await mkdir(this.backupDir, { recursive: true });
      await writeFileAtomic(this.path, bytes);
    } finally {
      dispose(state.slots);
    }
  }

  private parse(bytes: Uint8Array): ReturnType<typeof parseSafetensors> {
    try {
      return parseSafetensors(bytes);
    } catch (e) {
      if (e instanceof FormatError) throw new FormatError(`BackupAndRestore: ${this.path}: ${e.message}`);
      throw e;
    }
  }

  private checkMetadata(m: Record<string, string>): BackupState {
    const bad = (what: string): never => {
      throw new FormatError(`BackupAndRestore: ${this.path} is not a backup written by BackupAndRestore (${what})`);
    };
    if (m.format !== FORMAT) bad(`format ${fmtValue(m.format)}`);
    if (m.version !== VERSION) bad(`version ${fmtValue(m.version)}, expected ${VERSION}`);
    const count = (key: string): number => {
      const n = Number(m[key]);
      return Number.isSafeInteger(n) && n >= 0 && m[key] !== '' ? n : bad(`${key} ${fmtValue(m[key])}`);
    };
    const list = <T>(key: string, type: 'string' | 'number'): T[] => {
      let v: unknown;
      try {
        v = JSON.parse(m[key] ?? 'null');
      } catch {
        v = null;
      }
      return Array.isArray(v) && v.every((s) => typeof s === type) ? (v as T[]) : bad(`${key} ${fmtValue(m[key])}`);
    };
    const learningRate = m.learningRate === undefined ? undefined : Number(m.learningRate);
    if (learningRate !== undefined && !Number.isFinite(learningRate)) bad(`learningRate ${m.learningRate}`);
    return {
      epoch: count('epoch'),
      step: count('step'),
      seed: count('seed'),
      iterations: count('iterations'),
      weightNames: list('weightNames', 'string'),
      slotNames: list('slotNames', 'string'),
      layerSeeds: list('layerSeeds', 'number'),
      learningRate,
    };
  }

  /**
   * Layers make their weights on first call: a model not built yet is called once on a row of fit's data, as
   * fit's first step would, so that the backup has weights to go into.
   */
  private ensureBuilt(model: Model): void {
    if (model.flattenLayers().every((l) => l.built)) return;
    const x = this.params?.x;
    if (!x)
      throw new ArgumentError(
        `BackupAndRestore: model '${model.name}' must be built before fit to restore a backup into it ` +
          '(give its input shape, or call it on a batch once)',
      );
    const xs = Array.isArray(x) ? x : [x];
    noGrad(() =>
      tidy(() => {
        const rows = xs.map((t) => o.sliceAxis(t, 0, 0, 1));
        model.apply(rows.length === 1 ? rows[0] : rows, { training: false });
      }),
    );
  }

  /** Puts the backup's tensors into the model and its optimizer, after checking they were made by this model. */
  private restore(model: Model, state: BackupState, tensors: Map<string, Tensor>): void {
    const weights = model.weights;
    const other = (what: string): never => {
      throw new ShapeError(
        `BackupAndRestore: the backup in ${this.path} was made by another model: ${what}; ` +
          `remove ${this.backupDir} or give this model another backupDir`,
      );
    };
    if (state.weightNames.length !== weights.length)
      other(`it holds ${state.weightNames.length} weights, model '${model.name}' has ${weights.length}`);
    const values = weights.map((v, i) => {
      const t = tensors.get(weightKey(i)) ?? other(`weight ${i} is missing`);
      if (t.shape.length !== v.shape.length || t.shape.some((d, j) => d !== v.shape[j]))
        other(
          `weight ${i} ('${state.weightNames[i]}') has shape ${fmtShape(t.shape)} there, ` +
            `'${v.name}' of model '${model.name}' has ${fmtShape(v.shape)}`,
        );
      if (t.dtype !== v.dtype)
        throw new DTypeError(
          `BackupAndRestore: weight ${i} ('${state.weightNames[i]}') is ${t.dtype} in ${this.path}, ` +
            `'${v.name}' of model '${model.name}' is ${v.dtype}`,
        );
      return t;
    });
    const seeds = layerSeeds(model);
    if (seeds.length !== state.layerSeeds.length)
      other(`it has ${state.layerSeeds.length} stochastic layers, model '${model.name}' has ${seeds.length}`);
    seeds.forEach(({ layer, seed }, i) => {
      if (seed !== state.layerSeeds[i])
        throw new ArgumentError(
          `BackupAndRestore: layer '${layer}' of model '${model.name}' has seed ${seed}, but the backed-up fit's ` +
            `had ${state.layerSeeds[i]}, so its masks would differ; build the model as before (the same code ` +
            'after the same setSeed), or give its stochastic layers a seed',
        );
    });
    const slots = state.slotNames.map((_, i) => tensors.get(slotKey(i)) ?? other(`optimizer slot ${i} is missing`));
    const optimizer = model.optimizer!;
    if (slots.length > 0 || state.iterations > 0)
      try {
        optimizer.setState(
          { iterations: state.iterations, slots, slotNames: state.slotNames },
          model.trainableWeights.map((v) => v.value),
        );
      } catch (e) {
        if (e instanceof ShapeError) other(e.message);
        if (e instanceof CandorError)
          throw new ArgumentError(`BackupAndRestore: the optimizer state in ${this.path} does not fit: ${e.message}`);
        throw e;
      }
    if (state.learningRate !== undefined) optimizer.learningRate = state.learningRate;
    model.setWeights(values);
  }
}

/**
 * `read` done by rank 0 alone, its result on every rank: in a job of several ranks only rank 0 writes backups, so
 * it reads them too and broadcasts the bytes (the ranks need not share a file system). Its failure to read fails
 * every rank alike rather than leaving them waiting in the broadcast. Without MPI, just `read`.
 */
async function fromChief(read: () => Promise<Uint8Array | undefined>, path: string): Promise<Uint8Array | undefined> {
  const { rank, size, comm } = world();
  if (size === 1) return read();
  let bytes: Uint8Array | undefined;
  let failure: { error: unknown } | undefined;
  if (rank === 0)
    try {
      bytes = await read();
    } catch (error) {
      failure = { error };
    }
  const head = comm.broadcastJson<{ length: number } | { error: string }>(
    failure ? { error: errorMessage(failure.error) } : { length: bytes?.length ?? -1 },
  );
  if (failure) throw failure.error;
  if ('error' in head) throw new ArgumentError(`BackupAndRestore: rank 0 could not read ${path}: ${head.error}`);
  if (head.length < 0) return undefined;
  if (head.length === 0) return new Uint8Array(0);
  // int8: a byte a tensor element, so one MPI broadcast moves the file as it is.
  const mine = bytes ? new Int8Array(bytes.buffer, bytes.byteOffset, bytes.length) : new Int8Array(head.length);
  const sent = o.tensor(mine, [head.length], 'int8');
  const got = comm.broadcast(sent);
  try {
    const data = got.dataSync();
    return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
  } finally {
    dispose([sent, got]);
  }
}

/**
 * fit's question before it starts: where the BackupAndRestore among `callbacks` (at most one) resumes, or
 * undefined when there is none or it has no backup. `seed`: fit's own, when given, which must be the backup's.
 */
export async function resumePoint(callbacks: readonly Callback[], seed?: number): Promise<ResumePoint | undefined> {
  const found = callbacks.filter((cb): cb is BackupAndRestore => cb instanceof BackupAndRestore);
  if (found.length > 1)
    throw new ArgumentError(`fit: ${found.length} BackupAndRestore callbacks were given; one backs up a fit`);
  const resume = await found[0]?.resumePoint();
  if (resume && seed !== undefined && seed !== resume.seed)
    throw new ArgumentError(
      `fit: seed ${seed} differs from the seed ${resume.seed} of the fit backed up in ${found[0].path}; ` +
        'resume with the same arguments, or remove the backup to start afresh',
    );
  return resume;
}
