// Silent wrong training (issue 11): layers held in a custom layer's fields are tracked and trained, the training
// flag reaches nested calls without forwarding, per-call `training: false` in a graph holds (and is saved), and
// freezing a model freezes its children. Each test failed before the fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import { flat, withDir } from '../helpers.js';

const snapshot = (vs: readonly c.Variable[]) => vs.map((v) => flat(v.value));
const size = (vs: readonly c.Variable[]) => vs.reduce((s, v) => s + v.value.size, 0);

/** A seeded regression problem: x [n, 4], y [n, 1]. */
function data(n: number, seed: number): { x: c.Tensor; y: c.Tensor } {
  const r = new c.RandomStream(seed);
  const x = r.normal([n, 4], 0, 1);
  const y = c.tidy(() => c.sum(c.mul(x, c.tensor([[0.5, -1, 2, 0.25]])), [1], true));
  return { x, y };
}

/** A custom layer holding layers in a field, an array, a Map and a plain object (none declared in sublayers()). */
class Block extends c.Layer {
  readonly proj = new c.Dense({ units: 6, activation: 'relu' });
  readonly heads = [new c.Dense({ units: 3 }), new c.Dense({ units: 3 })];
  readonly byName = new Map([['gate', new c.Dense({ units: 3, activation: 'sigmoid' })]]);
  readonly parts = { out: new c.Dense({ units: 1 }), spare: { again: this.proj } };
  call(x: c.Tensor | c.Tensor[]): c.Tensor {
    const h = this.proj.apply(x);
    const mixed = c.mul(c.add(this.heads[0].apply(h), this.heads[1].apply(h)), this.byName.get('gate')!.apply(h));
    return this.parts.out.apply(mixed);
  }
}

// proj 4*6+6, two heads and the gate 6*3+3 each, out 3*1+1: the proj held twice counts once.
const BLOCK_PARAMS = 30 + 3 * 21 + 4;

test('a custom layer tracks the layers in its fields, arrays, Maps and objects, and fit trains them all', async () => {
  c.setSeed(1);
  const block = new Block();
  const model = new c.Sequential([c.input({ shape: [4] }), block]);
  assert.equal(block.countParams(), BLOCK_PARAMS);
  assert.equal(model.countParams(), BLOCK_PARAMS);
  assert.equal(block.weights.length, 10, 'each weight once');
  assert.deepEqual(
    block.sublayers().map((l) => l.name),
    [block.proj, ...block.heads, block.byName.get('gate')!, block.parts.out].map((l) => l.name),
  );
  assert.match(
    model.summary(() => {}),
    new RegExp(`Trainable params: ${BLOCK_PARAMS} `),
  );
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'meanSquaredError' });
  const { x, y } = data(32, 2);
  const before = snapshot(block.weights);
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 3 });
  snapshot(block.weights).forEach((w, i) =>
    assert.notDeepEqual(w, before[i], `weight ${block.weights[i].name} was trained`),
  );
});

test('a subclass model holding a custom layer counts and trains the nested weights', async () => {
  class Net extends c.Model {
    readonly body = new Block();
    override call(x: c.Tensor | c.Tensor[]): c.Tensor {
      return this.body.apply(x);
    }
  }
  c.setSeed(4);
  const net = new Net();
  net.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'meanSquaredError' });
  const { x, y } = data(16, 5);
  await net.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 1 });
  assert.deepEqual(
    net.layers.map((l) => l.name),
    [net.body.name],
  );
  assert.equal(net.countParams(), BLOCK_PARAMS);
  assert.equal(size(net.trainableWeights), BLOCK_PARAMS);
});

