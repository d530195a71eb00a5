// imageDatasetFromDirectory (keras.utils.image_dataset_from_directory): PNG and JPEG files in one
// subdirectory per class, decoded (pngjs, jpeg-js: loaded on first use, and only here), resized to
// imageSize and batched as { x: float32 [batch, height, width, channels] in 0..255, y: labels }.
// Files are read and decoded when iterated, so only a batch of images is in memory at a time.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import { ArgumentError, CandorError } from '../errors.js';
import { FormatError } from '../io/safetensors.js';
import { Tensor, fromTypedArray } from '../tensor/tensor.js';
import { outsideScopes, tidy } from '../tensor/storage.js';
import { RandomStream, drawSeed, mixSeeds } from '../ops/random.js';
import { resize, INTERPOLATIONS, type Interpolation } from '../ops/image.js';
import { MissingDataError } from './files.js';
import { Dataset, type Example } from './dataset.js';

export type ColorMode = 'grayscale' | 'rgb' | 'rgba';
export type LabelMode = 'int' | 'categorical' | 'binary';

export interface ImageDatasetOptions {
  /** 'inferred' (default): from the subdirectory names; null: no labels; or one label per file, in path order. */
  labels?: 'inferred' | null | readonly number[];
  /** 'int' (default, int32 [batch]), 'categorical' (one-hot float32), 'binary' (float32 [batch, 1]); null: none. */
  labelMode?: LabelMode | null;
  /** The class subdirectories to use, in label order. Default: all of them, sorted. */
  classNames?: readonly string[];
  /** Default 'rgb'. */
  colorMode?: ColorMode;
  /** Default 32; null yields single images. */
  batchSize?: number | null;
  /** [height, width] every image is resized to. Default [256, 256]. */
  imageSize?: readonly [number, number];
  /** Default true: files shuffled once (before the split) and each pass. */
  shuffle?: boolean;
  seed?: number;
  /** Fraction of the files held out for validation, with subset. */
  validationSplit?: number;
  subset?: 'training' | 'validation' | 'both';
  /** Default 'bilinear'. */
  interpolation?: Interpolation;
  /** Crop the largest centred window of the target aspect ratio before resizing. Default false. */
  cropToAspectRatio?: boolean;
  /** Follow symbolic links to subdirectories. Default false. */
  followLinks?: boolean;
  /** Images declaring more pixels than this are rejected before decoding. Default 2^26 (67 MP). */
  maxPixels?: number;
}

/** A dataset of images with the classes and files it was made from. */
export type ImageDataset = Dataset<Example> & { readonly classNames: string[]; readonly filePaths: string[] };

/** A file that is not a decodable PNG or JPEG, or declares too many pixels. */
export class ImageFormatError extends FormatError {}

const OP = 'imageDatasetFromDirectory';
/** Keras' allow-list; .bmp and .gif are listed so that they fail loudly rather than being skipped. */
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.bmp', '.gif']);
const CHANNELS: Record<ColorMode, number> = { grayscale: 1, rgb: 3, rgba: 4 };

// ------------------------------------------------------------------------------------------ decoding

