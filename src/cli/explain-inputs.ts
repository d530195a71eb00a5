// The inputs `candor explain` reads: a JSON array (numbers, or strings for a text model), a NumPy .npy file, a
// PNG image (scaled to [0, 1], grey or RGB as the model's channels ask), or a text file (one text per line, for
// a model whose first layer is TextVectorization); checked against the model's declared input shape.
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { CandorError, ShapeError } from '../errors.js';
import { FormatError } from '../io/safetensors.js';
import { decodeImage, toChannels } from '../data/image-dataset.js';
import { tensor } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { DType } from '../tensor/dtype.js';

/** What the command reads from an input file: numbers with their shape, or texts. */
export type RawInputs = { kind: 'numbers'; values: Float64Array; shape: number[] } | { kind: 'texts'; texts: string[] };

function jsonInputs(text: string, file: string): RawInputs {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`explain: ${file} is not valid JSON: ${(e as Error).message}`);
  }
  if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string'))
    return { kind: 'texts', texts: value as string[] };
  const shape: number[] = [];
  for (let v: unknown = value; Array.isArray(v); v = v[0]) shape.push(v.length);
  const values: number[] = [];
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new FormatError(`explain: ${file}${path} is ${JSON.stringify(v)}, expected a finite number`);
      values.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw new FormatError(
        `explain: ${file}${path} is not an array of ${shape[depth]} (the array is not rectangular: ` +
          `expected shape [${shape.join(', ')}])`,
      );
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, '');
  if (shape.length === 0) throw new FormatError(`explain: ${file} holds a single number, not an array`);
  return { kind: 'numbers', values: Float64Array.from(values), shape };
}

const NPY_TYPES: Record<string, { bytes: number; read: (v: DataView, at: number) => number }> = {
  '<f4': { bytes: 4, read: (v, at) => v.getFloat32(at, true) },
  '<f8': { bytes: 8, read: (v, at) => v.getFloat64(at, true) },
  '<i4': { bytes: 4, read: (v, at) => v.getInt32(at, true) },
  '<i8': { bytes: 8, read: (v, at) => Number(v.getBigInt64(at, true)) },
  '<u4': { bytes: 4, read: (v, at) => v.getUint32(at, true) },
  '<i2': { bytes: 2, read: (v, at) => v.getInt16(at, true) },
  '<u2': { bytes: 2, read: (v, at) => v.getUint16(at, true) },
  '|u1': { bytes: 1, read: (v, at) => v.getUint8(at) },
  '|i1': { bytes: 1, read: (v, at) => v.getInt8(at) },
  '|b1': { bytes: 1, read: (v, at) => v.getUint8(at) },
};

