// loadModel checks a saved model against its weights file before it allocates: declared shapes and dtypes
// against the stored tensors (no initializer runs on load), config field types, and format version 1 dirs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat, withDir } from '../helpers.js';

type Manifest = Record<string, unknown> & { files: Record<string, { sha256: string; bytes: number }> };
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const readManifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Manifest;
const writeManifest = (dir: string, m: unknown) => writeFileSync(join(dir, 'model.json'), JSON.stringify(m));

/** Writes a model directory by hand: model.json naming one weights file with these bytes. */
function writeModelDir(dir: string, model: unknown, weights: Uint8Array): void {
  const name = 'weights-0000000000000000.safetensors';
  writeFileSync(join(dir, name), weights);
  const files = { [name]: { sha256: sha256(weights), bytes: weights.length } };
  writeManifest(dir, { format: 'candor-model', version: 2, model, files, weightsFile: name });
}

/** Replaces the tensors of a saved model's weights or optimizer file (and its hash in model.json). */
function rewrite(
  dir: string,
  edit: (tensors: Map<string, c.Tensor>) => Map<string, c.Tensor>,
  role: 'weights' | 'optimizer' = 'weights',
): void {
  const m = readManifest(dir);
  const name = (m[`${role}File`] as string | undefined) ?? `${role}.safetensors`; // format version 2 or 1
  const { tensors, metadata } = c.parseSafetensors(new Uint8Array(readFileSync(join(dir, name))));
  const bytes = c.serializeSafetensors(edit(tensors), metadata);
  writeFileSync(join(dir, name), bytes);
  m.files[name] = { sha256: sha256(bytes), bytes: bytes.length };
  writeManifest(dir, m);
}

/** The 307-byte file of issue 10: one Dense layer declaring a 16000 x 16000 kernel (1 GB of float32). */
const HUGE_DENSE = {
  className: 'Sequential',
  config: {
    name: 'hostile',
    layers: [{ className: 'Dense', config: { name: 'big', units: 16000, batchInputShape: [null, 16000] } }],
  },
};

test('a model.json declaring a 1 GB Dense over an empty or short weights file fails before allocating', async () => {
  await withDir(async (dir) => {
    const before = c.memory();
    writeModelDir(dir, HUGE_DENSE, new Uint8Array(0));
    await assert.rejects(c.loadModel(dir), (e: Error) => e instanceof c.FormatError && /is 0 bytes/.test(e.message));
    const small = new Map([
      ['big/kernel', c.zeros([2, 2])],
      ['big/bias', c.zeros([2])],
    ]);
    writeModelDir(dir, HUGE_DENSE, c.serializeSafetensors(small));
    c.dispose([...small.values()]);
    await assert.rejects(c.loadModel(dir), (e: Error) => {
      assert.ok(e instanceof c.FormatError, `${e.name}: ${e.message}`);
      assert.match(
        e.message,
        /weight 'big\/kernel' of Dense 'big' is declared \[16000, 16000\] but stored as \[2, 2\]/,
      );
      return true;
    });
    const after = c.memory();
    assert.deepEqual([after.tensors, after.bytes], [before.tensors, before.bytes], 'nothing allocated or leaked');
  });
});

/** Calls of the probe layer's initializer: a load must make none. */
let initializerCalls = 0;
const counting = Object.assign(
  (shape: readonly number[], dtype: c.DType = 'float32') => {
    initializerCalls++;
    return new c.RandomStream(initializerCalls).normal([...shape], 0, 1, dtype);
  },
  { config: { className: 'Counting', config: {} } },
);

/** x @ w, with w made by the counting initializer. */
class Probe extends c.Layer {
  static override readonly className = 'TestProbe';
  readonly units: number;
  w?: c.Variable;
  constructor(args: c.LayerArgs & { units: number }) {
    super(args);
    this.units = args.units;
  }
  override build(shape: c.SymShape | c.SymShape[]): void {
    const s = shape as c.SymShape;
    this.w = this.addWeight('w', [s[s.length - 1]!, this.units], counting);
  }
  override call(x: c.Tensor | c.Tensor[]): c.Tensor {
    return c.matmul(x as c.Tensor, this.w!.value);
  }
  override getConfig(): c.LayerConfig {
    return { ...super.getConfig(), units: this.units };
  }
}
c.registerLayer(Probe);

test('loading builds layers from the stored weights: no initializer runs, predictions are identical', async () => {
  await withDir(async (dir) => {
    const model = new c.Sequential([new Probe({ units: 3, inputShape: [4], name: 'probe' })]);
    assert.equal(initializerCalls, 1, 'the probe initialises its weight when made');
    const x = new c.RandomStream(3).normal([5, 4], 0, 1);
    await model.save(dir);
    const loaded = await c.loadModel(dir);
    assert.equal(initializerCalls, 1, 'no initializer ran during loadModel');
    assert.deepEqual(flat(loaded.predict(x) as c.Tensor), flat(model.predict(x) as c.Tensor));
    // Declaring a larger weight than the file holds fails before the initializer could run.
    const m = readManifest(dir);
    writeManifest(dir, JSON.parse(JSON.stringify(m).replace('"units":3', '"units":5000')));
    await assert.rejects(
      c.loadModel(dir),
      /weight 'probe\/w' of TestProbe 'probe' is declared \[4, 5000\] but stored as \[4, 3\]/,
    );
    assert.equal(initializerCalls, 1);
    x.dispose();
  });
});

