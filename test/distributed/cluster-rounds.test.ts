// The end-of-fit round of a distributed run's accounting, in one process: a server rank's figures
// (contributeRankFigures) over its serve(), a worker without a recorder joining once (finishClusterRound), a
// parameter server's recorder whose round waits for the strategy's end(), and the rows a shard reads.
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as c from '../../src/index.js';
import {
  contributeRankFigures,
  finishClusterRound,
  shardSamples,
  startRankFigures,
  type ClusterWorld,
} from '../../src/distributed/cluster-record.js';
import type { RankContribution } from '../../src/ledger/cluster-merge.js';
import type { FitStrategy } from '../../src/train/strategy.js';
import type { FitParams } from '../../src/train/callbacks.js';
import { RunRecorder } from '../../src/train/run-record-callback.js';
import { readRunRecord } from '../../src/ledger/record.js';
import { tempDir } from '../ledger/fixtures.js';

/** A world whose allgatherJson keeps what this rank sent and returns it alone. */
function fakeWorld(rank: number) {
  const sent: unknown[] = [];
  const stats = { bytesSent: 100, bytesReceived: 50, seconds: 1 };
  const w: ClusterWorld = {
    rank,
    host: 'node-b',
    transport: 'mpi (test)',
    comm: {
      allgatherJson: <T>(v: T) => {
        sent.push(JSON.parse(JSON.stringify(v)));
        return [v];
      },
      stats,
    },
  };
  return { w, sent, stats };
}

const strategy = (): FitStrategy =>
  ({ name: 'parameter-server', rank: 1, worldSize: 3, chief: false, shard: { index: 0, count: 2 } }) as FitStrategy;

test("a server rank's figures over serve() join the round: FLOPs, CPU, energy and bytes since it began", async () => {
  const { w, sent, stats } = fakeWorld(2);
  const figures = startRankFigures(w);
  const a = c.ones([16, 16]);
  const b = c.matmul(a, a);
  c.dispose([a, b]);
  stats.bytesSent += 4096;
  stats.bytesReceived += 1024;
  stats.seconds += 0.5;
  await contributeRankFigures(strategy(), figures, { steps: 4 }, w);
  assert.equal(sent.length, 1);
  const got = sent[0] as RankContribution;
  assert.deepEqual(
    [got.figures.rank, got.figures.host, got.figures.role, got.figures.steps, got.figures.samples],
    [2, 'node-b', 'server', 4, 0],
  );
  assert.ok(got.figures.flops >= 2 * 16 ** 3, `matmul FLOPs counted: ${got.figures.flops}`);
  assert.deepEqual([got.figures.bytesSent, got.figures.bytesReceived, got.figures.commSeconds], [4096, 1024, 0.5]);
  assert.ok(got.energy && got.energy.joules > 0);
});

test('finishClusterRound: a worker without a recorder joins once, with nothing to send', async () => {
  const { w, sent } = fakeWorld(1);
  const s = strategy();
  await finishClusterRound(s, undefined, w);
  await finishClusterRound(s, undefined, w);
  assert.deepEqual(sent, [null]);
});

test("a parameter server's recorder: the round and run.json wait for the strategy's end()", async () => {
  const tmp = tempDir();
  const dir = join(tmp.dir, 'run');
  try {
    // Rank 0 of a 2-rank world in name; the process's world has size 1, so the round gathers rank 0's alone.
    const ps = { ...strategy(), rank: 0, chief: true, shard: { index: 0, count: 1 } } as FitStrategy;
    class PsRecorder extends RunRecorder {
      override setParams(params: FitParams): void {
        super.setParams({ ...params, strategy: ps });
      }
    }
    const recorder = new PsRecorder({ dir, energy: false });
    const model = new c.Sequential([c.layers.dense({ units: 2, inputShape: [3] })]);
    model.compile({ optimizer: 'sgd', loss: 'meanSquaredError' });
    const x = c.ones([6, 3]),
      y = c.zeros([6, 2]);
    await model.fit(x, y, { epochs: 1, batchSize: 3, verbose: 0, callbacks: [recorder] });
    assert.ok(!existsSync(join(dir, 'run.json')), 'nothing written before the round');
    assert.equal(recorder.record.distributed, undefined);
    await finishClusterRound(ps);
    const r = await readRunRecord(dir);
    assert.deepEqual(
      [r.distributed!.strategy, r.distributed!.ranks.length, r.distributed!.ranks[0].steps],
      ['parameter-server', 1, 2],
    );
    assert.equal(r.compute.total.flops, r.distributed!.ranks[0].flops);
    c.dispose([x, y]);
    model.dispose();
  } finally {
    tmp.done();
  }
});

test('shardSamples: rows index, index + count, ... of each epoch, at most steps x batchSize', () => {
  assert.equal(shardSamples(30, { index: 0, count: 4 }, 1, 8, 4), 8);
  assert.equal(shardSamples(30, { index: 3, count: 4 }, 2, 16, 4), 14);
  assert.equal(shardSamples(30, { index: 0, count: 4 }, 1, 1, 4), 4, 'an epoch stopped after one step');
  assert.equal(shardSamples(undefined, { index: 0, count: 2 }, 1, 5, 8), 40);
  assert.equal(shardSamples(2, { index: 3, count: 4 }, 1, 1, 4), 0);
});
