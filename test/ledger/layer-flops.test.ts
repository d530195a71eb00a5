// FLOPs by layer, forward and backward: one training step of an MLP and of a small CNN, metered, against
// counts written out here from the shapes. Every kernel of the step is attributed to a layer, to the loss
// or to the optimizer (and the compiled metrics to 'metrics'), and the meter loses nothing.
//
// The cost model's conventions the counts follow (src/ops): a matmul [M,K]x[K,N] is 2*M*N*K; an
// elementwise op is 1 per output element (compares, casts and copies 0); a reduction 1 per input element;
// softmax and log-softmax 4 per element; a conv2d 2*N*Ho*Wo*Cout*kh*kw*Cin; a pool 1 per window element.
// A fused kernel (bias + activation, sparse softmax cross-entropy and its gradient, sgdStep) costs what its
// unfused primitives cost, so the per-layer sums are the same on every backend; where they are not (max
// pooling's gradient on a backend without its kernel runs a composite), the test says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { Meter, opFamily, type MeterSnapshot } from '../../src/ledger/meter.js';
import { LOSS_SCOPE, METRICS_SCOPE, OPTIMIZER_SCOPE, type Phase } from '../../src/autograd/annotations.js';
import { PRIMITIVES, PRIMITIVE_NAMES } from '../../src/ops/primitives.js';
import { FUSED, FUSED_NAMES } from '../../src/ops/families/index.js';
import { formatLayerFlops, layerFlops } from '../../src/ledger/layer-flops.js';
import { candor } from '../cli/run.js';
import { tempDir, tinyRun } from './fixtures.js';

/** FLOPs of one phase by layer path. */
function byScope(s: MeterSnapshot, phase: Phase): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of s.rows) if (r.phase === phase) out.set(r.scope, (out.get(r.scope) ?? 0) + r.flops);
  return out;
}

/**
 * One trainOnBatch metered (after a first one that builds the model and the optimizer's state), with a
 * second, independent dispatch hook adding up every kernel's FLOPs, to show the meter keeps them all.
 */
function meteredStep(model: c.Model, x: c.Tensor, y: c.Tensor): { s: MeterSnapshot; hooked: number } {
  model.trainOnBatch(x, y);
  const meter = new Meter();
  let hooked = 0;
  const unhook = c.onKernel((e) => (hooked += e.flops));
  try {
    meter.measure(() => model.trainOnBatch(x, y));
  } finally {
    unhook();
  }
  return { s: meter.snapshot(), hooked };
}

/** Every row's layer path is one of the model's layers, or the loss, optimizer or metrics path. */
function assertAllAttributed(s: MeterSnapshot, layerPaths: readonly string[]): void {
  const allowed = new Set([...layerPaths, LOSS_SCOPE, OPTIMIZER_SCOPE, METRICS_SCOPE]);
  for (const r of s.rows) {
    assert.ok(allowed.has(r.scope), `${r.phase} ${r.op} is metered under '${r.scope}'`);
    assert.notEqual(r.family, 'other', `${r.op} has no family`);
    // Training phases for the step's work; only the metrics run outside them.
    assert.equal(r.phase === 'other', r.scope === METRICS_SCOPE, `${r.op} at '${r.scope}' in phase ${r.phase}`);
    if (r.scope === OPTIMIZER_SCOPE) assert.equal(r.phase, 'optimizer', r.op);
  }
}

/** The loss, sparse categorical cross-entropy on a softmax output of C classes for B examples. */
function sparseCrossEntropy(B: number, C: number): { forward: number; backward: number } {
  // Keras takes the logits under the softmax, so the loss computes log-softmax (4BC), picks the label's
  // term (one-hot product BC, sum over classes BC), negates (B), sums over the batch (B) and divides by
  // B (1). Backward: the mean's 1, the one-hot product BC, the softmax 4BC and the subtraction BC. The
  // output layer's own softmax is off the gradient path: it has no backward.
  return { forward: 4 * B * C + B * C + B * C + B + B + 1, backward: 1 + B * C + 4 * B * C + B * C };
}

