// Encrypted models (model.save / loadModel with an encryptionKey): bit-identical round trips with a raw key
// and a passphrase, every flipped byte of every file of a checkpoint rejected with a typed error naming the
// file, wrong and missing keys, files swapped between saves or roles, a save that dies half-way, weights
// files and checkpoints, and the run record beside the model (readRunRecord and the CLI with a key file).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { flat, withDir } from '../helpers.js';
import { candor } from '../cli/run.js';

const KEY = new Uint8Array(32).map((_, i) => 255 - i);
const CHEAP = { cost: 2 ** 10, blockSize: 8, parallelization: 1 };

/** A small compiled classifier (Dense 4 -> 5 -> 3, Adam) and its data, fitted one epoch: the optimizer has state. */
async function smallModel(seed: number): Promise<{ model: c.Sequential; x: c.Tensor; y: c.Tensor }> {
  c.setSeed(seed);
  const model = new c.Sequential([
    new c.Dense({ units: 5, activation: 'relu', inputShape: [4] }),
    new c.Dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const x = new c.RandomStream(seed).normal([12, 4], 0, 1);
  const y = c.tensor(
    Int32Array.from({ length: 12 }, (_, i) => i % 3),
    [12],
  );
  await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, seed, record: false });
  return { model, x, y };
}

function predictions(m: c.Model, x: c.Tensor): number[] {
  const out = m.predict(x) as c.Tensor;
  const values = flat(out);
  out.dispose();
  return values;
}

const read = (dir: string, name: string) => new Uint8Array(readFileSync(join(dir, name)));
const files = (dir: string) => readdirSync(dir).sort();

/** Asserts `p` rejects with a FormatError (DecryptionError is one) whose message names `what`. */
async function rejectsNaming(p: Promise<unknown>, what: string, note: string, cls = c.FormatError): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    assert.ok(e instanceof cls, `${note}: expected ${cls.name}, got ${e.name}: ${e.message}`);
    assert.ok(e.message.includes(what), `${note}: the message names ${what}: ${e.message}`);
    return true;
  });
}

test('round trip with a raw key and with a passphrase: bit-identical predictions and optimizer state', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(1);
    for (const [encryptionKey, scrypt] of [
      [KEY, undefined],
      ['a long passphrase', CHEAP],
    ] as const) {
      await model.save(dir, { encryptionKey, scrypt });
      for (const name of files(dir)) {
        const bytes = read(dir, name);
        assert.ok(c.privacy.isEncrypted(bytes), `${name} is encrypted`);
        const text = Buffer.from(bytes).toString('latin1');
        for (const plain of ['candor-model', 'Dense', 'dense', 'adam', 'F32'])
          assert.ok(!text.includes(plain), `${name} does not show '${plain}'`);
      }
      const loaded = await c.loadModel(dir, { encryptionKey });
      assert.deepEqual(predictions(loaded, x), predictions(model, x), 'bit-identical predictions');
      assert.deepEqual(loaded.getConfig(), model.getConfig());
      assert.equal(loaded.optimizer!.iterations, model.optimizer!.iterations);
      const [a, b] = [model.optimizer!.getState(), loaded.optimizer!.getState()];
      assert.deepEqual(b.slots.map(flat), a.slots.map(flat), 'the Adam moments');
      c.dispose([...a.slots, ...b.slots]);
    }
    c.dispose([x, y]);
  });
});

