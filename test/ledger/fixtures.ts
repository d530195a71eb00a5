// Shared fixtures for the accountability tests: a small, fast, seeded classification run recorded by
// RunRecorder, and temporary directories.
import '../config-dir.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import type { RunRecorderOptions } from '../../src/ledger/recording.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import type { RunRecord } from '../../src/ledger/record.js';

export function tempDir(prefix = 'candor-test-'): { dir: string; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, done: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Three well-separated blobs in 4-D, 30 samples, labels 0-2; the group of a sample is its index parity. */
export function blobs(n = 30, seed = 7): { x: c.Tensor; y: c.Tensor; groups: string[] } {
  const g = new c.RandomStream(seed);
  const noise = g.normal([n, 4], 0, 0.3, 'float32');
  const nd = noise.dataSync();
  noise.dispose();
  const labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  const xs = new Float32Array(n * 4);
  for (let i = 0; i < n; i++) for (let j = 0; j < 4; j++) xs[i * 4 + j] = nd[i * 4 + j] + (j === labels[i] ? 2 : 0);
  return {
    x: c.tensor(xs, [n, 4]),
    y: c.tensor(labels, [n]),
    groups: Array.from({ length: n }, (_, i) => (i % 2 ? 'odd' : 'even')),
  };
}

export interface TinyRun {
  recorder: RunRecorder;
  model: c.Sequential;
  record: RunRecord;
  data: { x: c.Tensor; y: c.Tensor; groups: string[] };
  dispose(): void;
}

/**
 * Fits a small MLP for `epochs` with a RunRecorder (energy estimated, so it is the same on every machine),
 * passing fit's parameters the way Trainer.fit is to (setParams), then evaluates it on the training
 * data with a sensitive attribute. Writes run.json when `dir` is given.
 */
export async function tinyRun({
  dir,
  epochs = 2,
  evaluate = true,
  options = {},
}: { dir?: string; epochs?: number; evaluate?: boolean; options?: RunRecorderOptions } = {}): Promise<TinyRun> {
  const data = blobs();
  const model = new c.Sequential([
    c.layers.dense({ units: 8, activation: 'relu', inputShape: [4] }),
    c.layers.dense({ units: 3, activation: 'softmax' }),
  ]);
  model.compile({ optimizer: 'adam', loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const recorder = new RunRecorder({ dir, name: 'tiny-blobs', energy: { method: 'estimate' }, ...options });
  recorder.setParams({
    epochs,
    batchSize: 8,
    seed: 11,
    shuffle: true,
    validationSplit: 0,
    initialEpoch: 0,
    x: data.x,
    y: data.y,
  });
  await model.fit(data.x, data.y, { epochs, batchSize: 8, verbose: 0, seed: 11, callbacks: [recorder] });
  if (evaluate)
    await recorder.evaluate('train-eval', model, data.x, data.y, { groups: data.groups, attribute: 'parity' });
  return {
    recorder,
    model,
    record: recorder.record,
    data,
    dispose: () => {
      c.dispose([data.x, data.y]);
      model.dispose();
    },
  };
}
