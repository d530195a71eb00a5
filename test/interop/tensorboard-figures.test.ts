// What the TensorBoard callback's candor/ figures read: EnergyMeter.current (the report so far, the meter still
// running) and RunRecording.progress (FLOPs, joules and CO2e of a running run).
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

test('EnergyMeter.current: the estimate so far from the injected clock and CPU time; the meter keeps running', () => {
  let ms = 0,
    cpuMicros = 0;
  const meter = new c.EnergyMeter({
    method: 'estimate',
    // The TDP arithmetic (estimateEnergy) is bare metal's; on a VM the meter uses per-vCPU figures.
    platform: { kind: 'bare-metal', evidence: ['given by the test'] },
    clock: () => ms,
    cpuUsage: () => ({ user: cpuMicros, system: 0 }),
    memoryBytes: () => 2 ** 30,
  }).start();
  ms = 2000;
  cpuMicros = 1.5e6;
  const now = meter.current();
  const expected = c.estimateEnergy({ cpuSeconds: 1.5, wallSeconds: 2, meanMemoryBytes: 2 ** 30, cpu: now.cpu });
  assert.equal(now.joules, expected.joules);
  ms = 4000;
  cpuMicros = 3e6;
  const end = meter.stop();
  assert.equal(
    end.joules,
    c.estimateEnergy({ cpuSeconds: 3, wallSeconds: 4, meanMemoryBytes: 2 ** 30, cpu: end.cpu }).joules,
  );
  assert.throws(() => meter.current(), /current\(\) before start\(\)/);
});

test('RunRecording.progress: only while the run runs', async () => {
  const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const recorder = new c.RunRecorder({ energy: false });
  assert.throws(() => recorder.progress(), c.RecordError);
  let during: c.RunProgress | undefined;
  const probe: c.Callback = { onEpochEnd: () => void (during = recorder.progress()) };
  await model.fit(c.ones([4, 3]), c.zeros([4, 2]), { epochs: 1, verbose: 0, callbacks: [recorder, probe] });
  assert.deepEqual(during, { flops: recorder.record.compute.total.flops, joules: null, gCO2e: null });
  assert.throws(() => recorder.progress(), c.RecordError);
});
