// Tests imageDatasetFromDirectory on tiny PNG and JPEG files written here (pngjs / jpeg-js encoders):
// decoded pixel values, resizing, label modes, color modes, ordering, seeded shuffling, validation
// splits, hostile files (corrupt, huge declared dimensions, not images) and memory.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import {
  ArgumentError,
  ImageFormatError,
  MissingDataError,
  Sequential,
  layers,
  Tensor,
  dispose,
  image,
  imageDatasetFromDirectory,
  memory,
  tensor,
  type Example,
} from '../../src/index.js';
import { assertClose, flat, rejects, withDir } from '../helpers.js';

/** RGBA bytes of an h x w image whose pixel (y, x) is rgb(y, x) (alpha 255). */
function pixels(h: number, w: number, rgb: (y: number, x: number) => [number, number, number]): Buffer {
  const data = Buffer.alloc(h * w * 4);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [r, g, b] = rgb(y, x);
      data.set([r, g, b, 255], (y * w + x) * 4);
    }
  return data;
}

function png(h: number, w: number, rgb: (y: number, x: number) => [number, number, number]): Buffer {
  const p = new PNG({ width: w, height: h });
  pixels(h, w, rgb).copy(p.data);
  return PNG.sync.write(p);
}

const jpg = (h: number, w: number, rgb: [number, number, number]) =>
  jpeg.encode({ width: w, height: h, data: pixels(h, w, () => rgb) }, 95).data;

/** The raw RGB of the PNGs written by `tree`, by file name. */
const RAMP = (k: number) => (y: number, x: number) =>
  [10 * y + x + k, 100 + k, 200 - 10 * y] as [number, number, number];

/** cat/: a.png, b.png, c.png (4 x 6 ramps); dog/: d.jpg, e.jpg (solid colours), f.png (4 x 6 ramp). */
function tree(dir: string): void {
  mkdirSync(join(dir, 'cat'));
  mkdirSync(join(dir, 'dog', 'nested'), { recursive: true });
  writeFileSync(join(dir, 'cat', 'a.png'), png(4, 6, RAMP(0)));
  writeFileSync(join(dir, 'cat', 'b.png'), png(4, 6, RAMP(1)));
  writeFileSync(join(dir, 'cat', 'c.png'), png(4, 6, RAMP(2)));
  writeFileSync(join(dir, 'dog', 'd.jpg'), jpg(8, 8, [200, 40, 90]));
  writeFileSync(join(dir, 'dog', 'nested', 'e.jpeg'), jpg(16, 8, [30, 160, 220]));
  writeFileSync(join(dir, 'dog', 'f.png'), png(4, 6, RAMP(3)));
  writeFileSync(join(dir, 'dog', 'notes.txt'), 'not an image, and not an image extension: skipped');
}

async function collect(ds: AsyncIterable<Example>): Promise<{ x: Tensor[]; y: number[][] }> {
  const x: Tensor[] = [],
    y: number[][] = [];
  for await (const b of ds) {
    x.push(b.x);
    if (b.y) y.push(flat(b.y));
    b.y?.dispose();
  }
  return { x, y };
}

