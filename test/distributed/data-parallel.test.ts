// Data-parallel fit in one process: the shards (strided, their union the global batch, the same steps on every
// rank), the buckets (reverse layer order, started while backward runs, the exact rows-weighted mean), a world of
// one equal to the plain fit, and the options it cannot honour rejected. The mpirun equivalence is further down.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import '../config-dir.js';
import * as c from '../../src/index.js';
import { EpochIterator, type StepBatch } from '../../src/train/epoch-iterator.js';
import { shardRows, shardSteps } from '../../src/distributed/sharding.js';
import { DataParallel, type DataParallelComm } from '../../src/distributed/data-parallel.js';
import { assertClose, flat, rand, rejects } from '../helpers.js';
import { assertMpiSucceeded, mpirunMissing, program } from './mpirun.js';
import { runMpiRows } from './results.js';
import { EPOCHS, SEED, fixtureData, fixtureModel, summary } from './data-parallel-fixture.js';

test('sharding: rank r takes entries r, r + N, ... of each global batch; the union is the global batch', () => {
  const order = Int32Array.from([9, 3, 7, 0, 5, 1, 8, 2, 6, 4]);
  // 10 samples, batch 2 per rank, 4 ranks: global batches of 8, so 2 steps, the last of 2 rows.
  const count = 4;
  assert.equal(shardSteps(10, 2, { index: 3, count }), 2);
  const shards = [0, 1, 2, 3].map((index) =>
    [0, 1].map((step) => Array.from(shardRows(order, 10, 2, { index, count }, step))),
  );
  assert.deepEqual(shards, [
    [[9, 5], [6]],
    [[3, 1], [4]],
    [[7, 8], []],
    [[0, 2], []],
  ]);
  for (const step of [0, 1]) {
    const union = shards.flatMap((s) => s[step]).sort((a, b) => a - b);
    assert.deepEqual(
      union,
      Array.from(order.subarray(step * 8, step * 8 + 8)).sort((a, b) => a - b),
    );
  }
  // Without shuffling the order is the identity.
  assert.deepEqual(Array.from(shardRows(undefined, 5, 2, { index: 1, count: 2 }, 0)), [1, 3]);
  assert.deepEqual(Array.from(shardRows(undefined, 5, 2, { index: 0, count: 2 }, 1)), [4]);
  assert.deepEqual(Array.from(shardRows(undefined, 5, 2, { index: 1, count: 2 }, 1)), []);
});

async function rowsOf(batches: Iterable<StepBatch> | AsyncIterable<StepBatch>): Promise<number[][]> {
  const out: number[][] = [];
  for await (const b of batches) out.push(flat(b.x[0] as c.Tensor));
  return out;
}

test('EpochIterator with a shard: the ranks together read the one-process epoch of batchSize x N', async () => {
  const n = 11;
  const x = c.tensor(
      Array.from({ length: n }, (_, i) => i),
      [n],
    ),
    y = c.zeros([n]);
  const live = c.memory().tensors;
  for (const count of [2, 4]) {
    const whole = await rowsOf(
      new EpochIterator(
        { x: [x], y: [y] },
        { op: 'fit', batchSize: 2 * count, shuffle: true, seed: 3, labels: true },
      ).epoch(1),
    );
    const ranks = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const it = new EpochIterator(
          { x: [x], y: [y] },
          { op: 'fit', batchSize: 2, shuffle: true, seed: 3, labels: true, shard: { index, count } },
        );
        assert.equal(it.steps, Math.ceil(n / (2 * count)), 'the same steps on every rank');
        return rowsOf(it.epoch(1));
      }),
    );
    whole.forEach((batch, step) => {
      const strided = batch.filter((_, i) => i % count === 0);
      assert.deepEqual(ranks[0][step], strided, `rank 0 step ${step}`);
      assert.deepEqual(
        ranks.flatMap((r) => r[step]).sort((a, b) => a - b),
        [...batch].sort((a, b) => a - b),
      );
    });
  }
  assert.equal(c.memory().tensors, live, 'every batch freed');
  c.dispose([x, y]);
});

/** A small MLP with fixed initial weights, compiled with `optimizer`. */
function mlp(optimizer: () => c.Optimizer) {
  c.setSeed(11);
  const model = new c.Sequential([
    new c.Dense({ units: 6, activation: 'tanh', inputShape: [3] }),
    new c.Dense({ units: 5, activation: 'relu' }),
    new c.Dense({ units: 2 }),
  ]);
  model.compile({ optimizer: optimizer(), loss: 'mse', metrics: ['mae'] });
  return model;
}

const weightsOf = (m: c.Model) => m.getWeights().map((w) => Array.from(w.dataSync()));

