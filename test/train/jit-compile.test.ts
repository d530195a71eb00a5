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

test('fit compiled: conv net, batch norm, dropout, shuffled, partial last batch: bit-identical', async () => {
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

test("jitCompile 'auto' runs a step that reads a result back eagerly (and says why); true refuses it", () => {
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
  // Traced three times before giving up (a first step may do one-time work), then refused.
  const strict = make(true);
  strict.trainOnBatch(x, y);
  strict.trainOnBatch(x, y);
  assert.throws(
    () => strict.trainOnBatch(x, y),
    (e: Error) => e instanceof c.ArgumentError && /jitCompile: true.*read back into JavaScript/.test(e.message),
  );
});

test('compile() rejects a jitCompile that is not true, false or auto', () => {
  const m = mlp(false);
  assert.throws(() => m.compile({ loss: 'meanSquaredError', jitCompile: 'yes' as never }), /jitCompile must be/);
});

/** A 4 -> 4 dense model under `jitCompile`, with `loss`; the same weights on every call. */
function small(jitCompile: Jit, loss: c.CompileArgs['loss'] = 'meanSquaredError'): c.Sequential {
  c.setSeed(3);
  const m = new c.Sequential([c.layers.dense({ units: 4, inputShape: [4] })]);
  m.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.01 }), loss, jitCompile });
  return m;
}

/** Runs `scenario` on an eager and a compiled model and checks that they give the same results. */
async function sameAsEager<T>(scenario: (jit: Jit) => T | Promise<T>): Promise<T> {
  const eager = await scenario(false),
    jit = await scenario('auto');
  assert.deepEqual(jit, eager);
  return jit;
}

test('replays bind what they are given: batches that share a buffer, a weight assigned a transposed view', async () => {
  const x = c.randomUniform([8, 4], { seed: 1 }),
    y = c.randomUniform([8, 4], { seed: 2 });
  // evaluate(x, x) traces x and y as one buffer; evaluate(x, y) must not replay that.
  await sameAsEager(async (jit) => {
    const m = small(jit);
    return [await m.evaluate(x, x, { batchSize: 2, verbose: 0 }), await m.evaluate(x, y, { batchSize: 2, verbose: 0 })];
  });
  await sameAsEager((jit) => {
    const m = small(jit);
    for (let i = 0; i < 3; i++) (m.predict(x, { verbose: 0 }) as c.Tensor).dispose();
    m.layers[0].weights[0].assign(c.transpose(c.randomUniform([4, 4], { seed: 9 })));
    return Array.from((m.predict(x, { verbose: 0 }) as c.Tensor).dataSync());
  });
});

test('a replay reads a captured Variable as it is now, and every part of a constant the step made', async () => {
  const x = c.randomUniform([8, 4], { seed: 1 }),
    y = c.randomUniform([8, 4], { seed: 2 });
  const losses = await sameAsEager((jit) => {
    const beta = new c.Variable('beta', c.scalar(1));
    const m = small(jit, (yTrue: c.Tensor, yPred: c.Tensor) => {
      const [p, q] = c.split(c.tensor([1, 2, 3, 4]), 2);
      return c.mul(c.mul(c.mean(c.square(c.sub(yPred, yTrue))), beta.value), c.add(c.sum(p), c.sum(q)));
    });
    return Array.from({ length: 5 }, (_, i) => {
      if (i === 4) beta.assign(c.scalar(0));
      return m.trainOnBatch(x, y).loss;
    });
  });
  assert.equal(losses[4], 0);
});

test('a replay checks its labels as eager mode does; a model predicting in a traced loss runs eagerly', async () => {
  const x = c.randomUniform([8, 4], { seed: 1 });
  const good = c.tensor([0, 1, 2, 3, 0, 1, 2, 3], [8], 'int32'),
    bad = c.tensor([0, 1, 2, 3, 0, 1, 2, 9], [8], 'int32');
  const m = small('auto', 'sparseCategoricalCrossentropy');
  for (let i = 0; i < 3; i++) m.trainOnBatch(x, good);
  assert.ok(m.jitStatus()[0].compiled);
  assert.throws(() => m.trainOnBatch(x, bad), /label 9 at index 7 is not a class index in \[0, 4\)/);
  await sameAsEager((jit) => {
    // The teacher's predict is compiled before the student's loss calls it.
    const teacher = small('auto');
    for (let i = 0; i < 3; i++) (teacher.predict(x, { verbose: 0 }) as c.Tensor).dispose();
    const student = small(jit, (_: c.Tensor, yPred: c.Tensor) =>
      c.mean(c.square(c.sub(yPred, teacher.predict(x, { verbose: 0 }) as c.Tensor))),
    );
    return Array.from({ length: 4 }, (_, i) => {
      if (i === 3) teacher.trainOnBatch(x, c.randomUniform([8, 4], { seed: 5 }));
      return student.trainOnBatch(x, c.zeros([8, 4])).loss;
    });
  });
});