test('plain save/load unchanged; a key for a plain model, no key for an encrypted one: refused', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(2);
    await model.save(dir);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { format: string };
    assert.equal(manifest.format, 'candor-model', 'model.json is plain JSON');
    assert.deepEqual(predictions(await c.loadModel(dir), x), predictions(model, x));
    await rejectsNaming(
      c.loadModel(dir, { encryptionKey: KEY }),
      `${join(dir, 'model.json')} is not encrypted, but an encryptionKey was given`,
      'a plain model with a key',
      c.DecryptionError,
    );
    await model.save(dir, { encryptionKey: KEY });
    await rejectsNaming(
      c.loadModel(dir),
      'model.json is encrypted: pass its encryptionKey',
      'no key',
      c.DecryptionError,
    );
    await rejectsNaming(
      c.loadModel(dir, { encryptionKey: KEY.map((b) => b ^ 0x80) }),
      'model.json cannot be decrypted: the key is wrong',
      'wrong key',
      c.DecryptionError,
    );
    await assert.rejects(c.loadModel(dir, { encryptionKey: new Uint8Array(16) }), c.ArgumentError, '16-byte key');
    await assert.rejects(model.save(dir, { encryptionKey: new Uint8Array(31) }), c.ArgumentError, '31-byte key');
    c.dispose([x, y]);
  });
});

test('every flipped byte of every file of a checkpoint, truncation, an appended byte: typed errors', async () => {
  await withDir(async (dir) => {
    // The smallest checkpoint with every kind of file: one Dense layer, SGD with momentum (one slot per weight).
    c.setSeed(3);
    const model = new c.Sequential([new c.Dense({ units: 2, inputShape: [2] })]);
    model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1, momentum: 0.9 }), loss: 'mse' });
    const x = new c.RandomStream(3).normal([4, 2], 0, 1);
    await model.fit(x, x, { epochs: 1, batchSize: 4, verbose: 0, record: false });
    await model.save(dir, { encryptionKey: KEY });
    const expected = predictions(model, x);
    const cipher = new c.privacy.FileCipher(KEY);
    const before = c.memory().tensors;
    let tries = 0;
    for (const name of files(dir)) {
      const path = join(dir, name);
      const good = read(dir, name);
      const role = name === 'model.json' ? name : name.split('-')[0];
      const damaged = (bytes: Uint8Array) => {
        writeFileSync(path, bytes);
        tries++;
        return c.loadModel(dir, { encryptionKey: KEY });
      };
      for (let i = 0; i < good.length; i++) {
        const bad = good.slice();
        bad[i] ^= 1 << (i % 8); // every byte, each bit position in turn
        await rejectsNaming(damaged(bad), path, `byte ${i} of ${name}`);
        // The weights and optimizer files are also caught by the GCM tag alone, not only by model.json's hash.
        if (name !== 'model.json') await rejectsNaming(cipher.decrypt(bad, role, path), path, `tag, byte ${i}`);
      }
      for (const n of [0, 1, 16, 52, good.length - 17, good.length - 16, good.length - 1])
        await rejectsNaming(damaged(good.subarray(0, n)), path, `${name} cut to ${n} bytes`);
      await rejectsNaming(damaged(Uint8Array.from([...good, 0])), path, `a byte appended to ${name}`);
      writeFileSync(path, good);
    }
    assert.ok(tries > 1500, `${tries} damaged checkpoints tried`);
    // At most as many as before (garbage collection may free some of the fits' meanwhile): a failed load
    // must not leave its half-built model behind (before the fix, each bad optimizer file leaked its weights).
    assert.ok(c.memory().tensors <= before, `no tensor leaked by the failed loads (${c.memory().tensors} > ${before})`);
    assert.deepEqual(predictions(await c.loadModel(dir, { encryptionKey: KEY }), x), expected, 'restored: loads');
    x.dispose();
  });
});

