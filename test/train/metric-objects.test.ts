// Metric objects (Keras' Metric API): metrics.Mean against hand-computed means, the built-in metrics used on
// their own with updateState / result / resetState, the same objects inside compile() (one implementation),
// model.metrics with the loss tracker, and fit resetting every metric of the model each epoch.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';

test('metrics.Mean: plain, weighted, per-sample rows, numbers, accumulation and resetState', () => {
  const m = new c.metrics.Mean();
  assert.equal(m.name, 'mean');
  assert.equal(m.result(), 0, 'no data yet: 0, as Keras');
  c.tidy(() => m.updateState(c.tensor([1, 3, 5, 7])));
  assert.equal(m.result(), 4);
  c.tidy(() => m.updateState(c.tensor([10]), c.tensor([4])));
  assert.equal(m.result(), (1 + 3 + 5 + 7 + 40) / 8);
  m.resetState();
  // Rows are averaged first, then weighted per sample: (mean [1,3] * 1 + mean [5,9] * 3) / 4.
  c.tidy(() =>
    m.updateState(
      c.tensor([
        [1, 3],
        [5, 9],
      ]),
      c.tensor([1, 3]),
    ),
  );
  assert.equal(m.result(), (2 * 1 + 7 * 3) / 4);
  m.resetState();
  // A scalar with a weight: how fit tracks the batch loss (value, batch size).
  m.updateState(2, 3);
  m.updateState(6, 1);
  c.tidy(() => m.updateState(c.scalar(4), 4));
  assert.equal(m.result(), (6 + 6 + 16) / 8);
  const named = new c.metrics.Mean({ name: 'd_loss' });
  assert.equal(named.name, 'd_loss');
  assert.deepEqual(named.getConfig(), { className: 'Mean', config: { name: 'd_loss' } });
  assert.throws(() => new c.metrics.Mean({ nmae: 'x' } as never), /nmae/);
});

test('built-in metrics as objects: updateState / result / resetState against hand-computed values', () => {
  const acc = c.metrics.binaryAccuracy();
  c.tidy(() => acc.updateState(c.tensor([[1], [0], [1]]), c.tensor([[0.9], [0.2], [0.4]])));
  assert.equal(acc.result(), 2 / 3);
  c.tidy(() => acc.updateState(c.tensor([[0]]), c.tensor([[0.1]]), c.tensor([3])));
  assert.equal(acc.result(), (2 + 3) / (3 + 3));
  acc.resetState();
  assert.equal(acc.result(), 0);
  const mse = c.metrics.meanSquaredError();
  c.tidy(() => mse.updateState(c.tensor([[1, 2]]), c.tensor([[2, 4]])));
  assert.equal(mse.result(), (1 + 4) / 2);
});

test('a metric object given to compile() is the one fit updates; model.metrics lists the loss tracker', async () => {
  const g = new c.RandomStream(3);
  const x = g.normal([20, 3], 0, 1);
  const y = c.tidy(() => c.cast(c.greater(c.sum(x, -1, true), 0), 'float32'));
  c.setSeed(1);
  const model = new c.Sequential([new c.Dense({ units: 1, activation: 'sigmoid', inputShape: [3] })]);
  const acc = c.metrics.binaryAccuracy({ name: 'acc' });
  model.compile({ optimizer: 'sgd', loss: 'binaryCrossentropy', metrics: [acc] });
  const history = await model.fit(x, y, { epochs: 2, batchSize: 5, verbose: 0, record: false });
  assert.equal(acc.result(), history.history.acc[1], "the logs are the object's result()");
  const [tracker, compiled] = model.metrics;
  assert.ok(tracker instanceof c.metrics.Mean && tracker.name === 'loss');
  assert.equal(tracker.result(), history.history.loss[1]);
  assert.equal(compiled.name, 'compile_metrics');
  assert.deepEqual(model.getMetricsResult(), { loss: history.history.loss[1], acc: history.history.acc[1] });
  // evaluate resets them before it starts: its figures cover the evaluation data only.
  const logs = await model.evaluate(x, y, { batchSize: 20 });
  const byHand = c.tidy(() => {
    const p = model.predict(x) as c.Tensor;
    return c.mean(c.cast(c.equal(c.cast(c.greater(p, 0.5), 'float32'), y), 'float32')).item();
  });
  assert.ok(Math.abs(logs.acc - byHand) < 1e-7);
  c.dispose([x, y]);
});

test('fit resets the metrics held in a model field at the start of each epoch', async () => {
  class Counting extends c.Sequential {
    readonly seen = new c.metrics.Mean({ name: 'seen' });
    step = 0;
    override trainStep(data: c.StepData): c.StepLogs {
      this.seen.updateState(this.step++); // the global step number: its mean tells what was reset
      return { ...super.trainStep(data), seen: this.seen.result() };
    }
  }
  c.setSeed(2);
  const model = new Counting([new c.Dense({ units: 1, inputShape: [2] })]);
  model.compile({ optimizer: 'sgd', loss: 'mse' });
  const x = c.ones([8, 2]),
    y = c.zeros([8, 1]);
  const history = await model.fit(x, y, { epochs: 3, batchSize: 4, verbose: 0, record: false });
  // Steps 0 1 | 2 3 | 4 5: reset each epoch the means are 0.5, 2.5, 4.5 (never reset: 0.5, 1.5, 2.5).
  assert.deepEqual(history.history.seen, [0.5, 2.5, 4.5]);
  assert.equal(history.history.loss.length, 3, 'super.trainStep gives the compiled loss');
  c.dispose([x, y]);
});
