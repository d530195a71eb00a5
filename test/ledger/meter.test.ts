// Metering: FLOP counts of Dense, Conv2D and a whole MLP training step against formulas derived here
// (2*M*N*K per matmul), phase and layer attribution, and the profiler table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { Meter, formatProfile, profileLines, opFamily, siNumber } from '../../src/ledger/meter.js';
import { withPhase, withLayerPath, currentPhase, currentLayerPath } from '../../src/autograd/annotations.js';
import type { MeterSnapshot } from '../../src/ledger/meter.js';

/** FLOPs of one op family in a snapshot, optionally in one phase / scope. */
function flopsOf(
  s: MeterSnapshot,
  { family, phase, scope }: { family?: string; phase?: string; scope?: string },
): number {
  return s.rows
    .filter(
      (r) =>
        (family === undefined || r.family === family) &&
        (phase === undefined || r.phase === phase) &&
        (scope === undefined || r.scope === scope),
    )
    .reduce((t, r) => t + r.flops, 0);
}

test('Dense forward: 2*B*D*H matmul FLOPs, + B*H for the bias, + B*H for relu, under the layer scope', () => {
  const [B, D, H] = [8, 20, 12];
  const layer = c.layers.dense({ units: H, activation: 'relu', inputShape: [D], name: 'meter_dense' });
  const x = c.randomNormal([B, D], { seed: 1 });
  c.dispose(layer.apply(x) as c.Tensor); // build outside the meter: initializers are not part of the forward pass
  const meter = new Meter();
  const y = meter.measure(() => withLayerPath('outer', () => layer.apply(x) as c.Tensor));
  const s = meter.snapshot();
  assert.equal(flopsOf(s, { family: 'matmul' }), 2 * B * D * H);
  assert.equal(s.total.flops, 2 * B * D * H + B * H + B * H);
  // Layer.apply opens the layer's own scope inside the caller's (once wired; before, all is under 'outer').
  const own = s.rows.some((r) => r.scope === 'outer/meter_dense');
  assert.equal(
    flopsOf(s, { scope: own ? 'outer/meter_dense' : 'outer' }),
    s.total.flops,
    'every FLOP is attributed to the scope',
  );
  assert.equal(s.byPhase.other.flops, s.total.flops, 'nothing marked a phase');
  assert.equal(s.trainingFlops, 0);
  c.dispose([x, y]);
  layer.dispose();
});

test('MultiHeadAttention forward: matmul FLOPs of the q/k/v/output projections and the two attention products', () => {
  const [B, T, S, D, heads, keyDim, valueDim] = [2, 5, 7, 12, 3, 4, 6];
  const mha = new c.MultiHeadAttention({ numHeads: heads, keyDim, valueDim });
  const q = c.randomNormal([B, T, D], { seed: 2 }),
    v = c.randomNormal([B, S, D], { seed: 3 });
  c.dispose(mha.apply([q, v]) as c.Tensor); // build outside the meter
  const meter = new Meter();
  const out = meter.measure(() => mha.apply([q, v]) as c.Tensor);
  const expected =
    2 * B * T * D * heads * keyDim + // query projection
    2 * B * S * D * heads * keyDim + // key projection (key = value)
    2 * B * S * D * heads * valueDim + // value projection
    2 * B * heads * T * S * keyDim + // scores q k^T
    2 * B * heads * T * S * valueDim + // probabilities x values
    2 * B * T * heads * valueDim * D; // output projection back to the query's features
  // A backend with a fused attention kernel reports the two attention products from its cost model.
  const s = meter.snapshot();
  assert.equal(flopsOf(s, { family: 'matmul' }) + flopsOf(s, { family: 'attention' }), expected);
  c.dispose([q, v, out]);
  mha.dispose();
});

