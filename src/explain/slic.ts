// SLIC superpixels (Achanta et al. 2012): k-means on colour and position, searched locally around a grid of
// seeds, then made connected. The segmenter behind the { superpixels } feature grouping.
import { ArgumentError, ShapeError, fmtShape } from '../errors.js';
import { setSuperpixelSegmenter } from './features.js';

const ITERATIONS = 10;

/** sRGB in [0, 1] to CIELAB (D65 white), as skimage's rgb2lab. */
function rgbToLab(r: number, g: number, b: number, out: Float64Array, at: number): void {
  const lin = (c: number) => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  const fx = f((0.4124564 * R + 0.3575761 * G + 0.1804375 * B) / 0.95047);
  const fy = f(0.2126729 * R + 0.7151522 * G + 0.072175 * B);
  const fz = f((0.0193339 * R + 0.119192 * G + 0.9503041 * B) / 1.08883);
  out[at] = 116 * fy - 16;
  out[at + 1] = 500 * (fx - fy);
  out[at + 2] = 200 * (fy - fz);
}

/**
 * The colour features SLIC measures distance in, [H * W, k]. Values are intensities in [0, 1], or in
 * [0, 255] when any exceeds 1. Three channels are RGB, taken to CIELAB; one channel is grey, taken to its
 * lightness L; other channel counts are scaled to 0..100 (L's range) as they are.
 */
function colourFeatures(pixels: ArrayLike<number>, pixelCount: number, channels: number): Float64Array {
  let max = 0;
  for (let i = 0; i < pixels.length; i++) max = Math.max(max, pixels[i]);
  const scale = max > 1 ? 1 / 255 : 1;
  const unit = (v: number) => Math.min(1, Math.max(0, v * scale));
  const out = new Float64Array(pixelCount * channels);
  const lab = new Float64Array(3);
  for (let p = 0; p < pixelCount; p++) {
    const at = p * channels;
    if (channels === 3) rgbToLab(unit(pixels[at]), unit(pixels[at + 1]), unit(pixels[at + 2]), out, at);
    else if (channels === 1) {
      const v = unit(pixels[at]);
      rgbToLab(v, v, v, lab, 0);
      out[at] = lab[0];
    } else for (let c = 0; c < channels; c++) out[at + c] = 100 * pixels[at + c] * scale;
  }
  return out;
}

/** Relabels so every segment is one 4-connected region; regions of fewer than minSize pixels join a neighbour. */
export function enforceConnectivity(labels: Int32Array, h: number, w: number, minSize: number): Int32Array {
  const out = new Int32Array(h * w).fill(-1);
  const queue = new Int32Array(h * w);
  let next = 0;
  for (let start = 0; start < h * w; start++) {
    if (out[start] >= 0) continue;
    // Pixels before `start` in raster order are all labelled: its left or upper neighbour (if any) is one.
    const y0 = Math.floor(start / w),
      x0 = start % w;
    const adjacent = x0 > 0 ? out[start - 1] : y0 > 0 ? out[start - w] : -1;
    const old = labels[start];
    let head = 0,
      tail = 0;
    queue[tail++] = start;
    out[start] = next;
    while (head < tail) {
      const p = queue[head++];
      const y = Math.floor(p / w),
        x = p % w;
      for (const q of [x > 0 ? p - 1 : -1, x < w - 1 ? p + 1 : -1, y > 0 ? p - w : -1, y < h - 1 ? p + w : -1]) {
        if (q < 0 || out[q] >= 0 || labels[q] !== old) continue;
        out[q] = next;
        queue[tail++] = q;
      }
    }
    if (tail < minSize && adjacent >= 0) for (let i = 0; i < tail; i++) out[queue[i]] = adjacent;
    else next++;
  }
  return out;
}

/**
 * SLIC on one image [H, W, C] (values row-major): about `count` superpixels, each connected; element (every
 * channel of a pixel) -> segment id. `compactness` (m) trades colour distance against distance in space:
 * D^2 = dc^2 + (ds / S)^2 m^2 with S the seed spacing, as in the paper (colour in CIELAB units).
 */
