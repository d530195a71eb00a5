// Compiled steps (compile({ jitCompile })): fit, trainOnBatch, evaluate and predict replay traced plans with results
// bit-identical to eager mode (dropout, batch normalization's statistics, a conv net, partial last batches), meter
// the same FLOPs per phase, layer and op, keep memory flat, and fall back to eager mode (or refuse, with true) for
// a step whose course depends on data read back into JavaScript.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

type Jit = boolean | 'auto';

function mlp(jitCompile: Jit): c.Sequential {
  c.setSeed(11);
  const m = new c.Sequential([
    c.layers.dense({ units: 24, activation: 'relu', inputShape: [13] }),
    c.layers.dropout({ rate: 0.25 }),
    c.layers.dense({ units: 5, activation: 'softmax' }),
  ]);
  m.compile({
    optimizer: c.optimizers.adam({ learningRate: 0.01 }),
    loss: 'sparseCategoricalCrossentropy',
    metrics: ['accuracy'],
    jitCompile,
  });
  return m;
}

function cnn(jitCompile: Jit): c.Sequential {
  c.setSeed(5);
  const m = new c.Sequential([
    c.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', inputShape: [9, 9, 2] }),
    c.layers.batchNormalization(),
    c.layers.maxPooling2d({ poolSize: 2 }),
    c.layers.flatten(),
    c.layers.dropout({ rate: 0.5 }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  m.compile({
    optimizer: c.optimizers.sgd({ learningRate: 0.05, momentum: 0.9 }),
    loss: 'sparseCategoricalCrossentropy',
    jitCompile,
  });
  return m;
}

function labels(n: number, classes: number, seed: number): c.Tensor {
  return c.tidy(() => c.cast(c.mul(c.randomUniform([n], { seed }), classes), 'int32'));
}

/** Every weight of the model (non-trainable ones too) as raw bits. */
function bits(m: c.Model): Uint8Array[] {
  return m.weights.map((w) => {
    const d = w.value.dataSync();
    return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
  });
}

const compiledSteps = (m: c.Model) =>
  m
    .jitStatus()
    .filter((s) => s.compiled)
    .map((s) => s.step);

/**
 * Whether dropout runs as one kernel here (the native backend): elsewhere its composite draws the mask in
 * JavaScript from Philox blocks read back, so training steps with dropout run eagerly, and say so.
 */
const fusedDropout = () => c.getBackend().fused.dropout !== undefined;
const READ_BACK = /the result of philox is read back into JavaScript/;

test('trainOnBatch compiled: weights, losses and metrics bit-identical to eager over 8 steps (dropout on)', () => {
  const x = c.randomNormal([17, 13], { seed: 1 }),
    y = labels(17, 5, 2);
  const eager = mlp(false),
    jit = mlp('auto');
  for (let step = 0; step < 8; step++)
    assert.deepEqual(jit.trainOnBatch(x, y), eager.trainOnBatch(x, y), `step ${step}`);
  assert.deepEqual(bits(jit), bits(eager));
  if (fusedDropout()) assert.deepEqual(compiledSteps(jit), ['train']);
  else assert.match(jit.jitStatus()[0].reason!, READ_BACK);
  assert.deepEqual(compiledSteps(eager), []);
});

test('fit compiled: a conv net with batch normalization and dropout, shuffled, partial last batch, is bit-identical', async () => {
  const x = c.randomUniform([37, 9, 9, 2], { seed: 3 }),
    y = labels(37, 3, 4);
  const run = async (jit: Jit) => {
    const m = cnn(jit);
    const h = await m.fit(x, y, { epochs: 3, batchSize: 8, seed: 9, verbose: 0, validationData: [x, y] });
    return { m, history: h.history };
  };
  const eager = await run(false),
    jit = await run('auto');
  assert.deepEqual(jit.history, eager.history);
  assert.deepEqual(bits(jit.m), bits(eager.m), 'weights and moving statistics');
  // Batches of 8 and the last of 5: one plan per batch shape, for training and for the validation passes.
  const status = jit.m.jitStatus();
  const train = status.filter((s) => s.step === 'train');
  assert.equal(train.length, 2, JSON.stringify(status));
  for (const s of train) fusedDropout() ? assert.ok(s.compiled, JSON.stringify(s)) : assert.match(s.reason!, READ_BACK);
  assert.deepEqual(status.filter((s) => s.step === 'test' && s.compiled).length, 2, JSON.stringify(status));
  const pe = eager.m.predict(x, { batchSize: 16 }) as c.Tensor,
    pj = jit.m.predict(x, { batchSize: 16 }) as c.Tensor;
  for (let i = 0; i < 3; i++) {
    const again = jit.m.predict(x, { batchSize: 16 }) as c.Tensor;
    assert.deepEqual(again.dataSync(), pe.dataSync());
    again.dispose();
  }
  assert.deepEqual(pj.dataSync(), pe.dataSync());
  assert.ok(
    jit.m.jitStatus().some((s) => s.step === 'predict' && s.compiled),
    JSON.stringify(jit.m.jitStatus()),
  );
});

test('a compiled step meters the same FLOPs, bytes and calls per phase, layer and op as eager mode', () => {
  const x = c.randomNormal([9, 13], { seed: 5 }),
    y = labels(9, 5, 6);
  const metered = (jit: Jit) => {
    const m = mlp(jit);
    m.trainOnBatch(x, y);
    m.trainOnBatch(x, y);
    const meter = new c.Meter().start();
    for (let i = 0; i < 3; i++) m.trainOnBatch(x, y);
    meter.stop();
    // Rows without times; layer paths without the numbers that tell the two models' layers apart.
    return meter
      .snapshot()
      .rows.map(({ ms, scope, ...row }) => (void ms, { ...row, scope: scope.replace(/_\d+/g, '') }))
      .sort((p, q) => JSON.stringify(p).localeCompare(JSON.stringify(q)));
  };
  const eager = metered(false),
    jit = metered('auto');
  assert.ok(eager.some((r) => r.phase === 'backward' && r.flops > 0));
  assert.deepEqual(jit, eager);
});

test('compiled steps keep the live tensor count and pooled memory flat', () => {
  const x = c.randomNormal([8, 13], { seed: 7 }),
    y = labels(8, 5, 8);
  const m = mlp('auto');
  for (let i = 0; i < 5; i++) m.trainOnBatch(x, y);
  const before = c.memory();
  for (let i = 0; i < 200; i++) m.trainOnBatch(x, y);
  assert.deepEqual(c.memory(), before);
});

/** A layer whose output depends on a value read back into JavaScript: no plan can replay it. */
class ReadsBack extends c.Layer {
  override call(inputs: c.Tensor | c.Tensor[]): c.Tensor {
    const x = inputs as c.Tensor;
    const big = c.sum(c.abs(x)).item() > 1e9;
    return big ? c.mul(x, 0) : c.mul(x, 2);
  }
}

test("jitCompile 'auto' runs a step that reads a result back eagerly (and says why); true refuses it", async () => {
  const make = (jitCompile: Jit) => {
    c.setSeed(2);
    const m = new c.Sequential([
      c.layers.dense({ units: 4, inputShape: [3] }),
      new ReadsBack({}),
      c.layers.dense({ units: 1 }),
    ]);
    m.compile({ optimizer: 'sgd', loss: 'meanSquaredError', jitCompile });
    return m;
  };
  const x = c.randomNormal([6, 3], { seed: 1 }),
    y = c.randomNormal([6, 1], { seed: 2 });
  const eager = make(false),
    auto = make('auto');
  for (let i = 0; i < 4; i++) assert.deepEqual(auto.trainOnBatch(x, y), eager.trainOnBatch(x, y));
  assert.deepEqual(bits(auto), bits(eager));
  const [status] = auto.jitStatus();
  assert.equal(status.compiled, false);
  assert.match(status.reason!, /read back into JavaScript/);
  await assert.rejects(make(true).fit(x, y, { epochs: 1, verbose: 0 }), (e: Error) => {
    assert.ok(e instanceof c.ArgumentError);
    assert.match(e.message, /jitCompile: true.*read back into JavaScript/);
    return true;
  });
});

test('compile() rejects a jitCompile that is not true, false or auto', () => {
  const m = mlp(false);
  assert.throws(() => m.compile({ loss: 'meanSquaredError', jitCompile: 'yes' as never }), /jitCompile must be/);
});