test('a world of one: fit({ distributed: true }) is exactly the plain fit (shuffled, uneven last batch)', async () => {
  const x = rand([13, 3], 1),
    y = rand([13, 2], 2);
  const run = async (distributed?: true | DataParallel) => {
    const model = mlp(() => c.optimizers.adam({ learningRate: 0.01 }));
    const history = await model.fit(x, y, { epochs: 3, batchSize: 4, seed: 9, verbose: 0, record: false, distributed });
    return { weights: weightsOf(model), history: history.history };
  };
  const plain = await run();
  assert.deepEqual(await run(true), plain);
  // Small buckets: one allreduce per weight, the same numbers.
  assert.deepEqual(await run(new DataParallel({ bucketBytes: 8 })), plain);
  c.dispose([x, y]);
});

/** A communicator of world size `size` as seen by `rank`, where the other ranks sent what `others` gives. */
function fakeComm(size: number, rank: number, log: string[]): DataParallelComm {
  return {
    rank,
    size,
    broadcast: (t) => t,
    allreduceArray: () => log.push('allreduceArray'),
    allreduceArrayAsync: (buf) => {
      log.push(`allreduce ${buf.length}`);
      return {
        wait: () => void log.push(`wait ${buf.length}`),
        test: () => true,
      };
    },
    allgatherJson: <T>(v: T) => Array.from({ length: size }, () => v),
    broadcastJson: (v) => v,
  };
}

test('buckets: filled in reverse layer order and started during backward, in the same order every step', async () => {
  const x = rand([8, 3], 1),
    y = rand([8, 2], 2);
  const log: string[] = [];
  const model = mlp(() => c.optimizers.sgd({ learningRate: 0.1 }));
  // One weight of the MLP per bucket at most 24 bytes: the last Dense's bias (2 floats) and kernel (10) first.
  class Spy extends DataParallel {
    override gradientReady(index: number, grad: c.Tensor): void {
      log.push(`ready ${index}`);
      super.gradientReady(index, grad);
    }
  }
  const strategy = new Spy({ communicator: fakeComm(1, 0, log), bucketBytes: 40 });
  await model.fit(x, y, { epochs: 1, batchSize: 4, shuffle: false, verbose: 0, record: false, distributed: strategy });
  const step = log.slice(0, log.length / 2);
  assert.deepEqual(log.slice(log.length / 2), step, 'the same calls each step');
  // Reverse weight order (kernel 3x6, bias 6, kernel 6x5, bias 5, kernel 5x2, bias 2), at most 10 floats a bucket
  // unless one weight is larger; each bucket starts as soon as its last gradient is ready, before the others are.
  assert.deepEqual(step, [
    'ready 5',
    'allreduce 2',
    'ready 4',
    'allreduce 10',
    'ready 3',
    'allreduce 5',
    'ready 2',
    'allreduce 30',
    'ready 1',
    'allreduce 6',
    'ready 0',
    'allreduce 18',
    ...[2, 10, 5, 30, 6, 18].map((n) => `wait ${n}`),
  ]);
  c.dispose([x, y]);
});

test('the global mean: each rank packs its batch-mean gradient times its rows / the global rows', async () => {
  // Rank 1 of 2, 5 samples, batch 2 per rank, no shuffle: step 0's global batch is rows 0-3 (rank 1 reads 1 and
  // 3, weight 2/4); step 1's is row 4, rank 0's alone, so rank 1 joins with nothing (weight 0).
  const x = rand([5, 3], 4),
    y = rand([5, 2], 5);
  const reference = mlp(() => c.optimizers.sgd({ learningRate: 0.1 }));
  const idx = c.tensor([1, 3], [2], 'int32');
  const [xs, ys] = [c.gather(x, idx, 0), c.gather(y, idx, 0)];
  const { value, grads } = c.valueAndGrads(
    () => c.mean(c.square(c.sub(reference.apply(xs) as c.Tensor, ys))),
    reference.trainableWeights,
  );
  const expected = [...grads].reverse().flatMap((g) => Array.from(g.dataSync(), (v) => Math.fround(v * 0.5)));
  const model = mlp(() => c.optimizers.sgd({ learningRate: 0.1 }));
  const sent: number[][] = [];
  const comm: DataParallelComm = {
    ...fakeComm(2, 1, []),
    allreduceArrayAsync: (buf) => {
      sent.push(Array.from(buf));
      return { wait: () => undefined, test: () => true };
    },
  };
  const strategy = new DataParallel({ communicator: comm });
  await model.fit(x, y, { epochs: 1, batchSize: 2, shuffle: false, verbose: 0, record: false, distributed: strategy });
  assert.equal(sent.length, 2, 'one bucket a step, two steps on every rank');
  assertClose(sent[0], expected, { rtol: 1e-6, atol: 1e-7 }, 'bucket');
  assert.ok(
    sent[1].every((v) => v === 0),
    'the empty share adds nothing',
  );
  c.dispose([x, y, idx, xs, ys, value, grads]);
});