test('a field pointing back to the parent neither loops nor counts twice', () => {
  class Child extends c.Layer {
    owner?: c.Layer;
    readonly dense = new c.Dense({ units: 2 });
    call(x: c.Tensor | c.Tensor[]): c.Tensor {
      return this.dense.apply(x);
    }
  }
  class Parent extends c.Layer {
    readonly child = new Child();
    call(x: c.Tensor | c.Tensor[]): c.Tensor {
      return this.child.apply(x);
    }
  }
  const parent = new Parent();
  parent.child.owner = parent;
  parent.apply(c.ones([1, 3]));
  assert.equal(parent.countParams(), 8);
  assert.deepEqual(
    parent.flattenLayers().map((l) => l.name),
    [parent.name, parent.child.name, parent.child.dense.name],
  );
  const model = new c.Sequential([c.input({ shape: [3] }), parent]);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'meanSquaredError' });
  const before = snapshot(parent.weights);
  model.trainOnBatch(c.ones([2, 3]), c.zeros([2, 2]));
  snapshot(parent.weights).forEach((w, i) => assert.notDeepEqual(w, before[i]));
  parent.trainable = false;
  assert.equal(parent.child.dense.trainable, false);
  model.dispose();
});

test('the training flag and seed reach a Dropout nested in a custom call without forwarding', () => {
  class Noisy extends c.Layer {
    readonly drop = new c.Dropout({ rate: 0.5, seed: 7 });
    explicit = false;
    call(x: c.Tensor | c.Tensor[]): c.Tensor {
      return this.explicit ? this.drop.apply(x, { training: false }) : this.drop.apply(x);
    }
  }
  const noisy = new Noisy();
  const x = c.ones([4, 50]);
  const trained = flat(noisy.apply(x, { training: true, seed: 11 }));
  assert.ok(trained.includes(0), 'dropped in training');
  assert.ok(trained.some((v) => v === 2) && trained.every((v) => v === 0 || v === 2));
  assert.deepEqual(flat(noisy.apply(x, { training: true, seed: 11 })), trained, 'the step seed reaches it');
  assert.deepEqual(flat(noisy.apply(x)), flat(x), 'inference outside');
  assert.deepEqual(flat(noisy.drop.apply(x)), flat(x), 'the context ends with the call');
  noisy.explicit = true;
  assert.deepEqual(flat(noisy.apply(x, { training: true, seed: 11 })), flat(x), 'an explicit flag wins');
});

/** A functional base with BatchNormalization, and a new model on top that calls it with `training`. */
function fineTune(training: boolean | undefined, freeze: boolean) {
  c.setSeed(9);
  const inp = c.input({ shape: [4] });
  const bn = new c.BatchNormalization();
  const base = new c.Model({ inputs: inp, outputs: bn.apply(new c.Dense({ units: 5 }).apply(inp)) });
  if (freeze) base.trainable = false;
  const top = c.input({ shape: [4] });
  const features = base.apply(top, training === undefined ? {} : { training });
  const model = new c.Model({ inputs: top, outputs: new c.Dense({ units: 1 }).apply(features) });
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.05 }), loss: 'meanSquaredError' });
  return { base, bn, model };
}

test('fine-tuning with training: false leaves a frozen BatchNormalization bit-identical', async () => {
  const { base, bn, model } = fineTune(false, true);
  const { x, y } = data(32, 6);
  const before = snapshot(base.weights);
  await model.fit(x, y, { epochs: 2, batchSize: 8, verbose: 0, seed: 2 });
  assert.deepEqual(snapshot(base.weights), before, 'base weights and moving statistics unchanged');
  assert.deepEqual(flat(bn.movingMean!.value), [0, 0, 0, 0, 0]);
  assert.equal(size(model.trainableWeights), 6, 'only the head trains');
});

test('training: false recorded on a graph call holds in fit even for a trainable base', async () => {
  const { bn, model } = fineTune(false, false);
  const { x, y } = data(32, 7);
  const gamma = flat(bn.gamma!.value);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 2 });
  assert.deepEqual(flat(bn.movingMean!.value), [0, 0, 0, 0, 0], 'inference mode: no statistics update');
  assert.deepEqual(flat(bn.movingVariance!.value), [1, 1, 1, 1, 1]);
  assert.notDeepEqual(flat(bn.gamma!.value), gamma, 'its weights still train');
});

