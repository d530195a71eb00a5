// `candor explain` end to end on tiny saved models: a JSON batch, a PNG image and a .npy file are explained, the
// figures printed and recorded in run.json equal explain() on the same model in memory, the card shows the maps,
// and missing files, shape mismatches and options a method does not take are typed errors, not silent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import * as c from '../../src/index.js';
import { main } from '../../src/cli/main.js';
import { imageInputs, npyInputs } from '../../src/cli/explain-inputs.js';
import { readRunRecord } from '../../src/ledger/record.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { tempDir } from '../ledger/fixtures.js';

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [],
    err: string[] = [];
  const code = await main(args, { log: (s) => out.push(s), error: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A 4 x 4 grey-image classifier, trained one epoch with a recorder and saved in dir. */
async function savedImageModel(dir: string, flat = false): Promise<c.Sequential> {
  const model = new c.Sequential([
    flat ? c.layers.reshape({ targetShape: [16], inputShape: [16] }) : c.layers.flatten({ inputShape: [4, 4, 1] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy' });
  const x = c.tensor(
    Float32Array.from({ length: 6 * 16 }, (_, i) => ((i * 7) % 11) / 11),
    [6, 4, 4, 1],
  );
  const y = c.tensor(Int32Array.from([0, 1, 2, 0, 1, 2]), [6]);
  const recorder = new RunRecorder({ dir, energy: { method: 'estimate' } });
  await model.fit(flat ? c.reshape(x, [6, 16]) : x, y, {
    epochs: 1,
    batchSize: 3,
    verbose: 0,
    seed: 3,
    callbacks: [recorder],
  });
  await model.save(dir);
  c.dispose([x, y]);
  return model;
}

/** A .npy file (format 1.0) of float32 values in C order. */
function npy(values: number[], shape: number[]): Buffer {
  const dims = `${shape.join(', ')}${shape.length === 1 ? ',' : ''}`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head);
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), Buffer.from(Float32Array.from(values).buffer)]);
}

test('candor explain: JSON, PNG and .npy inputs are explained, recorded and drawn as in memory', async () => {
  const { dir, done } = tempDir();
  const runDir = join(dir, 'run');
  const model = await savedImageModel(runDir);
  try {
    const samples = [0, 1].map((s) =>
      Array.from({ length: 4 }, (_, r) => Array.from({ length: 4 }, (_, k) => [((s + r * 4 + k) % 5) / 5])),
    );
    writeFileSync(join(dir, 'x.json'), JSON.stringify(samples));
    const r = await cli(
      'explain',
      runDir,
      '--input',
      join(dir, 'x.json'),
      '--method',
      'gradientXInput',
      '--out',
      join(dir, 'o'),
    );
    assert.equal(r.code, 0, r.err);
    const x = c.tensor(samples);
    const want = c.explain(model, x, { method: 'gradientXInput' });
    const sums = c.explainability.attributionSums(want.attributions);
    assert.match(r.out, /^gradientXInput on 2 samples of .*x\.json/);
    assert.match(r.out, new RegExp(`^0 +${want.target !== 'custom' && want.target[0]} +`, 'm'));
    const record = await readRunRecord(runDir);
    const e = record.explanations![0];
    assert.deepEqual([e.method, e.target, e.inputShape], ['gradientXInput', want.target, [4, 4, 1]]);
    e.scores.forEach((s, i) => assert.ok(Math.abs(s! - want.scores[i]) < 1e-6));
    e.attributions.samples.forEach((s, i) => assert.ok(Math.abs(s.sum - sums[i]) < 1e-5));
    assert.equal(e.inputs.sha256, c.fingerprintTensor(x).sha256);
    assert.match(readFileSync(join(dir, 'o', 'card.html'), 'utf8'), /id="explanations"[\s\S]*data:image\/png;base64/);
    const full = JSON.parse(readFileSync(join(dir, 'o', 'explanation.json'), 'utf8'));
    assert.deepEqual(full.shape, [2, 4, 4, 1]);
    Array.from(want.attributions.dataSync()).forEach((v, i) => assert.ok(Math.abs(full.attributions[i] - v) < 1e-6));

    // A PNG (grey, 0-255 scaled to [0, 1]), explained for a given target, with --json.
    const png = new PNG({ width: 4, height: 4 });
    for (let p = 0; p < 16; p++) png.data.set([p * 16, p * 16, p * 16, 255], p * 4);
    writeFileSync(join(dir, 'x.png'), PNG.sync.write(png));
    const j = await cli(
      'explain',
      runDir,
      '--input',
      join(dir, 'x.png'),
      '--method',
      'saliency',
      '--target',
      '2',
      '--json',
    );
    assert.equal(j.code, 0, j.err);
    const got = JSON.parse(j.out);
    const image = c.tensor(
      Float32Array.from({ length: 16 }, (_, p) => (p * 16) / 255),
      [1, 4, 4, 1],
    );
    const saliency = c.explain(model, image, { method: 'saliency', target: 2 });
    assert.deepEqual([got.method, got.samples, got.target], ['saliency', 1, [2]]);
    assert.ok(Math.abs(got.scores[0] - saliency.scores[0]) < 1e-6);
    assert.equal(got.completenessGap, null);
    // A .npy of the same image, flat: reshaped to the model's [4, 4, 1].
    writeFileSync(join(dir, 'x.npy'), npy(Array.from(image.dataSync()), [1, 16]));
    const n = await cli(
      'explain',
      runDir,
      '--input',
      join(dir, 'x.npy'),
      '--method',
      'saliency',
      '--target',
      '2',
      '--json',
    );
    assert.equal(n.code, 0, n.err);
    assert.ok(Math.abs(JSON.parse(n.out).sums[0] - got.sums[0]) < 1e-6);
    assert.equal((await readRunRecord(runDir)).explanations!.length, 3);
    // A model on flat vectors takes the same PNG, read grey and reshaped to [1, 16].
    const flatDir = join(dir, 'flat');
    const flat = await savedImageModel(flatDir, true);
    const f = await cli('explain', flatDir, '--input', join(dir, 'x.png'), '--method', 'saliency', '--target', '2');
    assert.equal(f.code, 0, f.err);
    assert.match(f.out, /reshaped \[1, 4, 4, 1\] to \[1, 16\]/);
    flat.dispose();
    c.dispose([x, image, want.attributions, saliency.attributions]);
  } finally {
    model.dispose();
    done();
  }
});

test('candor explain: missing files, bad shapes, texts for a text-less model, stray options are errors', async () => {
  const { dir, done } = tempDir();
  const runDir = join(dir, 'run');
  const model = await savedImageModel(runDir);
  try {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify([[1, 2, 3]]));
    writeFileSync(join(dir, 'ragged.json'), JSON.stringify([[1, 2], [3]]));
    writeFileSync(join(dir, 'texts.txt'), 'free prize\nmeeting notes\n');
    writeFileSync(join(dir, 'ok.json'), JSON.stringify(Array.from({ length: 16 }, () => 0.5)));
    const cases: [string[], number, RegExp][] = [
      [[join(dir, 'nope'), '--input', join(dir, 'ok.json'), '--method', 'saliency'], 1, /no saved model in .*nope/],
      [[runDir, '--input', join(dir, 'missing.json'), '--method', 'saliency'], 1, /cannot read the input file/],
      [
        [runDir, '--input', join(dir, 'bad.json'), '--method', 'saliency'],
        1,
        /takes \[4, 4, 1\] per sample .* \[1, 3\]/,
      ],
      [[runDir, '--input', join(dir, 'ragged.json'), '--method', 'saliency'], 1, /not rectangular/],
      [
        [runDir, '--input', join(dir, 'texts.txt'), '--method', 'saliency'],
        1,
        /does not start with a TextVectorization/,
      ],
      [
        [runDir, '--input', join(dir, 'ok.json'), '--method', 'saliency', '--steps', '8'],
        1,
        /--steps is for integratedGradients/,
      ],
      [[runDir, '--input', join(dir, 'ok.json'), '--method', 'magic'], 2, /--method must be one of saliency/],
      [[runDir, '--method', 'saliency'], 2, /needs --input/],
      [
        [runDir, '--input', join(dir, 'ok.json'), '--method', 'saliency', '--target=1.5'],
        2,
        /--target must be an integer/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const r = await cli('explain', ...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
    }
    // A flat file of one sample's size is reshaped, not refused.
    const ok = await cli('explain', runDir, '--input', join(dir, 'ok.json'), '--method', 'saliency');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /reshaped \[16\] to \[1, 4, 4, 1\]/);
    assert.throws(() => npyInputs(new Uint8Array([1, 2, 3]), 'x.npy'), c.FormatError);
    assert.ok(!existsSync(join(runDir, 'explanation.json')));
  } finally {
    model.dispose();
    done();
  }
});

/** TextVectorization ('int' or another mode) + a small classifier on four texts, trained and saved in dir. */
async function savedTextModel(dir: string, outputMode: 'int' | 'count'): Promise<c.Sequential> {
  const texts = ['free prize now', 'meeting notes today', 'win a free prize', 'notes for the meeting'];
  const tv = c.layers.textVectorization({
    maxTokens: 20,
    outputMode,
    ...(outputMode === 'int' ? { outputSequenceLength: 6 } : {}),
  });
  tv.adapt(texts);
  const model = new c.Sequential(
    outputMode === 'int'
      ? [
          tv,
          c.layers.embedding({ inputDim: 20, outputDim: 4 }),
          c.layers.globalAveragePooling1d(),
          c.layers.dense({ units: 1, activation: 'sigmoid' }),
        ]
      : [tv, c.layers.dense({ units: 1, activation: 'sigmoid' })],
  );
  model.compile({ optimizer: 'adam', loss: 'binaryCrossentropy' });
  const y = c.tensor([1, 0, 1, 0], [4, 1]);
  const recorder = new RunRecorder({ dir, energy: { method: 'estimate' } });
  await model.fit(texts, y, { epochs: 1, verbose: 0, seed: 5, callbacks: [recorder] });
  await model.save(dir);
  y.dispose();
  return model;
}

/** Whether Integrated Gradients is in this build (it comes from its own branch). */
function hasIntegratedGradients(): boolean {
  const model = new c.Sequential([c.layers.dense({ units: 1, inputShape: [2] })]);
  const x = c.tensor([[1, 2]]);
  try {
    c.dispose(c.explain(model, x, { method: 'integratedGradients', steps: 2 }).attributions);
    return true;
  } catch (e) {
    if (/is being built/.test((e as Error).message)) return false;
    throw e;
  } finally {
    x.dispose();
    model.dispose();
  }
}

test('candor explain: a text file for a TextVectorization model is explained per token, with its words', async (t) => {
  const { dir, done } = tempDir();
  try {
    writeFileSync(join(dir, 't.txt'), 'win a free prize now\n\nmeeting notes\n');
    const counts = await savedTextModel(join(dir, 'counts'), 'count');
    const r = await cli('explain', join(dir, 'counts'), '--input', join(dir, 't.txt'), '--method', 'saliency');
    assert.equal(r.code, 1);
    assert.match(r.err, /outputs 'count', not token ids/);
    counts.dispose();
    if (!hasIntegratedGradients()) {
      t.skip('integratedGradients is not in this build yet (it comes from the p14-grad branch)');
      return;
    }
    const model = await savedTextModel(join(dir, 'int'), 'int');
    const ok = await cli('explain', join(dir, 'int'), '--input', join(dir, 't.txt'), '--method', 'integratedGradients');
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.out, /^2 texts vectorized/);
    const e = (await readRunRecord(join(dir, 'int'))).explanations![0];
    assert.equal(e.attributions.layout, 'tokens');
    assert.deepEqual(
      e.attributions.samples.map((s) => s.words),
      [
        ['win', 'a', 'free', 'prize', 'now'],
        ['meeting', 'notes'],
      ],
    );
    assert.deepEqual(e.inputShape, [6]);
    e.completenessGap!.forEach((g) => assert.ok(g! < 1e-4, `gap ${g}`));
    assert.match(readFileSync(join(dir, 'int', 'card.html'), 'utf8'), /data-token="prize"/);
    model.dispose();
  } finally {
    done();
  }
});

test('candor explain decodes images as image datasets do: a hostile declared size is refused unread', async () => {
  const png = new PNG({ width: 2, height: 2 });
  png.data.fill(200);
  const bytes = new Uint8Array(PNG.sync.write(png));
  const grey = await imageInputs(bytes, 'x.png', 1);
  if (grey.kind !== 'numbers') throw new Error('an image reads as numbers');
  assert.deepEqual(grey.shape, [1, 2, 2, 1]);
  assert.deepEqual(Array.from(grey.values), new Array(4).fill(200 / 255));
  // IHDR declares 100,000 x 100,000 pixels: refused from the header, before pngjs allocates anything.
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  view.setUint32(16, 100_000);
  view.setUint32(20, 100_000);
  await assert.rejects(imageInputs(bytes, 'big.png', 1), /explain: big.png declares 100000 x 100000 pixels, over/);
  await assert.rejects(imageInputs(new Uint8Array([1, 2, 3]), 'x.png', 1), /neither a PNG nor a JPEG/);
});
