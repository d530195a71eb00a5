// Fuzzing loadModel: seeded truncations, byte flips and value replacements (deep nesting included) of a saved
// model.json, weights and optimizer file; each load either succeeds or throws a typed CandorError.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import { Rng } from './rng.js';

const DEPTH = 100_000;
/** Stands for a list nested DEPTH deep, which JSON.stringify cannot write (it would overflow the stack). */
const DEEP = '\u0000deep';
const deepText = '['.repeat(DEPTH) + ']'.repeat(DEPTH);
const JUNK: unknown[] = [
  null,
  '128',
  'yes',
  -1,
  0,
  2.5,
  1e308,
  100_000,
  true,
  [],
  {},
  [1, [2]],
  { className: 'Dense' },
  DEEP,
];

const enc = new TextEncoder();
const dec = new TextDecoder();
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const stringify = (v: unknown) => JSON.stringify(v).split(JSON.stringify(DEEP)).join(deepText);

/** Every [container, key] in a parsed JSON value, the root excluded. */
function slots(v: unknown, out: [Record<string, unknown>, string][] = []): [Record<string, unknown>, string][] {
  if (typeof v !== 'object' || v === null) return out;
  for (const k of Object.keys(v)) {
    out.push([v as Record<string, unknown>, k]);
    slots((v as Record<string, unknown>)[k], out);
  }
  return out;
}

/** A parsed JSON value with one node replaced by junk, or deleted. */
function mutateValue(rng: Rng, value: unknown): string {
  const copy = JSON.parse(JSON.stringify(value)) as unknown;
  const all = slots(copy);
  const [parent, key] = rng.pick(all);
  if (rng.int(6) === 0 && !Array.isArray(parent)) delete parent[key];
  else parent[key] = rng.pick(JUNK);
  return stringify(copy);
}

/** The bytes of a safetensors file with its header replaced (the data kept as is). */
function withHeader(file: Uint8Array, header: string): Uint8Array {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const json = enc.encode(header);
  const out = new Uint8Array(8 + json.length + file.length - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(file.subarray(8 + n), 8 + json.length);
  return out;
}
const headerOf = (file: Uint8Array) =>
  JSON.parse(
    dec.decode(file.subarray(8, 8 + Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true)))),
  );

/** Truncated, one byte changed, or (for JSON) one value replaced. */
function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const out = rng.int(2) === 0 ? bytes.slice(0, rng.int(bytes.length)) : bytes.slice();
  if (out.length === bytes.length) out[rng.int(out.length)] = rng.int(256);
  return out;
}

test('loadModel on seeded corruptions of every file throws only typed CandorErrors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-model-fuzz-'));
  try {
    c.setSeed(1);
    const model = new c.Sequential([
      new c.Dense({ units: 4, activation: 'relu', inputShape: [3] }),
      new c.BatchNormalization(),
      new c.Dropout({ rate: 0.2 }),
      new c.Dense({ units: 2, activation: 'softmax' }),
    ]);
    model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
    const x = new c.RandomStream(2).normal([8, 3], 0, 1);
    const y = c.tensor([0, 1, 0, 1, 1, 0, 0, 1], [8], 'int32');
    await model.fit(x, y, { epochs: 1, verbose: 0 });
    await model.save(dir);
    c.dispose([x, y]);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      files: Record<string, { sha256: string; bytes: number }>;
      weightsFile?: string;
      optimizerFile?: string;
    };
    manifest.weightsFile ??= 'weights.safetensors'; // format version 1 had fixed names
    manifest.optimizerFile ??= 'optimizer.safetensors';
    const originals = new Map(
      [manifest.weightsFile!, manifest.optimizerFile!].map((n) => [n, new Uint8Array(readFileSync(join(dir, n)))]),
    );

    /** Writes the files (a safetensors file's hash is updated in model.json, so that its parser sees it). */
    const write = (json: string, file?: string, bytes?: Uint8Array) => {
      for (const [name, original] of originals) writeFileSync(join(dir, name), original);
      if (file && bytes) {
        writeFileSync(join(dir, file), bytes);
        const m = JSON.parse(JSON.stringify(manifest)) as typeof manifest;
        m.files[file] = { sha256: sha256(bytes), bytes: bytes.length };
        json = JSON.stringify(m);
      }
      writeFileSync(join(dir, 'model.json'), json);
    };
    const outcomes = { loaded: 0, rejected: new Map<string, number>() };
    const load = async (what: string) => {
      try {
        (await c.loadModel(dir)).dispose();
        outcomes.loaded++;
      } catch (e) {
        assert.ok(e instanceof c.CandorError, `${what}: ${(e as Error).name}: ${(e as Error).message?.slice(0, 300)}`);
        outcomes.rejected.set(e.name, (outcomes.rejected.get(e.name) ?? 0) + 1);
      }
    };

    // The cases of issue 10 first: deep nesting where an error message would print it, a bad training section.
    const deepOptimizer = { ...manifest, training: { optimizer: DEEP, loss: 'mse' } };
    write(stringify(deepOptimizer));
    await assert.rejects(c.loadModel(dir), /training section .* cannot be restored: getOptimizer: expected a name/);
    write(stringify({ ...manifest, training: { optimizer: 'adam', loss: { className: 7 } } }));
    await assert.rejects(c.loadModel(dir), c.FormatError);
    const weights = originals.get(manifest.weightsFile!)!;
    const header = headerOf(weights) as Record<string, { shape: unknown }>;
    const first = Object.keys(header).find((k) => k !== '__metadata__')!;
    header[first].shape = DEEP;
    write(JSON.stringify(manifest), manifest.weightsFile, withHeader(weights, stringify(header)));
    await assert.rejects(c.loadModel(dir), /shape must be a list of non-negative integers, got \[\[\[\[/);

    const rng = new Rng(new c.RandomStream(10));
    const text = JSON.stringify(manifest);
    for (let i = 0; i < 300; i++) {
      const kind = rng.int(4);
      if (kind === 0) {
        write(dec.decode(mutateBytes(rng, enc.encode(text))));
      } else if (kind === 1) {
        write(mutateValue(rng, manifest));
      } else {
        const [file, bytes] = rng.pick([...originals]);
        const mutated =
          kind === 2 ? mutateBytes(rng, bytes) : withHeader(bytes, mutateValue(rng, headerOf(bytes) as unknown));
        write(text, file, mutated);
      }
      await load(`case ${i} (kind ${kind})`);
    }
    assert.ok(outcomes.rejected.size > 0 && outcomes.loaded > 0, 'both outcomes happen');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