export interface Decoded {
  width: number;
  height: number;
  rgba: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function checkPixels(op: string, path: string, width: number, height: number, maxPixels: number): void {
  if (!(width >= 1 && height >= 1))
    throw new ImageFormatError(`${op}: ${path} declares an empty image (${width} x ${height})`);
  if (width * height > maxPixels)
    throw new ImageFormatError(
      `${op}: ${path} declares ${width} x ${height} pixels, over the limit of ${maxPixels} (option maxPixels)`,
    );
}

/**
 * Decodes a PNG or JPEG (recognised by its magic bytes) to 8-bit RGBA, checking the size it declares first;
 * `op` names the caller in errors.
 */
export async function decodeImage(op: string, path: string, bytes: Uint8Array, maxPixels: number): Promise<Decoded> {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (bytes.length >= 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) {
      // IHDR is the first chunk: length, 'IHDR', width, height (big-endian).
      checkPixels(op, path, buf.readUInt32BE(16), buf.readUInt32BE(20), maxPixels);
      const { PNG } = await import('pngjs');
      const png = PNG.sync.read(buf);
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
    }
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
      const jpeg = (await import('jpeg-js')).default;
      const img = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: Math.max(64, (maxPixels * 12) / 2 ** 20),
      });
      checkPixels(op, path, img.width, img.height, maxPixels);
      return { width: img.width, height: img.height, rgba: img.data };
    }
  } catch (e) {
    if (e instanceof CandorError) throw e;
    const message = (e as Error).message;
    if (/maxResolutionInMP|maxMemoryUsageInMB/.test(message))
      throw new ImageFormatError(
        `${op}: ${path} declares more than ${maxPixels} pixels (option maxPixels): ${message}`,
      );
    throw new ImageFormatError(`${op}: ${path} could not be decoded: ${message}`);
  }
  throw new ImageFormatError(`${op}: ${path} is neither a PNG nor a JPEG (by its first bytes)`);
}

/** 8-bit RGBA to float32 [h, w, channels]; grayscale from colour is BT.601 luma (JPEG's Y), rounded. */
export function toChannels(img: Decoded, mode: ColorMode): Float32Array {
  const c = CHANNELS[mode];
  const n = img.width * img.height;
  const out = new Float32Array(n * c);
  const p = img.rgba;
  for (let i = 0; i < n; i++) {
    const [r, g, b, a] = [p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]];
    if (c === 1) out[i] = r === g && g === b ? r : Math.round(0.299 * r + 0.587 * g + 0.114 * b);
    else {
      out[c * i] = r;
      out[c * i + 1] = g;
      out[c * i + 2] = b;
      if (c === 4) out[c * i + 3] = a;
    }
  }
  return out;
}

// --------------------------------------------------------------------------------------- file listing

/** Image files under dir (recursively), sorted; unsupported extensions are left out as Keras does. */
async function listImages(dir: string, followLinks: boolean): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const e of entries) {
    const path = join(dir, e.name);
    const isDir = e.isDirectory() || (followLinks && e.isSymbolicLink() && (await stat(path)).isDirectory());
    if (isDir) out.push(...(await listImages(path, followLinks)));
    else if ((e.isFile() || e.isSymbolicLink()) && IMAGE_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(path);
  }
  return out;
}