export function slic(pixels: ArrayLike<number>, shape: readonly number[], count: number, compactness = 10): Int32Array {
  if (shape.length !== 3) throw new ShapeError(`slic: expected an image [H, W, C], got ${fmtShape(shape)}`);
  const [h, w, ch] = shape;
  if (pixels.length !== h * w * ch)
    throw new ShapeError(`slic: ${pixels.length} values for an image ${fmtShape(shape)}`);
  if (!Number.isInteger(count) || count < 1)
    throw new ArgumentError(`slic: count must be a positive integer, got ${String(count)}`);
  if (!(compactness > 0)) throw new ArgumentError(`slic: compactness must be positive, got ${String(compactness)}`);
  const n = h * w;
  const k = Math.min(count, n);
  const colour = colourFeatures(pixels, n, ch);
  const step = Math.sqrt(n / k);

  // Seeds on a grid of about k cells, each moved to the lowest colour gradient in its 3 x 3 neighbourhood.
  const across = Math.max(1, Math.min(w, Math.round(w / step)));
  const down = Math.max(1, Math.min(h, Math.round(k / across)));
  const centres: number[][] = [];
  const gradient = (y: number, x: number): number => {
    let g = 0;
    const at = (yy: number, xx: number) =>
      (Math.min(h - 1, Math.max(0, yy)) * w + Math.min(w - 1, Math.max(0, xx))) * ch;
    for (let c = 0; c < ch; c++) {
      const dx = colour[at(y, x + 1) + c] - colour[at(y, x - 1) + c];
      const dy = colour[at(y + 1, x) + c] - colour[at(y - 1, x) + c];
      g += dx * dx + dy * dy;
    }
    return g;
  };
  for (let i = 0; i < down; i++)
    for (let j = 0; j < across; j++) {
      let [by, bx] = [Math.floor(((i + 0.5) * h) / down), Math.floor(((j + 0.5) * w) / across)];
      let best = gradient(by, bx);
      const [cy, cx] = [by, bx];
      for (let y = Math.max(0, cy - 1); y <= Math.min(h - 1, cy + 1); y++)
        for (let x = Math.max(0, cx - 1); x <= Math.min(w - 1, cx + 1); x++) {
          const g = gradient(y, x);
          if (g < best) [best, by, bx] = [g, y, x];
        }
      centres.push([by, bx, ...colour.subarray((by * w + bx) * ch, (by * w + bx + 1) * ch)]);
    }

  const labels = new Int32Array(n).fill(-1);
  const distance = new Float64Array(n);
  const spatial = (compactness / step) ** 2;
  const radius = Math.ceil(step);
  for (let iter = 0; iter < ITERATIONS; iter++) {
    distance.fill(Infinity);
    centres.forEach((centre, id) => {
      const [cy, cx] = centre;
      const y0 = Math.max(0, Math.floor(cy - radius)),
        y1 = Math.min(h - 1, Math.ceil(cy + radius));
      const x0 = Math.max(0, Math.floor(cx - radius)),
        x1 = Math.min(w - 1, Math.ceil(cx + radius));
      for (let y = y0; y <= y1; y++)
        for (let x = x0; x <= x1; x++) {
          const p = y * w + x;
          let dc = 0;
          for (let c = 0; c < ch; c++) dc += (colour[p * ch + c] - centre[2 + c]) ** 2;
          const d = dc + ((y - cy) ** 2 + (x - cx) ** 2) * spatial;
          if (d < distance[p]) [distance[p], labels[p]] = [d, id];
        }
    });
    // Each centre moves to the mean position and colour of its pixels (a centre with none stays).
    const sums = centres.map(() => new Float64Array(3 + ch));
    for (let p = 0; p < n; p++) {
      const id = labels[p];
      if (id < 0) continue;
      const s = sums[id];
      s[0] += Math.floor(p / w);
      s[1] += p % w;
      for (let c = 0; c < ch; c++) s[2 + c] += colour[p * ch + c];
      s[2 + ch] += 1;
    }
    sums.forEach((s, id) => {
      if (s[2 + ch] > 0) centres[id] = Array.from(s.subarray(0, 2 + ch), (v) => v / s[2 + ch]);
    });
  }
  // Pixels no centre reached (-1) form regions of their own, which connectivity merges or keeps. Pieces under
  // half a cell join a neighbour (skimage's min_size_factor 0.5; the paper's quarter leaves noise in pieces).
  const segments = enforceConnectivity(labels, h, w, (0.5 * n) / k);
  const out = new Int32Array(n * ch);
  for (let p = 0; p < n; p++) out.fill(segments[p], p * ch, (p + 1) * ch);
  return out;
}

setSuperpixelSegmenter(slic);
