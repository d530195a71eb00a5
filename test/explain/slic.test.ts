// SLIC superpixels: every pixel labelled, every segment one 4-connected region, about the number asked for,
// boundaries on colour edges, the same answer every time; and the connectivity pass on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enforceConnectivity, slic } from '../../src/explain/slic.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';

/** Pixel labels (channel 0 of each pixel) of a [H, W, C] element map; asserts every channel agrees. */
function pixelLabels(map: Int32Array, h: number, w: number, ch: number): Int32Array {
  const labels = new Int32Array(h * w);
  for (let p = 0; p < h * w; p++) {
    labels[p] = map[p * ch];
    for (let c = 1; c < ch; c++) assert.equal(map[p * ch + c], labels[p]);
  }
  return labels;
}

/** Number of 4-connected regions of each label (a flood fill per region). */
function regionsPerLabel(labels: Int32Array, h: number, w: number): Map<number, number> {
  const seen = new Uint8Array(h * w);
  const regions = new Map<number, number>();
  for (let s = 0; s < h * w; s++) {
    if (seen[s]) continue;
    regions.set(labels[s], (regions.get(labels[s]) ?? 0) + 1);
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      const [y, x] = [Math.floor(p / w), p % w];
      for (const [yy, xx] of [
        [y - 1, x],
        [y + 1, x],
        [y, x - 1],
        [y, x + 1],
      ]) {
        const q = yy * w + xx;
        if (yy < 0 || yy >= h || xx < 0 || xx >= w || seen[q] || labels[q] !== labels[p]) continue;
        seen[q] = 1;
        stack.push(q);
      }
    }
  }
  return regions;
}

/** A smooth image with blobs and a ramp, values in [0, 1] (or [0, 255]). */
function smoothImage(h: number, w: number, ch: number, max = 1): number[] {
  const out: number[] = [];
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < ch; c++)
        out.push((max * (2 + Math.sin(x / 3 + c) + Math.cos((y + x * c) / 4) * Math.sin(y / 5))) / 4);
  return out;
}

test('SLIC labels every pixel with connected segments, about as many as asked', () => {
  for (const [h, w, ch, count, max] of [
    [28, 28, 1, 50, 1],
    [32, 24, 3, 30, 255],
    [20, 20, 2, 12, 1],
    [28, 28, 1, 10, 1],
  ]) {
    const map = slic(smoothImage(h, w, ch, max), [h, w, ch], count);
    assert.equal(map.length, h * w * ch);
    const labels = pixelLabels(map, h, w, ch);
    const regions = regionsPerLabel(labels, h, w);
    for (const [label, n] of regions) assert.equal(n, 1, `label ${label} of ${h}x${w}x${ch} has ${n} regions`);
    const ids = [...regions.keys()].sort((a, b) => a - b);
    assert.ok(ids[0] >= 0, 'every pixel labelled');
    assert.ok(
      ids.length >= 0.5 * count && ids.length <= 1.5 * count,
      `${ids.length} segments for ${count} asked (${h}x${w}x${ch})`,
    );
    assert.deepEqual(slic(smoothImage(h, w, ch, max), [h, w, ch], count), map, 'deterministic');
  }
});

test('SLIC on noise merges pieces under half a cell rather than shattering into many more segments than asked', () => {
  const noise = Array.from({ length: 28 * 28 }, (_, i) => ((i * 37) % 11) / 10);
  const labels = slic(noise, [28, 28, 1], 200);
  const count = regionsPerLabel(labels, 28, 28).size;
  assert.ok(count >= 100 && count <= 300, `${count} segments for 200 asked`);
});

test('SLIC splits a two-colour image along the colour edge', () => {
  const [h, w] = [20, 24];
  // Red left of column 9, blue from column 9 on: the edge is off the seed grid.
  const rgb: number[] = [];
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.push(...(x < 9 ? [0.9, 0.1, 0.1] : [0.1, 0.2, 0.9]));
  const grey = rgb.filter((_, i) => i % 3 === 0);
  for (const [pixels, ch] of [
    [rgb, 3],
    [grey, 1],
  ] as const) {
    for (const count of [2, 6, 12]) {
      const labels = pixelLabels(slic(pixels, [h, w, ch], count), h, w, ch);
      const side = new Map<number, boolean>();
      labels.forEach((label, p) => {
        const left = p % w < 9;
        if (!side.has(label)) side.set(label, left);
        assert.equal(side.get(label), left, `segment ${label} crosses the edge (${ch} channels, ${count} asked)`);
      });
    }
  }
});

test('connectivity splits a label in two pieces and merges pieces below the minimum into a neighbour', () => {
  // Label 0 in two pieces separated by label 1; a single pixel of label 2 inside label 1.
  const labels = Int32Array.from([0, 1, 1, 0, 0, 1, 2, 0, 0, 1, 1, 0]);
  assert.deepEqual(Array.from(enforceConnectivity(labels, 3, 4, 0)), [0, 1, 1, 2, 0, 1, 3, 2, 0, 1, 1, 2]);
  assert.deepEqual(Array.from(enforceConnectivity(labels, 3, 4, 2)), [0, 1, 1, 2, 0, 1, 1, 2, 0, 1, 1, 2]);
});

test('slic names bad images and counts', () => {
  assert.throws(() => slic([0, 1], [2], 1), ShapeError);
  assert.throws(() => slic([0, 1, 2], [2, 1, 1], 1), /3 values for an image \[2, 1, 1\]/);
  assert.throws(() => slic([0, 1], [2, 1, 1], 0), ArgumentError);
  assert.throws(() => slic([0, 1], [2, 1, 1], 1, 0), /compactness/);
});
