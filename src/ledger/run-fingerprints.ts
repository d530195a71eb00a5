// The fingerprints of one run's datasets as RunRecording takes them: one key for the whole run (the user's, or
// a one-off key with a note when none can be stored), label counts and plain hashes only when asked, and datasets
// that are the same data (validation on the test set) marked sameAs, with a note the card can show.
import { randomBytes } from 'node:crypto';
import type { Tensor } from '../tensor/tensor.js';
import { LedgerError } from './errors.js';
import { fingerprintKeyId, userFingerprintKey } from './user-keys.js';
import {
  fingerprintDataset,
  fingerprintTensor,
  markSameData,
  type DatasetFingerprint,
  type DatasetFingerprintOptions,
  type FingerprintKeyLike,
  type TensorFingerprint,
} from './fingerprint.js';

/** What RunRecorder takes about fingerprints (RunRecorderOptions extends it). */
export interface RunFingerprintOptions {
  /** The HMAC key data is fingerprinted with; default the user's (userFingerprintKey()). */
  fingerprintKey?: FingerprintKeyLike;
  /** Record each dataset's label counts (default false: counts narrow a guess of the labels). */
  labelDistribution?: boolean;
  /** Also record plain, unkeyed SHA-256s of the data (default false: anyone can test a guess against them). */
  plainHashes?: boolean;
}

/** One dataset to fingerprint: its inputs, labels and the user's description. */
export interface DatasetTensors {
  x: Tensor | Tensor[];
  y?: Tensor | Tensor[];
  description?: string;
}

/** Fingerprints datasets for one run, under one key; notes what a reader must know go to `notes`. */
export class RunFingerprints {
  private key?: FingerprintKeyLike;

  constructor(
    private readonly options: RunFingerprintOptions,
    private readonly notes: string[],
  ) {}

  /** The key fingerprints were made with so far (to carry on with it). */
  get usedKey(): FingerprintKeyLike | undefined {
    return this.key;
  }

  /** The user's key; where it cannot be made (a read-only home), a one-off key, said in a note. */
  private runKey(): FingerprintKeyLike {
    if (this.key) return this.key;
    if (this.options.fingerprintKey) return (this.key = this.options.fingerprintKey);
    try {
      return (this.key = userFingerprintKey());
    } catch (e) {
      if (e instanceof LedgerError) throw e; // a key file that is there but wrong: the user must fix it
      const key = randomBytes(32);
      const keyId = fingerprintKeyId(key);
      this.notes.push(
        `The fingerprint key could not be stored (${(e as Error).message}): the data was fingerprinted under ` +
          `a one-off key (${keyId}) that nobody keeps, so these fingerprints can be compared within this record only`,
      );
      return (this.key = { key, keyId });
    }
  }

  /** The fingerprint of one tensor (e.g. the inputs of an explanation) under the run's key. */
  tensor(t: Tensor): TensorFingerprint {
    return fingerprintTensor(t, { key: this.runKey(), plainHashes: this.options.plainHashes });
  }

  /** The fingerprint of one dataset under the run's key. */
  dataset(name: string, data: DatasetTensors): DatasetFingerprint {
    const o = this.options;
    const options: DatasetFingerprintOptions = {
      key: this.runKey(),
      labelDistribution: o.labelDistribution,
      plainHashes: o.plainHashes,
      description: data.description,
    };
    const fp = fingerprintDataset(name, data.x, data.y, options);
    if (fp.labelDistributionWithheld)
      this.notes.push(
        'Label distributions were withheld (RunRecorder option labelDistribution: true records them): ' +
          'with the other facts of a record, label counts narrow a guess of the labels',
      );
    return fp;
  }

  /** Fingerprints of named datasets, those holding the same data marked sameAs. */
  datasets(specs: Record<string, DatasetTensors>): DatasetFingerprint[] {
    const data = Object.entries(specs).map(([name, s]) => this.dataset(name, s));
    this.markSame(data);
    return data;
  }

  /** Marks datasets of `data` that are the same data as another of `data` or `others`, with a note each. */
  markSame(data: DatasetFingerprint[], others: DatasetFingerprint[] = []): void {
    const before = new Set(data.filter((d) => d.sameAs));
    markSameData(data, others);
    for (const d of data)
      if (d.sameAs && !before.has(d))
        this.notes.push(
          `Dataset '${d.name}' holds the same data as '${d.sameAs}' (equal fingerprints)` +
            (d.name === 'validation' && d.sameAs === 'test'
              ? ': the validation figures of the history are figures on the test set, not on held-out data'
              : ''),
        );
  }
}