test('Conv2D forward: 2*N*Ho*Wo*Cout*kh*kw*Cin FLOPs (valid and strided same padding) + bias', () => {
  const [N, Hi, Wi, Cin, Cout, k] = [2, 7, 6, 3, 5, 3];
  for (const { strides, padding, Ho, Wo } of [
    { strides: 1, padding: 'valid' as const, Ho: Hi - k + 1, Wo: Wi - k + 1 },
    { strides: 2, padding: 'same' as const, Ho: Math.ceil(Hi / 2), Wo: Math.ceil(Wi / 2) },
  ]) {
    const layer = c.layers.conv2d({ filters: Cout, kernelSize: k, strides, padding, inputShape: [Hi, Wi, Cin] });
    const x = c.randomNormal([N, Hi, Wi, Cin], { seed: 2 });
    c.dispose(layer.apply(x) as c.Tensor);
    const meter = new Meter();
    const y = meter.measure(() => layer.apply(x) as c.Tensor);
    assert.deepEqual([...y.shape], [N, Ho, Wo, Cout]);
    const s = meter.snapshot();
    const conv = 2 * N * Ho * Wo * Cout * k * k * Cin;
    // The JS backend runs conv2d as its im2col composite (pad, slices, concat: 0 FLOPs; one matmul); a
    // backend with a fused conv2d kernel reports the same count from the fused cost model.
    assert.equal(
      flopsOf(s, { family: 'matmul' }) + flopsOf(s, { family: 'convolution' }),
      conv,
      `${padding} stride ${strides}`,
    );
    assert.equal(s.total.flops, conv + N * Ho * Wo * Cout, 'conv + bias');
    c.dispose([x, y]);
    layer.dispose();
  }
});

/** One training step exactly as Trainer.step runs it, with the phase marks the trainer is to add. */
function markedStep(model: c.Model, x: c.Tensor, y: c.Tensor): void {
  const weights = model.trainableWeights;
  const loss = c.getLoss('sparseCategoricalCrossentropy');
  const { value, grads } = withPhase('backward', () =>
    c.valueAndGrad((params: c.Tensor[]) => {
      void params;
      return withPhase('forward', () => loss(y, model.apply(x, { training: true }) as c.Tensor));
    })(weights.map((w) => w.value)),
  );
  const updated = withPhase('optimizer', () =>
    model.optimizer!.apply(
      weights.map((w) => w.value),
      grads,
    ),
  );
  weights.forEach((w, i) => w.assign(updated[i]));
  c.dispose([value, grads]);
}