test('fit({ distributed }) rejects what it cannot honour', async () => {
  const x = rand([4, 3], 1),
    y = rand([4, 2], 2);
  const model = mlp(() => c.optimizers.sgd());
  await rejects(() => model.fit(x, y, { distributed: 'yes' as never }), c.ArgumentError, /distributed must be true/);
  await rejects(
    () => model.fit(x, y, { distributed: true, privacy: { noiseMultiplier: 1, l2NormClip: 1 } }),
    c.ArgumentError,
    /DP-SGD/,
  );
  function* batches() {
    yield { x, y };
  }
  await rejects(() => model.fit(batches(), { distributed: true }), c.ArgumentError, /needs the data as tensors/);
  class Own extends c.Sequential {
    override trainStep(): c.StepLogs {
      return {};
    }
  }
  const own = new Own([new c.Dense({ units: 2, inputShape: [3] })]);
  own.compile({ optimizer: 'sgd', loss: 'mse' });
  await rejects(() => own.fit(x, y, { distributed: true }), c.ArgumentError, /overrides trainStep/);
  assert.throws(() => new DataParallel({ syncBatchNorm: true }), /syncBatchNorm is not supported yet/);
  c.dispose([x, y]);
});

// ---- Under mpirun: N ranks x batch B against one process x batch N * B ----

const skip = mpirunMissing();

/** One process, batch N x B, the same data, seed and initial weights as the ranks' rank 0. */
async function reference(samples: number, batchSize: number) {
  const model = fixtureModel(SEED);
  const { x, y } = fixtureData(samples);
  const history = await model.fit(x, y, { epochs: EPOCHS, batchSize, seed: SEED, verbose: 0, record: false });
  c.dispose([x, y]);
  return summary(model, history);
}

/** Relative closeness |a - e| <= tol x max(|e|, 1e-3) (the floor keeps near-zero weights from dominating). */
function closeTo(actual: number[], expected: number[], tol: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) =>
    assert.ok(
      Math.abs(a - expected[i]) <= tol * Math.max(Math.abs(expected[i]), 1e-3),
      `${what}[${i}]: ${a} vs ${expected[i]}`,
    ),
  );
}

// 2 ranks x 4 rows on 37 samples: 5 steps an epoch, the last global batch 5 rows (3 + 2). 4 ranks x 2 rows on
// 34 samples: 5 steps an epoch, the last global batch 2 rows, so ranks 2 and 3 join it with none. 20 steps each.
for (const [np, batchSize, samples] of [
  [2, 4, 37],
  [4, 2, 34],
] as const)
  test(`${np} ranks x batch ${batchSize} = 1 process x batch ${np * batchSize} after 20 steps`, { skip }, async () => {
    const r = await runMpiRows(np, program('data-parallel'), [String(samples), String(batchSize)], {
      timeoutMs: 120_000,
    });
    assertMpiSucceeded(r);
    const rows = r.rows as ({ rank: number; steps: number } & ReturnType<typeof summary>)[];
    assert.deepEqual(
      rows.map((row) => row.rank),
      [...Array(np).keys()],
    );
    const expected = await reference(samples, np * batchSize);
    for (const row of rows) {
      assert.equal(row.steps, 20);
      // Every rank holds exactly rank 0's model and the same logs.
      assert.deepEqual(row.weights, rows[0].weights, `rank ${row.rank}'s weights`);
      assert.deepEqual(row.history, rows[0].history, `rank ${row.rank}'s logs`);
    }
    rows[0].weights.forEach((w, i) => closeTo(w, expected.weights[i], 1e-5, `weight ${i}`));
    for (const key of ['loss', 'mae']) closeTo(rows[0].history[key], expected.history[key], 1e-5, key);
    // Only rank 0 prints progress: one line an epoch (verbose 2).
    assert.equal(r.stdout.match(/^Epoch \d+\/\d+ - /gm)?.length, EPOCHS, r.stdout);
  });