test('files swapped between two saves with the same key, or between roles, are refused', async () => {
  await withDir(async (root) => {
    const [a, b] = [join(root, 'a'), join(root, 'b')];
    const m1 = await smallModel(4);
    const m2 = await smallModel(5);
    await m1.model.save(a, { encryptionKey: KEY });
    await m2.model.save(b, { encryptionKey: KEY });
    const weightsOf = (dir: string) => files(dir).find((n) => n.startsWith('weights-'))!;
    const optimizerOf = (dir: string) => files(dir).find((n) => n.startsWith('optimizer-'))!;
    const load = () => c.loadModel(a, { encryptionKey: KEY });
    const swap = async (from: string, to: string, what: RegExp) => {
      const saved = readFileSync(to);
      copyFileSync(from, to);
      await assert.rejects(load(), (e: Error) => e instanceof c.FormatError && what.test(e.message));
      writeFileSync(to, saved);
    };
    // b's weights under a's weights name: a's model.json holds the hash of its own.
    await swap(join(b, weightsOf(b)), join(a, weightsOf(a)), /does not match the SHA-256 recorded in model\.json/);
    // b's model.json in a: it lists b's files, which are not there.
    await swap(
      join(b, 'model.json'),
      join(a, 'model.json'),
      /lists weights-[0-9a-f]{16}\.safetensors, which is missing/,
    );
    // a's weights file standing in for a's model.json: its role is authenticated.
    await swap(join(a, weightsOf(a)), join(a, 'model.json'), /says it was encrypted as "weights", not "model\.json"/);
    // The optimizer file read as the weights file (the role check, below the hash check of model.json).
    await assert.rejects(
      new c.privacy.FileCipher(KEY).decrypt(read(a, optimizerOf(a)), 'weights', 'w'),
      /says it was encrypted as "optimizer", not "weights"/,
    );
    assert.deepEqual(predictions(await load(), m1.x), predictions(m1.model, m1.x), 'a, restored, loads');
    c.dispose([m1.x, m1.y, m2.x, m2.y]);
  });
});

test('a save that dies half-way leaves the last good encrypted save loadable; the next save cleans up', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(6);
    await model.save(dir, { encryptionKey: KEY });
    const expected = predictions(model, x);
    const good = files(dir);
    // Die after the new weights file is written, before model.json is switched.
    const optimizer = model.optimizer!;
    const getState = optimizer.getState.bind(optimizer);
    optimizer.getState = () => {
      throw new Error('killed');
    };
    const w0 = model.weights[0];
    w0.assign(c.mul(w0.value, 2));
    await assert.rejects(model.save(dir, { encryptionKey: KEY }), /killed/);
    assert.equal(files(dir).length, good.length + 1, 'a weights file of the dead save is left');
    assert.deepEqual(predictions(await c.loadModel(dir, { encryptionKey: KEY }), x), expected, 'the last good save');
    optimizer.getState = getState;
    await model.save(dir, { encryptionKey: KEY });
    assert.equal(files(dir).length, good.length, 'the dead save has been cleaned up');
    assert.notDeepEqual(predictions(await c.loadModel(dir, { encryptionKey: KEY }), x), expected);
    c.dispose([x, y]);
  });
});

test('saveWeights / loadWeights and ModelCheckpoint take the key', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(7);
    const file = join(dir, 'w.safetensors');
    await model.saveWeights(file, { encryptionKey: KEY });
    assert.ok(c.privacy.isEncrypted(read(dir, 'w.safetensors')));
    const { model: other, x: x8, y: y8 } = await smallModel(8);
    c.dispose([x8, y8]);
    await rejectsNaming(other.loadWeights(file), `loadWeights: ${file} is encrypted`, 'no key', c.DecryptionError);
    await other.loadWeights(file, { encryptionKey: KEY });
    assert.deepEqual(predictions(other, x), predictions(model, x));

    const filepath = join(dir, 'ckpt-{epoch}');
    const checkpoint = new c.ModelCheckpoint({ filepath, monitor: 'loss', encryptionKey: KEY });
    await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, callbacks: [checkpoint], record: false });
    assert.ok(c.privacy.isEncrypted(read(join(dir, 'ckpt-2'), 'model.json')));
    assert.deepEqual(
      predictions(await c.loadModel(join(dir, 'ckpt-2'), { encryptionKey: KEY }), x),
      predictions(model, x),
    );
    assert.throws(
      () => new c.ModelCheckpoint({ filepath, encryptionKey: KEY, save: async () => {} }),
      /encryptionKey cannot be honoured by a save function of your own/,
    );
    c.dispose([x, y]);
  });
});

