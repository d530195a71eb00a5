// Grad-CAM: equal to a reference written out by hand (conv, softmax gradient, channel weights, bilinear upsampling)
// on a tiny conv net with fixed weights; concentrated on the object a class detects; shapes, batching, errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { ArgumentError, ShapeError } from '../../src/errors.js';
import { assertClose, flat } from '../helpers.js';

/** A fixed pseudo-random sequence in [-1, 1), so the weights are known numbers in the test. */
const numbers = (count: number, seed: number) =>
  Array.from({ length: count }, (_, i) => Math.sin(seed * 97.3 + i * 12.9898) * 0.999);

const H = 4,
  W = 4,
  K = 3,
  F = 2, // filters
  CLASSES = 3;
const P = H - K + 1; // valid conv: feature maps P x P

const KERNEL = numbers(K * K * F, 1); // [kh, kw, 1, F]
const BIAS = [0.1, -0.05];
const DENSE = numbers(P * P * F * CLASSES, 2); // [P * P * F, CLASSES]
const DENSE_BIAS = [0.05, -0.1, 0];
const X = [numbers(H * W, 3), numbers(H * W, 4)];

/** Conv2D(relu, valid) -> Flatten -> Dense(softmax) with the weights above. */
function tinyNet(): c.Sequential {
  const model = new c.Sequential([
    c.layers.conv2d({ filters: F, kernelSize: K, activation: 'relu', name: 'gc_conv', inputShape: [H, W, 1] }),
    c.layers.flatten(),
    c.layers.dense({ units: CLASSES, activation: 'softmax', name: 'gc_dense' }),
  ]);
  model.build([null, H, W, 1]);
  const [k, b, d, db] = model.weights;
  k.assign(c.tensor(KERNEL, [K, K, 1, F]));
  b.assign(c.tensor(BIAS, [F]));
  d.assign(c.tensor(DENSE, [P * P * F, CLASSES]));
  db.assign(c.tensor(DENSE_BIAS, [CLASSES]));
  return model;
}

/** tf.image.resize's bilinear taps with half-pixel centres, one axis: (lo, hi, weight of hi). */
function taps(inSize: number, outSize: number): [number, number, number][] {
  return Array.from({ length: outSize }, (_, i) => {
    const at = ((i + 0.5) * inSize) / outSize - 0.5;
    const f = Math.floor(at);
    return [Math.max(f, 0), Math.min(f + 1, inSize - 1), at - f];
  });
}

/** Grad-CAM of class k for one image, every step written out: A, dp_k/dA, alpha, the map, upsampling. */
function reference(x: number[], k: number, relu: boolean): number[] {
  const a: number[] = []; // [P, P, F] row-major, as Flatten reads it
  for (let i = 0; i < P; i++)
    for (let j = 0; j < P; j++)
      for (let f = 0; f < F; f++) {
        let s = BIAS[f];
        for (let u = 0; u < K; u++)
          for (let v = 0; v < K; v++) s += x[(i + u) * W + j + v] * KERNEL[(u * K + v) * F + f];
        a.push(Math.max(s, 0));
      }
  const z = Array.from({ length: CLASSES }, (_, m) => a.reduce((s, av, r) => s + av * DENSE[r * CLASSES + m], 0));
  z.forEach((_, m) => (z[m] += DENSE_BIAS[m]));
  const e = z.map((v) => Math.exp(v - Math.max(...z)));
  const p = e.map((v) => v / e.reduce((s, u) => s + u, 0));
  // d p_k / d a_r = p_k (W[r, k] - sum_m p_m W[r, m]).
  const g = a.map(
    (_, r) => p[k] * (DENSE[r * CLASSES + k] - p.reduce((s, pm, m) => s + pm * DENSE[r * CLASSES + m], 0)),
  );
  const alpha = Array.from(
    { length: F },
    (_, f) => g.filter((_, r) => r % F === f).reduce((s, v) => s + v, 0) / (P * P),
  );
  const map = Array.from({ length: P * P }, (_, r) => {
    const s = alpha.reduce((acc, al, f) => acc + al * a[r * F + f], 0);
    return relu ? Math.max(s, 0) : s;
  });
  const rows = taps(P, H),
    cols = taps(P, W);
  const up: number[] = [];
  for (const [r0, r1, wr] of rows)
    for (const [c0, c1, wc] of cols) {
      const top = map[r0 * P + c0] * (1 - wc) + map[r0 * P + c1] * wc;
      const bottom = map[r1 * P + c0] * (1 - wc) + map[r1 * P + c1] * wc;
      up.push(top * (1 - wr) + bottom * wr);
    }
  return up;
}