function mlp(D: number, H: number, C: number): c.Sequential {
  const model = new c.Sequential([
    c.layers.dense({ units: H, activation: 'relu', inputShape: [D] }),
    c.layers.dense({ units: C, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  return model;
}

test('MLP training step: forward, backward (input + weight gradients, none for the input), Adam FLOPs by phase', () => {
  const [B, D, H, C] = [16, 10, 7, 4];
  const model = mlp(D, H, C);
  const x = c.randomNormal([B, D], { seed: 3 });
  const y = c.tensor(
    Int32Array.from({ length: B }, (_, i) => i % C),
    [B],
  );
  markedStep(model, x, y); // first step builds the optimizer state
  const meter = new Meter();
  meter.measure(() => markedStep(model, x, y));
  const s = meter.snapshot();
  const P = D * H + H + H * C + C;
  // Forward: x[B,D] @ W1[D,H] and h[B,H] @ W2[H,C].
  assert.equal(flopsOf(s, { family: 'matmul', phase: 'forward' }), 2 * B * D * H + 2 * B * H * C);
  // Backward: dW2 = h^T dy (2*H*C*B), dh = dy W2^T (2*B*C*H), dW1 = x^T dz (2*D*H*B); no dx for the input.
  assert.equal(flopsOf(s, { family: 'matmul', phase: 'backward' }), 2 * B * H * C + 2 * B * C * H + 2 * B * D * H);
  // Adam (Keras form), per parameter: m (sub, mul, add) 3 + v (square, sub, mul, add) 4 + direction
  // (mul, sqrt, add, div) 4 + learning rate (mul) 1 + update (add) 1 = 13.
  assert.equal(s.byPhase.optimizer.flops, 13 * P);
  assert.equal(flopsOf(s, { family: 'matmul', phase: 'optimizer' }), 0);
  assert.equal(s.byPhase.other.flops, 0, 'every FLOP of the step is attributed to a phase');
  assert.equal(s.trainingFlops, s.total.flops);
  assert.equal(s.byPhase.forward.flops + s.byPhase.backward.flops + s.byPhase.optimizer.flops, s.total.flops);
  if (s.rows.some((r) => r.scope !== '')) {
    // Layers open scopes (Layer.apply): each Dense's forward FLOPs are its matmul + bias + activation
    // (softmax counts 4 per element in its cost model: max, subtract-exp, sum, divide).
    const [d1, d2] = model.layers;
    const inLayer = (name: string) =>
      s.rows.filter((r) => r.phase === 'forward' && r.scope.split('/').includes(name)).reduce((t, r) => t + r.flops, 0);
    assert.equal(inLayer(d1.name), 2 * B * D * H + B * H + B * H);
    assert.equal(inLayer(d2.name), 2 * B * H * C + B * C + 4 * B * C);
  }
  c.dispose([x, y]);
  model.dispose();
});

test('CNN training step: conv forward + weight gradient (no input gradient for the first layer), dense grads', () => {
  const [N, Hi, Wi, Cin, F, k, C] = [4, 6, 6, 2, 3, 3, 5];
  const [Ho, Wo] = [Hi - k + 1, Wi - k + 1];
  const flat = Ho * Wo * F;
  const model = new c.Sequential([
    c.layers.conv2d({ filters: F, kernelSize: k, activation: 'relu', inputShape: [Hi, Wi, Cin] }),
    c.layers.flatten(),
    c.layers.dense({ units: C, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = c.randomNormal([N, Hi, Wi, Cin], { seed: 5 });
  const y = c.tensor(
    Int32Array.from({ length: N }, (_, i) => i % C),
    [N],
  );
  markedStep(model, x, y);
  const meter = new Meter();
  meter.measure(() => markedStep(model, x, y));
  const s = meter.snapshot();
  const convForward = 2 * N * Ho * Wo * F * k * k * Cin;
  const forward =
    flopsOf(s, { family: 'matmul', phase: 'forward' }) + flopsOf(s, { family: 'convolution', phase: 'forward' });
  assert.equal(forward, convForward + 2 * N * flat * C);
  const convWeightGrad = 2 * (k * k * Cin) * F * (N * Ho * Wo);
  const denseGrads = 2 * flat * C * N + 2 * N * C * flat;
  // The weight gradient is one conv2dBackpropFilter: a kernel (convolution), or on a backend without one
  // its composite, whose matmul is metered instead.
  const convBackward = flopsOf(s, { family: 'convolution', phase: 'backward' });
  assert.ok(convBackward === 0 || convBackward === convWeightGrad, `conv backward FLOPs ${convBackward}`);
  assert.equal(convBackward + flopsOf(s, { family: 'matmul', phase: 'backward' }), convWeightGrad + denseGrads);
  const P = k * k * Cin * F + F + flat * C + C;
  assert.equal(s.byPhase.optimizer.flops, 13 * P);
  c.dispose([x, y]);
  model.dispose();
});

test('trainOnBatch meters the same matmul FLOPs whether or not the trainer marks phases', () => {
  const [B, D, H, C] = [8, 6, 5, 3];
  const model = mlp(D, H, C);
  const x = c.randomNormal([B, D], { seed: 4 });
  const y = c.tensor(
    Int32Array.from({ length: B }, (_, i) => i % C),
    [B],
  );
  const meter = new Meter();
  meter.measure(() => model.trainOnBatch(x, y));
  const s = meter.snapshot();
  const matmul = flopsOf(s, { family: 'matmul' });
  assert.equal(matmul, 2 * B * D * H + 2 * B * H * C + (4 * B * H * C + 2 * B * D * H));
  if (s.byPhase.forward.calls > 0) {
    // Once Trainer.step marks phases, they split exactly as in the hand-marked step.
    assert.equal(flopsOf(s, { family: 'matmul', phase: 'forward' }), 2 * B * D * H + 2 * B * H * C);
    assert.equal(s.byPhase.optimizer.flops, 13 * (D * H + H + H * C + C));
  }
  c.dispose([x, y]);
  model.dispose();
});

test('phase and scope marks nest, unwind on throw, and refuse promises', () => {
  assert.equal(currentPhase(), 'other');
  withPhase('backward', () => {
    withPhase('forward', () => assert.equal(currentPhase(), 'forward'));
    assert.equal(currentPhase(), 'backward');
    withLayerPath('model', () => withLayerPath('dense_1', () => assert.equal(currentLayerPath(), 'model/dense_1')));
  });
  assert.throws(
    () =>
      withPhase('optimizer', () => {
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(currentPhase(), 'other');
  assert.equal(currentLayerPath(), '');
  assert.throws(() => withPhase('forward', () => Promise.resolve(1)), /synchronous/);
  assert.throws(() => withLayerPath('x', async () => 1), /synchronous/);
  assert.equal(currentLayerPath(), '');
});

test('a stopped meter sees nothing; start/stop are idempotent; reset clears', () => {
  const meter = new Meter().start().start();
  const a = c.ones([3, 3]);
  const b = c.add(a, a);
  meter.stop().stop();
  c.dispose(c.mul(b, b));
  const s = meter.snapshot();
  assert.equal(s.total.calls, 1);
  assert.equal(s.total.flops, 9);
  assert.equal(s.rows[0].op, 'add');
  assert.equal(s.rows[0].family, 'elementwise');
  assert.deepEqual(s.backends, [c.getBackend().name]);
  assert.equal(meter.reset().snapshot().total.calls, 0);
  // Counting goes on after a reset, into fresh rows (the meter remembers its last row set between calls).
  meter.start();
  c.dispose(c.add(b, b));
  meter.stop();
  const again = meter.snapshot();
  assert.equal(again.total.calls, 1);
  assert.deepEqual(
    again.rows.map((r) => r.op),
    ['add'],
  );
  assert.deepEqual(again.backends, [c.getBackend().name]);
  c.dispose([a, b]);
});

test('profiler table: one line per op with calls, time, share, FLOPs and GFLOP/s, then the total', () => {
  const meter = new Meter();
  // Synthetic events give exact, checkable numbers.
  withPhase('forward', () => {
    meter.record({ op: 'matmul', fused: false, flops: 2e9, bytes: 4e6, ms: 100, backend: 'js' });
    meter.record({ op: 'matmul', fused: false, flops: 2e9, bytes: 4e6, ms: 100, backend: 'js' });
    withLayerPath('dense_1', () =>
      meter.record({ op: 'add', fused: false, flops: 1e7, bytes: 1e6, ms: 50, backend: 'js' }),
    );
  });
  withPhase('optimizer', () =>
    meter.record({ op: 'softmax', fused: true, flops: 4e6, bytes: 2e6, ms: 50, backend: 'js' }),
  );
  const s = meter.snapshot();
  const text = formatProfile(s, { wallSeconds: 1 });
  const lines = text.split('\n');
  assert.match(lines[0], /^Op\s+Family\s+Calls\s+Total ms\s+Avg us\s+% time\s+FLOPs\s+GFLOP\/s\s+Bytes$/);
  const matmul = lines.find((l) => l.startsWith('matmul'))!;
  assert.match(matmul, /matmul\s+matmul\s+2\s+200\.00\s+100000\.0\s+66\.7%\s+4\.00 G\s+20\.00\s+8\.00 M/);
  assert.ok(lines.some((l) => /^softmax \(fused\)\s+softmax\s+1\s+50\.00/.test(l)));
  assert.match(
    lines.find((l) => l.startsWith('Total'))!,
    /Total\s+4\s+300\.00\s+75000\.0\s+100\.0%\s+4\.01 G\s+13\.38\s+11\.0 M/,
  );
  assert.match(text, /Wall time 1\.00 s; kernels 0\.30 s \(30\.0%\)/);
  assert.match(text, /Training FLOPs \(forward \+ backward \+ optimizer\): 4,014,000,000/);
  assert.deepEqual(
    profileLines(s, { groupBy: 'phase' }).map((l) => [l.name, l.calls]),
    [
      ['forward', 3],
      ['optimizer', 1],
    ],
  );
  assert.deepEqual(
    profileLines(s, { groupBy: 'layer', sortBy: 'calls' }).map((l) => l.name),
    ['(no layer)', 'dense_1'],
  );
  assert.deepEqual(
    profileLines(s, { phase: 'optimizer' }).map((l) => l.name),
    ['softmax (fused)'],
  );
  assert.match(formatProfile(s, { limit: 1 }), /\.\.\. 2 more/);
  assert.throws(() => profileLines(s, { groupBy: 'nope' as never }), /groupBy/);
  assert.equal(opFamily('conv2dBackpropInput'), 'convolution');
  assert.equal(opFamily('gather'), 'data movement');
  assert.equal(siNumber(1234567), '1.23 M');
  assert.equal(siNumber(12), '12');
});