function checkOptions(o: ImageDatasetOptions): void {
  const oneOf = (name: string, v: unknown, allowed: readonly unknown[]) => {
    if (!allowed.includes(v))
      throw new ArgumentError(`${OP}: ${name} must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  };
  oneOf('colorMode', o.colorMode ?? 'rgb', ['grayscale', 'rgb', 'rgba']);
  oneOf('labelMode', o.labelMode === undefined ? 'int' : o.labelMode, ['int', 'categorical', 'binary', null]);
  oneOf('interpolation', o.interpolation ?? 'bilinear', INTERPOLATIONS);
  if (o.subset !== undefined) oneOf('subset', o.subset, ['training', 'validation', 'both']);
  const size = o.imageSize ?? [256, 256];
  if (!(Array.isArray(size) && size.length === 2 && size.every((d) => Number.isInteger(d) && d >= 1)))
    throw new ArgumentError(`${OP}: imageSize must be [height, width] positive integers, got ${JSON.stringify(size)}`);
  const bs = o.batchSize === undefined ? 32 : o.batchSize;
  if (bs !== null && !(Number.isInteger(bs) && bs >= 1))
    throw new ArgumentError(`${OP}: batchSize must be a positive integer or null, got ${JSON.stringify(bs)}`);
  const split = o.validationSplit;
  if (split !== undefined && !(split > 0 && split < 1))
    throw new ArgumentError(`${OP}: validationSplit must be in (0, 1), got ${split}`);
  if ((split === undefined) !== (o.subset === undefined))
    throw new ArgumentError(`${OP}: give validationSplit and subset together (got only one of them)`);
  if (split !== undefined && (o.shuffle ?? true) && o.seed === undefined)
    throw new ArgumentError(
      `${OP}: with validationSplit and shuffling, give a seed so that the training and validation files do not overlap`,
    );
  if (o.maxPixels !== undefined && !(Number.isSafeInteger(o.maxPixels) && o.maxPixels >= 1))
    throw new ArgumentError(`${OP}: maxPixels must be a positive integer, got ${o.maxPixels}`);
}

// -------------------------------------------------------------------------------------------- dataset

/**
 * Images in `directory`/<class>/... (any depth) as a Dataset of { x, y } batches (or of { x } with no
 * labels). With subset 'both', returns [training, validation]. Bad files fail when read, with an
 * ImageFormatError naming the file.
 */
export async function imageDatasetFromDirectory(
  directory: string,
  options: ImageDatasetOptions & { subset: 'both' },
): Promise<[ImageDataset, ImageDataset]>;
export async function imageDatasetFromDirectory(
  directory: string,
  options?: ImageDatasetOptions,
): Promise<ImageDataset>;
export async function imageDatasetFromDirectory(
  directory: string,
  options: ImageDatasetOptions = {},
): Promise<ImageDataset | [ImageDataset, ImageDataset]> {
  checkOptions(options);
  const labelsArg = options.labels === undefined ? 'inferred' : options.labels;
  const labelMode = labelsArg === null ? null : options.labelMode === undefined ? 'int' : options.labelMode;
  const followLinks = options.followLinks ?? false;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw new MissingDataError(`${OP}: directory ${directory} not found`);
    throw e;
  }
  let classNames: string[] = [];
  let files: string[];
  let labels: number[] = [];
  if (labelsArg === 'inferred') {
    const subdirs = entries
      .filter((e) => e.isDirectory() || (followLinks && e.isSymbolicLink()))
      .map((e) => e.name)
      .sort();
    if (options.classNames) {
      const missing = options.classNames.filter((c) => !subdirs.includes(c));
      if (missing.length > 0 || options.classNames.length !== subdirs.length)
        throw new ArgumentError(
          `${OP}: classNames must name exactly the subdirectories of ${directory} (${subdirs.join(', ')}), ` +
            `got ${options.classNames.join(', ')}`,
        );
    }
    classNames = [...(options.classNames ?? subdirs)];
    files = [];
    for (const [label, name] of classNames.entries()) {
      const found = await listImages(join(directory, name), followLinks);
      files.push(...found);
      labels.push(...found.map(() => label));
    }
  } else {
    files = await listImages(directory, followLinks);
    if (labelsArg !== null) {
      if (!Array.isArray(labelsArg) || labelsArg.length !== files.length || !labelsArg.every(Number.isInteger))
        throw new ArgumentError(
          `${OP}: labels must be 'inferred', null, or one integer per image file (${files.length} found)`,
        );
      labels = [...labelsArg];
      classNames = Array.from({ length: Math.max(...labels) + 1 }, (_, i) => String(i));
    }
  }
  if (files.length === 0)
    throw new ArgumentError(`${OP}: no images found in ${directory} (allowed: ${[...IMAGE_EXTENSIONS].join(', ')})`);
  if (labelMode === 'binary' && classNames.length !== 2)
    throw new ArgumentError(`${OP}: labelMode 'binary' needs exactly 2 classes, found ${classNames.length}`);

  const shuffle = options.shuffle ?? true;
  const seed = shuffle ? (options.seed ?? drawSeed()) : 0;
  let order = files.map((_, i) => i);
  if (shuffle) order = permute(order, new RandomStream(seed));
  const split = options.validationSplit;
  const make = (part: number[]) =>
    makeDataset(
      part.map((i) => files[i]),
      labelMode === null ? undefined : part.map((i) => labels[i]),
      classNames,
      labelMode,
      shuffle ? seed : undefined,
      options,
    );
  if (split === undefined) return make(order);
  const numVal = Math.trunc(split * order.length);
  const training = make(order.slice(0, order.length - numVal));
  const validation = make(order.slice(order.length - numVal));
  if (options.subset === 'both') return [training, validation];
  return options.subset === 'training' ? training : validation;
}

function permute<T>(items: T[], gen: RandomStream): T[] {
  const perm = outsideScopes(() => gen.permutation(items.length));
  const p = perm.dataSync();
  perm.dispose();
  return Array.from(p, (i) => items[i]);
}

function makeDataset(
  files: string[],
  labels: number[] | undefined,
  classNames: string[],
  labelMode: LabelMode | null,
  seed: number | undefined,
  options: ImageDatasetOptions,
): ImageDataset {
  const [height, width] = options.imageSize ?? [256, 256];
  const colorMode = options.colorMode ?? 'rgb';
  const channels = CHANNELS[colorMode];
  const batchSize = options.batchSize === undefined ? 32 : options.batchSize;
  const maxPixels = options.maxPixels ?? 2 ** 26;
  const resizeOptions = {
    interpolation: options.interpolation ?? 'bilinear',
    cropToAspectRatio: options.cropToAspectRatio,
  };
  const pixels = height * width * channels;
  let pass = 0;

  /** One image file, decoded and resized, written into `out` at `offset`. */
  const load = async (path: string, out: Float32Array, offset: number) => {
    let bytes: Uint8Array;
    try {
      bytes = await readFile(path);
    } catch (e) {
      throw new MissingDataError(`${OP}: cannot read ${path} (${(e as Error).message})`);
    }
    const img = await decodeImage(OP, relative(process.cwd(), path) || path, bytes, maxPixels);
    const data = toChannels(img, colorMode);
    if (img.height === height && img.width === width) return out.set(data, offset);
    const resized = outsideScopes(() =>
      tidy(() => resize(fromTypedArray(data, [1, img.height, img.width, channels]), [height, width], resizeOptions)),
    );
    out.set(resized.dataSync(), offset);
    resized.dispose();
  };

  const labelTensor = (ls: number[], batched: boolean): Tensor => {
    const lead = batched ? [ls.length] : [];
    if (labelMode === 'int') return fromTypedArray(Int32Array.from(ls), lead);
    if (labelMode === 'binary') return fromTypedArray(Float32Array.from(ls), [...lead, 1]);
    const oneHot = new Float32Array(ls.length * classNames.length);
    ls.forEach((l, i) => (oneHot[i * classNames.length + l] = 1));
    return fromTypedArray(oneHot, [...lead, classNames.length]);
  };

  const batch = async (idx: number[], batched: boolean): Promise<Example> => {
    const x = new Float32Array(idx.length * pixels);
    for (const [k, i] of idx.entries()) await load(files[i], x, k * pixels);
    return outsideScopes(() => {
      const shape = [height, width, channels];
      const xt = fromTypedArray(x, batched ? [idx.length, ...shape] : shape);
      return labels
        ? {
            x: xt,
            y: labelTensor(
              idx.map((i) => labels[i]),
              batched,
            ),
          }
        : { x: xt };
    });
  };

  const n = files.length;
  const cardinality = batchSize === null ? n : Math.ceil(n / batchSize);
  const ds = Dataset.fromGenerator(async function* () {
    let order = files.map((_, i) => i);
    if (seed !== undefined) order = permute(order, new RandomStream(mixSeeds(seed, pass++)));
    if (batchSize === null) {
      for (const i of order) yield await batch([i], false);
      return;
    }
    for (let b = 0; b < n; b += batchSize) yield await batch(order.slice(b, b + batchSize), true);
  }, cardinality);
  return Object.assign(ds, { classNames: [...classNames], filePaths: [...files] });
}