test('Grad-CAM equals the hand-written reference, with and without relu, for every class', () => {
  const model = tinyNet();
  const x = c.tensor(X.flat(), [2, H, W, 1]);
  let negative = false;
  for (let k = 0; k < CLASSES; k++)
    for (const relu of [true, false]) {
      const e = c.explain(model, x, { method: 'gradCam', layer: 'gc_conv', target: k, relu });
      const want = X.flatMap((xi) => reference(xi, k, relu));
      negative ||= want.some((v) => v < -1e-4);
      assert.deepEqual(e.attributions.shape, [2, H, W, 1]);
      assertClose(e.attributions, want, { atol: 1e-6, rtol: 1e-4 }, `class ${k} relu ${relu}`);
      assert.deepEqual(e.details, { mapSize: [P, P], channels: F });
      assert.deepEqual(e.parameters.layer, 'gc_conv');
      assert.equal(e.parameters.relu, relu);
    }
  assert.ok(negative, 'some map without relu has negative values, so the relu case is a real check');
});

test('Grad-CAM batches give the same maps; the map repeats over input channels; [N, H, W] inputs work', () => {
  const model = tinyNet();
  const x = c.tensor(X.flat(), [2, H, W, 1]);
  const whole = c.explain(model, x, { method: 'gradCam', layer: 'gc_conv', target: 1 });
  const single = c.explain(model, x, { method: 'gradCam', layer: 'gc_conv', target: 1, batchSize: 1 });
  assertClose(single.attributions, whole.attributions, { atol: 1e-7 });

  // Three channels: the conv sums them; the map is the same on each.
  const rgb = new c.Sequential([
    c.layers.conv2d({
      filters: 2,
      kernelSize: 2,
      strides: 2,
      activation: 'relu',
      name: 'rgb_conv',
      inputShape: [6, 6, 3],
    }),
    c.layers.globalAveragePooling2d(),
    c.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  const images = c.tensor(numbers(2 * 6 * 6 * 3, 5), [2, 6, 6, 3]);
  const e = c.explain(rgb, images, { method: 'gradCam', layer: 'rgb_conv' });
  assert.deepEqual(e.attributions.shape, [2, 6, 6, 3]);
  assert.deepEqual(e.details, { mapSize: [3, 3], channels: 2 });
  const a = flat(e.attributions);
  for (let i = 0; i < a.length; i += 3) assert.ok(a[i] === a[i + 1] && a[i] === a[i + 2]);

  const gray = new c.Sequential([
    c.layers.reshape({ targetShape: [H, W, 1], inputShape: [H, W] }),
    ...tinyNet().layers,
  ]);
  const g = c.explain(gray, c.tensor(X.flat(), [2, H, W]), { method: 'gradCam', layer: 'gc_conv', target: 2 });
  assert.deepEqual(g.attributions.shape, [2, H, W]);
  assertClose(
    g.attributions,
    X.flatMap((xi) => reference(xi, 2, true)),
    { atol: 1e-6, rtol: 1e-4 },
  );
});

test('Grad-CAM is concentrated on the object the explained class detects', () => {
  // 8 x 8 images of dim noise in [0, 0.4) with a bright 2 x 2 square at a different place in each. Filter 0
  // fires only on the square (2 x 2 mean - 0.45), filter 1 only on the background; class 0 reads filter 0.
  const S = 8;
  const squares = [
    [2, 2],
    [4, 6],
  ];
  const pixels = numbers(2 * S * S, 6).map((v) => 0.2 + 0.2 * v);
  squares.forEach(([r, col], n) => {
    for (const [dr, dc] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ])
      pixels[n * S * S + (r + dr) * S + col + dc] = 1;
  });
  const model = new c.Sequential([
    c.layers.conv2d({
      filters: 2,
      kernelSize: 2,
      strides: 2,
      activation: 'relu',
      name: 'detector',
      inputShape: [S, S, 1],
    }),
    c.layers.globalAveragePooling2d(),
    c.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  model.build([null, S, S, 1]);
  const [k, b, d, db] = model.weights;
  k.assign(c.tensor([0.25, -0.25, 0.25, -0.25, 0.25, -0.25, 0.25, -0.25], [2, 2, 1, 2]));
  b.assign(c.tensor([-0.45, 0.5], [2]));
  d.assign(c.tensor([3, 0, 0, 0], [2, 2]));
  db.assign(c.tensor([0, 0], [2]));
  const e = c.explain(model, c.tensor(pixels, [2, S, S, 1]), { method: 'gradCam', layer: 'detector', target: 0 });
  const a = flat(e.attributions);
  squares.forEach(([r, col], n) => {
    const map = a.slice(n * S * S, (n + 1) * S * S);
    const total = map.reduce((s, v) => s + v, 0);
    assert.ok(total > 0);
    // Bilinear upsampling of a 4 x 4 map spreads the square's cell over its neighbours only.
    let near = 0;
    map.forEach((v, i) => {
      if (Math.abs(Math.floor(i / S) - r - 0.5) <= 2 && Math.abs((i % S) - col - 0.5) <= 2) near += v;
    });
    assert.ok(near / total > 0.99, `sample ${n}: ${near / total} of the map near the square`);
    const top = map.indexOf(Math.max(...map));
    assert.ok([r, r + 1].includes(Math.floor(top / S)) && [col, col + 1].includes(top % S), `sample ${n} peak`);
  });
});

test('Grad-CAM names the layer and what was expected on bad input', () => {
  const model = tinyNet();
  const x = c.tensor(X.flat(), [2, H, W, 1]);
  assert.throws(
    () => c.explain(model, x, { method: 'gradCam', layer: 'nope' }),
    (e: Error) =>
      e instanceof ArgumentError && /no layer named 'nope'/.test(e.message) && /'gc_conv' \(Conv2D\)/.test(e.message),
  );
  assert.throws(
    () => c.explain(model, x, { method: 'gradCam', layer: 'gc_dense' }),
    (e: Error) => e instanceof ShapeError && /'gc_dense' \(Dense\) outputs \[1, 3\]/.test(e.message),
  );
  assert.throws(() => c.explain(model, x, { method: 'gradCam' } as never), /options.layer must name a layer/);
  const flatModel = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3], name: 'gc_flat' })]);
  assert.throws(
    () => c.explain(flatModel, c.tensor([[1, 2, 3]]), { method: 'gradCam', layer: 'gc_flat' }),
    (e: Error) => e instanceof ShapeError && /not images/.test(e.message),
  );
});

test('Grad-CAM leaves no tensor behind but its attributions', () => {
  const model = tinyNet();
  const x = c.tensor(X.flat(), [2, H, W, 1]);
  c.explain(model, x, { method: 'gradCam', layer: 'gc_conv', batchSize: 1 }).attributions.dispose();
  const live = c.memory().tensors;
  for (const batchSize of [1, 2]) {
    const e = c.explain(model, x, { method: 'gradCam', layer: 'gc_conv', batchSize });
    e.attributions.dispose();
    assert.equal(c.memory().tensors, live, `batchSize ${batchSize}`);
  }
  assert.throws(() => c.explain(model, x, { method: 'gradCam', layer: 'gc_dense' }));
  assert.equal(c.memory().tensors, live, 'after an error');
});