test('MLP step: per-layer forward and backward FLOPs equal the analytic counts; all attributed', () => {
  const [B, D, H, C] = [4, 784, 128, 10];
  const model = new c.Sequential({
    name: 'mlp',
    layers: [
      c.layers.dense({ units: H, activation: 'relu', inputShape: [D], name: 'hidden' }),
      c.layers.dense({ units: C, activation: 'softmax', name: 'out' }),
    ],
  });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const x = c.randomNormal([B, D], { seed: 1 });
  const y = c.tensor([3, 1, 4, 1], [B], 'int32');
  const { s, hooked } = meteredStep(model, x, y);
  const loss = sparseCrossEntropy(B, C);

  const forward = byScope(s, 'forward');
  // x W1 (2BDH), + b1 (BH), relu (BH); h W2 (2BHC), + b2 (BC), softmax (4BC).
  assert.equal(forward.get('mlp/hidden'), 2 * B * D * H + B * H + B * H);
  assert.equal(forward.get('mlp/out'), 2 * B * H * C + B * C + 4 * B * C);
  assert.equal(forward.get(LOSS_SCOPE), loss.forward);
  assert.equal(forward.size, 3);

  const backward = byScope(s, 'backward');
  // out: dh = dz W2^T (2BCH), dW2 = h^T dz (2HBC), db2 = sum over the batch (BC).
  assert.equal(backward.get('mlp/out'), 2 * B * C * H + 2 * H * B * C + B * C);
  // hidden: relu's gradient (BH), dW1 = x^T dz (2DBH), db1 (BH); no dx: the input is not differentiated.
  assert.equal(backward.get('mlp/hidden'), B * H + 2 * D * B * H + B * H);
  assert.equal(backward.get(LOSS_SCOPE), loss.backward);
  assert.equal(backward.size, 3);

  // SGD without momentum: p - lr * g, 2 per parameter.
  const params = D * H + H + H * C + C;
  assert.deepEqual([...byScope(s, 'optimizer')], [[OPTIMIZER_SCOPE, 2 * params]]);

  assertAllAttributed(s, ['mlp/hidden', 'mlp/out']);
  const sum = s.rows.reduce((t, r) => t + r.flops, 0);
  assert.equal(sum, s.total.flops);
  assert.equal(hooked, s.total.flops, 'the meter keeps every kernel the dispatcher reported');
  const training = [...forward.values(), ...backward.values()].reduce((a, b) => a + b, 0) + 2 * params;
  assert.equal(s.trainingFlops, training);
  assert.equal(s.total.flops - s.trainingFlops, byScope(s, 'other').get(METRICS_SCOPE) ?? 0, 'only the metrics');

  // The by-layer table puts each layer's forward and backward side by side.
  const hidden = layerFlops(s).find((l) => l.layer === 'mlp/hidden')!;
  assert.equal(hidden.flops.forward, forward.get('mlp/hidden'));
  assert.equal(hidden.flops.backward, backward.get('mlp/hidden'));
  assert.equal(hidden.total, hidden.flops.forward + hidden.flops.backward);
  const table = formatLayerFlops(s).split('\n');
  assert.match(table[0], /^Layer\s+Forward\s+Backward\s+Optimizer\s+Other\s+Total\s+% FLOPs\s+ms$/);
  // Forward 2*4*784*128 + 512 + 512 = 803,840; backward 512 + 2*784*4*128 + 512 = 803,840.
  assert.match(
    table.find((l) => l.startsWith('mlp/hidden'))!,
    /^mlp\/hidden\s+804 k\s+804 k\s+0\s+0\s+1\.61 M\s/,
  );
  assert.match(
    table.find((l) => l.startsWith('optimizer'))!,
    /^optimizer\s+0\s+0\s+204 k\s+0\s+204 k/,
  );
  c.dispose([x, y]);
  model.dispose();
});

