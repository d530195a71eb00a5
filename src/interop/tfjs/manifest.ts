// TF.js weights manifests: the groups of {paths, weights} in model.json, checked against the shard files'
// sizes before any shard is read, decoded to tensors (float32, int32, and the quantized uint8 / uint16 with
// their min and scale, and float16), and encoded from Candor tensors for saving.
import { stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import type { Tensor } from '../../tensor/tensor.js';
import { tensor } from '../../ops/creation.js';
import { fmtValue } from '../../errors.js';
import { readFileBytes } from '../../io/atomic.js';
import { concatArrays } from '../../tensor/dtype.js';
import { FormatError, InteropError } from '../errors.js';
import { isObject } from '../keras/values.js';

/** How TF.js readers name themselves in errors. */
export const TFJS_IMPORT = 'TF.js import';

export interface ManifestWeight {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
  quantization?: { dtype: 'uint8' | 'uint16' | 'float16'; min?: number; scale?: number; original_dtype?: string };
}

export interface ManifestGroup {
  paths: string[];
  weights: ManifestWeight[];
}

/** Bytes per stored element: the quantized dtype's when quantized. */
const BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 };

/** The manifest checked for structure (a FormatError names what is wrong; unsupported dtypes are refused by name). */
export function checkManifest(manifest: unknown): ManifestGroup[] {
  if (!Array.isArray(manifest)) throw new FormatError(`${TFJS_IMPORT}: weightsManifest must be a list of groups`);
  return manifest.map((group, g) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights))
      throw new FormatError(`${TFJS_IMPORT}: weightsManifest group ${g} must be {paths: [...], weights: [...]}`);
    if (!group.paths.every((p) => typeof p === 'string' && p.length > 0))
      throw new FormatError(`${TFJS_IMPORT}: weightsManifest group ${g}: paths must be file names`);
    return { paths: group.paths as string[], weights: group.weights.map((w) => checkWeight(w, g)) };
  });
}

function checkWeight(w: unknown, g: number): ManifestWeight {
  if (!isObject(w) || typeof w.name !== 'string')
    throw new FormatError(`${TFJS_IMPORT}: weightsManifest group ${g}: a weight has no name: ${fmtValue(w)}`);
  const what = `${TFJS_IMPORT}: weight '${w.name}'`;
  if (!Array.isArray(w.shape) || !w.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
    throw new FormatError(`${what}: shape must be a list of non-negative integers, got ${fmtValue(w.shape)}`);
  if (w.dtype !== 'float32' && w.dtype !== 'int32')
    throw new InteropError(`${what}: dtype ${fmtValue(w.dtype)} is not supported (float32 and int32 are)`);
  const out: ManifestWeight = { name: w.name, shape: w.shape as number[], dtype: w.dtype };
  if (w.quantization !== undefined && w.quantization !== null) {
    const q = w.quantization;
    if (!isObject(q) || (q.dtype !== 'uint8' && q.dtype !== 'uint16' && q.dtype !== 'float16'))
      throw new InteropError(`${what}: quantization ${fmtValue(q)} is not supported (uint8, uint16, float16 are)`);
    const affine = q.dtype !== 'float16';
    if (affine && !(Number.isFinite(q.min) && Number.isFinite(q.scale)))
      throw new FormatError(`${what}: ${q.dtype} quantization needs finite min and scale, got ${fmtValue(q)}`);
    out.quantization = { dtype: q.dtype, min: q.min as number, scale: q.scale as number };
  }
  return out;
}

/** Elements of a shape, or Infinity when the product is not a safe integer (a hostile file). */
function elements(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return Number.isSafeInteger(n) ? n : Infinity;
}

const storedBytes = (w: ManifestWeight) => elements(w.shape) * BYTES[w.quantization?.dtype ?? w.dtype];

/** A shard's path, which must stay inside the model's folder (a manifest may not read other files). */
function shardPath(modelJson: string, path: string): string {
  const dir = dirname(resolve(modelJson));
  const full = resolve(dir, path);
  const rel = relative(dir, full);
  if (isAbsolute(path) || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel))
    throw new FormatError(`${TFJS_IMPORT}: weight shard path '${path}' leaves the model's folder`);
  return full;
}