test('run.json beside an encrypted model is encrypted; readRunRecord and the CLI read it with the key', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(9);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, record: { energy: { method: 'estimate' } } });
    const passphrase = 'run record passphrase';
    await model.save(dir, { encryptionKey: passphrase, scrypt: CHEAP });
    assert.ok(c.privacy.isEncrypted(read(dir, 'run.json')));
    await assert.rejects(c.readRunRecord(dir), /run\.json is encrypted: pass its encryptionKey/);
    await assert.rejects(c.readRunRecord(dir, { encryptionKey: 'wrong' }), c.DecryptionError);
    const record = await c.readRunRecord(dir, { encryptionKey: passphrase });
    // The artifacts are the hashes of the files as stored (encrypted), model.json included.
    const sha256 = (name: string) => createHash('sha256').update(read(dir, name)).digest('hex');
    for (const [name, entry] of Object.entries(record.model.artifacts ?? {}))
      assert.equal(entry.sha256, sha256(name), `the recorded hash of ${name}`);
    assert.deepEqual(
      Object.keys(record.model.artifacts ?? {}).sort(),
      files(dir).filter((n) => n !== 'run.json'),
    );
    // run.json cannot stand in for model.json: roles differ.
    renameSync(join(dir, 'run.json'), join(dir, 'run.json.bak'));
    copyFileSync(join(dir, 'run.json.bak'), join(dir, 'model.json'));
    await assert.rejects(
      c.loadModel(dir, { encryptionKey: passphrase }),
      /says it was encrypted as "run\.json", not "model\.json"/,
    );
    renameSync(join(dir, 'run.json.bak'), join(dir, 'run.json'));

    const passFile = join(dir, 'pass.txt');
    writeFileSync(passFile, passphrase + '\n');
    const out = join(dir, 'card');
    const ok = candor('card', dir, '--out', out, '--passphrase-file', passFile);
    assert.equal(ok.code, 0, ok.err);
    assert.match(readFileSync(join(out, 'card.md'), 'utf8'), /Model card/);
    const none = candor('card', dir, '--out', out);
    assert.equal(none.code, 1);
    assert.match(none.err, /run\.json is encrypted: pass its encryptionKey/);
    const keyFile = join(dir, 'key.hex');
    writeFileSync(keyFile, Buffer.from(KEY).toString('hex') + '\n');
    const wrongKind = candor('profile', dir, '--key-file', keyFile);
    assert.equal(wrongKind.code, 1);
    assert.match(wrongKind.err, /encrypted with a passphrase, but a raw key was given/);
    writeFileSync(keyFile, 'not a key');
    assert.equal(candor('profile', dir, '--key-file', keyFile).code, 2, 'a malformed key file is a usage error');
    c.dispose([x, y]);
  });
});

test('a recorder whose own dir holds an encrypted save keeps run.json encrypted when it rewrites it', async () => {
  await withDir(async (dir) => {
    const { model, x, y } = await smallModel(10);
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, record: { dir, energy: { method: 'estimate' } } });
    assert.ok(!c.privacy.isEncrypted(read(dir, 'run.json')), 'fit wrote it in plain: no key was given then');
    await model.save(dir, { encryptionKey: KEY });
    await model.runRecorder!.addEvaluation('test', { accuracy: 0.5 });
    assert.ok(c.privacy.isEncrypted(read(dir, 'run.json')), 'the rewrite after an encrypted save is encrypted');
    assert.equal((await c.readRunRecord(dir, { encryptionKey: KEY })).evaluation[0].name, 'test');
    // With the key in the record options, run.json is encrypted from the start.
    const other = join(dir, 'other');
    await model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0, record: { dir: other, encryptionKey: KEY } });
    assert.ok(c.privacy.isEncrypted(read(other, 'run.json')));
    c.dispose([x, y]);
  });
});