test('CNN step (Conv2D + max pooling + Dense with an L2 penalty): per-layer FLOPs, forward and backward', () => {
  const [N, Hi, Wi, Cin, F, k, p, C] = [2, 8, 8, 2, 4, 3, 2, 3];
  const [Ho, Wo] = [Hi - k + 1, Wi - k + 1];
  const [Hp, Wp] = [Ho / p, Wo / p];
  const flat = Hp * Wp * F;
  const model = new c.Sequential({
    name: 'cnn',
    layers: [
      c.layers.conv2d({ filters: F, kernelSize: k, activation: 'relu', inputShape: [Hi, Wi, Cin], name: 'conv' }),
      c.layers.maxPooling2d({ poolSize: p, name: 'pool' }),
      c.layers.flatten({ name: 'flat' }),
      c.layers.dense({ units: C, activation: 'softmax', kernelRegularizer: c.regularizers.l2(0.01), name: 'head' }),
    ],
  });
  model.compile({ optimizer: 'sgd', loss: 'sparseCategoricalCrossentropy' });
  const x = c.randomNormal([N, Hi, Wi, Cin], { seed: 2 });
  const y = c.tensor([0, 2], [N], 'int32');
  const { s, hooked } = meteredStep(model, x, y);
  const loss = sparseCrossEntropy(N, C);
  const conv = 2 * N * Ho * Wo * F * k * k * Cin;
  const convOut = N * Ho * Wo * F;
  const K = flat * C; // the head's kernel, penalised: 0.01 * sum(w * w)

  const forward = byScope(s, 'forward');
  assert.equal(forward.get('cnn/conv'), conv + convOut + convOut, 'conv, + bias, relu');
  assert.equal(forward.get('cnn/pool'), N * Hp * Wp * F * p * p, 'a max over each window');
  assert.equal(forward.has('cnn/flat'), false, 'a reshape runs no kernel');
  // The matmul, + bias, softmax; and the kernel's penalty, metered under the layer that owns it: w * w
  // (K), sum (K), scale (1).
  assert.equal(forward.get('cnn/head'), 2 * N * flat * C + N * C + 4 * N * C + (K + K + 1));
  assert.equal(forward.get(LOSS_SCOPE), loss.forward + 1, 'and the penalty added to the loss');

  const backward = byScope(s, 'backward');
  // The filter gradient (as many FLOPs as the convolution), the bias gradient and relu's; no input gradient.
  assert.equal(backward.get('cnn/conv'), conv + convOut + convOut);
  // Max pooling's gradient: one per window element with its kernel; a backend without one runs the
  // composite (argmax over each window, then the p*p - 1 sums of the shifted window contributions).
  const fusedPool = s.rows.some((r) => r.op === 'maxPool2dBackprop');
  const poolWindows = N * Hp * Wp * F * p * p;
  assert.equal(backward.get('cnn/pool'), fusedPool ? poolWindows : poolWindows + (p * p - 1) * convOut);
  // dx (2NCf), dW (2fNC), db (NC); the penalty's: the scale's 1, d(w * w) = dy * w for each factor (2K)
  // summed (K), then added to the data gradient of the kernel (K).
  assert.equal(backward.get('cnn/head'), 2 * N * C * flat + 2 * flat * N * C + N * C + (1 + 2 * K + K + K));
  assert.equal(backward.get(LOSS_SCOPE), loss.backward);
  assert.equal(backward.size, 4);

  const params = k * k * Cin * F + F + flat * C + C;
  assert.deepEqual([...byScope(s, 'optimizer')], [[OPTIMIZER_SCOPE, 2 * params]]);
  assertAllAttributed(s, ['cnn/conv', 'cnn/pool', 'cnn/head']);
  assert.equal(
    s.rows.reduce((t, r) => t + r.flops, 0),
    s.total.flops,
  );
  assert.equal(hooked, s.total.flops);
  assert.equal(s.trainingFlops, s.total.flops, 'no metrics compiled: every FLOP is training');
  c.dispose([x, y]);
  model.dispose();
});