test('epoch end: moving statistics averaged across ranks, logs weighted by rows', async () => {
  const x = rand([6, 3], 7),
    y = rand([6, 2], 8);
  c.setSeed(3);
  const bn = new c.BatchNormalization();
  const model = new c.Sequential([new c.Dense({ units: 4, inputShape: [3] }), bn, new c.Dense({ units: 2 })]);
  model.compile({ optimizer: c.optimizers.sgd({ learningRate: 0.1 }), loss: 'mse' });
  // Rank 0 of 2, where the other rank's moving statistics are this rank's plus 1 (BatchNormalization's).
  const before: number[][] = [];
  const sent: { logs: c.Logs; rows: number }[] = [];
  const comm: DataParallelComm = {
    ...fakeComm(2, 0, []),
    allreduceArray: (buf) => {
      if (buf instanceof Int32Array) return; // agreeStop's flag: no rank asks to stop
      before.push(Array.from(buf));
      for (let i = 0; i < buf.length; i++) buf[i] = 2 * buf[i] + 1;
    },
    allgatherJson: <T>(v: T) => {
      const mine = v as unknown as { logs?: c.Logs; rows: number; sizes: number[] };
      if (!mine.logs) return [v, v];
      sent.push({ logs: mine.logs, rows: mine.rows });
      // The other rank's metrics have no state values (-1), as a user's own metrics: logs weighted by rows.
      return [v, { logs: { loss: 10 }, rows: 2 * mine.rows, sizes: mine.sizes.map(() => -1) } as T];
    },
  };
  const history = await model.fit(x, y, {
    epochs: 1,
    batchSize: 3,
    verbose: 0,
    record: false,
    distributed: new DataParallel({ communicator: comm }),
  });
  const moving = model.nonTrainableWeights.flatMap((w) => Array.from(w.value.dataSync()));
  assert.equal(before.length, 1, 'one reduction of every moving statistic together, at the epoch end');
  assertClose(
    moving,
    before[0].map((v) => v + 0.5),
    { rtol: 1e-6, atol: 1e-7 },
  );
  // One step of 3 rows here (6 samples, 3 a rank); the other rank said 6 rows of loss 10: weights 1/3 and 2/3.
  assert.equal(sent.length, 1);
  assert.equal(sent[0].rows, 3);
  assertClose([history.history.loss[0]], [(sent[0].logs.loss + 2 * 10) / 3], { rtol: 1e-12, atol: 0 });
  c.dispose([x, y]);
});

test('epoch end: precision and AUC from the states summed over ranks equal one process over all rows', async () => {
  // A frozen model (learning rate 0), so each rank's predictions are the one process's; rows 0, 2, .. on rank 0.
  const x = rand([12, 3], 31, { dtype: 'float32' });
  const y = c.tensor([1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1], [12, 1], 'float32');
  const frozen = () => {
    c.setSeed(4);
    const model = new c.Sequential([new c.Dense({ units: 1, activation: 'sigmoid', inputShape: [3] })]);
    model.compile({
      optimizer: c.optimizers.sgd({ learningRate: 0 }),
      loss: 'binaryCrossentropy',
      metrics: ['precision', 'auc'],
    });
    return model;
  };
  const fit = (model: c.Model, batchSize: number, distributed?: DataParallel) =>
    model.fit(x, y, { epochs: 1, batchSize, shuffle: false, verbose: 0, record: false, distributed });
  const keys = ['loss', 'precision', 'auc'];
  const one = (await fit(frozen(), 4)).history;
  // Rank 1 alone: what it sends (its logs and state values).
  type Sent = { logs: c.Logs; rows: number; sizes: number[] };
  let fromRank1: Sent | undefined;
  let state1: Float64Array | undefined;
  const rank1: DataParallelComm = {
    ...fakeComm(2, 1, []),
    allgatherJson: <T>(v: T) => {
      if ((v as Sent).logs) fromRank1 = v as Sent;
      return [v, v];
    },
    allreduceArray: (buf) => void (buf instanceof Float64Array && (state1 = Float64Array.from(buf))),
  };
  await fit(frozen(), 2, new DataParallel({ communicator: rank1 }));
  // Rank 0, receiving rank 1's logs and adding its state.
  let own: Sent | undefined;
  const rank0: DataParallelComm = {
    ...fakeComm(2, 0, []),
    allgatherJson: <T>(v: T) => {
      if (!(v as Sent).logs) return [v, v];
      own = v as Sent;
      return [v, fromRank1 as T];
    },
    allreduceArray: (buf) => buf instanceof Float64Array && buf.forEach((v, i) => (buf[i] = v + state1![i])),
  };
  const reduced = (await fit(frozen(), 2, new DataParallel({ communicator: rank0 }))).history;
  for (const k of keys) assertClose(reduced[k], one[k], { rtol: 1e-6, atol: 1e-7 });
  // The rows-weighted mean of the ranks' own values (what reduceLogs did before) misses precision and AUC here.
  const weighted = (k: string) => (own!.logs[k] * own!.rows + fromRank1!.logs[k] * fromRank1!.rows) / 12;
  assert.ok(own!.logs.precision !== fromRank1!.logs.precision && own!.logs.auc !== fromRank1!.logs.auc);
  for (const k of ['precision', 'auc'])
    assert.ok(Math.abs(weighted(k) - one[k][0]) > 1e-3, `${k}: ${weighted(k)} vs ${one[k][0]}`);
  c.dispose([x, y]);
});