test('weights stored with another dtype than the layer declares are rejected with DTypeError', async () => {
  await withDir(async (dir) => {
    c.setSeed(1);
    const model = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'd' })]);
    await model.save(dir);
    for (const dtype of ['int32', 'float64'] as const) {
      rewrite(dir, (ts) => new Map([...ts].map(([n, t]) => [n, n === 'd/kernel' ? t.cast(dtype) : t])));
      await assert.rejects(c.loadModel(dir), (e: Error) => {
        assert.ok(e instanceof c.DTypeError, `${e.name}: ${e.message}`);
        assert.match(
          e.message,
          new RegExp(`weight 'd/kernel' of Dense 'd' is stored as ${dtype} .*, expected float32`),
        );
        return true;
      });
      rewrite(dir, (ts) => new Map([...ts].map(([n, t]) => [n, t.cast('float32')])));
      await c.loadModel(dir); // intact again
    }
    // Optimizer state too: setState would cast an int32 moment to float32 without a word.
    model.compile({ optimizer: 'adam', loss: 'mse' });
    const x = new c.RandomStream(5).normal([4, 3], 0, 1);
    await model.fit(x, c.zeros([4, 2]), { epochs: 1, verbose: 0 });
    await model.save(dir);
    rewrite(dir, (ts) => new Map([...ts].map(([n, t]) => [n, n === '0/mu/0' ? t.cast('int32') : t])), 'optimizer');
    await assert.rejects(c.loadModel(dir), (e: Error) => {
      assert.ok(e instanceof c.DTypeError, `${e.name}: ${e.message}`);
      assert.match(e.message, /optimizer slot '0\/mu\/0' is stored as int32 .*, expected float32/);
      return true;
    });
    x.dispose();
  });
});

test('config fields of the wrong kind (string dimensions, non-boolean flags) are rejected, naming them', async () => {
  await withDir(async (dir) => {
    c.setSeed(2);
    const model = new c.Sequential([new c.Dense({ units: 2, inputShape: [3], name: 'd' })]);
    await model.save(dir);
    const text = readFileSync(join(dir, 'model.json'), 'utf8');
    const cases: [string, string, RegExp][] = [
      ['units: "2"', text.replace('"units": 2', '"units": "2"'), /Dense 'd': config field 'units' must be a positive/],
      [
        'useBias: "yes"',
        text.replace('"useBias": true', '"useBias": "yes"'),
        /'useBias' must be true or false, got "yes"/,
      ],
      ['units: 2.5', text.replace('"units": 2', '"units": 2.5'), /'units' must be a positive integer, got 2.5/],
      ['trainable: 1', text.replace('"trainable": true', '"trainable": 1'), /'trainable' must be true or false/],
    ];
    for (const [what, content, message] of cases) {
      assert.notEqual(content, text, what);
      writeFileSync(join(dir, 'model.json'), content);
      await assert.rejects(c.loadModel(dir), (e: Error) => {
        assert.ok(e instanceof c.FormatError, `${what}: ${e.name}: ${e.message}`);
        assert.match(e.message, message, what);
        return true;
      });
    }
    assert.throws(
      () => c.layerFromConfig({ className: 'Conv2D', config: { name: 'k', filters: 4, kernelSize: ['3', 3] } }),
      (e: Error) => e instanceof c.ArgumentError && /Conv2D 'k': config field 'kernelSize' must be/.test(e.message),
    );
  });
});

test('a directory saved in format version 1 (fixed file names) loads; saving into it replaces the files', async () => {
  await withDir(async (dir) => {
    c.setSeed(3);
    const model = new c.Sequential([new c.Dense({ units: 2, inputShape: [3] })]);
    model.compile({ optimizer: 'adam', loss: 'mse' });
    const x = new c.RandomStream(4).normal([6, 3], 0, 1);
    await model.fit(x, c.zeros([6, 2]), { epochs: 1, verbose: 0 });
    await model.save(dir);
    const m = readManifest(dir);
    const files: Manifest['files'] = {};
    for (const [from, to] of [
      [m.weightsFile, 'weights.safetensors'],
      [m.optimizerFile, 'optimizer.safetensors'],
    ] as [string, string][]) {
      renameSync(join(dir, from), join(dir, to));
      files[to] = m.files[from];
    }
    writeManifest(dir, { format: m.format, version: 1, model: m.model, training: m.training, files });
    rmSync(join(dir, 'run.json'));
    rmSync(join(dir, 'emissions.csv')); // the run record's CodeCarbon row: not a v1 file either
    const loaded = await c.loadModel(dir);
    assert.deepEqual(flat(loaded.predict(x) as c.Tensor), flat(model.predict(x) as c.Tensor));
    assert.equal(loaded.optimizer!.iterations, model.optimizer!.iterations);
    await loaded.save(dir);
    assert.deepEqual(
      readdirSync(dir)
        .map((n) => n.replace(/-[0-9a-f]{16}\./, '-#.'))
        .sort(),
      ['model.json', 'optimizer-#.safetensors', 'weights-#.safetensors'],
    );
    x.dispose();
  });
});