test('a custom training loop: backward kernels under the layer they differentiate, the update under optimizer', () => {
  const model = new c.Sequential({
    name: 'net',
    layers: [c.layers.dense({ units: 3, inputShape: [5], name: 'a' }), c.layers.dense({ units: 2, name: 'b' })],
  });
  const optimizer = c.getOptimizer('sgd');
  const x = c.randomNormal([6, 5], { seed: 3 });
  model.apply(x); // builds the weights
  const meter = new Meter();
  meter.measure(() => {
    // No phase marks: the loss is the user's own, outside every layer.
    const { value, grads } = c.valueAndGrads(
      () => c.mean(c.square(model.apply(x) as c.Tensor)),
      model.trainableWeights,
    );
    optimizer.applyGradients(grads, model.trainableWeights);
    c.dispose([value, grads]);
  });
  const s = meter.snapshot();
  const scopes = new Set(s.rows.map((r) => r.scope));
  assert.deepEqual([...scopes].sort(), ['', 'net/a', 'net/b', OPTIMIZER_SCOPE]);
  // b's backward: dx (2*6*2*3), dW (2*3*6*2), db (6*2); a's: dW (2*5*6*3), db (6*3).
  const matmulAndBias = (scope: string) =>
    s.rows.filter((r) => r.scope === scope && r.op !== 'copy').reduce((t, r) => t + r.flops, 0);
  assert.equal(matmulAndBias('net/b'), 2 * 6 * 3 * 2 + 6 * 2 + (2 * 6 * 2 * 3 + 2 * 3 * 6 * 2 + 6 * 2));
  assert.equal(matmulAndBias('net/a'), 2 * 6 * 5 * 3 + 6 * 3 + (2 * 5 * 6 * 3 + 6 * 3));
  // The optimizer marks its own phase, called from any loop.
  assert.ok(s.rows.filter((r) => r.scope === OPTIMIZER_SCOPE).every((r) => r.phase === 'optimizer'));
  assert.equal(s.byPhase.optimizer.flops, 2 * (5 * 3 + 3 + 3 * 2 + 2));
  c.dispose(x);
  model.dispose();
});

test('every registered op, primitive or fused, has a family from its spec (none is "other")', () => {
  for (const op of PRIMITIVE_NAMES) {
    assert.ok(PRIMITIVES[op].family, op);
    assert.equal(opFamily(op), PRIMITIVES[op].family, op);
  }
  for (const op of FUSED_NAMES) assert.equal(opFamily(op), FUSED[op].family, op);
  for (const op of [...PRIMITIVE_NAMES, ...FUSED_NAMES]) assert.notEqual(opFamily(op), 'other', op);
  assert.equal(opFamily('noSuchOp'), 'other', 'what no spec names');
});

test('the run record keeps backward FLOPs by layer, and `candor profile --by layer` shows them', async () => {
  const tmp = tempDir();
  const saved = process.env.CANDOR_CONFIG_DIR;
  process.env.CANDOR_CONFIG_DIR = tmp.dir;
  const run = await tinyRun({ dir: tmp.dir, epochs: 1, evaluate: false });
  try {
    const layers = run.model.layers.map((l) => `${run.model.name}/${l.name}`);
    const lines = layerFlops(run.record.compute);
    for (const layer of layers) {
      const line = lines.find((l) => l.layer === layer);
      assert.ok(line && line.flops.forward > 0 && line.flops.backward > 0, `${layer}: ${JSON.stringify(line)}`);
    }
    for (const r of run.record.compute.rows) {
      assert.notEqual(r.scope, '', `${r.phase} ${r.op} is attributed to nothing`);
      if (r.phase === 'backward') assert.ok([...layers, LOSS_SCOPE].includes(r.scope), `${r.op} at '${r.scope}'`);
    }
    assert.equal(
      lines.reduce((t, l) => t + l.total, 0),
      run.record.compute.total.flops,
    );
    const r = candor('profile', tmp.dir, '--by', 'layer');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /FLOPs by layer and phase:\nLayer\s+Forward\s+Backward\s+Optimizer/);
    for (const name of [...layers, LOSS_SCOPE, OPTIMIZER_SCOPE])
      assert.match(r.out, new RegExp(`^${name.replace('/', '\\/')}\\s+\\S`, 'm'), name);
  } finally {
    run.dispose();
    if (saved === undefined) delete process.env.CANDOR_CONFIG_DIR;
    else process.env.CANDOR_CONFIG_DIR = saved;
    tmp.done();
  }
});
