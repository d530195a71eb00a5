// The end-of-fit round of a distributed run's accounting, in one process on a fake world: a server rank's figures
// (contributeRankFigures) over its serve(), a worker without a recorder joining once (joinClusterRound), and the
// rows a worker's shard reads (shardSamples).
import '../config-dir.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as c from '../../src/index.js';
import {
  contributeRankFigures,
  expectRecorder,
  joinClusterRound,
  shardSamples,
  startRankFigures,
  type ClusterWorld,
} from '../../src/distributed/cluster-record.js';
import type { RankContribution } from '../../src/ledger/cluster-merge.js';
import type { FitStrategy } from '../../src/train/strategy.js';

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

test("a server rank's figures over serve() join the round: FLOPs, CPU, energy and bytes since it began", () => {
  const { w, sent, stats } = fakeWorld(2);
  const figures = startRankFigures(w);
  const a = c.ones([16, 16]);
  const b = c.matmul(a, a);
  c.dispose([a, b]);
  stats.bytesSent += 4096;
  stats.bytesReceived += 1024;
  stats.seconds += 0.5;
  contributeRankFigures(strategy(), figures, { steps: 4 }, w);
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

test('joinClusterRound: a worker without a recorder joins once; with a recorder it leaves the round to it', () => {
  const { w, sent } = fakeWorld(1);
  const s = strategy();
  joinClusterRound(s, w);
  joinClusterRound(s, w);
  assert.deepEqual(sent, [null]);
  const recorded = strategy();
  expectRecorder(recorded);
  joinClusterRound(recorded, w);
  assert.equal(sent.length, 1);
});

test('shardSamples: rows index, index + count, ... of each epoch, at most steps x batchSize', () => {
  assert.equal(shardSamples(30, { index: 0, count: 4 }, 1, 8, 4), 8);
  assert.equal(shardSamples(30, { index: 3, count: 4 }, 2, 16, 4), 14);
  assert.equal(shardSamples(30, { index: 0, count: 4 }, 1, 1, 4), 4, 'an epoch stopped after one step');
  assert.equal(shardSamples(undefined, { index: 0, count: 2 }, 1, 5, 8), 40);
  assert.equal(shardSamples(2, { index: 3, count: 4 }, 1, 1, 4), 0);
});