describe('imageDatasetFromDirectory', () => {
  test('classes from subdirectories, files in order, PNG pixels exact, labels int', () =>
    withDir(async (dir) => {
      tree(dir);
      const ds = await imageDatasetFromDirectory(dir, { imageSize: [4, 6], batchSize: 4, shuffle: false });
      assert.deepEqual(ds.classNames, ['cat', 'dog']);
      assert.deepEqual(
        ds.filePaths.map((p) => p.slice(dir.length + 1)),
        ['cat/a.png', 'cat/b.png', 'cat/c.png', 'dog/d.jpg', 'dog/f.png', 'dog/nested/e.jpeg'],
      );
      assert.equal(ds.cardinality(), 2);
      const { x, y } = await collect(ds);
      assert.deepEqual(x[0].shape, [4, 4, 6, 3]);
      assert.equal(x[0].dtype, 'float32');
      assert.deepEqual(y, [
        [0, 0, 0, 1],
        [1, 1],
      ]);
      // cat/b.png is image 1 of batch 0: its exact RGB.
      const expected: number[] = [];
      for (let r = 0; r < 4; r++) for (let c = 0; c < 6; c++) expected.push(...RAMP(1)(r, c));
      assert.deepEqual(flat(x[0]).slice(72, 144), expected);
      // dog/d.jpg: a solid colour survives JPEG at quality 95 within a few levels.
      const d = flat(x[0]).slice(216, 288);
      for (let i = 0; i < d.length; i++) assert.ok(Math.abs(d[i] - [200, 40, 90][i % 3]) <= 3, `jpeg value ${d[i]}`);
      dispose(x);
    }));

  test('resizing matches image.resize on the decoded pixels; crop to aspect ratio too', () =>
    withDir(async (dir) => {
      tree(dir);
      for (const opts of [
        { imageSize: [3, 5] as [number, number] },
        { imageSize: [2, 2] as [number, number], cropToAspectRatio: true, interpolation: 'nearest' as const },
      ]) {
        const ds = await imageDatasetFromDirectory(dir, { ...opts, batchSize: 1, shuffle: false });
        const first = (await ds.take(1).toArray())[0];
        const raw: number[] = [];
        for (let r = 0; r < 4; r++) for (let c = 0; c < 6; c++) raw.push(...RAMP(0)(r, c));
        const src = tensor(Float32Array.from(raw), [1, 4, 6, 3]);
        const ref = image.resize(src, opts.imageSize, opts);
        assertClose(first.x, ref, { rtol: 0, atol: 0 });
        dispose([first, src, ref]);
      }
    }));

  test('label modes, color modes, unbatched, labels null', () =>
    withDir(async (dir) => {
      tree(dir);
      const base = { imageSize: [2, 2] as [number, number], shuffle: false };
      const cat = await imageDatasetFromDirectory(dir, { ...base, labelMode: 'categorical', batchSize: 6 });
      const b = (await cat.toArray())[0];
      assert.deepEqual(b.y!.shape, [6, 2]);
      assert.deepEqual(flat(b.y!), [1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0, 1]);
      dispose(b);
      const bin = (await (await imageDatasetFromDirectory(dir, { ...base, labelMode: 'binary' })).toArray())[0];
      assert.deepEqual(bin.y!.shape, [6, 1]);
      assert.equal(bin.y!.dtype, 'float32');
      dispose(bin);
      const gray = await imageDatasetFromDirectory(dir, { ...base, colorMode: 'grayscale', batchSize: null });
      const one = (await gray.take(1).toArray())[0];
      assert.deepEqual(one.x.shape, [2, 2, 1]);
      assert.deepEqual(one.y!.shape, []);
      dispose(one);
      const rgba = (await (await imageDatasetFromDirectory(dir, { ...base, colorMode: 'rgba' })).toArray())[0];
      assert.deepEqual(rgba.x.shape, [6, 2, 2, 4]);
      assert.equal(flat(rgba.x)[3], 255);
      dispose(rgba);
      const unlabelled = (await (await imageDatasetFromDirectory(dir, { ...base, labels: null })).toArray())[0];
      assert.equal(unlabelled.y, undefined);
      dispose(unlabelled);
      const given = await imageDatasetFromDirectory(dir, { ...base, classNames: ['dog', 'cat'], batchSize: 6 });
      const g = (await given.toArray())[0];
      assert.deepEqual(flat(g.y!), [0, 0, 0, 1, 1, 1]); // dog files first now, labelled 0
      dispose(g);
    }));

  test('grayscale of a colour pixel is its BT.601 luma; of a grey pixel the grey itself', () =>
    withDir(async (dir) => {
      mkdirSync(join(dir, 'a'));
      writeFileSync(
        join(dir, 'a', 'x.png'),
        png(1, 2, (_, x) => (x === 0 ? [10, 200, 30] : [77, 77, 77])),
      );
      const ds = await imageDatasetFromDirectory(dir, { imageSize: [1, 2], colorMode: 'grayscale', shuffle: false });
      const b = (await ds.toArray())[0];
      assert.deepEqual(flat(b.x), [Math.round(0.299 * 10 + 0.587 * 200 + 0.114 * 30), 77]);
      dispose(b);
    }));

  test('seeded shuffle: a fixed permutation per pass; validation split disjoint and complete', () =>
    withDir(async (dir) => {
      tree(dir);
      const opts = { imageSize: [2, 2] as [number, number], batchSize: 2, seed: 5 };
      const labelsOf = async (ds: AsyncIterable<Example>) => {
        const { x, y } = await collect(ds);
        const sums = x.flatMap((t) => {
          const d = flat(t);
          dispose(t);
          return Array.from({ length: t.shape[0] }, (_, i) => d.slice(i * 12, (i + 1) * 12).reduce((a, b) => a + b));
        });
        return { y: y.flat(), sums };
      };
      const a = await imageDatasetFromDirectory(dir, opts);
      const b = await imageDatasetFromDirectory(dir, opts);
      const pa = await labelsOf(a),
        pb = await labelsOf(b),
        pa2 = await labelsOf(a);
      assert.deepEqual(pa, pb, 'the same seed gives the same order');
      assert.notDeepEqual(pa.sums, pa2.sums, 'each pass is reshuffled');
      const [train, val] = await imageDatasetFromDirectory(dir, { ...opts, validationSplit: 0.34, subset: 'both' });
      assert.equal(val.filePaths.length, 2); // trunc(0.34 * 6)
      assert.equal(train.filePaths.length, 4);
      assert.deepEqual([...train.filePaths, ...val.filePaths].sort(), [...a.filePaths].sort());
      const alone = await imageDatasetFromDirectory(dir, { ...opts, validationSplit: 0.34, subset: 'validation' });
      assert.deepEqual(alone.filePaths, val.filePaths);
      await rejects(
        () => imageDatasetFromDirectory(dir, { validationSplit: 0.2, subset: 'training' }),
        ArgumentError,
        /give a seed/,
      );
      await rejects(() => imageDatasetFromDirectory(dir, { validationSplit: 0.2 }), ArgumentError, /together/);
    }));

  test('hostile files fail with an ImageFormatError naming the file, before decoding huge ones', () =>
    withDir(async (dir) => {
      const one = async (name: string, bytes: Uint8Array, re: RegExp) => {
        const sub = join(dir, name.replace(/\W/g, '_'));
        mkdirSync(join(sub, 'k'), { recursive: true });
        writeFileSync(join(sub, 'k', name), bytes);
        const ds = await imageDatasetFromDirectory(sub, { imageSize: [2, 2] });
        const before = process.memoryUsage().arrayBuffers;
        await rejects(() => ds.toArray(), ImageFormatError, re);
        // Cheap: nothing huge is allocated for what the header claims (memory, not time: the machine is shared).
        assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 2 ** 20);
      };
      const good = png(2, 2, () => [1, 2, 3]);
      const corrupt = Buffer.from(good);
      corrupt.fill(0x5a, 33); // keep signature and IHDR, garble the rest
      await one('corrupt.png', corrupt, /corrupt\.png could not be decoded/);
      const huge = Buffer.from(good);
      huge.writeUInt32BE(100000, 16);
      huge.writeUInt32BE(100000, 20);
      await one('huge.png', huge, /huge\.png declares 100000 x 100000 pixels, over the limit/);
      const bigJpeg = Buffer.from(jpg(8, 8, [1, 2, 3]));
      const sof = bigJpeg.indexOf(Buffer.from([0xff, 0xc0]));
      bigJpeg.writeUInt16BE(60000, sof + 5); // height
      bigJpeg.writeUInt16BE(60000, sof + 7); // width
      await one('big.jpg', bigJpeg, /big\.jpg declares more than \d+ pixels/);
      await one('text.png', Buffer.from('hello, not an image'), /text\.png is neither a PNG nor a JPEG/);
      await one('anim.gif', Buffer.from('GIF89a....'), /anim\.gif is neither a PNG nor a JPEG/);
      await one('empty.jpg', Buffer.alloc(0), /empty\.jpg is neither/);
    }));

  test('missing directories, empty ones and bad options are typed errors', () =>
    withDir(async (dir) => {
      await rejects(() => imageDatasetFromDirectory(join(dir, 'nope')), MissingDataError, /not found/);
      mkdirSync(join(dir, 'empty', 'cls'), { recursive: true });
      await rejects(() => imageDatasetFromDirectory(join(dir, 'empty')), ArgumentError, /no images found/);
      mkdirSync(join(dir, 'ok'));
      tree(join(dir, 'ok'));
      await rejects(
        () => imageDatasetFromDirectory(join(dir, 'ok'), { labelMode: 'binary', classNames: ['cat'] }),
        ArgumentError,
        /classNames must name exactly/,
      );
      await rejects(
        () => imageDatasetFromDirectory(join(dir, 'ok'), { colorMode: 'cmyk' as 'rgb' }),
        ArgumentError,
        /colorMode/,
      );
      await rejects(
        () => imageDatasetFromDirectory(join(dir, 'ok'), { imageSize: [0, 2] }),
        ArgumentError,
        /imageSize/,
      );
    }));

  test('fit and evaluate take the dataset directly (images in, Rescaling in the model)', () =>
    withDir(async (dir) => {
      tree(dir);
      const ds = await imageDatasetFromDirectory(dir, { imageSize: [4, 4], batchSize: 4, seed: 2 });
      const model = new Sequential([
        layers.rescaling({ scale: 1 / 255, inputShape: [4, 4, 3] }),
        layers.flatten(),
        layers.dense({ units: 2, activation: 'softmax' }),
      ]);
      model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
      await model.fit(ds, { epochs: 1, verbose: 0 }); // makes the optimizer state
      const before = memory().tensors;
      const history = await model.fit(ds, { epochs: 2, verbose: 0 });
      assert.equal(history.history.loss.length, 2);
      const { accuracy } = await model.evaluate(ds, { verbose: 0 });
      assert.ok(accuracy >= 0 && accuracy <= 1);
      assert.equal(memory().tensors, before, 'no batch is left behind');
      model.dispose();
    }));

  test('no tensor is left once batches are disposed; a pass broken off early frees what it made', () =>
    withDir(async (dir) => {
      tree(dir);
      const ds = await imageDatasetFromDirectory(dir, { imageSize: [3, 3], batchSize: 2, seed: 1 });
      const before = memory().tensors;
      for await (const b of ds) dispose(b);
      for await (const b of ds.prefetch(2)) {
        dispose(b);
        break;
      }
      assert.equal(memory().tensors, before);
    }));
});
