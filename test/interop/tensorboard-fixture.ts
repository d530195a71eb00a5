// The TensorBoard event file of the fixture (test/fixtures/interop/tensorboard/): scalars, histograms (30
// buckets, one bucket, empty, non-finite values left out), a tensor scalar with plugin metadata and a step past
// 2^32, all with fixed wall times, so that Candor writes the same bytes every time.
import { join } from 'node:path';
import { EventFileWriter } from '../../src/interop/index.js';

export const FIXTURE_DIR = join(import.meta.dirname, '../../../test/fixtures/interop/tensorboard');
export const FIXTURE_NAME = 'events.out.tfevents.1700000000.candor-fixture';

/** Writes the fixture's events into `dir`; returns the event file's path. */
export function writeFixtureEvents(dir: string): string {
  let t = 1700000000;
  const w = new EventFileWriter(dir, { wallTime: () => (t += 0.125), hostname: 'candor-fixture', maxQueue: 3 });
  w.addScalar('epoch_loss', Math.LN2, 0);
  w.addScalar('epoch_loss', 0.1, 1);
  w.addScalar('epoch_accuracy', -0, 1);
  w.addScalar('candor/flops', 123456789012, 1);
  w.addScalar('candor/joules', 1e-40, 2);
  w.addHistogram(
    'dense/kernel/histogram',
    Array.from({ length: 50 }, (_, i) => (Math.sin(i) * i) / 10),
    0,
  );
  w.addHistogram('dense/bias/histogram', [0.5, 0.5, 0.5], 0);
  w.addHistogram('empty/histogram', [], 1);
  w.addHistogram('nonfinite/histogram', [1, NaN, 2, Infinity, -Infinity, 3], 2);
  w.addSummary(2 ** 40, [
    {
      tag: 'tensor_scalar',
      metadata: { pluginData: { pluginName: 'scalars', content: new Uint8Array([1, 2]) }, dataClass: 1 },
      tensor: { dtype: 1, tensorShape: {}, floatVal: [2.5] },
    },
    { tag: 'big_step', simpleValue: 3 },
  ]);
  w.close();
  return w.path;
}