test('a BatchNormalization frozen through its model runs in inference mode (Keras since TF 2.0)', async () => {
  const { base, model } = fineTune(undefined, true);
  const { x, y } = data(32, 8);
  const before = snapshot(base.weights);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 2 });
  assert.deepEqual(snapshot(base.weights), before);
});

test('a per-call training: false survives getConfig and save/load', async () => {
  const { model } = fineTune(false, true);
  const config = JSON.parse(JSON.stringify(model.getConfig())) as {
    layers: { className: string; inboundNodes: unknown[][][] }[];
  };
  const baseEntry = config.layers.find((l) => l.className === 'Functional')!;
  assert.deepEqual(baseEntry.inboundNodes[0][0][3], { training: false });
  const x = data(8, 3).x;
  await withDir(async (dir) => {
    await model.save(dir);
    const loaded = (await c.loadModel(dir)) as c.Model;
    const node = loaded.graphNodes.find((n) => n.layer.className === 'Functional')!;
    assert.deepEqual(node.callArgs, { training: false });
    assert.equal(node.layer.trainable, false);
    // (InputLayer saves no flag, as in Keras: it has no weights.)
    const children = node.layer.flattenLayers().filter((l) => !(l instanceof c.InputLayer));
    assert.ok(children.length === 3 && children.every((l) => !l.trainable), 'the frozen children stay frozen');
    // Batch statistics would differ from the moving ones: equal outputs mean the base ran in inference mode.
    assert.deepEqual(flat(loaded.apply(x, { training: true }) as c.Tensor), flat(model.predict(x) as c.Tensor));
  });
});

test('a symbolic call refuses what a graph cannot replay, and a training flag that is not a boolean', () => {
  const x = c.input({ shape: [4] });
  const drop = new c.Dropout({ rate: 0.5 });
  assert.throws(
    () => drop.apply(x, { seed: 3 }),
    /records 'training' and call options; seed cannot be fixed in a graph/,
  );
  assert.throws(() => drop.apply(x, { mask: null }), /mask cannot be fixed in a graph/);
  const notBool = { training: 'false' } as unknown as { training: boolean };
  assert.throws(() => drop.apply(x, notBool), /training must be true or false, got "false"/);
  assert.throws(() => drop.apply(c.ones([1, 4]), notBool), c.ArgumentError);
});

test('a saved call argument other than training is refused', () => {
  const { model } = fineTune(false, false);
  const config = JSON.parse(JSON.stringify(model.getConfig())) as {
    layers: { className: string; inboundNodes: unknown[][][] }[];
  };
  const entry = config.layers.find((l) => l.className === 'Functional')!;
  entry.inboundNodes[0][0][3] = { training: false, mask: [1] };
  assert.throws(
    () => c.layerFromConfig({ className: 'Functional', config: config as unknown as c.LayerConfig }),
    (e: Error) => e instanceof c.ArgumentError && /only 'training' \(true or false\) can be replayed/.test(e.message),
  );
});

