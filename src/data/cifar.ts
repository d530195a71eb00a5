// CIFAR-10 binary version (cifar-10-batches-bin): the record format reader and datasets.cifar10({ dir }).
import { join } from 'node:path';
import { fromTypedArray } from '../tensor/tensor.js';
import { FormatError } from '../io/safetensors.js';
import { MissingDataError, readDataFile } from './files.js';
import type { Split, TrainTest } from './utils.js';

/** Class names in label order. */
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

const SIDE = 32;
const PLANE = SIDE * SIDE; // one colour channel of one image
/** A record: 1 label byte, then the red, green and blue 32x32 planes, each row-major. */
export const CIFAR10_RECORD_BYTES = 1 + 3 * PLANE;

const HINT =
  'download the CIFAR-10 binary version (cifar-10-binary.tar.gz) from https://www.cs.toronto.edu/~kriz/cifar.html, ' +
  'extract it, and pass { dir } naming the cifar-10-batches-bin folder';

/**
 * Parses CIFAR-10 binary batches (one or several, concatenated in order): x float32 [N, 32, 32, 3]
 * channels-last in [0, 1], y int32 [N]. `name` labels errors (e.g. the file name).
 */
export function parseCifar10(batches: Uint8Array | readonly Uint8Array[], name = 'CIFAR-10 batch'): Split {
  const list = batches instanceof Uint8Array ? [batches] : batches;
  let n = 0;
  list.forEach((bytes, b) => {
    if (bytes.length % CIFAR10_RECORD_BYTES !== 0) {
      const what = list.length > 1 ? `${name} ${b}` : name;
      throw new FormatError(
        `parseCifar10: ${what} is ${bytes.length} bytes, not a whole number of ${CIFAR10_RECORD_BYTES}-byte records ` +
          `(${Math.floor(bytes.length / CIFAR10_RECORD_BYTES)} records and ${bytes.length % CIFAR10_RECORD_BYTES} ` +
          'bytes over); the file is truncated or not CIFAR-10',
      );
    }
    n += bytes.length / CIFAR10_RECORD_BYTES;
  });
  const x = new Float32Array(n * 3 * PLANE);
  const y = new Int32Array(n);
  let i = 0;
  for (const bytes of list) {
    for (let at = 0; at < bytes.length; at += CIFAR10_RECORD_BYTES, i++) {
      const label = bytes[at];
      if (label > 9)
        throw new FormatError(
          `parseCifar10: ${name} record ${i} has label ${label}, expected 0-9 (is this CIFAR-100?)`,
        );
      y[i] = label;
      // Planes R, G, B (channels-first) to interleaved pixels (channels-last): x[i, p, c] = plane c at p.
      const out = i * 3 * PLANE;
      for (let c = 0; c < 3; c++) {
        const src = at + 1 + c * PLANE;
        for (let p = 0; p < PLANE; p++) x[out + 3 * p + c] = bytes[src + p] / 255;
      }
    }
  }
  return { x: fromTypedArray(x, [n, SIDE, SIDE, 3]), y: fromTypedArray(y, [n]) };
}

function readBatches(paths: readonly string[], op: string): Promise<Uint8Array[]> {
  return Promise.all(paths.map((p) => readDataFile(p, op, HINT)));
}

/** Reads one or more CIFAR-10 .bin files (optionally .gz) into one split. */
export async function loadCifar10Batches(paths: string | readonly string[]): Promise<Split> {
  const list = typeof paths === 'string' ? [paths] : paths;
  return parseCifar10(await readBatches(list, 'loadCifar10Batches'), list.join(', '));
}

/**
 * The CIFAR-10 data set from a folder the user downloaded (cifar-10-batches-bin): train is
 * data_batch_1..5.bin (50,000 images), test is test_batch.bin (10,000). New tensors, owned by the caller.
 */
export async function cifar10({ dir }: { dir?: string } = {}): Promise<TrainTest<Split>> {
  if (dir === undefined) throw new MissingDataError(`datasets.cifar10: no folder given; ${HINT}`);
  const trainFiles = [1, 2, 3, 4, 5].map((k) => join(dir, `data_batch_${k}.bin`));
  const testFile = join(dir, 'test_batch.bin');
  // Every file is read before any tensor is made, so a missing one leaves nothing half-built.
  const [train, test] = await Promise.all([
    readBatches(trainFiles, 'datasets.cifar10'),
    readBatches([testFile], 'datasets.cifar10'),
  ]);
  return { train: parseCifar10(train, trainFiles.join(', ')), test: parseCifar10(test, testFile) };
}