/**
 * The weights of every group, decoded, by name. Each group's declared size (its weights' bytes) must equal the
 * total length of its shards, checked from the files' sizes before any shard is read.
 */
export async function readManifestWeights(modelJson: string, groups: ManifestGroup[]): Promise<Map<string, Tensor>> {
  const plans = await Promise.all(
    groups.map(async (group, g) => {
      const paths = group.paths.map((p) => shardPath(modelJson, p));
      const sizes = await Promise.all(
        paths.map(async (p, i) => {
          try {
            const s = await stat(p);
            if (!s.isFile()) throw new Error('not a file');
            return s.size;
          } catch (e) {
            throw new FormatError(
              `${TFJS_IMPORT}: weight shard '${group.paths[i]}' cannot be read (${(e as Error).message})`,
            );
          }
        }),
      );
      const held = sizes.reduce((a, b) => a + b, 0);
      const declared = group.weights.reduce((a, w) => a + storedBytes(w), 0);
      if (declared !== held)
        throw new FormatError(
          `${TFJS_IMPORT}: weightsManifest group ${g} declares ${declared} bytes of weights; its shards ` +
            `(${group.paths.join(', ')}) hold ${held}`,
        );
      return paths;
    }),
  );
  const out = new Map<string, Tensor>();
  try {
    for (const [g, group] of groups.entries()) {
      const bytes = concat(await Promise.all(plans[g].map((p) => readFileBytes(p))));
      let offset = 0;
      for (const w of group.weights) {
        const n = storedBytes(w);
        if (out.has(w.name)) throw new FormatError(`${TFJS_IMPORT}: weight '${w.name}' appears twice in the manifest`);
        out.set(w.name, decode(w, bytes.slice(offset, offset + n)));
        offset += n;
      }
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/** The byte parts as one array (a single part as it is). */
function concat(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatArrays(parts, (n) => new Uint8Array(n));
}

/** float16 bits -> float32 value. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** One weight from its own (copied, so aligned) bytes, little-endian as TF.js writes them. */
function decode(w: ManifestWeight, bytes: Uint8Array): Tensor {
  const q = w.quantization;
  const n = elements(w.shape);
  if (!q) return tensor(w.dtype === 'int32' ? new Int32Array(bytes.buffer) : new Float32Array(bytes.buffer), w.shape);
  const stored = q.dtype === 'uint8' ? bytes : new Uint16Array(bytes.buffer);
  const values = new Float32Array(n);
  if (q.dtype === 'float16') for (let i = 0; i < n; i++) values[i] = halfToFloat(stored[i]);
  else for (let i = 0; i < n; i++) values[i] = stored[i] * q.scale! + q.min!;
  if (w.dtype === 'int32') return tensor(Int32Array.from(values, Math.round), w.shape, 'int32');
  return tensor(values, w.shape, 'float32');
}

/** One group of float32 weights in one shard: the manifest entries and the shard's bytes. */
export function encodeWeights(
  weights: readonly { name: string; value: Tensor }[],
  shard: string,
): { group: ManifestGroup; bytes: Uint8Array } {
  const parts = weights.map(({ value }) => {
    const f32 = value.dtype === 'float32' ? value : value.cast('float32');
    const data = new Float32Array(f32.dataSync());
    if (f32 !== value) f32.dispose();
    return data;
  });
  const bytes = concat(parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));
  return {
    group: {
      paths: [shard],
      weights: weights.map((w) => ({ name: w.name, shape: [...w.value.shape], dtype: 'float32' })),
    },
    bytes,
  };
}