test('model.trainable = false freezes every child; summary and fit follow; the flags round-trip', async () => {
  c.setSeed(12);
  const frozen = new c.Sequential([
    new c.Dense({ units: 6, inputShape: [4], activation: 'relu' }),
    new c.BatchNormalization(),
    new Block(),
  ]);
  frozen.trainable = false;
  assert.deepEqual(
    frozen.layers.map((l) => l.trainable),
    [false, false, false],
  );
  for (const l of frozen.flattenLayers()) assert.equal(l.trainable, false, `${l.name} frozen`);
  assert.deepEqual(frozen.trainableWeights, []);
  const total = frozen.countParams();
  assert.match(
    frozen.summary(() => {}),
    / Trainable params: 0 .*\n Non-trainable params: /,
  );
  assert.equal(size(frozen.nonTrainableWeights), total);

  const top = c.input({ shape: [4] });
  const model = new c.Model({ inputs: top, outputs: new c.Dense({ units: 1 }).apply(frozen.apply(top)) });
  model.compile({ optimizer: c.optimizers.adam({ learningRate: 0.01 }), loss: 'meanSquaredError' });
  assert.equal(size(model.trainableWeights), 2);
  const table = model.summary(() => {}, { showTrainable: true });
  assert.match(table, /│ Trainable │/);
  assert.match(table, new RegExp(`${frozen.name} \\(Sequential\\).*│ N +│`));
  assert.match(table, /dense_\d+ \(Dense\).*│ Y +│/);
  const before = snapshot(frozen.weights);
  const { x, y } = data(16, 13);
  await model.fit(x, y, { epochs: 1, batchSize: 8, verbose: 0, seed: 1 });
  assert.deepEqual(snapshot(frozen.weights), before);
  const state = model.optimizer!.getState();
  assert.equal(
    state.slots.reduce((s, t) => s + t.size, 0),
    2 * 2,
    "Adam's two moments for the head's kernel and bias only",
  );
  c.dispose(state.slots);

  // Saved configs keep every flag (the custom Block is not registered, so it stays out of the round trip).
  frozen.pop();
  frozen.layers[0].trainable = true;
  const restored = c.layerFromConfig({ className: 'Sequential', config: frozen.getConfig() }) as c.Sequential;
  assert.deepEqual(
    [restored, ...restored.layers].map((l) => l.trainable),
    [false, true, false],
  );
  frozen.trainable = true;
  assert.ok(
    frozen.flattenLayers().every((l) => l.trainable),
    'unfreezing reaches the children too',
  );
});

test('apply is typed by call(): symbolic in, symbolic out; tensor in, tensor out; input() takes int32', () => {
  const ids = c.input({ shape: [5], dtype: 'int32' });
  assert.equal(ids.dtype, 'int32');
  // No casts: a Dense's call() returns one Tensor, so apply on one SymbolicTensor returns one SymbolicTensor.
  const embedded: c.SymbolicTensor = new c.Embedding({ inputDim: 10, outputDim: 3 }).apply(ids);
  const pooled: c.SymbolicTensor = new c.GlobalAveragePooling1D().apply(embedded);
  const out: c.SymbolicTensor = new c.Dense({ units: 2 }).apply(pooled);
  assert.deepEqual(out.shape, [null, 2]);
  const y: c.Tensor = new c.Dense({ units: 2 }).apply(c.ones([1, 3]));
  assert.deepEqual(y.shape, [1, 2]);

  const seq = new c.Sequential([
    c.input({ shape: [5], dtype: 'int32' }),
    new c.Embedding({ inputDim: 10, outputDim: 3 }),
    new c.GlobalAveragePooling1D(),
  ]);
  assert.deepEqual(seq.computeOutputShape([null, 5]), [null, 3]);
  const config = seq.getConfig();
  assert.equal(config.buildInputDType, 'int32');
  const again = c.layerFromConfig({ className: 'Sequential', config }) as c.Sequential;
  assert.equal((again.getConfig() as { buildInputDType?: string }).buildInputDType, 'int32');
  assert.throws(
    () => new c.Sequential([new c.Dense({ units: 2, inputShape: [3] }), out]),
    (e: Error) => e instanceof c.ArgumentError && /input\(\{ shape \}\) placeholder/.test(e.message),
  );
});

test('Sequential.build(inputShape) builds a model declared without an input shape (it did nothing)', () => {
  const model = new c.Sequential([c.layers.dense({ units: 3 }), c.layers.dense({ units: 2 })]);
  model.build([null, 4]);
  assert.deepEqual(
    model.weights.map((w) => w.shape),
    [[4, 3], [3], [3, 2], [2]],
  );
  assert.equal(model.countParams(), 4 * 3 + 3 + 3 * 2 + 2);
  assert.deepEqual((model.predict(c.ones([5, 4])) as c.Tensor).shape, [5, 2]);
  assert.throws(
    () =>
      new c.Sequential([c.layers.dense({ units: 1 })]).build([
        [null, 4],
        [null, 2],
      ]),
    /one input shape/,
  );
});