/** A NumPy .npy file (format 1.0 to 3.0), C order, little-endian numbers. */
export function npyInputs(bytes: Uint8Array, file: string): RawInputs {
  const bad = (why: string) => new FormatError(`explain: ${file} is not a readable .npy file: ${why}`);
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((m, i) => bytes[i] !== m)) throw bad('no \\x93NUMPY magic');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6];
  if (major < 1 || major > 3) throw bad(`format version ${major}.${bytes[7]}`);
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = major === 1 ? 10 : 12;
  if (start + headerLength > bytes.length) throw bad('the header runs past the end');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw bad(`header ${header.trim()}`);
  const type = NPY_TYPES[descr];
  if (!type) throw bad(`dtype '${descr}' (supported: ${Object.keys(NPY_TYPES).join(', ')})`);
  if (fortran === 'True') throw bad('Fortran order (save a C-ordered array: np.ascontiguousarray)');
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw bad(`shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  if (dataStart + count * type.bytes !== bytes.length)
    throw bad(
      `shape (${shape.join(', ')}) of ${descr} needs ${count * type.bytes} bytes, ` +
        `the file has ${bytes.length - dataStart}`,
    );
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) values[i] = type.read(view, dataStart + i * type.bytes);
  return { kind: 'numbers', values, shape: shape.length ? shape : [1] };
}

/** Pixels the CLI decodes at most (as imageDatasetFromDirectory's default): a hostile header is refused first. */
const MAX_PIXELS = 2 ** 26;

/**
 * A PNG or JPEG as [1, H, W, C] in [0, 1]: C 1 (BT.601 luma, as imageDatasetFromDirectory's grayscale) or 3
 * (RGB), as `channels` asks. Decoded by the image datasets' decoder, which checks the declared size first.
 */
export async function imageInputs(bytes: Uint8Array, file: string, channels: number): Promise<RawInputs> {
  if (channels !== 1 && channels !== 3)
    throw new ShapeError(`explain: the model takes ${channels} channels; an image gives 1 (grey) or 3 (RGB)`);
  const img = await decodeImage('explain', file, bytes, MAX_PIXELS);
  const values = Float64Array.from(toChannels(img, channels === 1 ? 'grayscale' : 'rgb'), (v) => v / 255);
  return { kind: 'numbers', values, shape: [1, img.height, img.width, channels] };
}

/** Reads an input file by its extension (.json, .npy, .png/.jpg, .txt); `channels` is for images. */
export async function readInputs(file: string, channels: number): Promise<RawInputs> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new CandorError(`explain: cannot read the input file ${file}: ${(e as Error).message}`);
  }
  const ext = extname(file).toLowerCase();
  if (ext === '.json') return jsonInputs(new TextDecoder().decode(bytes), file);
  if (ext === '.npy') return npyInputs(bytes, file);
  if (ext === '.png' || ext === '.jpg' || ext === '.jpeg') return imageInputs(bytes, file, channels);
  if (ext === '.txt') {
    const texts = new TextDecoder()
      .decode(bytes)
      .split(/\r?\n/)
      .filter((l) => l.trim() !== '');
    if (texts.length === 0) throw new FormatError(`explain: ${file} has no non-empty lines`);
    return { kind: 'texts', texts };
  }
  throw new FormatError(`explain: ${file}: unknown input format '${ext}' (use .json, .npy, .png, .jpg or .txt)`);
}

/**
 * The numbers as a batch for a model taking `perSample` (null: free) of `dtype`: a batch axis is added to a
 * single sample, and a sample of the right size in another shape is reshaped (an image for a flat model).
 */
export function batchFor(
  raw: { values: Float64Array; shape: number[] },
  perSample: (number | null)[],
  dtype: DType,
  file: string,
): { x: Tensor; note?: string } {
  let shape = raw.shape;
  const fits = (s: readonly number[]) =>
    s.length === perSample.length && s.every((d, i) => perSample[i] === null || perSample[i] === d);
  let note: string | undefined;
  if (fits(shape)) shape = [1, ...shape];
  else if (!fits(shape.slice(1))) {
    const size = perSample.every((d) => d !== null) ? (perSample as number[]).reduce((a, b) => a * b, 1) : -1;
    const n = shape[0];
    const rest = shape.slice(1).reduce((a, b) => a * b, 1);
    if (size > 0 && shape.reduce((a, b) => a * b, 1) === size) {
      note = `reshaped [${shape.join(', ')}] to [1, ${perSample.join(', ')}]`;
      shape = [1, ...(perSample as number[])];
    } else if (size > 0 && rest === size && shape.length > 1) {
      note = `reshaped [${shape.join(', ')}] to [${n}, ${perSample.join(', ')}]`;
      shape = [n, ...(perSample as number[])];
    } else
      throw new ShapeError(
        `explain: the model takes [${perSample.map((d) => d ?? 'any').join(', ')}] per sample ` +
          `(as [samples, ...] or one sample); ${file} holds [${raw.shape.join(', ')}]`,
      );
  }
  const data =
    dtype === 'int32'
      ? Int32Array.from(raw.values, Math.round)
      : dtype === 'float64'
        ? raw.values
        : Float32Array.from(raw.values);
  return { x: tensor(data, shape, dtype), ...(note ? { note } : {}) };
}
