// model.save() killed with SIGKILL at random moments: the directory always loads, as the previous or the new
// model, and the next save removes what the killed ones left behind (temp files, unnamed weights files).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as c from '../../src/index.js';
import { tempName } from '../../src/io/atomic.js';
import { deadPid, flat } from '../helpers.js';
import { Rng } from './rng.js';

const entry = fileURLToPath(new URL('../../src/index.js', import.meta.url));

/**
 * A model of about 2 MB, and its weights at save number `generation`: filled with values made from the
 * generation, the output bias holding the number itself, so that the test can tell which save a
 * directory holds. The same source runs in the saving child and in the test.
 */
const MODEL_SOURCE = `{
  make: (c) => {
    const model = new c.Sequential([
      new c.Dense({ units: 512, activation: 'relu', inputShape: [1024], name: 'wide' }),
      new c.Dense({ units: 3, name: 'out' }),
    ]);
    model.compile({ optimizer: 'sgd', loss: 'mse' });
    return model;
  },
  set: (c, model, generation) => {
    const values = model.weights.map((v, i) =>
      i === 3 ? c.full(v.shape, generation) : c.full(v.shape, ((generation % 7) + i + 1) * 1e-3),
    );
    model.setWeights(values);
    c.dispose(values);
  },
}`;
const source = (0, eval)(`(${MODEL_SOURCE})`) as {
  make: (lib: typeof c) => c.Sequential;
  set: (lib: typeof c, model: c.Model, generation: number) => void;
};

/** Starts a child that saves generations first, first + 1, ... into dir, printing each number once saved. */
function startSaver(dir: string, first: number) {
  const script =
    `import(${JSON.stringify(entry)}).then(async (c) => {` +
    `  const { make, set } = ${MODEL_SOURCE};` +
    `  const model = make(c);` +
    `  for (let g = ${first}; ; g++) {` +
    `    set(c, model, g);` +
    `    await model.save(${JSON.stringify(dir)});` +
    `    process.stdout.write(g + '\\n');` +
    `  }` +
    `});`;
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const saved: number[] = [];
  let pending = '';
  let onSave: (() => void) | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    const lines = (pending + chunk.toString()).split('\n');
    pending = lines.pop()!;
    for (const line of lines) saved.push(Number(line));
    onSave?.();
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const firstSave = new Promise<void>((resolve) => (onSave = () => saved.length > 0 && resolve()));
  return { child, saved, exited, firstSave };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a save killed at any moment leaves the previous or the new model; the next save cleans up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'candor-save-kill-'));
  const x = new c.RandomStream(1).normal([4, 1024], 0, 1);
  const rng = new Rng(new c.RandomStream(2));
  const predict = (m: c.Model) => flat(m.predict(x) as c.Tensor);
  const reference = source.make(c);
  try {
    const seen = new Set<string>();
    for (let kill = 0; kill < 5; kill++) {
      const first = 1000 * (kill + 1);
      const saver = startSaver(dir, first);
      await saver.firstSave; // from here on the directory holds a complete save of this child
      await sleep(5 + rng.int(120));
      saver.child.kill('SIGKILL');
      await saver.exited;
      const last = saver.saved[saver.saved.length - 1];
      const loaded = await c.loadModel(dir);
      // The last save reported, or one completed but killed before it could report.
      const generation = flat(loaded.weights[3].value)[0];
      assert.ok(generation === last || generation === last + 1, `kill ${kill}: generation ${generation} after ${last}`);
      source.set(c, reference, generation);
      loaded.weights.forEach((v, i) =>
        assert.equal(c.max(c.abs(c.sub(v.value, reference.weights[i].value))).item(), 0, `kill ${kill}: ${v.name}`),
      );
      assert.deepEqual(predict(loaded), predict(reference), `kill ${kill}: predictions of generation ${generation}`);
      loaded.dispose();
      for (const name of readdirSync(dir)) seen.add(name);
    }
    // A temp file of a writer that is gone (a pid that has exited) and one of a live writer (our parent).
    const dead = deadPid();
    const live = tempName('weights-1.safetensors', process.ppid);
    writeFileSync(join(dir, tempName('weights-0.safetensors', dead)), 'partial');
    writeFileSync(join(dir, live), 'in progress');
    source.set(c, reference, 1);
    await reference.save(dir);
    const left = readdirSync(dir).sort();
    assert.deepEqual(
      left.map((n) => n.replace(/-[0-9a-f]{16}\./, '-#.')),
      [live, 'model.json', 'optimizer-#.safetensors', 'weights-#.safetensors'],
      `after a save only its own files and the live writer's temp remain ` +
        `(seen during the kills: ${[...seen].join(', ')})`,
    );
    assert.deepEqual(predict(await c.loadModel(dir)), predict(reference));
  } finally {
    x.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
});
