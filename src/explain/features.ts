// Features for perturbation methods: a map from each input element of one sample to the feature it belongs
// to, and the batch of inputs where chosen features are switched off (replaced by a baseline row).
import type { Tensor } from '../tensor/tensor.js';
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { allocArray } from '../tensor/dtype.js';
import * as o from '../ops/index.js';
import { broadcastShapes, shapesEqual } from '../tensor/shape.js';
import type { FeatureGrouping } from './types.js';

/** A tensor baseline broadcast to the inputs' shape [N, ...] (a text model's: token ids), or a ShapeError. */
export function broadcastBaseline(op: string, baseline: Tensor, shape: readonly number[]): Tensor {
  let fits = baseline.rank <= shape.length;
  try {
    fits &&= shapesEqual(broadcastShapes(op, baseline.shape, shape), shape);
  } catch {
    fits = false;
  }
  if (!fits)
    throw new ShapeError(
      `${op}: baseline ${fmtShape(baseline.shape)} does not broadcast to the inputs ${fmtShape(shape)}; ` +
        `expected one value, one sample's shape ${fmtShape(shape.slice(1))}, [1, ...] or [${shape[0]}, ...]`,
    );
  return o.broadcastTo(baseline, shape);
}

/** One sample's features: element (row-major over the sample's shape) -> feature id, or -1 (never switched). */
export interface Features {
  count: number;
  map: Int32Array;
  /** How they were made, for the parameters an explanation reports. */
  grouping: string;
}

/** Segmentation of one image [H, W, C] (values row-major) into about `count` superpixels: element -> id. */
export type Segmenter = (
  pixels: ArrayLike<number>,
  shape: readonly number[],
  count: number,
  compactness: number,
) => Int32Array;

let superpixelSegmenter: Segmenter | undefined;
/** Installs the superpixel segmentation (SLIC lives in its own module). */
export function setSuperpixelSegmenter(segment: Segmenter): void {
  superpixelSegmenter = segment;
}

/** The default grouping: tokens for int inputs, superpixels for images [N, H, W, C], each element otherwise. */
export function defaultGrouping(inputs: Tensor): FeatureGrouping {
  if (inputs.dtype === 'int32') return 'tokens';
  return inputs.rank === 4 ? { superpixels: 50 } : 'elements';
}

/** Renumbers ids 0..k-1 in order of first appearance (-1 stays -1). */
function compact(map: Int32Array): number {
  const ids = new Map<number, number>();
  for (let i = 0; i < map.length; i++) {
    if (map[i] < 0) continue;
    let id = ids.get(map[i]);
    if (id === undefined) ids.set(map[i], (id = ids.size));
    map[i] = id;
  }
  return ids.size;
}

/** The features of one sample (`values`: its elements, row-major; `shape`: the sample's shape, no batch axis). */
export function resolveFeatures(
  op: string,
  grouping: FeatureGrouping,
  values: ArrayLike<number>,
  shape: readonly number[],
  isTokens: boolean,
): Features {
  const size = shape.reduce((a, b) => a * b, 1);
  if (grouping === 'elements') return { count: size, map: Int32Array.from({ length: size }, (_, i) => i), grouping };
  if (grouping === 'tokens') {
    if (!isTokens) throw new ArgumentError(`${op}: features 'tokens' need int32 token-id inputs`);
    // Padding (id 0) is not a word of the text: it is never switched and gets no attribution.
    const map = Int32Array.from({ length: size }, (_, i) => (values[i] === 0 ? -1 : i));
    return { count: compact(map), map, grouping };
  }
  if ('featureMap' in grouping) {
    const map = Int32Array.from(grouping.featureMap);
    if (map.length !== size)
      throw new ShapeError(`${op}: featureMap has ${map.length} entries for samples of ${size} elements`);
    if (map.some((v) => !Number.isInteger(v) || v < -1))
      throw new ArgumentError(`${op}: featureMap entries must be integer feature ids >= 0 (or -1: never switched)`);
    return { count: compact(map), map, grouping: 'featureMap' };
  }
  if (shape.length !== 3)
    throw new ShapeError(`${op}: patches and superpixels need images [N, H, W, C], got samples ${fmtShape(shape)}`);
  const [h, w, ch] = shape;
  if ('patches' in grouping) {
    const [ph, pw] = typeof grouping.patches === 'number' ? [grouping.patches, grouping.patches] : grouping.patches;
    if (![ph, pw].every((p) => Number.isInteger(p) && p >= 1))
      throw new ArgumentError(`${op}: patches must be positive integers, got ${String(grouping.patches)}`);
    const across = Math.ceil(w / pw);
    const map = new Int32Array(size);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        map.fill(Math.floor(y / ph) * across + Math.floor(x / pw), (y * w + x) * ch, (y * w + x + 1) * ch);
    return { count: compact(map), map, grouping: `patches ${ph}x${pw}` };
  }
  if ('superpixels' in grouping) {
    if (!superpixelSegmenter) throw new ArgumentError(`${op}: superpixel segmentation is not available`);
    const { superpixels: count, compactness = 10 } = grouping;
    if (!Number.isInteger(count) || count < 1)
      throw new ArgumentError(`${op}: superpixels must be a positive integer, got ${String(count)}`);
    const map = superpixelSegmenter(values, shape, count, compactness);
    return { count: compact(map), map, grouping: `superpixels ${count}` };
  }
  throw new ArgumentError(`${op}: unknown feature grouping ${JSON.stringify(grouping)}`);
}

/**
 * Inputs [k, ...shape] where row r is `sample` with every feature f that coalitions[r * count + f] leaves off (0)
 * replaced by `replacement` (one value, or a row of the sample's elements). `dtype` is the inputs' dtype.
 */
export function maskedInputs(
  sample: ArrayLike<number>,
  replacement: number | ArrayLike<number>,
  features: Features,
  coalitions: Uint8Array,
  shape: readonly number[],
  dtype: Tensor['dtype'],
): Tensor {
  const size = sample.length,
    d = features.count;
  const k = coalitions.length / d;
  if (!Number.isInteger(k)) throw new ShapeError(`maskedInputs: ${coalitions.length} flags for ${d} features`);
  const out = allocArray(dtype, k * size);
  const { map } = features;
  for (let r = 0; r < k; r++) {
    const base = r * size,
      flags = r * d;
    for (let i = 0; i < size; i++) {
      const f = map[i];
      const on = f < 0 || coalitions[flags + f] === 1;
      out[base + i] = on ? sample[i] : typeof replacement === 'number' ? replacement : replacement[i];
    }
  }
  return o.tensor(out, [k, ...shape], dtype);
}
